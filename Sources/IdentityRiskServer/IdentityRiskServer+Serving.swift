import IdentityRiskCore
import IdentityRiskWire
import Logging
import NIOCore
import Synchronization

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
        // Info: one line when a connection opens and one when it closes (the
        // logger carries the peer's pid, uid and gid), with its call count and
        // how long it was open; a CLI command is one connection.
        let opened = ContinuousClock.now
        connection.logger.info("connection opened")
        try? await channel.closeFuture.get()
        let elapsed = ContinuousClock.now - opened
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        connection.logger.info("connection closed", metadata: [
            "calls": "\(connection.calls.received.load(ordering: .relaxed))", "ms": "\(ms)",
        ])
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

