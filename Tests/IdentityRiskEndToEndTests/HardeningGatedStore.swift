import IdentityRiskCore
import IdentityRiskStore
import Synchronization
import Testing

/// A ``MemoryEventStore`` whose creates wait until ``release()``: keeps calls in flight on demand.
final class GatedStore: EventStore {
    let kind = "gated-memory"
    let inner = MemoryEventStore()
    private let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
    let entered = Atomic<Int>(0)

    func create(_ event: IdentityRiskEvent) async throws -> CreateOutcome {
        entered.add(1, ordering: .relaxed)
        await withCheckedContinuation { continuation in
            let resumeNow = gate.withLock { gate -> Bool in
                if gate.open { return true }
                gate.waiting.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
        return try await inner.create(event)
    }

    func get(id: String) async throws -> IdentityRiskEvent? { try await inner.get(id: id) }
    func list(_ query: ListQuery) async throws -> ListPage { try await inner.list(query) }

    func release() {
        let waiting = gate.withLock { gate in
            gate.open = true
            defer { gate.waiting.removeAll() }
            return gate.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Waits until `count` creates have reached the store.
    func waitUntilEntered(_ count: Int) async throws {
        for _ in 0..<(400 * timeScale) where entered.load(ordering: .relaxed) < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(entered.load(ordering: .relaxed) >= count)
    }
}
