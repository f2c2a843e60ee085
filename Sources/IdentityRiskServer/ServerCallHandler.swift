import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import Logging
import NIOCore
import Synchronization

/// Serves the calls of one connection, on its event loop: the last handler of
/// the pipeline, after the frame decoder.
///
/// ```
///  frame ──▶ RequestCodec.decode ──▶ envelope checks ──▶ ServerMethodTable ──▶ M.decodeRequest
///            (protobuf-c, budget)    (call id, limits,     (method number)       │
///                                     draining)                                  ▼
///                                               RegisteredMethod<M>.start(request, context, ServerCall<M>)
///                                                 memory create: answers inline
///                                                 SQLite create: answers from its writer thread
///                                                 get/list/update/delete: a task
///  frame ◀── write (no flush) ◀── ResponseEncoder ◀── deliver(M, callID, result) on the event loop
///            flush once per read batch, or once per loop tick
/// ```
///
/// Nothing per call crosses a thread unless the work itself does: a create on
/// the memory store is decoded, validated, stored, encoded and written in one
/// `channelRead`, and all answers of one read are flushed with one `writev`.
final class ServerCallHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let calls: CallTable
    private let methods: ServerMethodTable
    private let peer: PeerIdentity?
    private let grants: PermissionGrants
    /// What this connection's peer may do (decided once, from its credentials).
    private let granted: Permission?
    private let logger: Logger
    private let decodingLimits: RequestDecodingLimits
    private let isDraining: @Sendable () -> Bool
    private let onConnectionError: (any Error) -> IdentityRiskError?
    private let counters: ServerCounters
    private let maxStreams: Int
    private let streamBufferBytes: Int
    private let encoder = ResponseEncoder()
    /// Whether calls are logged (debug): then (or with metrics) each call is timed.
    private let logsCalls: Bool
    /// This event loop's block of the answered-call counters (Stats, summary).
    private let callCounts: CallCounters.Shard
    /// The request-duration histograms; `nil` without `--metrics-*`: no metrics code runs.
    private let metrics: ServerMetrics?
    private let timesCalls: Bool

    private var context: ChannelHandlerContext?
    private var inReadBatch = false
    private var needsFlush = false
    private var flushScheduled = false
    private var inputClosed = false
    private var closing = false
    /// Set by a connection-level error: the final error to send (`nil` inside:
    /// none), once the calls in flight have answered.
    private var failure: IdentityRiskError??

    init(
        calls: CallTable,
        methods: ServerMethodTable,
        peer: PeerIdentity?,
        grants: PermissionGrants,
        logger: Logger,
        decodingLimits: RequestDecodingLimits,
        isDraining: @escaping @Sendable () -> Bool,
        counters: ServerCounters,
        callCounts: CallCounters.Shard,
        metrics: ServerMetrics?,
        maxStreams: Int,
        streamBufferBytes: Int,
        onConnectionError: @escaping (any Error) -> IdentityRiskError?
    ) {
        self.counters = counters
        self.callCounts = callCounts
        self.metrics = metrics
        self.timesCalls = metrics != nil || logger.logLevel <= .debug
        self.logsCalls = logger.logLevel <= .debug
        self.maxStreams = maxStreams
        self.streamBufferBytes = streamBufferBytes
        self.calls = calls
        self.methods = methods
        self.peer = peer
        self.grants = grants
        self.granted = grants.permission(for: peer)
        self.logger = logger
        self.decodingLimits = decodingLimits
        self.isDraining = isDraining
        self.onConnectionError = onConnectionError
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        calls.cancelStreams()
        context.fireChannelInactive()
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadBatch = true
        RequestCodec.decode(unwrapInboundIn(data), limits: decodingLimits) { serve($0) }
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
        guard !closing, failure == nil else { return }
        let final = onConnectionError(error)
        if final == nil {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
        // The byte stream can no longer be trusted and nothing more is read from
        // it; but every call that reached a handler is answered first (a create
        // in the SQLite store's queue answers after its commit), then the final
        // frame (call id 0) says why, then the connection closes.
        failure = .some(final)
        if calls.count == 0 { return endFailedConnection() }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: Self.failedConnectionGrace) { handler.value.endFailedConnection() }
    }

    /// How long a broken connection waits for its calls in flight to answer.
    static let failedConnectionGrace = TimeAmount.seconds(10)

    /// After a connection-level error, once the calls in flight have answered (or
    /// their grace ran out): the final frame, if any, then close.
    private func endFailedConnection() {
        guard !closing, let context, case .some(let final) = failure else { return }
        closing = true
        let channel = context.channel
        guard let final else {
            context.close(promise: nil)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        encoder.encode(callID: 0, error: final, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    // MARK: calls

    private func serve(_ inbound: InboundRequest) {
        let callID = inbound.callID
        let request: UnpackedRequest
        if case .cancel = inbound.kind {} else { calls.received.add(1, ordering: .relaxed) }
        switch inbound.kind {
        case .cancel(let target):
            let found = calls.cancel(target)
            logger.debug("cancel", metadata: ["target": "\(target)", "found": "\(found)"])
            return
        case .malformed(let error):
            // Answered under the call id if one could be read from it, else 0.
            return refuse(callID, error, method: 0)
        case .noMethod:
            guard callID != 0 else { return refuse(callID, Self.callIDZero, method: 0) }
            return refuse(callID, Self.unimplemented("no method is set, or one this server does not know"), method: 0)
        case .call(let unpacked):
            request = unpacked
        }
        let methodSlot = CallCounters.methodSlot(number: request.methodNumber)
        guard callID != 0 else { return refuse(callID, Self.callIDZero, method: methodSlot) }
        if isDraining() {
            return refuse(callID, IdentityRiskError(
                code: .unavailable, message: "the server is shutting down; retry on a new connection", retryAfterMilliseconds: 1000),
                method: methodSlot)
        }
        guard let binding = methods.binding(number: request.methodNumber) else {
            return refuse(callID, Self.unimplemented("method #\(request.methodNumber) is not served here"), method: methodSlot)
        }
        binding.start(request, callID: callID, timeoutMilliseconds: inbound.timeoutMilliseconds, on: self)
    }

    /// Decodes the method's request, enters the call in the table and starts its
    /// handler (from ``ServerMethod``). Specialized for create, the hot path: generic
    /// code would look up the metadata of its generic types on every call.
    @_specialize(exported: false, where M == IdentityRiskMethods.Create)
    func start<M: WireMethod>(
        _ method: M.Type, _ handler: RegisteredMethod<M>, _ unpacked: UnpackedRequest, callID: UInt64, timeoutMilliseconds: UInt32
    ) {
        guard let context else { return }
        let methodSlot = CallCounters.methodSlot(number: M.descriptor.number)
        if let refusal = grants.refusal(of: M.descriptor, by: peer, holding: granted) {
            logger.notice("call refused: permission", metadata: [
                "call": "\(callID)", "method": "\(M.descriptor.name)", "needs": "\(M.descriptor.permission.rawValue)",
                "has": "\(granted?.rawValue ?? "none")",
            ])
            return refuse(callID, refusal, method: methodSlot)
        }
        let request: M.Request
        switch M.decodeRequest(unpacked) {
        case .success(let decoded): request = decoded
        case .failure(let error): return refuse(callID, error, method: methodSlot)
        }
        let isStream = M.descriptor.shape == .serverStreaming
        if isStream, !counters.openStream(limit: maxStreams) {
            return refuse(callID, IdentityRiskError(
                code: .resourceExhausted,
                message: "\(maxStreams) streams are open on this server (--max-streams); end one or retry later",
                retryAfterMilliseconds: 1000),
                method: methodSlot)
        }
        let call = ServerCall<M>(
            callID: callID, connection: self, eventLoop: context.eventLoop, streamBufferBytes: streamBufferBytes, counters: counters,
            startedAt: timesCalls ? .now : nil)
        switch calls.begin(callID, call) {
        case .duplicate:
            if isStream { counters.closeStream() }
            return refuse(callID, IdentityRiskError(
                code: .invalidArgument,
                message: "call_id \(callID) is already in flight on this connection; call ids must be unique among calls in flight",
                target: "call_id",
                innerCode: "DuplicateCallID"),
                method: methodSlot)
        case .full:
            if isStream { counters.closeStream() }
            return refuse(callID, IdentityRiskError(
                code: .resourceExhausted,
                message: "more than \(calls.limit) calls in flight on this connection; wait for answers before sending more",
                retryAfterMilliseconds: 10),
                method: methodSlot)
        case .started:
            break
        }
        let deadline = timeoutMilliseconds == 0 ? nil : ContinuousClock.now + .milliseconds(Int64(timeoutMilliseconds))
        if isStream, timeoutMilliseconds > 0 {
            // A stream runs until its deadline; a unary call's deadline is checked when it starts.
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(timeoutMilliseconds))) {
                call.end(IdentityRiskError(code: .deadlineExceeded, message: "the stream reached its deadline of \(timeoutMilliseconds) ms"))
            }
        }
        handler.start(request, context: CallContext(method: M.descriptor, peer: peer, deadline: deadline), sink: call)
    }

    /// On the event loop: one answer of call `callID`. A final one ends the call;
    /// its id may be reused from then on.
    ///
    /// The answer is written (and its flush scheduled) *before* the call leaves
    /// the table: a shutdown drain that sees the table empty then closes the
    /// channel behind that flush, never ahead of it. The client cannot see the
    /// answer before both have happened (same event-loop turn), so it never
    /// reuses the id too early.
    @_specialize(exported: false, where M == IdentityRiskMethods.Create)
    func deliver<M: WireMethod>(
        _ method: M.Type, _ callID: UInt64, _ result: Result<M.Response?, IdentityRiskError>, final: Bool, startedAt: ContinuousClock.Instant? = nil
    ) {
        if let context, !closing {
            var buffer = context.channel.allocator.buffer(capacity: 512)
            switch result {
            case .success(let response?): encoder.encode(method, callID: callID, response: response, into: &buffer)
            case .success(nil): encoder.encodeEndOfStream(callID: callID, into: &buffer)
            case .failure(let error): encoder.encode(callID: callID, error: error, into: &buffer)
            }
            write(buffer)
        }
        guard final else { return }
        if M.descriptor.shape == .serverStreaming { counters.closeStream() }
        let methodSlot = CallCounters.methodSlot(number: M.descriptor.number)
        callCounts.add(CallCounters.slot(method: methodSlot, code: result.failure?.code))
        if M.self == IdentityRiskMethods.Create.self, case .success(let response?) = result,
            let outcome = response as? CreateOutcome, outcome.alreadyExisted
        {
            callCounts.add(CallCounters.idempotentSlot)
        }
        if let metrics, let startedAt {
            metrics.recordDuration(loop: callCounts.index, methodSlot: methodSlot, since: startedAt)
        }
        if logsCalls {
            var metadata: Logger.Metadata = [
                "call": "\(callID)", "method": "\(M.descriptor.name)",
                "status": "\(result.failure.map { "\($0.code)" } ?? "ok")",
            ]
            if let startedAt {
                let elapsed = ContinuousClock.now - startedAt
                let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
                metadata["ms"] = "\(Double(micros) / 1000)"
            }
            if let error = result.failure { metadata["message"] = "\(error.message)" }
            logger.debug("call", metadata: metadata)
        }
        calls.finish(callID)
        if failure != nil, calls.count == 0 {
            context?.flush()
            return endFailedConnection()
        }
        closeIfIdle()
    }

    /// On the event loop: one message of stream `callID`. Its bytes count
    /// against the stream's buffer until the channel has written them.
    func deliverStreamMessage<M: WireMethod>(_ method: M.Type, _ callID: UInt64, _ message: M.Response, call: ServerCall<M>) {
        guard let context, !closing else { return }
        var buffer = context.channel.allocator.buffer(capacity: 512)
        encoder.encode(method, callID: callID, response: message, into: &buffer)
        let bytes = buffer.readableBytes
        call.account(bytes: bytes, written: false)
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in call.account(bytes: bytes, written: true) }
        write(buffer, promise: promise)
    }

    /// Answers `callID` with `error` without starting anything; counted under
    /// method slot `method` (``CallCounters``; 0: none or unknown).
    func refuse(_ callID: UInt64, _ error: IdentityRiskError, method: Int) {
        callCounts.add(CallCounters.slot(method: method, code: error.code))
        logger.debug("call refused", metadata: ["call": "\(callID)", "code": "\(error.code)", "message": "\(error.message)"])
        guard let context, !closing else { return }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        encoder.encode(callID: callID, error: error, into: &buffer)
        write(buffer)
    }

    private func write(_ frame: ByteBuffer, promise: EventLoopPromise<Void>? = nil) {
        guard let context, !closing else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(frame), promise: promise)
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
        guard inputClosed, !closing, failure == nil, calls.count == 0, let context else { return }
        closing = true
        let channel = context.channel
        context.flush()
        channel.close(promise: nil)
    }

    private static let callIDZero = IdentityRiskError(
        code: .invalidArgument, message: "call_id must not be 0 (0 is reserved for connection-level errors)", target: "call_id")

    private static func unimplemented(_ why: String) -> IdentityRiskError {
        IdentityRiskError(
            code: .unimplemented,
            message: "\(why); this server implements \(IdentityRiskMethods.names), and cancel (protocol version \(WireProtocol.version))")
    }
}

@available(*, unavailable)
extension ServerCallHandler: Sendable {}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
