#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `sd_notify(3)` without libsystemd: one datagram per message to the Unix
/// socket systemd names in `NOTIFY_SOCKET` (a path, or `@name` for the
/// abstract namespace), e.g. `READY=1\nSTATUS=serving on /run/...`.
///
/// ```
/// NOTIFY_SOCKET=/run/systemd/notify      sockaddr_un.sun_path = "/run/systemd/notify\0"
/// NOTIFY_SOCKET=@/org/freedesktop/...    sockaddr_un.sun_path = "\0/org/freedesktop/..." (length counts the name only)
/// ```
///
/// With `Type=notify` systemd waits for `READY=1` before it calls the unit
/// started; `WatchdogSec=` sets `WATCHDOG_USEC` (and `WATCHDOG_PID`), and
/// restarts iriskd when `WATCHDOG=1` stops arriving.
final class SystemdNotifier: Sendable {
    let address: String
    private let fd: Int32
    /// Ping interval: half of `WATCHDOG_USEC`, when the watchdog is ours.
    let watchdogInterval: Duration?

    /// The notifier `environment` asks for, or `nil` when NOTIFY_SOCKET is unset.
    /// Throws when it is set but unusable (systemd would wait for READY in vain).
    static func fromEnvironment(_ environment: [String: String]) throws -> SystemdNotifier? {
        guard let address = environment["NOTIFY_SOCKET"], !address.isEmpty else { return nil }
        var interval: Duration?
        if let text = environment["WATCHDOG_USEC"], !text.isEmpty {
            guard let usec = UInt64(text), usec > 0 else {
                throw SocketActivationError("WATCHDOG_USEC '\(text)' is not a positive number of microseconds")
            }
            let forUs = environment["WATCHDOG_PID"].flatMap { Int32($0) }.map { $0 == getpid() } ?? true
            if forUs { interval = .microseconds(Int64(clamping: usec / 2)) }
        }
        return try SystemdNotifier(address: address, watchdogInterval: interval)
    }

    init(address: String, watchdogInterval: Duration?) throws {
        guard address.hasPrefix("/") || address.hasPrefix("@") else {
            throw SocketActivationError("NOTIFY_SOCKET '\(address)' is neither an absolute path nor an abstract name (@...)")
        }
        guard address.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw SocketActivationError("NOTIFY_SOCKET '\(address)' is longer than a Unix socket address may be")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw SocketActivationError("cannot create a socket for NOTIFY_SOCKET: \(String(cString: strerror(errno)))")
        }
        self.address = address
        self.fd = fd
        self.watchdogInterval = watchdogInterval
    }

    deinit { close(fd) }

    /// Sends `state` (newline-separated `KEY=value` lines); an error if it could not be sent.
    func notify(_ state: String) throws {
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in raw.copyBytes(from: bytes) }
        // A path counts its terminating NUL; an abstract name only its bytes.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
            }
        }
        guard sent == message.count else {
            throw SocketActivationError("cannot notify systemd at \(address): \(String(cString: strerror(errno)))")
        }
    }
}
