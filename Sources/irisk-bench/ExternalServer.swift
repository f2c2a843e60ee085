#if canImport(Glibc)
import Glibc
#endif

/// `--socket PATH`: a server irisk-bench did not start. With `--server-pid`
/// its memory and CPU are read from /proc; otherwise nothing server-side is known.
final class ExternalServer: BenchTarget {
    let name = "iriskd"
    let socketPath: String
    let speaksIdentityRisk = true
    let pid: pid_t?
    var window: any MeasurementWindow { cpu }
    private let cpu: ProcessCPUWindow

    init(socketPath: String, pid: pid_t?) {
        self.socketPath = socketPath
        self.pid = pid
        cpu = ProcessCPUWindow(pid: pid ?? -1)
    }

    func figures(for result: LoadResult) -> ServerFigures {
        var figures = ServerFigures(kind: "external", pid: pid)
        guard let pid else {
            figures.notes.append("external server: give --server-pid PID for its memory and CPU")
            return figures
        }
        let memory = ProcessMetrics.memory(pid: pid)
        figures.rssBytes = memory?.rssBytes
        figures.peakRSSBytes = memory?.peakBytes
        if let seconds = cpu.seconds, result.measuredSeconds > 0 {
            figures.cpuSeconds = seconds
            figures.cpuCores = seconds / result.measuredSeconds
        }
        return figures
    }

    func stop() async {}
}
