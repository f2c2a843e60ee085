import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import Synchronization
import Testing

/// A ``MemoryEventStore`` whose creates wait until ``release()``: keeps calls in flight on demand.
final class GatedStore: EventStore {
    let kind = "gated-memory"
    let inner = MemoryEventStore()
    private let gate = Mutex<(open: Bool, waiting: [@Sendable () -> Void])>((false, []))
    let entered = Atomic<Int>(0)

    func run() async throws { try await inner.run() }

    /// Holds every create until ``release()``; then passes it to the memory store.
    func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        entered.add(1, ordering: .relaxed)
        let inner = self.inner
        let proceed: @Sendable () -> Void = { inner.create(event, completion: completion) }
        let now = gate.withLock { gate -> Bool in
            if gate.open { return true }
            gate.waiting.append(proceed)
            return false
        }
        if now { proceed() }
    }

    func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? { try await inner.get(id: id) }
    func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage { try await inner.list(query) }
    func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent {
        try await inner.replace(event, expectedVersion: expectedVersion)
    }
    func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 {
        try await inner.delete(id: id, expectedVersion: expectedVersion)
    }
    var changeFeed: ChangeFeed { inner.changeFeed }
    func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change] {
        try await inner.changes(after: cursor, limit: limit)
    }
    func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds { try await inner.changeLogBounds() }

    func release() {
        let waiting = gate.withLock { gate in
            gate.open = true
            defer { gate.waiting.removeAll() }
            return gate.waiting
        }
        for proceed in waiting { proceed() }
    }

    /// Waits until `count` creates have reached the store.
    func waitUntilEntered(_ count: Int) async throws {
        for _ in 0..<(400 * timeScale) where entered.load(ordering: .relaxed) < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(entered.load(ordering: .relaxed) >= count)
    }
}
