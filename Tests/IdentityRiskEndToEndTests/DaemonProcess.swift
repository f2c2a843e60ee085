#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskTestSupport

/// A child process (iriskd, irisk, systemd-socket-activate, setpriv ...) with
/// a chosen environment, its output in files (a chatty child never blocks on a
/// full pipe). Waiting polls `isRunning`: nothing blocks a thread.
final class ChildProcess: Sendable {
    let process: Process
    let outputPath: String
    let errorPath: String

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String) throws {
        let tag = UUID().uuidString.prefix(8)
        outputPath = directory + "/child-\(tag).out"
        errorPath = directory + "/child-\(tag).err"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Waits at most `timeout` for the exit; its status, or nil (then killed).
    func exitStatus(within timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(pid, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    /// Waits at most `timeout` until `condition` holds for its stderr.
    func waitForStderr(within timeout: Duration, _ condition: (String) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(stderr) { return true }
            if !process.isRunning { return condition(stderr) }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    func signal(_ number: Int32) { if process.isRunning { kill(pid, number) } }

    /// Runs to completion (at most `timeout`): status (nil: killed), stdout, stderr.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String,
                    timeout: Duration) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let child = try ChildProcess(executable, arguments, environment: environment, directory: directory)
        let status = try await child.exitStatus(within: timeout)
        return (status, child.stdout, child.stderr)
    }
}

/// This process's environment without the variables that steer iriskd and irisk.
func cleanEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    ProcessInfo.processInfo.environment
        .filter { !$0.key.hasPrefix("IRISKD_") && !$0.key.hasPrefix("IRISK_") && !["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "XDG_RUNTIME_DIR"].contains($0.key) }
        .merging(extra) { $1 }
}

/// `setpriv` arguments that run the rest as `uid`:`uid` with no supplementary groups.
func asUser(_ uid: UInt32, _ command: [String]) -> [String] {
    ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] + command
}

/// A datagram socket bound at `address` (a path, or `@name`), as systemd's
/// notify socket: what iriskd sends with sd_notify arrives here.
final class NotifyListener: Sendable {
    let address: String
    private let fd: Int32

    init(address: String) throws {
        self.address = address
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    deinit { close(fd) }

    /// The messages that arrive until `until` says stop or `timeout` passes.
    func collect(timeout: Duration, until done: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        let fd = self.fd
        return try await blocking {
            var messages: [String] = []
            let deadline = ContinuousClock.now + timeout
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !done(messages), ContinuousClock.now < deadline {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 50) > 0 else { continue }
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 { messages.append(String(decoding: buffer[..<count], as: UTF8.self)) }
            }
            return messages
        }
    }
}
