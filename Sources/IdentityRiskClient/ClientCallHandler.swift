import IdentityRiskCore
import IdentityRiskWire
import NIOCore
import Synchronization

/// Where one call's answer goes. Completed exactly once, by whichever comes
/// first: the server's answer, the connection failing, the deadline, the
/// caller's cancellation, or the write failing before the call reached the
/// pipeline (a connection that closed between picking it and writing to it).
final class CallCompletion: Sendable {
    private let promise: EventLoopPromise<WireResponse>
    private let done = Atomic<Bool>(false)

    init(promise: EventLoopPromise<WireResponse>) {
        self.promise = promise
    }

    var futureResult: EventLoopFuture<WireResponse> { promise.futureResult }

    func succeed(_ response: WireResponse) {
        if claim() { promise.succeed(response) }
    }

    func fail(_ error: any Error) {
        if claim() { promise.fail(error) }
    }

    private func claim() -> Bool {
        done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}

/// One outgoing call: the request and where its answer goes.
struct PendingCall {
    var request: WireRequest
    var completion: CallCompletion?
}

/// Matches responses to calls by call id. Writes are flushed once per event
/// loop tick, so many calls issued together leave in one `writev`.
final class ClientCallHandler: ChannelDuplexHandler {
    typealias InboundIn = WireResponse
    typealias OutboundIn = PendingCall
    typealias OutboundOut = WireRequest

    private var pending: [UInt64: CallCompletion] = [:]
    private var failure: (any Error)?
    private var flushScheduled = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let failure {
            call.completion?.fail(failure)
            promise?.fail(failure)
            return
        }
        if let completion = call.completion {
            pending[call.request.callID] = completion
        }
        context.write(wrapOutboundOut(call.request), promise: promise)
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
        let response = unwrapInboundIn(data)
        if response.callID == 0 {
            // A connection-level error from the server; it closes next.
            if case .failure(let error) = response.result {
                failAll(error)
            }
            return
        }
        pending.removeValue(forKey: response.callID)?.succeed(response)
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
