#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskTestSupport
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire

/// The real `iriskd` binary with arbitrary flags, for the hardening tests.
///
/// Nothing here blocks a thread: waiting for the process polls `isRunning`.
/// (`Process.waitUntilExit()` on Swift's cooperative pool can deadlock it:
/// noticing the exit needs a Dispatch thread, and both pools are 2 threads here.)
final class HardeningDaemon: Sendable {
    let process: Process
    let socketPath: String
    let logPath: String

    /// Logs (stderr, level notice) go to `<socketPath>.log`: a file, so that a
    /// chatty daemon never blocks on a full pipe.
    init(socketPath: String, arguments: [String]) throws {
        self.socketPath = socketPath
        logPath = socketPath + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: productPath("iriskd"))
        process.arguments = ["--socket", socketPath, "--log-level", "notice"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits until the daemon answers Health (at most 20 s).
    func waitUntilServing() async throws {
        for _ in 0..<400 {
            if let status = try? await withIdentityRiskClient(socketPath: socketPath, configuration: ClientConfiguration(maxRetries: 0), { try await $0.health() }),
                status.serving == .serving
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw IdentityRiskError(code: .unavailable, message: "iriskd did not start serving on \(socketPath)")
    }

    /// VmRSS of the daemon, in KiB.
    func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return -1 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    func signal(_ signal: Int32) {
        if process.isRunning { Glibc.kill(pid, signal) }
    }

    /// Waits for the process to exit, at most `timeout`; its exit status, or nil if still running.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGTERM, then waits (without blocking a thread) at most `timeout`; the
    /// exit status, or nil if it is still running.
    func terminate(timeout: Duration = .seconds(30)) async throws -> Int32? {
        signal(SIGTERM)
        return try await waitForExit(timeout: timeout)
    }

    /// SIGKILL without waiting: cleanup for a test that failed early (`defer`).
    func kill() {
        signal(SIGKILL)
    }

    /// What it logged so far.
    func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }
}
