import IdentityRiskCore
import IdentityRiskWire
import Logging
import NIOCore

/// Serves the calls of one connection, on its event loop: the last handler of
/// the pipeline, after the frame decoder and response encoder.
///
/// ```
///  WireRequest ──▶ envelope checks ──▶ CallDispatcher.start ──▶ store
///                  (call id, limits,        │ memory: answers inline
///                   draining)               │ SQLite: answers from its writer thread
///                                           ▼ get/list: a task
///  WireResponse ◀── write (no flush) ◀── finish(callID, result) on the event loop
///                   flush once per read batch, or once per loop tick
/// ```
///
/// Nothing per call crosses a thread unless the work itself does: a create on
/// the memory store is decoded, validated, stored, encoded and written in one
/// `channelRead`, and all answers of one read are flushed with one `writev`.
final class ServerCallHandler: ChannelInboundHandler {
    typealias InboundIn = WireRequest
    typealias OutboundOut = WireResponse

    private let calls: CallTable
    private let dispatcher: CallDispatcher
    private let peer: PeerCredentials?
    private let logger: Logger
    private let isDraining: @Sendable () -> Bool
    private let onConnectionError: (any Error) -> IdentityRiskError?

    private var context: ChannelHandlerContext?
    private var inReadBatch = false
    private var needsFlush = false
    private var flushScheduled = false
    private var inputClosed = false
    private var closing = false

    init(
        calls: CallTable,
        dispatcher: CallDispatcher,
        peer: PeerCredentials?,
        logger: Logger,
        isDraining: @escaping @Sendable () -> Bool,
        onConnectionError: @escaping (any Error) -> IdentityRiskError?
    ) {
        self.calls = calls
        self.dispatcher = dispatcher
        self.peer = peer
        self.logger = logger
        self.isDraining = isDraining
        self.onConnectionError = onConnectionError
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadBatch = true
        serve(unwrapInboundIn(data), context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBatch = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            // The client sent all it will: answer what is in flight, then close.
            inputClosed = true
            closeIfIdle()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !closing else { return }
        closing = true
        let channel = context.channel
        if let final = onConnectionError(error) {
            // The byte stream can no longer be trusted: say why (call id 0), flush, close.
            context.writeAndFlush(wrapOutboundOut(WireResponse(callID: 0, result: .failure(final)))).whenComplete { _ in
                channel.close(promise: nil)
            }
        } else {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    // MARK: calls

    private func serve(_ request: WireRequest, context: ChannelHandlerContext) {
        let callID = request.callID
        if case .cancel(let target) = request.method {
            let found = calls.cancel(target)
            logger.debug("cancel", metadata: ["target": "\(target)", "found": "\(found)"])
            return
        }
        if case .invalid(let error) = request.method, callID == 0 {
            // Not decodable, and no call id could be read from it: answer with call id 0.
            return refuse(callID, error)
        }
        guard callID != 0 else {
            return refuse(callID, IdentityRiskError(
                code: .invalidArgument, message: "call_id must not be 0 (0 is reserved for connection-level errors)", target: "call_id"))
        }
        if isDraining() {
            return refuse(callID, IdentityRiskError(
                code: .unavailable, message: "the server is shutting down; retry on a new connection", retryAfterMilliseconds: 1000))
        }
        switch calls.begin(callID) {
        case .duplicate:
            return refuse(callID, IdentityRiskError(
                code: .invalidArgument,
                message: "call_id \(callID) is already in flight on this connection; call ids must be unique among calls in flight",
                target: "call_id"))
        case .full:
            return refuse(callID, IdentityRiskError(
                code: .resourceExhausted,
                message: "more than \(calls.limit) calls in flight on this connection; wait for answers before sending more",
                retryAfterMilliseconds: 10))
        case .started:
            break
        }
        let deadline: NIODeadline? = request.timeoutMilliseconds == 0 ? nil : .now() + .milliseconds(Int64(request.timeoutMilliseconds))
        let eventLoop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        let task = dispatcher.start(request.method, deadline: deadline, peer: peer) { result in
            if eventLoop.inEventLoop {
                handler.value.finish(callID, result)
            } else {
                eventLoop.execute { handler.value.finish(callID, result) }
            }
        }
        if let task { calls.attach(callID, task: task) }
    }

    /// On the event loop: the call is over; its id may be reused from now on.
    ///
    /// The answer is written (and its flush scheduled) *before* the call leaves
    /// the table: a shutdown drain that sees the table empty then closes the
    /// channel behind that flush, never ahead of it. The client cannot see the
    /// answer before both have happened (same event-loop turn), so it never
    /// reuses the id too early.
    private func finish(_ callID: UInt64, _ result: WireResponse.Result) {
        logger.debug("call", metadata: ["call": "\(callID)", "ok": "\(!result.isFailure)"])
        write(WireResponse(callID: callID, result: result))
        calls.finish(callID)
        closeIfIdle()
    }

    private func refuse(_ callID: UInt64, _ error: IdentityRiskError) {
        logger.debug("call refused", metadata: ["call": "\(callID)", "code": "\(error.code)", "message": "\(error.message)"])
        write(WireResponse(callID: callID, result: .failure(error)))
    }

    private func write(_ response: WireResponse) {
        guard let context, !closing else { return }
        context.write(wrapOutboundOut(response), promise: nil)
        if inReadBatch {
            needsFlush = true
        } else if !flushScheduled {
            // An answer from another thread: flush once per loop tick, so the
            // answers of one commit batch leave together.
            flushScheduled = true
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let handler = handler.value
                handler.flushScheduled = false
                handler.context?.flush()
            }
        }
    }

    private func closeIfIdle() {
        guard inputClosed, !closing, calls.count == 0, let context else { return }
        closing = true
        let channel = context.channel
        context.flush()
        channel.close(promise: nil)
    }
}

@available(*, unavailable)
extension ServerCallHandler: Sendable {}
