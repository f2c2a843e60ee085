import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import NIOCore
import Synchronization

/// One call in flight on a connection: the ``ResponseSink`` its handler
/// writes to, and the ``CallHandle`` the call table cancels. Generic over the
/// method, so the answer is encoded by that method's codec with no method
/// switch anywhere.
///
/// Answers may come from any thread (the SQLite writer thread, a task); they
/// are encoded and written on the connection's event loop, inline when the
/// handler answers there (the memory store's create).
final class ServerCall<M: WireMethod>: ResponseSink, CallHandle {
    typealias Response = M.Response

    let callID: UInt64
    private let connection: NIOLoopBound<ServerCallHandler>
    private let eventLoop: any EventLoop
    private let state = Mutex(ServerCallState())

    /// A server-streaming call whose client reads slower than it is written to
    /// is ended with `resourceExhausted` once this many messages wait.
    static var maxQueuedStreamMessages: Int { 1024 }

    @_specialize(exported: false, where M == IdentityRiskMethods.Create)
    init(callID: UInt64, connection: ServerCallHandler, eventLoop: any EventLoop) {
        self.callID = callID
        self.connection = NIOLoopBound(connection, eventLoop: eventLoop)
        self.eventLoop = eventLoop
    }

    // MARK: ResponseSink

    func write(_ message: M.Response) -> Bool {
        let admitted = state.withLock { state -> Bool? in
            guard !state.finished, !state.cancelled else { return false }
            guard state.queuedMessages < Self.maxQueuedStreamMessages else { return nil }
            state.queuedMessages += 1
            return true
        }
        switch admitted {
        case true?:
            onLoop { [self] in
                state.withLock { $0.queuedMessages -= 1 }
                connection.value.deliver(M.self, callID, .success(message), final: false)
            }
            return true
        case false?:
            return false
        case nil:
            cancel()
            finish(.failure(IdentityRiskError(
                code: .resourceExhausted,
                message: "the stream's client reads too slowly: \(Self.maxQueuedStreamMessages) messages were waiting to be sent",
                retryAfterMilliseconds: 100)))
            return false
        }
    }

    @_specialize(exported: false, where M == IdentityRiskMethods.Create)
    func finish(_ result: Result<M.Response?, IdentityRiskError>) {
        let first = state.withLock { state -> Bool in
            guard !state.finished else { return false }
            state.finished = true
            state.onCancel = nil
            return true
        }
        guard first else { return }
        onLoop { [self] in connection.value.deliver(M.self, callID, result, final: true) }
    }

    func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.cancelled { return true }
            if state.finished { return false }
            if let previous = state.onCancel {
                state.onCancel = { previous(); handler() }
            } else {
                state.onCancel = handler
            }
            return false
        }
        if runNow { handler() }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    // MARK: CallHandle

    func cancel() {
        let handler = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.finished, !state.cancelled else { return nil }
            state.cancelled = true
            defer { state.onCancel = nil }
            return state.onCancel
        }
        handler?()
    }

    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop {
            body()
        } else {
            eventLoop.execute(body)
        }
    }
}

/// A ``ServerCall``'s state. Not nested in the generic class: a nested type would
/// be generic too, and every call would look its metadata up at run time.
struct ServerCallState {
    var finished = false
    var cancelled = false
    var onCancel: (@Sendable () -> Void)?
    /// Stream messages handed to the event loop and not yet written.
    var queuedMessages = 0
}
