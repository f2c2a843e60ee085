#if canImport(Glibc)
import Glibc
#endif

/// Memory and CPU of a process, from /proc (Linux).
enum ProcessMetrics {
    struct Memory: Sendable {
        /// VmRSS: resident now.
        var rssBytes: Int
        /// VmHWM: the resident high-water mark.
        var peakBytes: Int
    }

    /// `pid` nil: this process.
    static func memory(pid: Int32? = nil) -> Memory? {
        guard let text = read(pid.map { "/proc/\($0)/status" } ?? "/proc/self/status") else { return nil }
        var rss: Int?
        var hwm: Int?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("VmRSS:") { rss = kilobytes(line) }
            if line.hasPrefix("VmHWM:") { hwm = kilobytes(line) }
        }
        guard let rss, let hwm else { return nil }
        return Memory(rssBytes: rss * 1024, peakBytes: hwm * 1024)
    }

    /// User + system CPU time of `pid` (all its threads), in nanoseconds.
    static func cpuNanoseconds(pid: Int32) -> UInt64? {
        guard let text = read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        let ticks = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return (user + system) * 1_000_000_000 / ticks
    }

    private static func kilobytes(_ line: Substring) -> Int? {
        line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
