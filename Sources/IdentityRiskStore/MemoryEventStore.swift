public import IdentityRiskCore
import Synchronization

/// An in-memory ``EventStore`` for tests and benchmarks. **Not durable**: every
/// record is gone when the process exits. `iriskd --store memory` says so at start.
///
/// Records are spread over 64 shards by a hash of the id, each with its own
/// lock, so concurrent creates rarely contend and a dictionary resize stalls
/// only one shard. Bounded: refuses creates beyond `capacity` records with
/// `resourceExhausted`.
public final class MemoryEventStore: EventStore {
    public let kind = "memory"
    public var answersCreatesByCompletion: Bool { true }
    public let capacity: Int
    private static let shardCount = 64
    private let shards: [Shard]
    private let stored = Atomic<Int>(0)

    private final class Shard: Sendable {
        let events = Mutex<[String: IdentityRiskEvent]>([:])
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

    public func create(_ event: IdentityRiskEvent) async throws -> CreateOutcome {
        try insert(event)
    }

    /// Answers inline: nothing here ever waits.
    public func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        completion(Result { () throws(IdentityRiskError) in try insert(event) })
    }

    private func insert(_ event: IdentityRiskEvent) throws(IdentityRiskError) -> CreateOutcome {
        return try shard(for: event.id).events.withLock { (events) throws(IdentityRiskError) -> CreateOutcome in
            if let existing = events[event.id] {
                guard existing.hasSameContent(as: event) else { throw .conflict(id: event.id) }
                return CreateOutcome(event: existing, alreadyExisted: true)
            }
            guard self.stored.wrappingAdd(1, ordering: .relaxed).newValue <= capacity else {
                self.stored.wrappingSubtract(1, ordering: .relaxed)
                throw IdentityRiskError(
                    code: .resourceExhausted,
                    message: "the in-memory store holds its maximum of \(capacity) records",
                    retryAfterMilliseconds: 1000
                )
            }
            events[event.id] = event
            return CreateOutcome(event: event, alreadyExisted: false)
        }
    }

    public func get(id: String) async throws -> IdentityRiskEvent? {
        shard(for: id).events.withLock { $0[id] }
    }

    /// Scans every record: fine for tests, not meant for millions.
    public func list(_ query: ListQuery) async throws -> ListPage {
        guard (1...ListQuery.maxTop).contains(query.top) else {
            throw IdentityRiskError.invalid([FieldViolation(field: "top", description: "is \(query.top); allowed: 1 ... \(ListQuery.maxTop)")])
        }
        let order = query.order
        var matching: [IdentityRiskEvent] = []
        for shard in shards {
            shard.events.withLock { events in
                for event in events.values
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

    public var count: Int { stored.load(ordering: .relaxed) }
}
