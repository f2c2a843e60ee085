#if canImport(Glibc)
import Glibc
#endif

/// The directory a socket file lives in decides who can replace that file:
/// whoever may write to the directory may unlink our socket and bind their
/// own under the same name, and clients would send it their records. So the
/// server refuses, before it creates anything:
///
/// ```
/// others may write (o+w), no sticky bit    refused: anyone could swap the socket
/// owned by another non-root uid            refused: its owner could swap it
/// o+w with the sticky bit (/tmp)           accepted: only the file's owner may unlink it
/// missing                                  created by prepare(create: true): 0700, or 0750 with a group
/// ```
public enum SocketDirectory {
    /// Checks the directory of `socketPath` and, when it is missing and
    /// `create` is set, makes it (the last component only, after checking its
    /// parent the same way): mode 0700, or 0750 owned by `groupID` so that the
    /// group can reach a socket it may open.
    public static func prepare(socketPath: String, create: Bool, groupID: UInt32?) throws(ServerError) {
        let directory = parent(of: socketPath)
        var info = stat()
        if stat(directory, &info) != 0 {
            let why = errno
            guard why == ENOENT, create else {
                throw ServerError("cannot use the socket directory \(directory): \(String(cString: strerror(why)))")
            }
            try check(parent(of: directory))
            let mode: mode_t = groupID == nil ? 0o700 : 0o750
            if mkdir(directory, mode) != 0, errno != EEXIST {
                throw ServerError("cannot create the socket directory \(directory): \(String(cString: strerror(errno)))")
            }
            if let groupID, chown(directory, uid_t.max, groupID) != 0 {
                throw ServerError("cannot give the socket directory \(directory) to group \(groupID): \(String(cString: strerror(errno)))")
            }
            // mkdir's mode is filtered by the umask; this is the mode we mean.
            if chmod(directory, mode) != 0 {
                throw ServerError("cannot set mode \(String(mode, radix: 8)) on the socket directory \(directory): \(String(cString: strerror(errno)))")
            }
        }
        try check(directory)
    }

    /// Refuses a directory others could use to replace a socket in it.
    public static func check(_ directory: String) throws(ServerError) {
        var info = stat()
        guard stat(directory, &info) == 0 else {
            throw ServerError("cannot use the socket directory \(directory): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw ServerError("\(directory) is not a directory; the socket needs one")
        }
        let mode = "0" + String(info.st_mode & 0o7777, radix: 8)
        if info.st_mode & S_IWOTH != 0, info.st_mode & S_ISVTX == 0 {
            throw ServerError(
                "refusing the socket directory \(directory): every user may write to it (mode \(mode), no sticky bit), so anyone could "
                    + "replace the socket with their own; use a directory only you can write (chmod o-w \(directory), or --socket elsewhere)")
        }
        let me = getuid()
        if info.st_uid != 0, info.st_uid != me {
            throw ServerError(
                "refusing the socket directory \(directory): it belongs to uid \(info.st_uid), not to this server's uid \(me) or root, "
                    + "so its owner could replace the socket; use a directory of your own (--socket PATH)")
        }
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }
}
