import IdentityRiskWire
import NIOCore

/// Two inbound deadlines of one connection, after its handshake:
///
/// - **frame read**: once the first byte of a frame has arrived, the whole
///   frame (4-byte length + payload) must arrive within `frameReadTimeout`, or
///   the handler fires ``ConnectionClosure/frameReadTimeout(milliseconds:receivedBytes:expectedBytes:)``
///   down the pipeline (the connection answers it with a final error frame and
///   closes) and drops any later bytes, so nothing of that frame is processed.
/// - **idle**: a connection with no call in flight that receives nothing for
///   `idleTimeout` is closed (no final frame: no call can be waiting for one):
///   output first, so that the client sees a clean end of stream.
///
/// Both only count time during which the server is asking for bytes: while a
/// handler nearer the tail withholds `read()` (backpressure: the client does
/// not read its responses, or requests wait to be dispatched) the clocks stop.
/// The handler sees that because it sits nearer the head than those handlers:
///
/// ```
/// head ── preface ── [this] ── OutboundBackpressureHandler ── decoder ── encoder ── ServerCallHandler ── tail
///                     read() passes here only when no handler to the right withholds it
/// ```
///
/// Frames are tracked by counting bytes (length prefix, then payload), without
/// buffering: the decoder nearer the tail does the buffering.
final class InboundDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let frameReadTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let calls: CallTable
    private let onClose: (ConnectionClosure) -> Void

    // The frame being received.
    private var headerBytesSeen = 0
    private var header: UInt32 = 0
    private var payloadRemaining = 0
    private var frameBytesReceived = 0
    private var frameStartedAt: NIODeadline?
    private var frameTimer: Scheduled<Void>?

    // Whether the server is waiting for bytes.
    private var readOutstanding = false
    private var pausedSince: NIODeadline?
    private var lastReceived = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var expired = false

    init(frameReadTimeout: TimeAmount, idleTimeout: TimeAmount, calls: CallTable, onClose: @escaping (ConnectionClosure) -> Void) {
        self.frameReadTimeout = frameReadTimeout
        self.idleTimeout = idleTimeout
        self.calls = calls
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        lastReceived = .now()
        scheduleIdleCheck(context: context, at: lastReceived + idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    // MARK: reading

    func read(context: ChannelHandlerContext) {
        if let pausedSince {
            // The clocks stop while the server was not reading.
            let paused = NIODeadline.now() - pausedSince
            frameStartedAt = frameStartedAt.map { $0 + paused }
            lastReceived = lastReceived + paused
            self.pausedSince = nil
        }
        readOutstanding = true
        context.read()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readOutstanding = false
        // Every read counts as activity, also the preface bytes, which the
        // preface handler consumes before this handler sees any.
        lastReceived = .now()
        pausedSince = lastReceived
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !expired else { return }
        let bytes = unwrapInboundIn(data)
        lastReceived = .now()
        track(bytes.readableBytesView)
        if frameStartedAt != nil, frameTimer == nil {
            scheduleFrameCheck(context: context, at: frameStartedAt! + frameReadTimeout)
        }
        context.fireChannelRead(data)
    }

    /// Advances the frame state machine over `view`. Works on local copies of
    /// the state (written back once): per-byte access to stored properties of a
    /// class costs a dynamic exclusivity check each.
    private func track(_ view: ByteBufferView) {
        var headerBytesSeen = self.headerBytesSeen
        var header = self.header
        var payloadRemaining = self.payloadRemaining
        var frameBytesReceived = self.frameBytesReceived
        var frameStartedAt = self.frameStartedAt
        defer {
            self.headerBytesSeen = headerBytesSeen
            self.header = header
            self.payloadRemaining = payloadRemaining
            self.frameBytesReceived = frameBytesReceived
            self.frameStartedAt = frameStartedAt
        }
        let lastReceived = self.lastReceived
        var index = view.startIndex
        while index < view.endIndex {
            if payloadRemaining > 0 {
                let take = min(payloadRemaining, view.endIndex - index)
                payloadRemaining -= take
                frameBytesReceived += take
                index += take
                if payloadRemaining == 0 { frameStartedAt = nil }
                continue
            }
            if headerBytesSeen == 0 {
                frameStartedAt = lastReceived
                frameBytesReceived = 0
            }
            header = header << 8 | UInt32(view[index])
            headerBytesSeen += 1
            frameBytesReceived += 1
            index += 1
            if headerBytesSeen == WireProtocol.frameHeaderLength {
                payloadRemaining = Int(header)
                headerBytesSeen = 0
                header = 0
                if payloadRemaining == 0 { frameStartedAt = nil }
            }
        }
    }

    // MARK: timers

    private func scheduleFrameCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        frameTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.frameTimer = nil
            handler.checkFrame(context: context)
        }
    }

    private func checkFrame(context: ChannelHandlerContext) {
        guard !expired, let started = frameStartedAt else { return }
        let now = NIODeadline.now()
        guard readOutstanding else {
            // Not reading right now: look again later; the pause will not count.
            return scheduleFrameCheck(context: context, at: now + frameReadTimeout)
        }
        guard now >= started + frameReadTimeout else {
            return scheduleFrameCheck(context: context, at: started + frameReadTimeout)
        }
        expired = true
        cancelTimers()
        let expected = headerBytesSeen == 0 ? payloadRemaining + frameBytesReceived - WireProtocol.frameHeaderLength : nil
        let closure = ConnectionClosure.frameReadTimeout(
            milliseconds: frameReadTimeout.nanoseconds / 1_000_000, receivedBytes: frameBytesReceived, expectedBytes: expected)
        onClose(closure)
        context.fireErrorCaught(closure)
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.idleTimer = nil
            handler.checkIdle(context: context)
        }
    }

    private func checkIdle(context: ChannelHandlerContext) {
        guard !expired else { return }
        let now = NIODeadline.now()
        let (inFlight, idleSince) = calls.activity
        guard inFlight == 0, readOutstanding, frameStartedAt == nil else {
            return scheduleIdleCheck(context: context, at: now + idleTimeout)
        }
        let due = max(lastReceived, idleSince) + idleTimeout
        guard now >= due else {
            return scheduleIdleCheck(context: context, at: due)
        }
        expired = true
        cancelTimers()
        onClose(.idle(milliseconds: idleTimeout.nanoseconds / 1_000_000))
        // Close the output first: the client sees a clean end of stream, even if a
        // request of its is crossing this close (that request is dropped unprocessed,
        // and the client sees the connection close before its answer: safe to retry).
        // A full close right away would reset the connection instead (unread input).
        // The client closes its side in turn; if it does not, close fully soon after.
        context.close(mode: .output, promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: Self.lingerAfterIdle) {
            loopBound.value.close(promise: nil)
        }
    }

    /// How long an idle-closed connection waits for the client to close its side.
    static let lingerAfterIdle = TimeAmount.seconds(2)

    private func cancelTimers() {
        frameTimer?.cancel()
        frameTimer = nil
        idleTimer?.cancel()
        idleTimer = nil
    }
}

@available(*, unavailable)
extension InboundDeadlineHandler: Sendable {}
