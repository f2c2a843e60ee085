#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskCore
import NIOCore

/// Whom the client is talking to: right after connect, before any call is
/// sent, the server's credentials (SO_PEERCRED) must show root, this
/// process's own uid, or the uid the configuration expects.
///
/// The kernel reports the credentials of the process that called `listen(2)`
/// on the server's socket, which nobody else can fake. Under systemd socket
/// activation that is systemd (uid 0, its pid), not iriskd: accepted, since
/// only root can have made that socket.
enum ServerCredentialCheck {
    static func verify(_ channel: any Channel, socketPath: String, expectedUID: UInt32?) async throws {
        guard let provider = channel as? any SocketOptionProvider else {
            throw IdentityRiskError(code: .permissionDenied, message: "cannot read the credentials of the server at \(socketPath) (not a Unix socket channel)", target: "socket", innerCode: "UntrustedServer")
        }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }: a tuple of the same three 32-bit fields.
        let credentials: (Int32, UInt32, UInt32)
        do {
            credentials = try await provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)).get()
        } catch {
            // Closed already (a server that refuses this peer at accept): nothing can be
            // sent on it, and the first call reports why it closed (closedBeforePreface).
            if !channel.isActive { return }
            throw IdentityRiskError(
                code: .permissionDenied, message: "cannot read the credentials of the server at \(socketPath) (SO_PEERCRED): \(error); not sending it anything",
                target: "socket", innerCode: "UntrustedServer")
        }
        let (pid, uid, _) = credentials
        let own = getuid()
        if let problem = refusal(serverUID: uid, serverPID: pid, ownUID: own, expectedUID: expectedUID, socketPath: socketPath) {
            throw IdentityRiskError(code: .permissionDenied, message: problem, target: "socket", innerCode: "UntrustedServer")
        }
    }

    /// Why a server of `serverUID` is refused, or `nil` when it is trusted.
    static func refusal(serverUID: UInt32, serverPID: Int32, ownUID: UInt32, expectedUID: UInt32?, socketPath: String) -> String? {
        if serverUID == 0 || serverUID == ownUID || serverUID == expectedUID { return nil }
        let expected = expectedUID.map { "the expected uid \($0) (--server-uid), " } ?? ""
        return "refusing the server at \(socketPath): it runs as uid \(serverUID) (pid \(serverPID)), which is neither \(expected)root nor "
            + "your uid \(ownUID); another user's process may have taken the socket's name, so nothing was sent to it. "
            + "If uid \(serverUID) is the iriskd you mean, say so: irisk --server-uid \(serverUID) (or IRISK_SERVER_UID=\(serverUID); "
            + "ClientConfiguration.expectedServerUID in Swift)"
    }
}
