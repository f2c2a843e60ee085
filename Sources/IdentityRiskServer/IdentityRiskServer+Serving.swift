import IdentityRiskCore
import IdentityRiskWire
import Logging
import NIOCore

/// The lifetime of one served connection, and its connection-level errors.
extension IdentityRiskServer {
    /// Keeps a connection registered (for shutdown draining) while it is open.
    /// Its calls are served on its event loop by ``ServerCallHandler``.
    func handle(_ connection: AcceptedConnection) async {
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        let lateJoiner = state.withLock { state -> Bool in
            state.connections[key] = (channel, connection.calls)
            return state.phase == .draining
        }
        defer {
            _ = state.withLock { $0.connections.removeValue(forKey: key) }
        }
        if lateJoiner {
            channel.close(promise: nil)
        }
        try? await channel.closeFuture.get()
        connection.logger.debug("connection closed")
    }

    /// The connection-level error (call id 0) sent before closing, if any.
    static func finalError(for error: any Error) -> IdentityRiskError? {
        switch error {
        case let wire as WireError:
            let code: IdentityRiskError.Code = if wire.code == .frameTooLarge { .resourceExhausted } else { .invalidArgument }
            return IdentityRiskError(code: code, message: "\(wire); closing the connection", innerCode: "ProtocolViolation")
        case let closure as ConnectionClosure:
            return closure.finalError
        default:
            return nil
        }
    }
}

