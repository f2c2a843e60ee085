import Foundation

/// A one-line progress display on stderr (only on a terminal): count, rate and,
/// when the input size is known, the time left. Redrawn at most 10 times a second.
final class Progress {
    private let totalBytes: Int?
    private let enabled: Bool
    private let start = ContinuousClock.now
    private var lastDraw = ContinuousClock.now - .seconds(1)

    init(totalBytes: Int?, enabled: Bool) {
        self.totalBytes = totalBytes
        self.enabled = enabled
    }

    var elapsed: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    var elapsedText: String { String(format: "%.1f s", elapsed) }

    func update(done: Int, bytesRead: Int) {
        guard enabled, ContinuousClock.now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = ContinuousClock.now
        let rate = Double(done) / max(elapsed, 0.001)
        var text = "\r\u{1B}[2K  \(done) lines  \(Int(rate))/s"
        if let totalBytes, totalBytes > 0, bytesRead > 0 {
            let fraction = min(1, Double(bytesRead) / Double(totalBytes))
            let width = 24
            let filled = Int(fraction * Double(width))
            let left = elapsed / fraction - elapsed
            text += "  [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "]"
            text += String(format: " %3.0f%%  ETA %d:%02d", fraction * 100, Int(left) / 60, Int(left) % 60)
        }
        FileHandle.standardError.write(Data(text.utf8))
    }

    func clearLine() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }

    func finish() { clearLine() }
}
