import GRDB
import IdentityRiskCore

/// The on-disk layout of ``SQLiteEventStore`` and the conversion between a
/// table row and an ``IdentityRiskEvent``.
///
/// One STRICT rowid table, `identity_risk_events`:
///
/// | column                                  | holds                                             |
/// |-----------------------------------------|---------------------------------------------------|
/// | `seq INTEGER PRIMARY KEY`               | insertion order (rowid alias; keeps indexes small)|
/// | `id TEXT UNIQUE`                        | the record id                                     |
/// | `user_display_name TEXT NULL`           |                                                   |
/// | `user_principal_name`, `user_id`, `risk_event_type` TEXT |                                  |
/// | `risk_level`, `risk_event_status` TEXT  | the Graph spelling (`rawValue`)                   |
/// | `<dt>_ticks INTEGER`                    | ``DateTimeOffset/instantTicks``: sort/filter key  |
/// | `<dt>_offset`, `<dt>_digits`, `<dt>_z`  | offset minutes, fraction digits, `Z` flag (0/1)   |
///
/// with `<dt>` one of `risk_event`, `closed` (all four NULL when there is no
/// closedDateTime) and `created`. The four DateTimeOffset columns rebuild the
/// exact value, so a record reads back `==` to what was stored.
///
/// Text is stored byte for byte (never normalised) and compared with SQLite's
/// default BINARY collation: by UTF-8 bytes, exactly as
/// ``FilterComparison/matches(_:)`` compares strings.
enum SQLiteSchema {
    static let table = "identity_risk_events"

    /// Versioned schema. Never edit a registered migration: add "v2", ...
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        return migrator
    }

    private static let v1 = """
        CREATE TABLE identity_risk_events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            user_display_name TEXT,
            user_principal_name TEXT NOT NULL,
            risk_event_ticks INTEGER NOT NULL,
            risk_event_offset INTEGER NOT NULL,
            risk_event_digits INTEGER NOT NULL,
            risk_event_z INTEGER NOT NULL,
            risk_event_type TEXT NOT NULL,
            risk_level TEXT NOT NULL,
            risk_event_status TEXT NOT NULL,
            closed_ticks INTEGER,
            closed_offset INTEGER,
            closed_digits INTEGER,
            closed_z INTEGER,
            created_ticks INTEGER NOT NULL,
            created_offset INTEGER NOT NULL,
            created_digits INTEGER NOT NULL,
            created_z INTEGER NOT NULL,
            user_id TEXT NOT NULL
        ) STRICT;
        CREATE INDEX identity_risk_events_created ON identity_risk_events (created_ticks, id);
        CREATE INDEX identity_risk_events_risk_event ON identity_risk_events (risk_event_ticks, id);
        CREATE INDEX identity_risk_events_user_id ON identity_risk_events (user_id, created_ticks, id);
        CREATE INDEX identity_risk_events_upn ON identity_risk_events (user_principal_name, created_ticks, id);
        CREATE INDEX identity_risk_events_level ON identity_risk_events (risk_level, created_ticks, id);
        CREATE INDEX identity_risk_events_status ON identity_risk_events (risk_event_status, created_ticks, id);
        CREATE INDEX identity_risk_events_type ON identity_risk_events (risk_event_type, created_ticks, id);
        """

    /// The record columns, in the order of ``SQLiteInsertBinding`` and ``decode(_:)``.
    static let columns = [
        "id", "user_display_name", "user_principal_name",
        "risk_event_ticks", "risk_event_offset", "risk_event_digits", "risk_event_z",
        "risk_event_type", "risk_level", "risk_event_status",
        "closed_ticks", "closed_offset", "closed_digits", "closed_z",
        "created_ticks", "created_offset", "created_digits", "created_z",
        "user_id",
    ]

    static let selectColumns = columns.joined(separator: ", ")

    static let insertSQL = """
        INSERT INTO identity_risk_events (\(selectColumns))
        VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))
        ON CONFLICT (id) DO NOTHING
        """

    static let selectByIDSQL = "SELECT \(selectColumns) FROM identity_risk_events WHERE id = ?"

    // MARK: - Decoding

    // (Encoding: SQLiteInsertBinding.)

    /// Rebuilds a record from a row selected with ``selectColumns``. Never traps:
    /// a value of the wrong type or out of range throws `internal`, naming the
    /// record and column.
    static func decode(_ row: Row) throws(IdentityRiskError) -> IdentityRiskEvent {
        var reader = RowReader(row: row)
        let id = try reader.text()
        reader.recordID = id
        let displayName = try reader.optionalText()
        let upn = try reader.text()
        let riskEventDateTime = try reader.dateTime()
        let riskEventType = try reader.text()
        let levelText = try reader.text()
        guard let level = RiskLevel(rawValue: levelText) else {
            throw reader.corrupt(column: "risk_level", "'\(levelText)' is not a riskLevel")
        }
        let statusText = try reader.text()
        guard let status = RiskEventStatus(rawValue: statusText) else {
            throw reader.corrupt(column: "risk_event_status", "'\(statusText)' is not a riskEventStatus")
        }
        let closed = try reader.optionalDateTime()
        let created = try reader.dateTime()
        let userId = try reader.text()
        return IdentityRiskEvent(
            id: id,
            userDisplayName: displayName,
            userPrincipalName: upn,
            riskEventDateTime: riskEventDateTime,
            riskEventType: riskEventType,
            riskLevel: level,
            riskEventStatus: status,
            closedDateTime: closed,
            createdDateTime: created,
            userId: userId
        )
    }
}

