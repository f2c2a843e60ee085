#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// systemd socket activation (`sd_listen_fds(3)`): systemd, or
/// `systemd-socket-activate`, creates and listens on the socket and starts
/// iriskd with it as file descriptor 3, `LISTEN_FDS=1` and `LISTEN_PID` = ours.
enum SocketActivation {
    struct Listener {
        var fd: Int32
        /// The socket's path, as systemd bound it (for logs and Health).
        var path: String
    }

    /// The socket systemd handed over, or `nil` when not socket-activated.
    /// Throws when what was handed over is not one listening Unix stream socket.
    static func listener() throws -> Listener? {
        let environment = ProcessInfo.processInfo.environment
        guard let pid = environment["LISTEN_PID"].flatMap({ Int32($0) }), pid == getpid(),
            let count = environment["LISTEN_FDS"].flatMap({ Int($0) })
        else { return nil }
        // Not for processes we might start.
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
        guard count == 1 else {
            throw SocketActivationError("systemd passed \(count) sockets; iriskd serves exactly one (one ListenStream= in its .socket unit)")
        }
        let fd: Int32 = 3
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0, address.sun_family == sa_family_t(AF_UNIX) else {
            throw SocketActivationError("the socket systemd passed (fd 3) is not a Unix domain socket; use ListenStream=/path/to/iriskd.sock")
        }
        var type: Int32 = 0
        var listening: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0, type == Int32(SOCK_STREAM.rawValue) else {
            throw SocketActivationError("the socket systemd passed (fd 3) is not a stream socket; use ListenStream=, not ListenDatagram=")
        }
        size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0, listening == 1 else {
            throw SocketActivationError("the socket systemd passed (fd 3) is not listening (Accept=yes is not supported: iriskd accepts itself)")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = withUnsafeBytes(of: &address.sun_path) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return Listener(fd: fd, path: path)
    }
}

struct SocketActivationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
