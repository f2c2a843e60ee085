/// Connection-level protocol failures: the byte stream can no longer be
/// trusted, so the connection is closed (after a final error frame where the
/// framing still allows one).
public enum WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A length prefix above the limit.
    case frameTooLarge(length: Int, maximum: Int)
    /// The peer closed in the middle of a frame.
    case truncatedFrame(bufferedBytes: Int)
    /// The first 8 bytes were not an IdentityRisk preface.
    case badPreface
    /// The peer speaks a protocol version this side does not.
    case unsupportedVersion(UInt16)
    /// A frame from the server that does not decode as a Response.
    case malformedResponse(String)
    /// The connection closed with calls still waiting for answers.
    case connectionClosed

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let maximum):
            "frame length \(length) exceeds the maximum of \(maximum) bytes"
        case .truncatedFrame(let bytes):
            "connection closed in the middle of a frame (\(bytes) bytes buffered)"
        case .badPreface:
            "the connection did not start with the IdentityRisk preface \"IRSK\" + version (see PROTOCOL.md)"
        case .unsupportedVersion(let version):
            "protocol version \(version) is not supported; this side speaks version \(WireProtocol.version)"
        case .malformedResponse(let why):
            "malformed response from the server: \(why)"
        case .connectionClosed:
            "the connection closed before the answer arrived"
        }
    }
}
