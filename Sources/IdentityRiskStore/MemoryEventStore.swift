public import IdentityRiskCore
import Synchronization

/// An in-memory ``EventStore`` for tests and benchmarks. **Not durable**: every
/// record is gone when the process exits. `iriskd --store memory` says so at start.
///
/// Bounded: refuses creates beyond `capacity` records with `resourceExhausted`.
public final class MemoryEventStore: EventStore {
    public let kind = "memory"
    public let capacity: Int
    private let events = Mutex<[String: IdentityRiskEvent]>([:])

    public init(capacity: Int = 10_000_000) {
        self.capacity = capacity
    }

    public func create(_ event: IdentityRiskEvent) async throws -> CreateOutcome {
        try events.withLock { (events) throws(IdentityRiskError) -> CreateOutcome in
            if let existing = events[event.id] {
                guard existing.hasSameContent(as: event) else { throw .conflict(id: event.id) }
                return CreateOutcome(event: existing, alreadyExisted: true)
            }
            guard events.count < capacity else {
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
        events.withLock { $0[id] }
    }

    /// Scans every record: fine for tests, not meant for millions.
    public func list(_ query: ListQuery) async throws -> ListPage {
        let order = query.order
        var matching = events.withLock { events in
            events.values.filter { event in
                (query.filter?.matches(event) ?? true) && (query.after?.precedes(event, in: order) ?? true)
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

    public var count: Int { events.withLock { $0.count } }
}
