#if canImport(Glibc)
import Glibc
#endif

/// The one-line status a terminal sees while a run is going (stdout only, and
/// only when stdout is a TTY), redrawn once a second and erased at the end.
struct LiveStatusLine {
    let enabled: Bool
    let label: String
    let shape: LoadShape
    let start: UInt64
    private var lastAt: UInt64
    private var lastRecorded: UInt64 = 0
    private var drawn = false

    init(enabled: Bool, label: String, shape: LoadShape, start: UInt64) {
        self.enabled = enabled
        self.label = label
        self.shape = shape
        self.start = start
        lastAt = start
    }

    /// `measureStart`: when the measuring window opened, if it has.
    mutating func update(now: UInt64, control: RunControl, measureStart: UInt64?) {
        guard enabled, now >= lastAt + 1_000_000_000 else { return }
        let recorded = control.recorded
        // A rate only over a second that was all measuring (recorded counts nothing before).
        let rate: String = if let measureStart, measureStart <= lastAt {
            Format.grouped(Int(Double(recorded &- lastRecorded) / (Double(now - lastAt) / 1e9)))
        } else {
            "-"
        }
        lastAt = now
        lastRecorded = recorded
        let progress: String
        switch control.phase {
        case .warmup:
            progress = "warmup \(Format.fixed(Double(now - start) / 1e9, 0))/\(Format.fixed(shape.warmupSeconds, 0))s"
        case .measuring:
            let elapsed = Double(now - (measureStart ?? now)) / 1e9
            progress = shape.requests.map { "measuring \(Format.grouped(Int(recorded)))/\(Format.grouped(Int($0))) creates" }
                ?? "measuring \(Format.fixed(elapsed, 0))/\(Format.fixed(shape.durationSeconds, 0))s"
        case .draining:
            progress = "draining"
        case .stop:
            progress = "stopping"
        }
        let text = "[\(label) \(shape.connections)x\(shape.depth)] \(progress)  creates/s \(rate)  errors \(control.errors)  in flight \(control.inFlight)"
        write("\r\u{1B}[K" + text)
        drawn = true
    }

    mutating func finish() {
        if drawn { write("\r\u{1B}[K") }
        drawn = false
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }
}
