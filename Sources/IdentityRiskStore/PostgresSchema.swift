import IdentityRiskCore

/// The tables of ``PostgresEventStore`` and the SQL of its statements.
///
/// The same layout as SQLite's (`SQLiteSchema`), column for column, from the
/// same ``SQLiteColumnLayout``, so that the list translator
/// (`ListStatementSQL`) writes one SELECT for both:
///
/// - `identity_risk_events`: `seq` (identity), `id` (unique), the properties'
///   columns (text: `text COLLATE "C"`, so comparisons and ORDER BY go by UTF-8
///   bytes exactly as ``FilterComparison/matches(_:)``; date-times: four
///   `bigint` columns), `version`; the same indexes as SQLite's.
/// - `identity_risk_event_tombstones (id, version, deleted_ticks)`: deleted ids, never reused.
/// - `changes`: the change log (cursor, kind, committed_at in unix ms by the
///   server's clock, then the record's columns).
/// - `change_cursor`: one row, the last cursor handed out (see
///   ``PostgresEventStore`` for why a locked counter row and not a sequence).
/// - `irisk_schema_migrations`: the versions applied.
///
/// Migrations are applied at start by whichever host gets there first, under a
/// session advisory lock (``migrationLockKey``), each in its own transaction.
/// Never edit a registered migration: append "v2", ...
enum PostgresSchema {
    static let table = SQLiteSchema.table
    static let tombstones = SQLiteSchema.tombstones
    static let changes = SQLiteSchema.changes
    static let counter = "change_cursor"
    static let migrationsTable = "irisk_schema_migrations"

    /// `pg_advisory_lock` key of the migrations ("irisk-mi" in ASCII).
    static let migrationLockKey: Int64 = 0x6972_6973_6B2D_6D69

    /// The newest migration this code knows.
    static let currentVersion = "v1"

    /// Each migration: its version and its statements (one per query: the
    /// extended protocol runs one statement at a time).
    static let migrations: [(version: String, statements: [String])] = [("v1", v1)]

