import IdentityRiskCore
import IdentityRiskWire
import NIOCore

/// One outgoing call: the request and where its answer goes.
struct PendingCall {
    var request: WireRequest
    var promise: EventLoopPromise<WireResponse>?
}

/// Matches responses to calls by call id. Writes are flushed once per event
/// loop tick, so many calls issued together leave in one `writev`.
final class ClientCallHandler: ChannelDuplexHandler {
    typealias InboundIn = WireResponse
    typealias OutboundIn = PendingCall
    typealias OutboundOut = WireRequest

    private var pending: [UInt64: EventLoopPromise<WireResponse>] = [:]
    private var failure: (any Error)?
    private var flushScheduled = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let failure {
            call.promise?.fail(failure)
            promise?.fail(failure)
            return
        }
        if let responsePromise = call.promise {
            pending[call.request.callID] = responsePromise
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

    /// A caller gave up on a call (deadline or task cancellation): fail it now;
    /// a late answer is dropped.
    struct AbandonCall: Sendable {
        var callID: UInt64
        var error: IdentityRiskError
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let abandon = event as? AbandonCall {
            pending.removeValue(forKey: abandon.callID)?.fail(abandon.error)
            promise?.succeed()
            return
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
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
        for promise in waiting.values { promise.fail(error) }
    }
}

@available(*, unavailable)
extension ClientCallHandler: Sendable {}
