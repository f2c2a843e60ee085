public import NIOCore

/// Splits a byte stream into frames: a 4-byte big-endian length, then that many
/// bytes. The length is checked against `maxFrameBytes` *before* anything is
/// buffered, so an oversize prefix costs nothing but the 4 bytes read.
///
/// ```
///  +----------------+-------------------------+
///  | length: u32 BE | payload (length bytes)  |
///  +----------------+-------------------------+
/// ```
///
/// Outputs the payload as a `ByteBuffer` slice (no copy). A zero-length frame
/// is a valid, empty protobuf message and is passed on.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int) {
        precondition(maxFrameBytes >= 0 && maxFrameBytes <= Int(UInt32.max))
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.nextFrame(from: &buffer, maxFrameBytes: maxFrameBytes) else {
            return .needMoreData
        }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0, seenEOF {
            throw WireError.truncatedFrame(bufferedBytes: buffer.readableBytes)
        }
        return .needMoreData
    }

    /// Takes one whole frame's payload off the front of `buffer`, or `nil` if
    /// more bytes are needed. Throws ``WireError/frameTooLarge(length:maximum:)``.
    public static func nextFrame(from buffer: inout ByteBuffer, maxFrameBytes: Int) throws(WireError) -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return nil
        }
        guard Int(length) <= maxFrameBytes else {
            throw WireError.frameTooLarge(length: Int(length), maximum: maxFrameBytes)
        }
        guard buffer.readableBytes >= WireProtocol.frameHeaderLength + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: WireProtocol.frameHeaderLength)
        return buffer.readSlice(length: Int(length))
    }
}
