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

    func channelActive(context: ChannelHandlerContext) {
        var preface = context.channel.allocator.buffer(capacity: WireProtocol.prefaceLength)
        WireProtocol.writePreface(into: &preface)
        context.writeAndFlush(wrapOutboundOut(preface), promise: nil)
        context.fireChannelActive()
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
