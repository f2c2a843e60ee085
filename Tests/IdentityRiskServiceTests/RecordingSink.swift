import IdentityRiskCore
import IdentityRiskService
import Synchronization

/// A ``ResponseSink`` that records what a handler wrote, as a transport would
/// see it; ``cancel()`` plays the transport's part in cancellation.
final class RecordingSink<Response: Sendable>: ResponseSink {
    struct State {
        var messages: [Response] = []
        var finished: [Result<Response?, IdentityRiskError>] = []
        var cancelled = false
        var cancelHandlers: [@Sendable () -> Void] = []
    }

    let state = Mutex(State())
    /// Writes accepted before the sink reports the stream over (a bounded buffer).
    let capacity: Int

    init(capacity: Int = .max) {
        self.capacity = capacity
    }

    func write(_ message: Response) -> Bool {
        state.withLock { state in
            guard !state.cancelled, state.finished.isEmpty, state.messages.count < capacity else { return false }
            state.messages.append(message)
            return true
        }
    }

    func finish(_ result: Result<Response?, IdentityRiskError>) {
        state.withLock { $0.finished.append(result) }
    }

    func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.cancelHandlers.append(handler)
            return false
        }
        if now { handler() }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    func cancel() {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            state.cancelled = true
            defer { state.cancelHandlers = [] }
            return state.cancelHandlers
        }
        for handler in handlers { handler() }
    }

    var messages: [Response] { state.withLock { $0.messages } }
    var finishes: [Result<Response?, IdentityRiskError>] { state.withLock { $0.finished } }

    /// Waits (bounded) until the call has finished at least once.
    func waitUntilFinished() async -> Result<Response?, IdentityRiskError>? {
        for _ in 0..<500 {
            if let first = finishes.first { return first }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }
}
