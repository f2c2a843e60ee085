#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// CPU time of another process at the window's edges.
final class ProcessCPUWindow: MeasurementWindow {
    let pid: pid_t
    private let snapshots = Mutex<(begin: UInt64?, end: UInt64?)>((nil, nil))

    init(pid: pid_t) {
        self.pid = pid
    }

    func begin() {
        let now = ProcessMetrics.cpuNanoseconds(pid: pid)
        snapshots.withLock { $0.begin = now }
    }

    func end() {
        let now = ProcessMetrics.cpuNanoseconds(pid: pid)
        snapshots.withLock { $0.end = now }
    }

    var seconds: Double? {
        let (b, e) = snapshots.withLock { ($0.begin, $0.end) }
        guard let b, let e, e >= b else { return nil }
        return Double(e - b) / 1e9
    }
}
