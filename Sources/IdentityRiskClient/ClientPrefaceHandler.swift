import IdentityRiskWire
import NIOCore

/// Sends the client preface when the connection opens, checks the server's,
/// then removes itself. Requests written before the server's preface arrives
/// are sent at once (pipelined behind the preface).
final class ClientPrefaceHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var buffered: ByteBuffer?
    private var prefaceReceived = false
    private let closeReason: CloseReason

    init(closeReason: CloseReason) {
        self.closeReason = closeReason
    }

    func channelActive(context: ChannelHandlerContext) {
        var preface = context.channel.allocator.buffer(capacity: WireProtocol.prefaceLength)
        WireProtocol.writePreface(into: &preface)
        context.writeAndFlush(wrapOutboundOut(preface), promise: nil)
        context.fireChannelActive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !prefaceReceived, !(error is WireError) {
            // A reset before the server's preface: refused at accept, as above.
            closeReason.record(WireError.closedBeforePreface)
            context.fireErrorCaught(WireError.closedBeforePreface)
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !prefaceReceived {
            // Closed without a byte: the server refused us at accept. Say so,
            // rather than "closed before the answer" (and no retry can help).
            closeReason.record(WireError.closedBeforePreface)
            context.fireErrorCaught(WireError.closedBeforePreface)
        }
        context.fireChannelInactive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            channelActive(context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        guard var bytes = buffered, bytes.readableBytes >= WireProtocol.prefaceLength,
            let preface = bytes.readBytes(length: WireProtocol.prefaceLength)
        else { return }
        buffered = nil
        prefaceReceived = true
        guard let version = WireProtocol.parsePreface(preface) else {
            context.fireErrorCaught(WireError.badPreface)
            context.close(promise: nil)
            return
        }
        guard version == WireProtocol.version else {
            context.fireErrorCaught(WireError.unsupportedVersion(version))
            context.close(promise: nil)
            return
        }
        if bytes.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(bytes))
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension ClientPrefaceHandler: Sendable {}
