#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The last line of defence for "every run is bounded in time": if the whole
/// program (set-up, runs, tear-down) outlives its budget, a plain thread
/// kills any child server and exits the process.
enum Watchdog {
    /// A child iriskd to SIGKILL before exiting (0: none).
    static let childPID = Atomic<Int32>(0)

    static func arm(seconds: Double) throws(BenchError) {
        _ = try PosixThread {
            var request = timespec(tv_sec: Int(seconds.rounded(.up)), tv_nsec: 0)
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
            let message = "\nirisk-bench: hard stop: still running after \(Int(seconds)) s; exiting\n"
            _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            let pid = childPID.load(ordering: .relaxed)
            if pid > 0 { kill(pid, SIGKILL) }
            _exit(3)
        }
    }
}
