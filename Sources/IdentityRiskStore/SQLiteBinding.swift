import GRDB
import GRDBSQLite
import IdentityRiskCore

/// Binds records to the writer's cached statements with sqlite3_bind_* directly.
///
/// This is the writer's per-row hot path. Going through GRDB's
/// `StatementArguments` builds an array of `DatabaseValue` enums per row and
/// binds them through generic code (a quarter of the writer thread's time in
/// `perf`); binding the columns directly costs a few hundred instructions.
/// Both statements bind the properties of ``SQLiteColumnLayout/all`` in their
/// order, each by its kind, so the binding cannot drift from
/// ``SQLiteSchema/columns``; the store's round-trip tests check that every
/// field written this way reads back equal through `SQLiteRowDecoder`.
enum SQLiteBinding {
    /// Runs `statement` (``SQLiteSchema/insertSQL``) for `event`; whether a row
    /// was inserted (`false`: the id exists, or is tombstoned).
    static func insert(_ event: IdentityRiskEvent, with statement: Statement, in db: Database) throws -> Bool {
        var binder = Binder(statement)
        for layout in SQLiteColumnLayout.all {
            try binder.bind(event[layout.property], as: layout.property.kind)
        }
        try binder.bind(version: event.version)
        return try binder.run(in: db, sql: SQLiteSchema.insertSQL)
    }

    /// Runs `statement` (``SQLiteSchema/replaceSQL``): stores the updatable
    /// properties of `event` and its version where the id is `event.id` and the
    /// version `expectedVersion`; whether a row was changed.
    static func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64, with statement: Statement, in db: Database) throws -> Bool {
        var binder = Binder(statement)
        for layout in SQLiteSchema.updatableLayout {
            try binder.bind(event[layout.property], as: layout.property.kind)
        }
        try binder.bind(version: event.version)
        try binder.text(event.id)
        try binder.bind(version: expectedVersion)
        return try binder.run(in: db, sql: SQLiteSchema.replaceSQL)
    }

    /// Runs `statement` (``SQLiteSchema/insertChangeSQL``): appends the change
    /// `kind` of `event` to the change log; the change's cursor.
    static func insertChange(
        _ kind: ChangeKind, of event: IdentityRiskEvent, committedAt: Int64, with statement: Statement, in db: Database
    ) throws -> ChangeCursor {
        var binder = Binder(statement)
        try binder.integer(Int64(kind.wireNumber))
        try binder.integer(committedAt)
        for layout in SQLiteColumnLayout.all {
            try binder.bind(event[layout.property], as: layout.property.kind)
        }
        try binder.bind(version: event.version)
        return try binder.insertedCursor(in: db, sql: SQLiteSchema.insertChangeSQL)
    }

    /// Runs `statement` (``SQLiteSchema/insertDeleteChangeSQL``): appends the
    /// delete of the stored record `id`, as stored, to the change log; the
    /// change's cursor.
    static func insertDeleteChange(of id: String, committedAt: Int64, with statement: Statement, in db: Database) throws -> ChangeCursor {
        var binder = Binder(statement)
        try binder.integer(Int64(ChangeKind.deleted.wireNumber))
        try binder.integer(committedAt)
        try binder.text(id)
        return try binder.insertedCursor(in: db, sql: SQLiteSchema.insertDeleteChangeSQL)
    }

    /// Runs `statement` (``SQLiteSchema/selectTombstoneSQL``) for `id`: whether
    /// the id is tombstoned.
    static func isTombstoned(_ id: String, with statement: Statement, in db: Database) throws -> Bool {
        var binder = Binder(statement)
        try binder.text(id)
        return try binder.hasRow(in: db, sql: SQLiteSchema.selectTombstoneSQL)
    }

    /// Positional binding of one statement, parameter 1 first.
    private struct Binder {
        /// SQLite copies the bytes (the Swift string's storage is not kept alive).
        private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

        let statement: OpaquePointer
        var parameter: CInt = 0

        init(_ statement: Statement) {
            self.statement = statement.sqliteStatement
            sqlite3_reset(self.statement)
        }

        func check(_ code: CInt) throws {
            guard code == SQLITE_OK else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "binding parameter \(parameter) of a write")
            }
        }

        /// One property's value: text and enums one parameter, a date-time four
        /// (ticks, offset, digits, Z), all NULL when the value is absent.
        mutating func bind(_ value: PropertyValue?, as kind: EventProperty.Kind) throws {
            switch value {
            case .text(let text)?: try self.text(text)
            case .riskLevel(let level)?: try self.text(level.rawValue)
            case .riskEventStatus(let status)?: try self.text(status.rawValue)
            case .dateTime(let value)?:
                try integer(value.instantTicks)
                try integer(Int64(value.offsetMinutes))
                try integer(Int64(value.fractionDigits))
                try integer(value.utcDesignator ? 1 : 0)
            case nil:
                for _ in 0..<(kind == .dateTime ? 4 : 1) {
                    parameter += 1
                    try check(sqlite3_bind_null(statement, parameter))
                }
            }
        }

        mutating func text(_ value: String) throws {
            parameter += 1
            var value = value
            try value.withUTF8 { utf8 in
                guard let base = utf8.baseAddress, !utf8.isEmpty else {
                    return try check(sqlite3_bind_text(statement, parameter, "", 0, Self.transient))
                }
                try base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                    try check(sqlite3_bind_text(statement, parameter, $0, CInt(utf8.count), Self.transient))
                }
            }
        }

        mutating func integer(_ value: Int64) throws {
            parameter += 1
            try check(sqlite3_bind_int64(statement, parameter, value))
        }

        /// Versions are stored as SQLite's signed 64-bit INTEGER.
        mutating func bind(version: UInt64) throws {
            guard let value = Int64(exactly: version) else {
                throw DatabaseError(resultCode: .SQLITE_RANGE, message: "version \(version) does not fit an SQLite INTEGER")
            }
            try integer(value)
        }

        /// Steps the statement once; whether it produced a row.
        func hasRow(in db: Database, sql: String) throws -> Bool {
            let code = sqlite3_step(statement)
            sqlite3_reset(statement)
            switch code {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default:
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
            }
        }

        /// Steps an insert of one change row; its rowid (the cursor).
        func insertedCursor(in db: Database, sql: String) throws -> ChangeCursor {
            guard try run(in: db, sql: sql) else {
                throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the change log insert stored no row", sql: sql)
            }
            let rowid = sqlite3_last_insert_rowid(db.sqliteConnection)
            guard rowid > 0 else {
                throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the change log insert returned rowid \(rowid)", sql: sql)
            }
            return ChangeCursor(UInt64(rowid))
        }

        /// Steps the statement once; whether it changed a row.
        func run(in db: Database, sql: String) throws -> Bool {
            let code = sqlite3_step(statement)
            sqlite3_reset(statement)
            guard code == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
            }
            return sqlite3_changes(db.sqliteConnection) > 0
        }
    }
}
