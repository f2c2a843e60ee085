import IdentityRiskWire
import NIOCore

/// First handler of every connection: waits for the client's 8-byte preface.
///
/// - valid, version 1: answers with the server preface, passes any bytes that
///   came after it on, and removes itself;
/// - valid magic, other version: answers with the server preface (so the client
///   learns which version is spoken) and closes;
/// - looks like HTTP: answers `HTTP/1.1 400` with a one-line explanation, closes;
/// - anything else, or nothing within the handshake timeout: closes.
final class ServerPrefaceHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var buffered: ByteBuffer?
    private var timeout: Scheduled<Void>?
    private let timeoutMilliseconds: Int64
    private let onRefused: (String) -> Void

    init(timeoutMilliseconds: Int64, onRefused: @escaping (String) -> Void) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.onRefused = onRefused
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: .milliseconds(timeoutMilliseconds)) {
            let (handler, context) = loopBound.value
            handler.onRefused("no preface within \(handler.timeoutMilliseconds) ms")
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        guard var bytes = buffered else { return }
        let magicLength = min(bytes.readableBytes, WireProtocol.magic.count)
        let prefix = bytes.getBytes(at: bytes.readerIndex, length: magicLength) ?? []
        // Decide as early as the bytes allow: a wrong first byte needs no more.
        if prefix != Array(WireProtocol.magic.prefix(magicLength)) {
            refuse(context: context, prefix: bytes.readableBytesView.prefix(16))
            return
        }
        guard bytes.readableBytes >= WireProtocol.prefaceLength,
            let preface = bytes.readBytes(length: WireProtocol.prefaceLength),
            let version = WireProtocol.parsePreface(preface)
        else { return }

        timeout?.cancel()
        var reply = context.channel.allocator.buffer(capacity: WireProtocol.prefaceLength)
        WireProtocol.writePreface(into: &reply)
        guard version == WireProtocol.version else {
            onRefused("client speaks protocol version \(version); this server speaks \(WireProtocol.version)")
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        buffered = nil
        if bytes.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(bytes))
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func refuse(context: ChannelHandlerContext, prefix: ByteBufferView) {
        timeout?.cancel()
        buffered = nil
        let text = String(decoding: prefix, as: UTF8.self)
        let httpMethods = ["GET ", "POST", "PUT ", "HEAD", "DELE", "PATC", "OPTI", "PRI ", "CONN", "TRAC"]
        if httpMethods.contains(where: { text.hasPrefix($0) }) {
            onRefused("HTTP request on the IdentityRisk socket")
            let body = "This is an IdentityRisk socket: it speaks the binary protocol in PROTOCOL.md (preface \"IRSK\" + version), not HTTP.\n"
            let response = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(string: response))).whenComplete { _ in
                channel.close(promise: nil)
            }
        } else {
            onRefused("connection did not start with the IdentityRisk preface")
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ServerPrefaceHandler: Sendable {}
