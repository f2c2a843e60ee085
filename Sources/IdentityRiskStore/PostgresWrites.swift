import Foundation
import IdentityRiskCore
import Logging
import PostgresNIO

/// The creates of one group-commit transaction of ``PostgresEventStore``
/// (inside its open READ COMMITTED transaction).
///
/// 1. One multi-row `INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id` of
///    the first create of each id, in byte order of the ids (two hosts'
///    batches lock the same ids in the same order: no deadlock).
/// 2. The tombstone probe of every id, as a new statement: it sees a delete
///    that committed while the insert waited for its row; an inserted id that
///    turns out tombstoned is deleted again (answered `deletedID`).
/// 3. The stored rows of the ids not inserted: same content `alreadyExisted`,
///    else ALREADY_EXISTS.
/// 4. The cursors of the new records (`PostgresSchema.takeCursorsSQL`, last:
///    its lock is held to COMMIT) and their change rows.
struct PostgresCreateBatch {
    let events: [IdentityRiskEvent]
    let connection: PostgresConnection
    let logger: Logger

    /// Rows per insert statement (20 binds a record, 22 a change).
    static let rowsPerStatement = 1000

    init(events: [IdentityRiskEvent], connection: PostgresConnection, logger: Logger) {
        self.events = events.map { event in
            var event = event
            event.version = 1
            return event
        }
        self.connection = connection
        self.logger = logger
    }

    func apply() async throws -> ([Result<CreateOutcome, IdentityRiskError>], [Change]) {
        var first: [String: Int] = [:]
        for (index, event) in events.enumerated() where first[event.id] == nil {
            first[event.id] = index
        }
        let ordered = first.values.sorted { Array(events[$0].id.utf8).lexicographicallyPrecedes(events[$1].id.utf8) }

        var inserted: Set<String> = []
        var start = 0
        while start < ordered.count {
            let chunk = ordered[start..<min(start + Self.rowsPerStatement, ordered.count)]
            var bindings = PostgresBindings(capacity: chunk.count * PostgresSchema.columns.count)
            for index in chunk { try PostgresRecordCoding.bind(events[index], into: &bindings) }
            let rows = try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.insertSQL(rows: chunk.count), binds: bindings), logger: logger)
            for try await id in rows.decode(String.self) { inserted.insert(id) }
            start += chunk.count
        }

        let ids = ordered.map { events[$0].id }
        var tombstoned: Set<String> = []
        for try await id in try await connection.query(
            PostgresQuery(unsafeSQL: PostgresSchema.selectTombstonedSQL, binds: Self.arrayBind(ids)), logger: logger
        ).decode(String.self) {
            tombstoned.insert(id)
        }
        let resurrected = inserted.intersection(tombstoned)
        if !resurrected.isEmpty {
            try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.deleteIDsSQL, binds: Self.arrayBind(Array(resurrected))), logger: logger)
            inserted.subtract(resurrected)
        }

        var stored: [String: Result<IdentityRiskEvent, IdentityRiskError>] = [:]
        let existing = ids.filter { !inserted.contains($0) && !tombstoned.contains($0) }
        if !existing.isEmpty {
            for try await row in try await connection.query(
                PostgresQuery(unsafeSQL: PostgresSchema.selectByIDsSQL, binds: Self.arrayBind(existing)), logger: logger
            ) {
                let random = row.makeRandomAccess()
                let id = try random[0].decode(String.self)
                stored[id] = Result { () throws(IdentityRiskError) in try PostgresRecordCoding.decode(random) }
            }
        }

        var results: [Result<CreateOutcome, IdentityRiskError>] = []
        results.reserveCapacity(events.count)
        var created: [IdentityRiskEvent] = []
        for (index, event) in events.enumerated() {
            if tombstoned.contains(event.id) {
                results.append(.failure(.deletedID(event.id)))
            } else if inserted.contains(event.id), let firstIndex = first[event.id] {
                if firstIndex == index {
                    created.append(event)
                    results.append(.success(CreateOutcome(event: event, alreadyExisted: false)))
                } else {
                    results.append(Self.repeated(event, of: events[firstIndex]))
                }
            } else if let row = stored[event.id] {
                results.append(row.flatMap { Self.repeated(event, of: $0) })
            } else {
                // The row went away between the insert and the select: deleted
                // by a transaction that committed in between.
                results.append(.failure(.deletedID(event.id)))
            }
        }

        let changes = try await PostgresSingleWrite.appendChanges(created.map { (.created, $0) }, connection: connection, logger: logger)
        return (results, changes)
    }

    /// The answer to a create of an id that is stored as `stored`.
    static func repeated(_ event: IdentityRiskEvent, of stored: IdentityRiskEvent) -> Result<CreateOutcome, IdentityRiskError> {
        stored.hasSameContent(as: event) ? .success(CreateOutcome(event: stored, alreadyExisted: true)) : .failure(.conflict(id: event.id))
    }

    static func arrayBind(_ ids: [String]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(ids)
        return bindings
    }
}

