#if canImport(Glibc)
import Glibc
#endif
import NIOCore
public import IdentityRiskService

/// Who is on the other end of a Unix socket (SO_PEERCRED), read once at accept:
/// the service layer's ``PeerIdentity``, which calls carry in their context.
public typealias PeerCredentials = PeerIdentity

extension PeerIdentity {
    /// Reads SO_PEERCRED from an accepted Unix-domain socket channel.
    static func read(from channel: any Channel) -> EventLoopFuture<PeerIdentity?> {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc hides it behind _GNU_SOURCE);
        // a tuple of the same three 32-bit fields has the same layout.
        let future: EventLoopFuture<(Int32, UInt32, UInt32)> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { Optional(PeerIdentity(pid: $0.0, uid: $0.1, gid: $0.2)) }
            .recover { _ in nil }
        #else
        return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }
}
