#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskStore

/// `--spawn-process PATH`: the real `iriskd` binary as a child process on a
/// scratch socket. Its memory and CPU are its own (from /proc/PID), which is
/// the honest way to measure them. Store commit counters are not visible from
/// outside; the fsync probe still runs for SQLite.
final class ChildProcessServer: BenchTarget {
    let name = "iriskd"
    let socketPath: String
    let speaksIdentityRisk = true
    let pid: pid_t
    var window: any MeasurementWindow { cpu }
    private let cpu: ProcessCPUWindow
    private let storeText: String
    private let fsync: FsyncProbe.Result?

    /// `extraArguments` go after the bench's own (`--server-arg`, a `--variant`'s).
    /// `storeArgument`: `--store` as given (a PostgreSQL URL is passed on as it is, password included).
    init(executable: String, store spec: StoreSpec, storeArgument: String, depth: Int, scratch: TemporaryDirectory, extraArguments: [String] = []) throws(BenchError) {
        guard access(executable, X_OK) == 0 else { throw BenchError("--spawn-process: \(executable) is not an executable file") }
        socketPath = scratch.path + "/iriskd.sock"
        var arguments = [executable, "--socket", socketPath, "--log-level", "error", "--max-in-flight", String(max(1024, depth)), "--shutdown-grace-ms", "2000",
            // One uid opens every connection here: the load's and up to 4,096 watchers'.
            "--max-connections", "8192", "--max-connections-per-uid", "8192", "--max-streams", "8192"]
        if let path = spec.databasePath {
            arguments += ["--store", "sqlite:" + path]
            storeText = "sqlite (\(path))"
            fsync = FsyncProbe.run(directory: StoreSpec.directory(of: path))
        } else if case .postgres = spec.kind {
            arguments += ["--store", storeArgument]
            storeText = spec.description
            fsync = nil
        } else {
            arguments += ["--store", "memory"]
            storeText = "memory"
            fsync = nil
        }
        arguments += extraArguments.map { $0.replacingOccurrences(of: "{scratch}", with: scratch.path) }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, nil, nil, &argv, environ)
        guard rc == 0 else { throw BenchError("cannot start \(executable): \(UnixSocket.errnoText(rc))") }
        pid = child
        cpu = ProcessCPUWindow(pid: child)
    }

    /// Waits (up to 15 s) until the child accepts connections.
    func waitUntilListening() async throws {
        for _ in 0..<1500 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw BenchError("iriskd exited during start-up (wait status \(status)); see its messages above")
            }
            if let fd = try? UnixSocket.connect(path: socketPath) {
                close(fd)
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw BenchError("iriskd did not listen on \(socketPath) within 15 s")
    }

    func figures(for result: LoadResult) -> ServerFigures {
        let memory = ProcessMetrics.memory(pid: pid)
        var figures = ServerFigures(kind: "child process", store: storeText, pid: pid, rssBytes: memory?.rssBytes, peakRSSBytes: memory?.peakBytes)
        if let seconds = cpu.seconds, result.measuredSeconds > 0 {
            figures.cpuSeconds = seconds
            figures.cpuCores = seconds / result.measuredSeconds
        }
        figures.fsyncProbeMilliseconds = fsync?.medianMilliseconds
        if storeText != "memory" {
            figures.notes.append("commit batch size and time are only visible with --spawn (in-process); the fsync probe is the disk's own figure")
        }
        if fsync?.filesystemIsTmpfs == true {
            figures.notes.append("the database is on tmpfs: fsync is a no-op there")
        }
        return figures
    }

    /// SIGTERM (graceful), then SIGKILL after 10 s.
    func stop() async {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for i in 0..<1000 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            if i == 999 { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}
