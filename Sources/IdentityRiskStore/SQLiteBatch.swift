import GRDB
import IdentityRiskCore

/// Applies the writes of one group-commit batch inside its (open) transaction,
/// in queue order, so each write sees the effects of the earlier ones.
///
/// A write's own outcome (an idempotent retry, a conflict, a deleted id, a
/// version mismatch, an unknown id, a damaged stored row) is its answer and
/// leaves the database as it was. A database error (SQLITE_FULL, I/O, ...)
/// is thrown: the caller rolls the whole transaction back and answers every
/// write `unavailable`, so a failed batch applies none of its writes.
///
/// Every write that changes a record appends its change to the change log
/// (``SQLiteSchema/v3``) in the same transaction: a new record (not an
/// idempotent repeat, not a refused create), a replace, a delete (the record
/// as it was). The log's AUTOINCREMENT cursor is assigned in apply order, which
/// is commit order (one writer). The changes are published only once the
/// transaction has committed (``Outcome/changes``).
struct SQLiteBatch {
    private let db: Database
    /// When this batch's deletes happened (tombstones' `deleted_ticks`).
    private let now: Int64
    /// When this batch committed, in unix milliseconds (the change log's `committed_at`).
    private let committedAt: Int64

    /// The statements of the common path, looked up once per batch (GRDB's
    /// statement cache hashes the SQL text on every lookup).
    private var insertStatement: Statement?
    private var selectStatement: Statement?
    private var tombstoneStatement: Statement?
    private var changeStatement: Statement?
    /// Whether any id was ever deleted (read once per batch, at its first
    /// create, inside the transaction; set by a delete in the batch). While
    /// not, a create needs no tombstone probe.
    private var anyTombstone: Bool?

    /// What the batch did, to deliver once it has committed.
    struct Outcome: Sendable {
        var answers: [SQLiteWriteAnswer] = []
        var inserted = 0
        var replaced = 0
        var deleted = 0
        /// The changes the batch appended to the log, in cursor order, to
        /// publish once it has committed; up to the first one that could not
        /// be read back (see ``unreadableChange``).
        var changes: [Change] = []
        /// The cursor of the last change appended, if any.
        var lastCursor: ChangeCursor?
        /// A delete of a damaged record: its change is in the log as stored but
        /// cannot be published as a ``Change``; neither are the later ones of
        /// the batch (the feed is reset after them instead: watchers read the log).
        var unreadableChange = false
    }

    private(set) var outcome = Outcome()

    init(db: Database, capacity: Int, now: Int64) {
        self.db = db
        self.now = now
        self.committedAt = now / (DateTimeOffset.ticksPerSecond / 1000)
        outcome.answers.reserveCapacity(capacity)
    }

    mutating func apply(_ write: SQLiteWrite) throws {
        switch write {
        case .create(let event, let completion):
            outcome.answers.append(.created(completion, try create(event)))
        case .replace(let event, let expectedVersion, let completion):
            outcome.answers.append(.replaced(completion, try replace(event, expectedVersion: expectedVersion)))
        case .delete(let id, let expectedVersion, let completion):
            outcome.answers.append(.deleted(completion, try delete(id: id, expectedVersion: expectedVersion)))
        }
    }

    // MARK: - The three writes

