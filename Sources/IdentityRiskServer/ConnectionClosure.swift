import IdentityRiskCore

/// Why the server closes a connection on its own, after the handshake.
enum ConnectionClosure: Error, Sendable, CustomStringConvertible {
    /// A frame started but did not finish arriving in time (a client dribbling bytes).
    case frameReadTimeout(milliseconds: Int64, receivedBytes: Int, expectedBytes: Int?)
    /// No call in flight and no byte received for the idle timeout.
    case idle(milliseconds: Int64)
    /// The client did not read its responses for the unwritable timeout.
    case unwritable(milliseconds: Int64)

    var description: String {
        switch self {
        case .frameReadTimeout(let ms, let received, let expected):
            let of = expected.map { " of \($0 + 4)" } ?? ""
            return "a frame started arriving but was not complete within \(ms) ms (\(received)\(of) bytes received)"
        case .idle(let ms):
            return "idle: no call in flight and nothing received for \(ms) ms"
        case .unwritable(let ms):
            return "the client has not read its responses for \(ms) ms (outbound buffer above its high-water mark)"
        }
    }

    /// The final frame's error (call id 0) where one is sent before closing.
    var finalError: IdentityRiskError {
        switch self {
        case .frameReadTimeout:
            IdentityRiskError(code: .deadlineExceeded, message: "\(self); nothing of it was processed; closing the connection", innerCode: "FrameReadTimeout")
        case .idle:
            IdentityRiskError(code: .unavailable, message: "\(self); closing the connection", innerCode: "IdleTimeout")
        case .unwritable:
            IdentityRiskError(code: .resourceExhausted, message: "\(self); closing the connection", innerCode: "UnwritableTimeout")
        }
    }
}
