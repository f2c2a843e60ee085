import GRDB
import GRDBSQLite
import IdentityRiskCore

/// Binds one record to the cached insert statement with sqlite3_bind_* directly.
///
/// This is the writer's per-row hot path. Going through GRDB's
/// `StatementArguments` builds an array of `DatabaseValue` enums per row and
/// binds them through generic code (a quarter of the writer thread's time in
/// `perf`); binding the 19 columns directly costs a few hundred instructions.
/// The order is ``SQLiteSchema/columns``; the store's round-trip test checks that
/// every field written this way reads back equal through ``SQLiteSchema/decode(_:)``.
enum SQLiteInsertBinding {
    /// SQLite copies the bytes (the Swift string's storage is not kept alive).
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    /// Runs `statement` (``SQLiteSchema/insertSQL``) for `event`; whether a row was inserted
    /// (`false`: the id existed, `ON CONFLICT DO NOTHING`).
    static func insert(_ event: IdentityRiskEvent, with statement: Statement, in db: Database) throws -> Bool {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        var column: CInt = 0
        func check(_ code: CInt) throws {
            guard code == SQLITE_OK else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "binding column \(column) of the insert")
            }
        }
        func text(_ value: String?) throws {
            column += 1
            guard var value else { return try check(sqlite3_bind_null(s, column)) }
            try value.withUTF8 { utf8 in
                guard let base = utf8.baseAddress, !utf8.isEmpty else {
                    return try check(sqlite3_bind_text(s, column, "", 0, transient))
                }
                try base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                    try check(sqlite3_bind_text(s, column, $0, CInt(utf8.count), transient))
                }
            }
        }
        func integer(_ value: Int64) throws {
            column += 1
            try check(sqlite3_bind_int64(s, column, value))
        }
        func dateTime(_ value: DateTimeOffset?) throws {
            guard let value else {
                for _ in 0..<4 {
                    column += 1
                    try check(sqlite3_bind_null(s, column))
                }
                return
            }
            try integer(value.instantTicks)
            try integer(Int64(value.offsetMinutes))
            try integer(Int64(value.fractionDigits))
            try integer(value.utcDesignator ? 1 : 0)
        }
        try text(event.id)
        try text(event.userDisplayName)
        try text(event.userPrincipalName)
        try dateTime(event.riskEventDateTime)
        try text(event.riskEventType)
        try text(event.riskLevel.rawValue)
        try text(event.riskEventStatus.rawValue)
        try dateTime(event.closedDateTime)
        try dateTime(event.createdDateTime)
        try text(event.userId)
        let code = sqlite3_step(s)
        sqlite3_reset(s)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: SQLiteSchema.insertSQL)
        }
        return sqlite3_changes(db.sqliteConnection) > 0
    }
}
