import GRDB
import IdentityRiskCore

/// The on-disk layout of ``SQLiteEventStore`` and the SQL of its statements
/// (rows are read back by `SQLiteRowDecoder`).
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
/// | `version INTEGER` (v2)                  | the record's version, 1 at create                 |
///
/// with `<dt>` one of `risk_event`, `closed` (all four NULL when there is no
/// closedDateTime) and `created`. The four DateTimeOffset columns rebuild the
/// exact value, so a record reads back `==` to what was stored.
///
/// Text is stored byte for byte (never normalised) and compared with SQLite's
/// default BINARY collation: by UTF-8 bytes, exactly as
/// ``FilterComparison/matches(_:)`` compares strings.
///
/// And (v2) one STRICT WITHOUT ROWID table `identity_risk_event_tombstones`
/// `(id, version, deleted_ticks)`: one row per deleted id, with the version the
/// record had and when it was deleted, so that the id is never created again.
///
/// Seven secondary indexes (as ``v4`` rebuilt them): `created_ticks`,
/// `risk_event_ticks`, and `(<property>, created_ticks)` for `user_id`,
/// `user_principal_name`, `risk_level`, `risk_event_status`, `risk_event_type`;
/// each entry also carries the rowid `seq`, never the id.
///
/// And (v3) the change log, table `changes` (see ``v3``): one row per create,
/// update and delete with its cursor, kind, commit time and the record.
///
/// Which property is which column comes from ``SQLiteColumnLayout``; the
/// column list, the insert and the update below are derived from it.
enum SQLiteSchema {
    static let table = "identity_risk_events"

