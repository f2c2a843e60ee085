public import IdentityRiskCore
import ServiceLifecycle
import Synchronization

/// An in-memory ``EventStore`` for tests and benchmarks. **Not durable**: every
/// record is gone when the process exits. `iriskd --store memory` says so at start.
///
/// Records are spread over 64 shards by a hash of the id, each with its own
/// lock, so concurrent writes rarely contend and a dictionary resize stalls
/// only one shard. A deleted id keeps a tombstone (its last version) in its
/// shard, in the same dictionary slot, so a create checks records and
/// tombstones with one lookup. Bounded: refuses creates beyond `capacity` ids
/// (records and tombstones) with `resourceExhausted`.
///
/// Lifecycle: ``run()`` returns at graceful shutdown (or cancellation) and
/// closes the store; every later call throws `unavailable`.
public final class MemoryEventStore: EventStore {
    public let kind = "memory"
    public let capacity: Int
    private static let shardCount = 64
    private let shards: [Shard]
    /// Ids held (records and tombstones), checked against `capacity`.
    private let stored = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// What one id holds.
    private enum Entry: Sendable {
        case record(IdentityRiskEvent)
        /// Deleted at this version.
        case tombstone(UInt64)
    }

    private struct ShardState: Sendable {
        var entries: [String: Entry] = [:]
        /// Entries that are records (not tombstones), for ``count``.
        var records = 0
    }

    private final class Shard: Sendable {
        let state = Mutex(ShardState())
    }

    public init(capacity: Int = 10_000_000) {
        self.capacity = capacity
        self.shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    private func shard(for id: String) -> Shard {
        // FNV-1a over the UTF-8 bytes: stable, cheap, and spreads UUIDs and counters evenly.
        var hash: UInt32 = 2_166_136_261
        for byte in id.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return shards[Int(hash % UInt32(Self.shardCount))]
    }

    // MARK: - Lifecycle

    /// Open until graceful shutdown (or cancellation); then closed for good.
    public func run() async throws {
        try? await gracefulShutdown()
        closed.store(true, ordering: .releasing)
    }

    private func checkOpen() throws(IdentityRiskError) {
        if closed.load(ordering: .acquiring) {
            throw IdentityRiskError(code: .unavailable, message: "the in-memory event store is closed")
        }
    }

    // MARK: - EventStore

    /// Answers inline: nothing here ever waits (one shard lock).
    public func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        completion(Result { () throws(IdentityRiskError) in try insert(event) })
    }

    private func insert(_ event: IdentityRiskEvent) throws(IdentityRiskError) -> CreateOutcome {
        try checkOpen()
        guard event.version == 1 else {
            var first = event
            first.version = 1
            return try insert(first)
        }
        return try shard(for: event.id).state.withLock { (shard) throws(IdentityRiskError) -> CreateOutcome in
            switch shard.entries[event.id] {
            case .record(let existing)?:
                guard existing.hasSameContent(as: event) else { throw .conflict(id: event.id) }
                return CreateOutcome(event: existing, alreadyExisted: true)
            case .tombstone?:
                throw .deletedID(event.id)
            case nil:
                break
            }
            guard self.stored.wrappingAdd(1, ordering: .relaxed).newValue <= capacity else {
                self.stored.wrappingSubtract(1, ordering: .relaxed)
                throw IdentityRiskError(
                    code: .resourceExhausted,
                    message: "the in-memory store holds its maximum of \(capacity) records",
                    retryAfterMilliseconds: 1000
                )
            }
            shard.entries[event.id] = .record(event)
            shard.records += 1
            return CreateOutcome(event: event, alreadyExisted: false)
        }
    }

    public func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? {
        try checkOpen()
        return shard(for: id).state.withLock { shard in
            guard case .record(let event)? = shard.entries[id] else { return nil }
            return event
        }
    }

    /// Scans every record: fine for tests, not meant for millions.
    public func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage {
        try checkOpen()
        guard (1...ListQuery.maxTop).contains(query.top) else {
            throw IdentityRiskError.invalid([FieldViolation(field: "top", description: "is \(query.top); allowed: 1 ... \(ListQuery.maxTop)")])
        }
        let order = query.order
        var matching: [IdentityRiskEvent] = []
        for shard in shards {
            shard.state.withLock { shard in
                for case .record(let event) in shard.entries.values
                where (query.filter?.matches(event) ?? true) && (query.after?.precedes(event, in: order) ?? true) {
                    matching.append(event)
                }
            }
        }
        matching.sort { a, b in
            let ka = order.sortKey(a), kb = order.sortKey(b)
            if ka != kb { return order.isDescending ? ka > kb : ka < kb }
            return a.id < b.id
        }
        guard matching.count > query.top else { return ListPage(events: matching, next: nil) }
        let page = Array(matching.prefix(query.top))
        let last = page[page.count - 1]
        return ListPage(events: page, next: ListCursor(sortKey: order.sortKey(last), id: last.id))
    }

    /// Compare-and-swap under the shard lock. Stores `event` with version
    /// `expectedVersion + 1` and the stored `id` and `createdDateTime`.
    public func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent {
        try checkOpen()
        return try shard(for: event.id).state.withLock { (shard) throws(IdentityRiskError) -> IdentityRiskEvent in
            guard case .record(let stored)? = shard.entries[event.id] else { throw .notFound(id: event.id) }
            guard stored.version == expectedVersion else {
                throw .versionMismatch(id: event.id, expected: expectedVersion, stored: stored.version)
            }
            var next = event
            next.createdDateTime = stored.createdDateTime
            next.version = stored.version + 1
            shard.entries[event.id] = .record(next)
            return next
        }
    }

    /// Replaces the record by its tombstone under the shard lock.
    public func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 {
        try checkOpen()
        return try shard(for: id).state.withLock { (shard) throws(IdentityRiskError) -> UInt64 in
            guard case .record(let stored)? = shard.entries[id] else { throw .notFound(id: id) }
            if let expectedVersion, expectedVersion != stored.version {
                throw .versionMismatch(id: id, expected: expectedVersion, stored: stored.version)
            }
            shard.entries[id] = .tombstone(stored.version)
            shard.records -= 1
            return stored.version
        }
    }

    /// Records stored now (deleted ones not counted). Takes each shard's lock in turn.
    public var count: Int {
        shards.reduce(0) { total, shard in total + shard.state.withLock { $0.records } }
    }
}
