#if canImport(Glibc)
import Glibc
#endif

/// Owns the socket path for one server: a lock file `<socket>.lock` held with
/// `flock` for the server's lifetime.
///
/// - lock taken, socket file present: the server that made it is dead (it would
///   hold the lock), so the stale file is removed. A live server is also probed
///   with a connect, in case it runs a build without the lock.
/// - lock held by another process: a server is running; refuse, touch nothing.
/// - a non-socket file at the path is never removed.
///
/// On exit the socket file and the lock file are removed (the lock still
/// held). A server starting at that moment may have opened the old lock file:
/// after taking the lock it checks that the path still names the file it
/// locked, and starts over if not, so two servers never both own a path.
final class SocketFileGuard: Sendable {
    let socketPath: String
    private let lockPath: String
    private let lockFD: Int32

    init(socketPath: String) throws(ServerError) {
        self.socketPath = socketPath
        try SocketDirectory.check(SocketDirectory.parent(of: socketPath))
        let lockPath = socketPath + ".lock"
        self.lockPath = lockPath
        var attempts = 0
        var locked: Int32 = -1
        while locked < 0 {
            attempts += 1
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw ServerError("cannot open lock file \(lockPath): \(String(cString: strerror(errno)))")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let why = errno
                close(fd)
                if why == EWOULDBLOCK {
                    throw ServerError("another iriskd is already serving \(socketPath) (it holds \(lockPath)); it was left untouched")
                }
                throw ServerError("cannot lock \(lockPath): \(String(cString: strerror(why)))")
            }
            // The previous owner may have removed the file between our open and our lock.
            var held = stat()
            var named = stat()
            if fstat(fd, &held) == 0, stat(lockPath, &named) == 0, held.st_ino == named.st_ino, held.st_dev == named.st_dev {
                locked = fd
            } else {
                close(fd)
                if attempts >= 10 { throw ServerError("\(lockPath) keeps changing under us; is another iriskd starting and stopping there?") }
            }
        }
        let fd = locked
        var info = stat()
        if lstat(socketPath, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                close(fd)
                throw ServerError("\(socketPath) exists and is not a socket; refusing to remove it")
            }
            if Self.isLive(socketPath) {
                close(fd)
                throw ServerError("a server is answering on \(socketPath); it was left untouched")
            }
            unlink(socketPath)
        }
        self.lockFD = fd
    }

    /// Removes the socket file and the lock file, then releases the lock.
    func release() {
        unlink(socketPath)
        unlink(lockPath)
        close(lockFD)
    }

    /// Whether something accepts connections on `path`.
    static func isLive(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}

/// Why the server could not start or keep running.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
