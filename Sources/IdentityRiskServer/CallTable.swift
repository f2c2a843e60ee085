import NIOCore
import Synchronization

/// The calls in flight on one connection: bounds them, refuses reused ids,
/// finds a call to cancel, and lets the connection wait for all of them.
final class CallTable: Sendable {
    enum BeginResult { case started, duplicate, full }

    private struct State {
        var tasks: [UInt64: Task<Void, Never>?] = [:]
        /// When the last call finished (or the table was made), while none is in flight.
        var idleSince = NIODeadline.now()
    }

    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Reserves `callID`; ``attach(_:task:)`` adds its task after.
    func begin(_ callID: UInt64) -> BeginResult {
        state.withLock { state in
            if state.tasks.keys.contains(callID) { return .duplicate }
            if state.tasks.count >= limit { return .full }
            state.tasks[callID] = .some(nil)
            return .started
        }
    }

    func attach(_ callID: UInt64, task: Task<Void, Never>) {
        state.withLock { state in
            // The task may already have finished and removed its entry.
            if state.tasks.keys.contains(callID) { state.tasks[callID] = task }
        }
    }

    func finish(_ callID: UInt64) {
        state.withLock { state in
            if state.tasks.removeValue(forKey: callID) != nil, state.tasks.isEmpty {
                state.idleSince = .now()
            }
        }
    }

    /// Cancels `callID` if it is in flight; `false` if it is unknown or done.
    @discardableResult
    func cancel(_ callID: UInt64) -> Bool {
        let task = state.withLock { $0.tasks[callID] }
        guard let entry = task else { return false }
        entry?.cancel()
        return true
    }

    var count: Int { state.withLock { $0.tasks.count } }

    /// Calls in flight, and since when none has been (meaningful when 0).
    var activity: (inFlight: Int, idleSince: NIODeadline) {
        state.withLock { ($0.tasks.count, $0.idleSince) }
    }

    /// Waits until every call has answered, or `deadline` passes; then cancels
    /// the rest and gives them a moment to answer `cancelled`. It never waits
    /// for them beyond that: a store that ignores cancellation must not hold
    /// shutdown hostage (their answers go nowhere once the connection closes).
    func drain(until deadline: NIODeadline) async {
        await waitUntilEmpty(orUntil: deadline)
        let leftovers = state.withLock { $0.tasks.values.compactMap { $0 } }
        guard !leftovers.isEmpty else { return }
        for task in leftovers { task.cancel() }
        await waitUntilEmpty(orUntil: .now() + .milliseconds(100))
    }

    private func waitUntilEmpty(orUntil deadline: NIODeadline) async {
        while count > 0, NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