/// Reads the columns of one row in ``SQLiteSchema/columns`` order.
private struct RowReader {
    let row: Row
    var index = 0
    var recordID: String?

    mutating func next() throws(IdentityRiskError) -> DatabaseValue {
        guard index < row.count else {
            throw corrupt(column: "#\(index)", "is missing from the row")
        }
        defer { index += 1 }
        do {
            return try row.decode(DatabaseValue.self, atIndex: index)
        } catch {
            throw corrupt(column: column, "cannot be read: \(error)")
        }
    }

    var column: String {
        index < SQLiteSchema.columns.count ? SQLiteSchema.columns[index] : "#\(index)"
    }

    func corrupt(column: String, _ problem: String) -> IdentityRiskError {
        let record = recordID.map { "stored identityRiskEvent '\($0)'" } ?? "a stored identityRiskEvent"
        return IdentityRiskError(
            code: .internal,
            message: "\(record) cannot be read: column \(column) \(problem); the database file may be damaged"
        )
    }

    mutating func optionalText() throws(IdentityRiskError) -> String? {
        let name = column
        switch try next().storage {
        case .null: return nil
        case .string(let text): return text
        default: throw corrupt(column: name, "does not hold text")
        }
    }

    mutating func text() throws(IdentityRiskError) -> String {
        let name = column
        guard let text = try optionalText() else { throw corrupt(column: name, "is NULL") }
        return text
    }

    mutating func optionalInteger() throws(IdentityRiskError) -> Int64? {
        let name = column
        switch try next().storage {
        case .null: return nil
        case .int64(let value): return value
        default: throw corrupt(column: name, "does not hold an integer")
        }
    }

    /// Four columns: ticks, offset, digits, Z; all NULL for an absent value.
    mutating func optionalDateTime() throws(IdentityRiskError) -> DateTimeOffset? {
        let name = column
        let ticks = try optionalInteger()
        let offset = try optionalInteger()
        let digits = try optionalInteger()
        let z = try optionalInteger()
        switch (ticks, offset, digits, z) {
        case (nil, nil, nil, nil):
            return nil
        case let (ticks?, offset?, digits?, z?):
            guard let offsetMinutes = Int16(exactly: offset), let fractionDigits = UInt8(exactly: digits), z == 0 || z == 1 else {
                throw corrupt(column: name, "has an out-of-range representation (offset \(offset), digits \(digits), z \(z))")
            }
            let (seconds, remainder) = ticks.quotientAndRemainder(dividingBy: DateTimeOffset.ticksPerSecond)
            let unixSeconds = remainder < 0 ? seconds - 1 : seconds
            let subTicks = remainder < 0 ? remainder + DateTimeOffset.ticksPerSecond : remainder
            do {
                return try DateTimeOffset(
                    unixSeconds: unixSeconds,
                    ticks: UInt32(subTicks),
                    offsetMinutes: offsetMinutes,
                    fractionDigits: fractionDigits,
                    utcDesignator: z == 1
                )
            } catch {
                throw corrupt(column: name, "is not a valid DateTimeOffset: \(error)")
            }
        default:
            throw corrupt(column: name, "is partly NULL")
        }
    }

    mutating func dateTime() throws(IdentityRiskError) -> DateTimeOffset {
        let name = column
        guard let value = try optionalDateTime() else { throw corrupt(column: name, "is NULL") }
        return value
    }
}
