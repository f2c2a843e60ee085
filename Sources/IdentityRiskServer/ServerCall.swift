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
    /// A stream whose client reads slower than it is written to is ended with
    /// `resourceExhausted` once this many encoded bytes wait to be written.
    private let streamBufferBytes: Int
    private let counters: ServerCounters
    /// When the call started, if the connection logs calls (debug).
    let startedAt: ContinuousClock.Instant?

    /// Stream messages handed to the event loop and not encoded yet, at most
    /// (a second bound, for a loop that falls behind its stream producers).
    static var maxQueuedStreamMessages: Int { 1024 }

    /// ``send(_:)`` waits while this many messages are not encoded yet: a
    /// producer goes at the event loop's pace, and memory per stream stays a
    /// few dozen messages plus the encoded bytes.
    static var sendWindow: Int { 64 }

    @_specialize(exported: false, where M == IdentityRiskMethods.Create)
    init(
        callID: UInt64, connection: ServerCallHandler, eventLoop: any EventLoop, streamBufferBytes: Int, counters: ServerCounters,
        startedAt: ContinuousClock.Instant?
    ) {
        self.counters = counters
        self.startedAt = startedAt
        self.callID = callID
        self.connection = NIOLoopBound(connection, eventLoop: eventLoop)
        self.eventLoop = eventLoop
        self.streamBufferBytes = streamBufferBytes
    }

    var isStream: Bool { M.descriptor.shape == .serverStreaming }

    // MARK: ResponseSink

    /// One stream message. Admitted while the stream's unwritten bytes are under
    /// ``streamBufferBytes``; past it the stream ends with `resourceExhausted`
    /// and the position of the last admitted message (every admitted message is
    /// written before that final status: one event loop, in order).
    func write(_ message: M.Response) -> Bool {
        let position = M.streamPosition(of: message)
        let admitted = state.withLock { state -> Bool? in
            guard !state.finished, !state.cancelled else { return false }
            guard state.unwrittenBytes < streamBufferBytes, state.queuedMessages < Self.maxQueuedStreamMessages else { return nil }
            state.queuedMessages += 1
            if let position { state.lastPosition = position }
            return true
        }
        switch admitted {
        case true?:
            onLoop { [self] in
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    state.queuedMessages -= 1
                    guard state.queuedMessages <= Self.sendWindow / 2 else { return nil }
                    defer { state.capacityWaiter = nil }
                    return state.capacityWaiter
                }
                connection.value.deliverStreamMessage(M.self, callID, message, call: self)
                waiter?.resume()
            }
            return true
        case false?:
            return false
        case nil:
            end(IdentityRiskError(
                code: .resourceExhausted,
                message: "the stream's client reads too slowly: \(streamBufferBytes) bytes were waiting to be sent; "
                    + "resume after the last cursor received (also in this status)",
                innerCode: "SlowReader",
                retryAfterMilliseconds: 100))
            counters.slowStreamsEnded.add(1, ordering: .relaxed)
            return false
        }
    }

    /// Waits while ``sendWindow`` messages are not encoded yet, then ``write(_:)``.
    func send(_ message: M.Response) async -> Bool {
        while state.withLock({ $0.queuedMessages >= Self.sendWindow && !$0.finished && !$0.cancelled }) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.queuedMessages < Self.sendWindow || state.finished || state.cancelled { return true }
                    state.capacityWaiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        }
        return write(message)
    }

    /// On the event loop: `bytes` of this stream were handed to the channel
    /// (`written: false`) or left it for the socket (`written: true`).
    func account(bytes: Int, written: Bool) {
        state.withLock { $0.unwrittenBytes += written ? -bytes : bytes }
    }

    /// Ends a stream from the transport's side (deadline, slow reader,
    /// shutdown): cancels its producer and finishes with `error`, which gets
    /// the stream's last position as its resume cursor.
    ///
    /// The final status is claimed before the producer is cancelled, so the
    /// producer's own reaction to the cancellation (it finishes `cancelled`)
    /// can never overtake it.
    func end(_ error: IdentityRiskError) {
        guard let claimed = claimFinal(cancelling: true) else { return }
        deliverFinal(.failure(error), after: claimed.position)
        claimed.onCancel?()
    }

    @_specialize(exported: false, where M == IdentityRiskMethods.Create)
    func finish(_ result: Result<M.Response?, IdentityRiskError>) {
        guard let claimed = claimFinal(cancelling: false) else { return }
        deliverFinal(result, after: claimed.position)
    }

    /// Marks the call finished (and, `cancelling`, cancelled) if nothing else
    /// did first; wakes a producer waiting for capacity. `nil`: already finished.
    private func claimFinal(cancelling: Bool) -> (position: ChangeCursor?, onCancel: (@Sendable () -> Void)?)? {
        let claimed = state.withLock { state -> (ChangeCursor?, (@Sendable () -> Void)?, CheckedContinuation<Void, Never>?)? in
            guard !state.finished else { return nil }
            state.finished = true
            if cancelling { state.cancelled = true }
            defer {
                state.onCancel = nil
                state.capacityWaiter = nil
            }
            return (state.lastPosition, cancelling ? state.onCancel : nil, state.capacityWaiter)
        }
        guard let (position, onCancel, waiter) = claimed else { return nil }
        waiter?.resume()
        return (position, onCancel)
    }

    /// The final answer, on the loop; a stream's error names where to resume.
    private func deliverFinal(_ result: Result<M.Response?, IdentityRiskError>, after position: ChangeCursor?) {
        var result = result
        if isStream, case .failure(let error) = result, error.resumeCursor == nil, let position {
            result = .failure(error.resuming(after: position))
        }
        onLoop { [self, result] in connection.value.deliver(M.self, callID, result, final: true, startedAt: startedAt) }
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
        let (handler, waiter) = state.withLock { state -> ((@Sendable () -> Void)?, CheckedContinuation<Void, Never>?) in
            guard !state.finished, !state.cancelled else { return (nil, nil) }
            state.cancelled = true
            defer {
                state.onCancel = nil
                state.capacityWaiter = nil
            }
            return (state.onCancel, state.capacityWaiter)
        }
        waiter?.resume()
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
    /// Stream messages handed to the event loop and not yet encoded.
    var queuedMessages = 0
    /// Encoded stream bytes handed to the channel and not yet written to the socket.
    var unwrittenBytes = 0
    /// The position of the last stream message admitted (``RPCMethod/streamPosition(of:)``).
    var lastPosition: ChangeCursor?
    /// A producer waiting in ``ServerCall/send(_:)`` for the loop to catch up.
    var capacityWaiter: CheckedContinuation<Void, Never>?
}