/// Updates and deletes of ``PostgresEventStore`` (one transaction each), and
/// the change-log append every write shares.
enum PostgresSingleWrite {
    static func replace(
        _ event: IdentityRiskEvent, expectedVersion: UInt64, connection: PostgresConnection, logger: Logger
    ) async throws -> (Result<IdentityRiskEvent, IdentityRiskError>, [Change]) {
        guard let stored = try await selectForUpdate(event.id, connection: connection, logger: logger) else {
            return (.failure(.notFound(id: event.id)), [])
        }
        let current: IdentityRiskEvent
        switch stored {
        case .success(let value): current = value
        case .failure(let error): return (.failure(error), [])
        }
        guard current.version == expectedVersion else {
            return (.failure(.versionMismatch(id: event.id, expected: expectedVersion, stored: current.version)), [])
        }
        guard current.version < UInt64(Int64.max) else {
            return (.failure(IdentityRiskError(code: .internal, message: "identityRiskEvent '\(event.id)' is at the largest version PostgreSQL can store")), [])
        }
        var next = event
        next.createdDateTime = current.createdDateTime
        next.version = current.version + 1
        var bindings = PostgresBindings()
        try PostgresRecordCoding.bindUpdatable(next, into: &bindings)
        bindings.append(next.id)
        try PostgresRecordCoding.bind(version: expectedVersion, into: &bindings)
        try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.replaceSQL, binds: bindings), logger: logger)
        let changes = try await appendChanges([(.updated, next)], connection: connection, logger: logger)
        return (.success(next), changes)
    }

    static func delete(
        id: String, expectedVersion: UInt64?, connection: PostgresConnection, logger: Logger
    ) async throws -> (Result<UInt64, IdentityRiskError>, [Change]) {
        guard let stored = try await selectForUpdate(id, connection: connection, logger: logger) else {
            return (.failure(.notFound(id: id)), [])
        }
        let current: IdentityRiskEvent
        switch stored {
        case .success(let value): current = value
        case .failure(let error): return (.failure(error), [])
        }
        if let expectedVersion, expectedVersion != current.version {
            return (.failure(.versionMismatch(id: id, expected: expectedVersion, stored: current.version)), [])
        }
        try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.deleteSQL, binds: PostgresEventStore.binds(texts: [id])), logger: logger)
        let now = Int64((Date().timeIntervalSince1970 * Double(DateTimeOffset.ticksPerSecond)).rounded())
        var bindings = PostgresBindings()
        bindings.append(id)
        try PostgresRecordCoding.bind(version: current.version, into: &bindings)
        bindings.append(now)
        try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.insertTombstoneSQL, binds: bindings), logger: logger)
        let changes = try await appendChanges([(.deleted, current)], connection: connection, logger: logger)
        return (.success(current.version), changes)
    }

    /// The stored row of `id`, locked to the end of the transaction (`nil`: none).
    private static func selectForUpdate(
        _ id: String, connection: PostgresConnection, logger: Logger
    ) async throws -> Result<IdentityRiskEvent, IdentityRiskError>? {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.selectByIDForUpdateSQL, binds: PostgresEventStore.binds(texts: [id])), logger: logger)
        for try await row in rows {
            let random = row.makeRandomAccess()
            return Result { () throws(IdentityRiskError) in try PostgresRecordCoding.decode(random) }
        }
        return nil
    }

    /// Takes the next cursors and inserts the change rows: the transaction's
    /// last statements (the cursor row's lock is held to COMMIT).
    static func appendChanges(
        _ writes: [(ChangeKind, IdentityRiskEvent)], connection: PostgresConnection, logger: Logger
    ) async throws -> [Change] {
        guard !writes.isEmpty else { return [] }
        var last: Int64?
        for try await value in try await connection.query(
            PostgresQuery(unsafeSQL: PostgresSchema.takeCursorsSQL, binds: PostgresEventStore.binds(Int64(writes.count))), logger: logger
        ).decode(Int64.self) {
            last = value
        }
        guard let last else { throw IdentityRiskError(code: .internal, message: "the change_cursor row is missing; the schema is damaged") }
        let firstCursor = last - Int64(writes.count) + 1
        let changes = writes.enumerated().map { offset, write in
            Change(cursor: ChangeCursor(UInt64(firstCursor + Int64(offset))), kind: write.0, event: write.1)
        }
        var start = 0
        while start < changes.count {
            let chunk = changes[start..<min(start + PostgresCreateBatch.rowsPerStatement, changes.count)]
            var bindings = PostgresBindings(capacity: chunk.count * (PostgresSchema.columns.count + 2))
            for change in chunk {
                bindings.append(Int64(change.cursor.rawValue))
                bindings.append(Int16(change.kind.wireNumber))
                try PostgresRecordCoding.bind(change.event, into: &bindings)
            }
            try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.insertChangesSQL(rows: chunk.count), binds: bindings), logger: logger)
            start += chunk.count
        }
        return changes
    }
}
