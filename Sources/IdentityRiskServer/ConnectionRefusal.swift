import IdentityRiskCore
import IdentityRiskWire
import NIOCore
import Synchronization

/// Refused connections that are still saying why. Past the cap, a refusal
/// closes at once without a word (as before there were words), so a flood of
/// refused connections holds at most this many descriptors.
let lingeringRefusals = Atomic<Int>(0)
let maxLingeringRefusals = 64

/// The pipeline of a refused connection (allow-list, limits, shutting down):
/// tells the client why, then goes.
///
/// ```
/// server → client:  preface "IRSK" v1 │ Response{call_id 0, status: the refusal} │ FIN
/// client → server:  (anything: read and discarded until EOF or the linger time)
/// ```
///
/// The server half-closes and keeps reading until the client closes (or
/// `lingerMilliseconds` pass): closing with the client's preface unread would
/// reset the connection, and the client could lose the refusal to
/// ECONNRESET, or fail its own write with EPIPE before it reads a byte.
final class ConnectionRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let refusal: IdentityRiskError
    private let lingerMilliseconds: Int64
    private var sent = false
    private var timer: Scheduled<Void>?

    init(_ refusal: IdentityRiskError, lingerMilliseconds: Int64) {
        self.refusal = refusal
        self.lingerMilliseconds = lingerMilliseconds
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { send(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context)
        context.fireChannelActive()
    }

    private func send(_ context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        let channel = context.channel
        var buffer = channel.allocator.buffer(capacity: 256)
        WireProtocol.writePreface(into: &buffer)
        ResponseEncoder().encode(callID: 0, error: refusal, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
        timer = channel.eventLoop.scheduleTask(in: .milliseconds(lingerMilliseconds)) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        lingeringRefusals.subtract(1, ordering: .relaxed)
    }
}

@available(*, unavailable)
extension ConnectionRefusalHandler: Sendable {}
