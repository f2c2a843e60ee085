import GRDB
import IdentityRiskCore

/// Rebuilds records from rows selected with ``SQLiteSchema/selectColumns``.
/// (Encoding: `SQLiteBinding`.)
enum SQLiteRowDecoder {
    /// Rebuilds a record from a row selected with ``SQLiteSchema/selectColumns``.
    /// Never traps: a value of the wrong type or out of range throws `internal`,
    /// naming the record and column.
    ///
    /// One loop over ``SQLiteColumnLayout/all`` reads each property by its kind
    /// (the order of the columns, by construction), then the version.
    static func decode(_ row: Row) throws(IdentityRiskError) -> IdentityRiskEvent {
        var reader = RowReader(row: row)
        var draft = IdentityRiskEventDraft()
        for layout in SQLiteColumnLayout.all {
            let property = layout.property
            let value: PropertyValue?
            switch property.kind {
            case .text:
                value = try reader.optionalText().map(PropertyValue.text)
            case .riskLevel:
                if let text = try reader.optionalText() {
                    guard let level = RiskLevel(rawValue: text) else {
                        throw reader.corrupt(column: layout.name, "'\(text)' is not a riskLevel")
                    }
                    value = .riskLevel(level)
                } else {
                    value = nil
                }
            case .riskEventStatus:
                if let text = try reader.optionalText() {
                    guard let status = RiskEventStatus(rawValue: text) else {
                        throw reader.corrupt(column: layout.name, "'\(text)' is not a riskEventStatus")
                    }
                    value = .riskEventStatus(status)
                } else {
                    value = nil
                }
            case .dateTime:
                value = try reader.optionalDateTime(layout.name).map(PropertyValue.dateTime)
            }
            if value == nil, !property.isNullable {
                throw reader.corrupt(column: layout.name, "is NULL")
            }
            if property == .id, case .text(let id)? = value {
                reader.recordID = id
            }
            draft[property] = value
        }
        guard let stored = try reader.optionalInteger(), stored >= 1 else {
            throw reader.corrupt(column: SQLiteColumnLayout.versionColumn, "is not a version (an integer of at least 1)")
        }
        guard let id = draft.id, let upn = draft.userPrincipalName, let riskEventDateTime = draft.riskEventDateTime,
            let riskEventType = draft.riskEventType, let level = draft.riskLevel, let status = draft.riskEventStatus,
            let created = draft.createdDateTime, let userId = draft.userId
        else {
            // Unreachable: every non-nullable property was checked above.
            throw reader.corrupt(column: "(record)", "lacks a required property")
        }
        return IdentityRiskEvent(
            id: id,
            userDisplayName: draft.userDisplayName,
            userPrincipalName: upn,
            riskEventDateTime: riskEventDateTime,
            riskEventType: riskEventType,
            riskLevel: level,
            riskEventStatus: status,
            closedDateTime: draft.closedDateTime,
            createdDateTime: created,
            userId: userId,
            version: UInt64(stored)
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

    mutating func optionalInteger() throws(IdentityRiskError) -> Int64? {
        let name = column
        switch try next().storage {
        case .null: return nil
        case .int64(let value): return value
        default: throw corrupt(column: name, "does not hold an integer")
        }
    }

    /// Four columns: ticks, offset, digits, Z; all NULL for an absent value.
    /// Problems name the column prefix `name` (e.g. `created`).
    mutating func optionalDateTime(_ name: String) throws(IdentityRiskError) -> DateTimeOffset? {
        let ticks = try optionalInteger()
        let offset = try optionalInteger()
        let digits = try optionalInteger()
        let z = try optionalInteger()
        switch (ticks, offset, digits, z) {
        case (nil, nil, nil, nil):
            return nil
        case let (ticks?, offset?, digits?, z?):
            switch StoredDateTime.decode(ticks: ticks, offset: offset, digits: digits, z: z) {
            case .success(let value): return value
            case .failure(let problem): throw corrupt(column: name, problem.description)
            }
        default:
            throw corrupt(column: name, "is partly NULL")
        }
    }
}