    /// Versioned schema. Never edit a registered migration: add "v5", ...
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: v4)
        }
        return migrator
    }

    /// The newest migration this code knows (logged when the store opens).
    static let currentVersion = "v4"

    /// Internal so that tests can build a database as version 1 wrote it.
    static let v1 = """
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

    /// Versions and tombstones. Rows written by v1 get version 1.
    static let v2 = """
        ALTER TABLE identity_risk_events ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE identity_risk_event_tombstones (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            deleted_ticks INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        """

    static let tombstones = "identity_risk_event_tombstones"

    /// The change log (Watch): one row per create, update and delete, written
    /// in the transaction of the change. `cursor` is AUTOINCREMENT so that a
    /// cursor is never handed out twice, not even after retention pruned every
    /// row (`sqlite_sequence` keeps the high-water mark); `kind` is the
    /// ``ChangeKind/wireNumber``; `committed_at` the batch's commit time in
    /// unix milliseconds (age retention). Then the record's columns exactly as
    /// in the events table (``columns``, same types), so a change row is read
    /// back with `SQLiteRowDecoder`; for a delete, the record as it was.
    /// Appends only, pruned from the oldest end: no other index.
    ///
    /// The column list is derived from ``SQLiteColumnLayout`` as it is today; a
    /// new property needs a new migration that adds its columns to both tables.
    static let v3 = """
        CREATE TABLE \(changes) (
            cursor INTEGER PRIMARY KEY AUTOINCREMENT,
            kind INTEGER NOT NULL,
            committed_at INTEGER NOT NULL,
            \(changeColumnDefinitions.joined(separator: ",\n    "))
        ) STRICT;
        """

    static let changes = "changes"

    /// The secondary indexes without the id (v1 ended each with `id`): an
    /// entry of a rowid table's index already carries the rowid (`seq`), and
    /// the 36-character id in every entry of 7 indexes was 40% of the file
    /// (measured at 10 M records: 488 of 694 bytes per record in indexes).
    /// Ties on a timestamp are still ordered by id: the planner walks the
    /// index and sorts only each run of equal timestamps ("USE TEMP B-TREE FOR
    /// RIGHT PART OF ORDER BY"), so a page still stops after `top + 1` rows
    /// (``SQLiteQueryPlanTests``). The id's own UNIQUE index stays.
    ///
    /// Rebuilding an index reads the whole table: on a big database this
    /// migration takes a while, once (the store logs it before it starts).
    static let v4 = """
        DROP INDEX identity_risk_events_created;
        CREATE INDEX identity_risk_events_created ON identity_risk_events (created_ticks);
        DROP INDEX identity_risk_events_risk_event;
        CREATE INDEX identity_risk_events_risk_event ON identity_risk_events (risk_event_ticks);
        DROP INDEX identity_risk_events_user_id;
        CREATE INDEX identity_risk_events_user_id ON identity_risk_events (user_id, created_ticks);
        DROP INDEX identity_risk_events_upn;
        CREATE INDEX identity_risk_events_upn ON identity_risk_events (user_principal_name, created_ticks);
        DROP INDEX identity_risk_events_level;
        CREATE INDEX identity_risk_events_level ON identity_risk_events (risk_level, created_ticks);
        DROP INDEX identity_risk_events_status;
        CREATE INDEX identity_risk_events_status ON identity_risk_events (risk_event_status, created_ticks);
        DROP INDEX identity_risk_events_type;
        CREATE INDEX identity_risk_events_type ON identity_risk_events (risk_event_type, created_ticks);
        """

    /// `name TYPE [NOT NULL]` of the record columns of ``changes``.
    static let changeColumnDefinitions: [String] = SQLiteColumnLayout.all.flatMap { layout -> [String] in
        let type = layout.property.kind == .dateTime ? "INTEGER" : "TEXT"
        let null = layout.property.isNullable ? "" : " NOT NULL"
        return layout.columns.map { "\($0) \(type)\(null)" }
    } + ["\(SQLiteColumnLayout.versionColumn) INTEGER NOT NULL"]

    // MARK: - Statements (derived from SQLiteColumnLayout)

    /// Every column a record is read from and inserted with: the properties'
    /// columns in ``SQLiteColumnLayout/all`` order, then `version`.
    static let columns: [String] = SQLiteColumnLayout.all.flatMap(\.columns) + [SQLiteColumnLayout.versionColumn]

    static let selectColumns = columns.joined(separator: ", ")

    /// The insert of a create, one step per record; `ON CONFLICT DO NOTHING`
    /// tells an existing id by inserting nothing.
    ///
    /// It does not check tombstones: folded into the insert, the check costs
    /// more than the insert itself (measured with this schema and SQLite 3.40:
    /// `INSERT ... SELECT ?, ... WHERE NOT EXISTS (tombstone)` and a
    /// `BEFORE INSERT` trigger both take ~2.3 times as long per row as this
    /// `VALUES` form). The writer probes ``selectTombstoneSQL`` before the
    /// insert instead, and only while the tombstone table is not empty
    /// (``anyTombstoneSQL``, once per batch): nothing while nothing was ever
    /// deleted, one primary-key probe per create afterwards.
    static let insertSQL = """
        INSERT INTO \(table) (\(selectColumns))
        VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))
        ON CONFLICT (id) DO NOTHING
        """

    /// The properties an update writes (``EventProperty/isUpdatable``: not
    /// `id`, not `createdDateTime`), in layout order.
    static let updatableLayout = SQLiteColumnLayout.all.filter(\.property.isUpdatable)

    /// Compare-and-swap of one record: binds the updatable columns, the new
    /// version, the id and the expected version.
    static let replaceSQL = """
        UPDATE \(table) SET \((updatableLayout.flatMap(\.columns) + [SQLiteColumnLayout.versionColumn]).map { "\($0) = ?" }.joined(separator: ", "))
        WHERE id = ? AND version = ?
        """

    static let selectByIDSQL = "SELECT \(selectColumns) FROM \(table) WHERE id = ?"

    static let selectVersionSQL = "SELECT version FROM \(table) WHERE id = ?"

    static let deleteSQL = "DELETE FROM \(table) WHERE id = ?"

    static let insertTombstoneSQL = "INSERT OR REPLACE INTO \(tombstones) (id, version, deleted_ticks) VALUES (?, ?, ?)"

    static let selectTombstoneSQL = "SELECT version FROM \(tombstones) WHERE id = ?"

    static let anyTombstoneSQL = "SELECT EXISTS (SELECT 1 FROM \(tombstones))"

    // MARK: - The change log

    /// Appends a change of a create or replace: binds kind, committed_at and
    /// the record's ``columns``.
    static let insertChangeSQL = """
        INSERT INTO \(changes) (kind, committed_at, \(selectColumns))
        VALUES (?, ?, \(Array(repeating: "?", count: columns.count).joined(separator: ", ")))
        """

    /// Appends the change of a delete, copying the record's last content
    /// (before the DELETE): binds kind, committed_at and the id. Copying the
    /// row as stored keeps even a damaged record's delete in the log.
    static let insertDeleteChangeSQL = """
        INSERT INTO \(changes) (kind, committed_at, \(selectColumns))
        SELECT ?, ?, \(selectColumns) FROM \(table) WHERE id = ?
        """

    /// A change row: the record's ``columns`` first (for `SQLiteRowDecoder`),
    /// then `cursor` and `kind`.
    static let selectChangesSQL = """
        SELECT \(selectColumns), cursor, kind FROM \(changes) WHERE cursor > ? ORDER BY cursor LIMIT ?
        """

    /// The oldest retained cursor (NULL when the log is empty) and the
    /// AUTOINCREMENT high-water mark (NULL before the first change).
    static let changeBoundsSQL = """
        SELECT (SELECT min(cursor) FROM \(changes)), (SELECT seq FROM sqlite_sequence WHERE name = '\(changes)')
        """

    /// The oldest changes, for age pruning: walked until the first one young enough.
    static let oldestChangesSQL = "SELECT cursor, committed_at FROM \(changes) ORDER BY cursor LIMIT ?"

    static let pruneChangesSQL = "DELETE FROM \(changes) WHERE cursor <= ?"
}
