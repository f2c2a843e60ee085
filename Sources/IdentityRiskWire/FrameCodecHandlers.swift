public import NIOCore

/// Server side: frames -> ``WireRequest``. A frame whose payload is not a valid
/// Request still yields a request (`.invalid`), so one bad message costs one
/// error answer, not the connection. An oversize length prefix throws.
/// Each payload is unpacked within the memory budget of `decodingLimits`.
public struct RequestFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireRequest
    public let maxFrameBytes: Int
    public let decodingLimits: RequestDecodingLimits

    public init(maxFrameBytes: Int = WireProtocol.defaultMaxRequestFrameBytes, decodingLimits: RequestDecodingLimits = .default) {
        self.maxFrameBytes = maxFrameBytes
        self.decodingLimits = decodingLimits
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try FrameDecoder.nextFrame(from: &buffer, maxFrameBytes: maxFrameBytes) else {
            return .needMoreData
        }
        context.fireChannelRead(Self.wrapInboundOut(RequestCodec.decode(frame, limits: decodingLimits)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0, seenEOF {
            throw WireError.truncatedFrame(bufferedBytes: buffer.readableBytes)
        }
        return .needMoreData
    }
}

/// Client side: frames -> ``WireResponse``. Anything malformed throws: a
/// client cannot trust a server that sends it.
public struct ResponseFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireResponse
    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int = WireProtocol.defaultMaxResponseFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try FrameDecoder.nextFrame(from: &buffer, maxFrameBytes: maxFrameBytes) else {
            return .needMoreData
        }
        context.fireChannelRead(Self.wrapInboundOut(try ResponseCodec.decode(frame)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Server side: ``WireResponse`` -> one frame. Reuses one C arena per connection.
public final class ResponseFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = WireResponse
    private let arena = CArena()

    public init() {}

    public func encode(data: WireResponse, out: inout ByteBuffer) throws {
        ResponseCodec.encode(data, into: &out, arena: arena)
    }
}

/// Client side: ``WireRequest`` -> one frame. Reuses one C arena per connection.
public final class RequestFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = WireRequest
    private let arena = CArena(chunkSize: 4096)

    public init() {}

    public func encode(data: WireRequest, out: inout ByteBuffer) throws {
        RequestCodec.encode(data, into: &out, arena: arena)
    }
}

@available(*, unavailable)
extension ResponseFrameEncoder: Sendable {}

@available(*, unavailable)
extension RequestFrameEncoder: Sendable {}