    private mutating func create(_ event: IdentityRiskEvent) throws -> Result<CreateOutcome, IdentityRiskError> {
        var event = event
        event.version = 1
        if anyTombstone == nil { anyTombstone = try Bool.fetchOne(db.cachedStatement(sql: SQLiteSchema.anyTombstoneSQL)) ?? true }
        if anyTombstone == true {
            if tombstoneStatement == nil { tombstoneStatement = try db.cachedStatement(sql: SQLiteSchema.selectTombstoneSQL) }
            if try SQLiteBinding.isTombstoned(event.id, with: tombstoneStatement!, in: db) {
                return .failure(.deletedID(event.id))
            }
        }
        if insertStatement == nil { insertStatement = try db.cachedStatement(sql: SQLiteSchema.insertSQL) }
        if try SQLiteBinding.insert(event, with: insertStatement!, in: db) {
            outcome.inserted += 1
            try appendChange(.created, of: event)
            return .success(CreateOutcome(event: event, alreadyExisted: false))
        }
        // Nothing inserted: the id is stored (earlier, or earlier in this batch).
        guard let row = try select(event.id) else {
            throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "id '\(event.id)' conflicted on insert but cannot be selected")
        }
        return Result { () throws(IdentityRiskError) -> CreateOutcome in
            let stored = try SQLiteRowDecoder.decode(row)
            guard stored.hasSameContent(as: event) else { throw .conflict(id: event.id) }
            return CreateOutcome(event: stored, alreadyExisted: true)
        }
    }

    private mutating func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) throws -> Result<IdentityRiskEvent, IdentityRiskError> {
        // The transaction holds the write lock from its start (BEGIN IMMEDIATE),
        // so nothing changes between this read and the update.
        guard let row = try select(event.id) else {
            return .failure(.notFound(id: event.id))
        }
        let stored: IdentityRiskEvent
        do {
            stored = try SQLiteRowDecoder.decode(row)
        } catch {
            return .failure(error)
        }
        guard stored.version == expectedVersion else {
            return .failure(.versionMismatch(id: event.id, expected: expectedVersion, stored: stored.version))
        }
        guard stored.version < UInt64(Int64.max) else {
            return .failure(IdentityRiskError(code: .internal, message: "identityRiskEvent '\(event.id)' is at the largest version SQLite can store"))
        }
        // The record as stored: the new values, the next version, and the
        // read-only properties (id, createdDateTime) as they were.
        var next = event
        next.createdDateTime = stored.createdDateTime
        next.version = stored.version + 1
        let updated = try SQLiteBinding.replace(next, expectedVersion: expectedVersion, with: db.cachedStatement(sql: SQLiteSchema.replaceSQL), in: db)
        guard updated else {
            throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "id '\(event.id)' at version \(expectedVersion) was read but not updated")
        }
        outcome.replaced += 1
        try appendChange(.updated, of: next)
        return .success(next)
    }

    /// Appends the change of a create or replace to the log.
    private mutating func appendChange(_ kind: ChangeKind, of event: IdentityRiskEvent) throws {
        if changeStatement == nil { changeStatement = try db.cachedStatement(sql: SQLiteSchema.insertChangeSQL) }
        let cursor = try SQLiteBinding.insertChange(kind, of: event, committedAt: committedAt, with: changeStatement!, in: db)
        record(Change(cursor: cursor, kind: kind, event: event), at: cursor)
    }

    /// Notes a change appended at `cursor` (`nil` change: unreadable).
    private mutating func record(_ change: Change?, at cursor: ChangeCursor) {
        if let previous = outcome.lastCursor, cursor <= previous {
            // Cannot happen with one writer and AUTOINCREMENT; never publish out of order.
            outcome.unreadableChange = true
        }
        outcome.lastCursor = cursor
        guard let change, !outcome.unreadableChange else {
            outcome.unreadableChange = true
            return
        }
        outcome.changes.append(change)
    }

    private mutating func select(_ id: String) throws -> Row? {
        if selectStatement == nil { selectStatement = try db.cachedStatement(sql: SQLiteSchema.selectByIDSQL) }
        return try Row.fetchOne(selectStatement!, arguments: [id])
    }

    private mutating func delete(id: String, expectedVersion: UInt64?) throws -> Result<UInt64, IdentityRiskError> {
        guard let version = try Int64.fetchOne(db.cachedStatement(sql: SQLiteSchema.selectVersionSQL), arguments: [id]) else {
            return .failure(.notFound(id: id))
        }
        guard version >= 1 else {
            return .failure(IdentityRiskError(
                code: .internal,
                message: "stored identityRiskEvent '\(id)' cannot be read: column version holds \(version); the database file may be damaged"))
        }
        if let expectedVersion, expectedVersion != UInt64(version) {
            return .failure(.versionMismatch(id: id, expected: expectedVersion, stored: UInt64(version)))
        }
        // The change first: it copies the record's last content from its row.
        let cursor = try SQLiteBinding.insertDeleteChange(
            of: id, committedAt: committedAt, with: db.cachedStatement(sql: SQLiteSchema.insertDeleteChangeSQL), in: db)
        let last = try select(id).flatMap { try? SQLiteRowDecoder.decode($0) }
        record(last.map { Change(cursor: cursor, kind: .deleted, event: $0) }, at: cursor)
        try db.cachedStatement(sql: SQLiteSchema.deleteSQL).execute(arguments: [id])
        try db.cachedStatement(sql: SQLiteSchema.insertTombstoneSQL).execute(arguments: [id, version, now])
        anyTombstone = true
        outcome.deleted += 1
        return .success(UInt64(version))
    }
}
