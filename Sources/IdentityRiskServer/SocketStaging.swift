#if canImport(Glibc)
import Glibc
#endif

/// Creates the socket file where no one else can reach it, gives it its final
/// group and mode, then moves it into place with `rename(2)` (atomic): the
/// file at the socket path has the configured mode from its first instant.
///
/// ```
/// <dir>/.irskXXXXXX/      mkdtemp: mode 0700, only this user can enter
/// <dir>/.irskXXXXXX/s     bind(2) here; chown/chmod
/// <dir>/<name>            rename(2) here; rmdir the staging directory
/// ```
///
/// This needs no `umask`, which is process-wide: changing it around an
/// `await` races with every other thread creating files (and with a second
/// server in the same process, which could leave the process's umask changed).
/// Only when the staging path would exceed `sun_path` (108 bytes) is the
/// socket bound in place, under a umask.
struct SocketStaging {
    let finalPath: String
    /// Where to bind.
    let bindPath: String
    private let directory: String?

    static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    init(finalPath: String) throws(ServerError) {
        self.finalPath = finalPath
        let parent = finalPath.contains("/") ? String(finalPath[..<finalPath.lastIndex(of: "/")!]) : "."
        let template = (parent.isEmpty ? "" : parent) + "/.irskXXXXXX"
        guard (template + "/s").utf8.count <= Self.maxPathBytes else {
            directory = nil
            bindPath = finalPath
            return
        }
        var bytes = Array(template.utf8CString)
        guard let made = bytes.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ServerError("cannot create a staging directory next to \(finalPath): \(String(cString: strerror(errno)))")
        }
        let staging = String(cString: made)
        directory = staging
        bindPath = staging + "/s"
    }

    /// Whether the socket is bound in place (under a umask) rather than staged.
    var inPlace: Bool { directory == nil }

    /// Sets group and mode on the bound socket, then moves it to ``finalPath``.
    func finish(mode: UInt32, groupID: UInt32?) throws(ServerError) {
        defer { if let directory { rmdir(directory) } }
        if let groupID, chown(bindPath, uid_t.max, groupID) != 0 {
            let why = errno
            abandon()
            throw ServerError("cannot give \(finalPath) to group \(groupID): \(String(cString: strerror(why)))")
        }
        if chmod(bindPath, mode_t(mode)) != 0 {
            let why = errno
            abandon()
            throw ServerError("cannot set mode \(String(mode, radix: 8)) on \(finalPath): \(String(cString: strerror(why)))")
        }
        if directory != nil, rename(bindPath, finalPath) != 0 {
            let why = errno
            abandon()
            throw ServerError("cannot move the socket to \(finalPath): \(String(cString: strerror(why)))")
        }
    }

    /// Removes the staged socket and directory after a failure.
    func abandon() {
        if let directory {
            unlink(bindPath)
            rmdir(directory)
        }
    }
}