    static let createMigrationsTable = """
        CREATE TABLE IF NOT EXISTS \(migrationsTable) (
            version text PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// `name TYPE [NOT NULL]` of the record columns, as in both tables.
    static let recordColumnDefinitions: [String] = SQLiteColumnLayout.all.flatMap { layout -> [String] in
        let type = layout.property.kind == .dateTime ? "bigint" : "text COLLATE \"C\""
        let null = layout.property.isNullable ? "" : " NOT NULL"
        return layout.columns.map { "\($0) \(type)\(null)" }
    } + ["\(SQLiteColumnLayout.versionColumn) bigint NOT NULL"]

    static let v1: [String] = [
        """
        CREATE TABLE \(table) (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            \(recordColumnDefinitions.joined(separator: ",\n    ")),
            CONSTRAINT identity_risk_events_id UNIQUE (id)
        )
        """,
        "CREATE INDEX identity_risk_events_created ON \(table) (created_ticks, id)",
        "CREATE INDEX identity_risk_events_risk_event ON \(table) (risk_event_ticks, id)",
        "CREATE INDEX identity_risk_events_user_id ON \(table) (user_id, created_ticks, id)",
        "CREATE INDEX identity_risk_events_upn ON \(table) (user_principal_name, created_ticks, id)",
        "CREATE INDEX identity_risk_events_level ON \(table) (risk_level, created_ticks, id)",
        "CREATE INDEX identity_risk_events_status ON \(table) (risk_event_status, created_ticks, id)",
        "CREATE INDEX identity_risk_events_type ON \(table) (risk_event_type, created_ticks, id)",
        """
        CREATE TABLE \(tombstones) (
            id text COLLATE "C" PRIMARY KEY,
            version bigint NOT NULL,
            deleted_ticks bigint NOT NULL
        )
        """,
        """
        CREATE TABLE \(changes) (
            cursor bigint PRIMARY KEY,
            kind smallint NOT NULL,
            committed_at bigint NOT NULL,
            \(recordColumnDefinitions.joined(separator: ",\n    "))
        )
        """,
        """
        CREATE TABLE \(counter) (
            only_row boolean PRIMARY KEY DEFAULT TRUE CHECK (only_row),
            last bigint NOT NULL CHECK (last >= 0)
        )
        """,
        "INSERT INTO \(counter) (last) VALUES (0)",
    ]

    // MARK: - Statements

    static let columns = SQLiteSchema.columns
    static let selectColumns = SQLiteSchema.selectColumns

    /// `$first, $first+1, ... ` for `count` placeholders.
    static func placeholders(from first: Int, count: Int) -> String {
        (first..<(first + count)).map { "$\($0)" }.joined(separator: ", ")
    }

    /// A multi-row insert of `rows` records; answers the ids it inserted.
    static func insertSQL(rows: Int) -> String {
        let values = (0..<rows).map { "(\(placeholders(from: $0 * columns.count + 1, count: columns.count)))" }
        return "INSERT INTO \(table) (\(selectColumns)) VALUES \(values.joined(separator: ", ")) ON CONFLICT (id) DO NOTHING RETURNING id"
    }

    /// The milliseconds since 1970 by the server's clock (one clock for the fleet).
    static let nowMilliseconds = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    /// A multi-row insert of `rows` changes: binds cursor, kind and the record's columns.
    static func insertChangesSQL(rows: Int) -> String {
        let width = columns.count + 2
        let values = (0..<rows).map { row -> String in
            let first = row * width + 1
            return "($\(first), $\(first + 1), \(nowMilliseconds), \(placeholders(from: first + 2, count: columns.count)))"
        }
        return "INSERT INTO \(changes) (cursor, kind, committed_at, \(selectColumns)) VALUES \(values.joined(separator: ", "))"
    }

    /// The LISTEN/NOTIFY channel on which every writing transaction announces
    /// its last cursor (delivered at its COMMIT, never for a rollback).
    static let notifyChannel = "irisk_changes"

    /// Takes `$1` cursors and announces the last one on ``notifyChannel``: the
    /// row lock this takes is held to the end of the transaction, so cursors
    /// are handed out in commit order; the notification goes out when the
    /// transaction commits (one statement, no extra round trip).
    static let takeCursorsSQL = """
        WITH taken AS (UPDATE \(counter) SET last = last + $1 RETURNING last) \
        SELECT last FROM taken, pg_notify('\(notifyChannel)', last::text)
        """

    static let selectByIDSQL = "SELECT \(selectColumns) FROM \(table) WHERE id = $1"
    static let selectByIDForUpdateSQL = "SELECT \(selectColumns) FROM \(table) WHERE id = $1 FOR UPDATE"
    static let selectByIDsSQL = "SELECT \(selectColumns) FROM \(table) WHERE id = ANY($1)"

    static let replaceSQL: String = {
        let assigned = SQLiteSchema.updatableLayout.flatMap(\.columns) + [SQLiteColumnLayout.versionColumn]
        let sets = assigned.enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        return "UPDATE \(table) SET \(sets) WHERE id = $\(assigned.count + 1) AND version = $\(assigned.count + 2)"
    }()

    static let deleteSQL = "DELETE FROM \(table) WHERE id = $1"
    static let deleteIDsSQL = "DELETE FROM \(table) WHERE id = ANY($1)"
    static let insertTombstoneSQL = "INSERT INTO \(tombstones) (id, version, deleted_ticks) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING"
    static let selectTombstonedSQL = "SELECT id FROM \(tombstones) WHERE id = ANY($1)"

    // MARK: - The change log

    static let selectChangesSQL = "SELECT \(selectColumns), cursor, kind FROM \(changes) WHERE cursor > $1 ORDER BY cursor LIMIT $2"

    /// The oldest retained cursor (NULL when the log is empty) and the last handed out.
    static let changeBoundsSQL = "SELECT (SELECT min(cursor) FROM \(changes)), (SELECT last FROM \(counter))"

    static let latestCursorSQL = "SELECT last FROM \(counter)"

    /// Keeps the newest `$1` changes.
    static let pruneByCountSQL = "DELETE FROM \(changes) WHERE cursor <= (SELECT last FROM \(counter)) - $1"

    /// Prunes the changes up to the newest one older than `$1` ms: always a
    /// prefix of the log, even if commit times are not monotonic.
    static let pruneByAgeSQL = """
        DELETE FROM \(changes) WHERE cursor <= (
            SELECT max(cursor) FROM \(changes) WHERE committed_at < \(nowMilliseconds) - $1)
        """
}
