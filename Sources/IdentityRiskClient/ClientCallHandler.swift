import IdentityRiskCore
import IdentityRiskWire
import NIOCore
import Synchronization

/// Where one call's answer goes, typed by its method. Completed exactly once,
/// by whichever comes first: the server's answer, the connection failing, the
/// deadline, the caller's cancellation, or the write failing before the call
/// reached the pipeline (a connection that closed between picking it and
/// writing to it).
protocol PendingResponse: Sendable {
    /// One answer from the server; decoded here, while the frame's view is
    /// valid. Returns whether it was the call's last (a unary call's only one).
    func complete(_ response: InboundResponse) -> Bool
    func fail(_ error: any Error)
}

final class CallCompletion<M: WireMethod>: PendingResponse {
    private let promise: EventLoopPromise<M.Response>
    private let done = Atomic<Bool>(false)

    init(promise: EventLoopPromise<M.Response>) {
        self.promise = promise
    }

    var futureResult: EventLoopFuture<M.Response> { promise.futureResult }

    func complete(_ response: InboundResponse) -> Bool {
        guard claim() else { return true }
        do {
            promise.succeed(try response.response(M.self))
        } catch {
            promise.fail(error)
        }
        return true
    }

    func fail(_ error: any Error) {
        if claim() { promise.fail(error) }
    }

    private func claim() -> Bool {
        done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}

/// Where a server-streaming call's answers go: each message to `onMessage`
/// (on the connection's event loop, in order), then its end, exactly once: OK,
/// the final status's error, or the connection's failure.
final class StreamCompletion<M: WireMethod>: PendingResponse {
    private let onMessage: @Sendable (M.Response) -> Void
    private let promise: EventLoopPromise<Void>
    private let done = Atomic<Bool>(false)

    init(promise: EventLoopPromise<Void>, onMessage: @escaping @Sendable (M.Response) -> Void) {
        self.promise = promise
        self.onMessage = onMessage
    }

    var ended: EventLoopFuture<Void> { promise.futureResult }

    func complete(_ response: InboundResponse) -> Bool {
        guard !done.load(ordering: .acquiring) else { return true }
        if let failure = response.failure {
            fail(failure)
            return true
        }
        if response.resultNumber == 0 {
            if claim() { promise.succeed() }
            return true
        }
        do {
            onMessage(try response.response(M.self))
            return false
        } catch {
            fail(error)
            return true
        }
    }

    func fail(_ error: any Error) {
        if claim() { promise.fail(error) }
    }

    private func claim() -> Bool {
        done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}

/// One outgoing frame: an encoded request and where its answer goes (none for a cancel).
struct PendingCall {
    var callID: UInt64
    var frame: ByteBuffer
    var completion: (any PendingResponse)?
}

/// Matches responses to calls by call id. Writes are flushed once per event
/// loop tick, so many calls issued together leave in one `writev`.
final class ClientCallHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = PendingCall
    typealias OutboundOut = ByteBuffer

    private var pending: [UInt64: any PendingResponse] = [:]
    private var failure: (any Error)?
    private var flushScheduled = false
    /// Where a connection-level error is kept for calls written after the close.
    private let closeReason: CloseReason?

    init(closeReason: CloseReason? = nil) {
        self.closeReason = closeReason
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let failure {
            call.completion?.fail(failure)
            promise?.fail(failure)
            return
        }
        if let completion = call.completion {
            pending[call.callID] = completion
        }
        context.write(wrapOutboundOut(call.frame), promise: promise)
        if !flushScheduled {
            flushScheduled = true
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.flushScheduled = false
                context.flush()
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try ResponseCodec.decode(unwrapInboundIn(data)) { response in
                if response.callID == 0 {
                    // A connection-level error from the server (a refusal at accept
                    // included: allow-list, limits, shutting down); it closes next.
                    if let error = response.failure {
                        closeReason?.record(error)
                        failAll(error)
                    }
                    return
                }
                if let call = pending[response.callID], call.complete(response) {
                    pending.removeValue(forKey: response.callID)
                }
            }
        } catch {
            // A client cannot trust a server that sends what does not decode.
            failAll(error)
            context.close(promise: nil)
        }
    }

    /// A caller gave up on a call (deadline or task cancellation) and has
    /// failed it already: forget it, so that a late answer is dropped.
    struct ForgetCall: Sendable {
        var callID: UInt64
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let forget = event as? ForgetCall {
            pending.removeValue(forKey: forget.callID)
            promise?.succeed()
            return
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Protocol errors keep their meaning; socket errors (a reset, say) mean
        // the connection broke, which callers (and the retry logic) know as
        // connectionClosed rather than as one of NIO's types.
        let meaningful: any Error = error is WireError || error is IdentityRiskError ? error : WireError.connectionClosed
        failAll(meaningful)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(WireError.connectionClosed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        if failure == nil { failure = error }
        let waiting = pending
        pending.removeAll()
        for completion in waiting.values { completion.fail(error) }
    }
}

@available(*, unavailable)
extension ClientCallHandler: Sendable {}
