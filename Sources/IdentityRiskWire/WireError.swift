/// A transport-level failure: the bytes on the connection, not a call's
/// answer (a call's answer is an ``IdentityRiskError``).
///
/// A struct with an extensible ``Code`` (as ``IdentityRiskError``), so that
/// adding a kind of failure never breaks a caller's `switch`. Match on
/// ``code``; the associated numbers are properties.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case frameTooLarge, truncatedFrame, badPreface, unsupportedVersion, malformedResponse, connectionClosed, closedBeforePreface
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A length prefix above the limit.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// The peer closed in the middle of a frame.
        public static let truncatedFrame = Code(.truncatedFrame)
        /// The first 8 bytes were not an IdentityRisk preface.
        public static let badPreface = Code(.badPreface)
        /// The peer speaks a protocol version this side does not.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// A frame from the server that does not decode as a Response.
        public static let malformedResponse = Code(.malformedResponse)
        /// The connection closed with calls still waiting for answers.
        public static let connectionClosed = Code(.connectionClosed)
        /// The server closed (or reset) the connection before it sent its
        /// preface: it refused this peer (allow-lists, connection limits,
        /// shutting down). Safe calls are retried, like ``connectionClosed``.
        public static let closedBeforePreface = Code(.closedBeforePreface)

        public var description: String {
            switch value {
            case .frameTooLarge: "frameTooLarge"
            case .truncatedFrame: "truncatedFrame"
            case .badPreface: "badPreface"
            case .unsupportedVersion: "unsupportedVersion"
            case .malformedResponse: "malformedResponse"
            case .connectionClosed: "connectionClosed"
            case .closedBeforePreface: "closedBeforePreface"
            }
        }
    }

    public let code: Code
    /// What went wrong, for people.
    public let message: String
    /// The length prefix that was refused (``Code/frameTooLarge``).
    public let length: Int?
    /// The limit that refused it (``Code/frameTooLarge``).
    public let maximum: Int?
    /// Bytes buffered when the peer closed mid-frame (``Code/truncatedFrame``).
    public let bufferedBytes: Int?
    /// The version the peer asked for (``Code/unsupportedVersion``).
    public let version: UInt16?
    /// What did not decode (``Code/malformedResponse``).
    public let reason: String?

    private init(
        _ code: Code, _ message: String,
        length: Int? = nil, maximum: Int? = nil, bufferedBytes: Int? = nil, version: UInt16? = nil,
        reason: String? = nil
    ) {
        self.code = code
        self.message = message
        self.length = length
        self.maximum = maximum
        self.bufferedBytes = bufferedBytes
        self.version = version
        self.reason = reason
    }

    public var description: String { message }

    public static func frameTooLarge(length: Int, maximum: Int) -> WireError {
        WireError(
            .frameTooLarge, "frame length \(length) exceeds the maximum of \(maximum) bytes",
            length: length, maximum: maximum)
    }

    public static func truncatedFrame(bufferedBytes: Int) -> WireError {
        WireError(
            .truncatedFrame, "connection closed in the middle of a frame (\(bufferedBytes) bytes buffered)",
            bufferedBytes: bufferedBytes)
    }

    public static let badPreface = WireError(
        .badPreface, "the connection did not start with the IdentityRisk preface \"IRSK\" + version (see PROTOCOL.md)")

    public static func unsupportedVersion(_ version: UInt16) -> WireError {
        WireError(
            .unsupportedVersion,
            "protocol version \(version) is not supported; this side speaks version \(WireProtocol.version)",
            version: version)
    }

    public static func malformedResponse(_ why: String) -> WireError {
        WireError(.malformedResponse, "malformed response from the server: \(why)", reason: why)
    }

    public static let connectionClosed = WireError(.connectionClosed, "the connection closed before the answer arrived")

    public static let closedBeforePreface = WireError(
        .closedBeforePreface,
        "the server closed the connection at once, before its preface: it refused this client "
            + "(its uid or gid is not in iriskd's --allow-uid/--allow-gid, or the server is at --max-connections "
            + "or --max-connections-per-uid, or it is shutting down); the server's log says which")
}
