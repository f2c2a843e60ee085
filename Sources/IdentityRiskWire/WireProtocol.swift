public import NIOCore

/// Constants of the IdentityRisk wire protocol (PROTOCOL.md).
///
/// ```
/// connection preface, sent once by each side (8 bytes):
///  0        4        6        8
///  +--------+--------+--------+
///  | "IRSK" |version | 0x0000 |
///  +--------+--------+--------+
///    magic   u16 BE   reserved
///
/// then frames, in both directions:
///  0                4                      4 + length
///  +----------------+----------------------+
///  | length: u32 BE | protobuf message     |
///  +----------------+----------------------+
///  client -> server: identityrisk.v1.Request
///  server -> client: identityrisk.v1.Response
/// ```
public enum WireProtocol {
    /// `"IRSK"`.
    public static let magic: [UInt8] = [0x49, 0x52, 0x53, 0x4B]
    /// The protocol version this build speaks.
    public static let version: UInt16 = 1
    public static let prefaceLength = 8
    public static let frameHeaderLength = 4
    /// Default largest request frame a server accepts (payload bytes).
    public static let defaultMaxRequestFrameBytes = 64 * 1024
    /// Default largest response frame a client accepts (payload bytes).
    public static let defaultMaxResponseFrameBytes = 16 * 1024 * 1024

    /// Writes the 8-byte preface for `version`.
    public static func writePreface(into buffer: inout ByteBuffer, version: UInt16 = WireProtocol.version) {
        buffer.writeBytes(magic)
        buffer.writeInteger(version, endianness: .big)
        buffer.writeInteger(UInt16(0), endianness: .big)
    }

    /// Parses an 8-byte preface; `nil` if the magic is wrong.
    public static func parsePreface(_ bytes: some Collection<UInt8>) -> UInt16? {
        let b = Array(bytes)
        guard b.count == prefaceLength, Array(b[0..<4]) == magic else { return nil }
        return UInt16(b[4]) << 8 | UInt16(b[5])
    }
}
