import IdentityRiskCore
import NIOCore
import Synchronization

/// What the table can do to a call in flight, whatever its method and shape.
protocol CallHandle: Sendable {
    /// Stops the call where it still can (its handler's cancel handlers run).
    func cancel()
    /// A server-streaming call (it runs until something ends it).
    var isStream: Bool { get }
    /// Ends a stream with `error` (and its resume cursor).
    func end(_ error: IdentityRiskError)
}

/// The calls in flight on one connection, of every method and shape: bounds
/// them, refuses reused ids, finds a call to cancel, and lets the connection
/// (and shutdown) wait for all of them.
final class CallTable: Sendable {
    enum BeginResult { case started, duplicate, full }

    private struct State {
        var tasks: [UInt64: any CallHandle] = [:]
        /// When the last call finished (or the table was made), while none is in flight.
        var idleSince = NIODeadline.now()
    }

    private let state = Mutex(State())
    let limit: Int
    /// Calls this connection has sent (answered, refused or in flight), for its
    /// "connection closed" log line. Cancels are not calls.
    let received = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Enters `call` under `callID`, unless the id is in flight or the table is full.
    func begin(_ callID: UInt64, _ call: any CallHandle) -> BeginResult {
        state.withLock { state in
            if state.tasks.keys.contains(callID) { return .duplicate }
            if state.tasks.count >= limit { return .full }
            state.tasks[callID] = call
            return .started
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
        guard let call = state.withLock({ $0.tasks[callID] }) else { return false }
        call.cancel()
        return true
    }

    var count: Int { state.withLock { $0.tasks.count } }

    /// The connection closed: streams would run forever with nobody to read
    /// them, so they are cancelled (unary calls finish; their answers go nowhere).
    func cancelStreams() {
        let streams = state.withLock { $0.tasks.values.filter(\.isStream) }
        for stream in streams { stream.cancel() }
    }

    /// Calls in flight, and since when none has been (meaningful when 0).
    var activity: (inFlight: Int, idleSince: NIODeadline) {
        state.withLock { ($0.tasks.count, $0.idleSince) }
    }

    /// What a shutdown drain did on one connection (for the "stopped" log line).
    struct DrainOutcome: Sendable {
        /// Unary calls in flight when the drain began that answered.
        var answered = 0
        /// Streams ended with `unavailable` and their resume cursor.
        var streamsEnded = 0
        /// Calls still running at the end, cancelled (their answers go nowhere).
        var cancelled = 0
    }

    /// Shutdown: waits until every unary call has answered (or `deadline`
    /// passes), then ends each stream with `unavailable` and its resume cursor,
    /// gives them a moment to be written, and cancels whatever is left (a store
    /// that ignores cancellation must not hold shutdown hostage: their answers
    /// go nowhere once the connection closes).
    @discardableResult
    func drain(until deadline: NIODeadline) async -> DrainOutcome {
        var outcome = DrainOutcome()
        let unaryAtStart = state.withLock { $0.tasks.values.filter { !$0.isStream }.count }
        await waitUntil(deadline) { $0.allSatisfy(\.isStream) }
        let streams = state.withLock { $0.tasks.values.filter(\.isStream) }
        for stream in streams { stream.end(.serverShuttingDown) }
        outcome.streamsEnded = streams.count
        await waitUntil(max(deadline, .now() + .milliseconds(100))) { $0.isEmpty }
        let leftovers = state.withLock { Array($0.tasks.values) }
        outcome.answered = max(0, unaryAtStart - leftovers.filter { !$0.isStream }.count)
        guard !leftovers.isEmpty else { return outcome }
        for call in leftovers { call.cancel() }
        outcome.cancelled = leftovers.count
        await waitUntil(.now() + .milliseconds(100)) { $0.isEmpty }
        return outcome
    }

    private func waitUntil(_ deadline: NIODeadline, _ done: ([any CallHandle]) -> Bool) async {
        while !state.withLock({ done(Array($0.tasks.values)) }), NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

extension IdentityRiskError {
    static let serverShuttingDown = IdentityRiskError(
        code: .unavailable,
        message: "the server is shutting down; resume after the last cursor received (also in this status), on a new connection",
        retryAfterMilliseconds: 1000)
}
