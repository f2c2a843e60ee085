#if canImport(Glibc)
import Glibc
#endif

/// Where iriskd listens and clients connect when no socket path is given:
/// the same rule for `iriskd`, `irisk`, `irisk-bench` and ``IdentityRiskClient``.
///
/// ```
/// uid 0                          /run/identityrisk/iriskd.sock   (the system service's, as the .socket unit makes it)
/// others, XDG_RUNTIME_DIR=DIR    DIR/identityrisk/iriskd.sock    (per user: /run/user/UID, mode 0700, made by logind)
/// others, no XDG_RUNTIME_DIR     no default: an error asking for --socket
/// ```
///
/// Never a fixed name in a world-writable directory such as /tmp: there any
/// local user could bind the name first and receive the records clients send.
/// Without XDG_RUNTIME_DIR (a `su`/cron/container session) there is no
/// directory that is private to the user and known to both sides, so rather
/// than guessing one the caller is asked for a path.
public enum DefaultSocketPath {
    /// The directory iriskd creates (0700) when it is missing, under the runtime directory.
    public static let directoryName = "identityrisk"
    public static let fileName = "iriskd.sock"
    public static let systemPath = "/run/identityrisk/iriskd.sock"

    /// The default for a process running as `uid` with `environment`.
    public static func resolve(environment: [String: String], uid: UInt32) throws(IdentityRiskError) -> String {
        if uid == 0 { return systemPath }
        guard let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") else {
            throw IdentityRiskError(
                code: .invalidArgument,
                message: "no default socket for uid \(uid): XDG_RUNTIME_DIR is not set (or not an absolute path), so there is no private "
                    + "runtime directory to put it in; give the path with --socket PATH (irisk also reads IRISK_SOCKET), "
                    + "e.g. a socket in a directory only you can write",
                target: "socket")
        }
        let base = runtime.hasSuffix("/") ? String(runtime.dropLast()) : runtime
        return base + "/" + directoryName + "/" + fileName
    }

    /// The default for this process (its uid and environment).
    public static func current() throws(IdentityRiskError) -> String {
        var environment: [String: String] = [:]
        if let value = getenv("XDG_RUNTIME_DIR") { environment["XDG_RUNTIME_DIR"] = String(cString: value) }
        return try resolve(environment: environment, uid: getuid())
    }
}
