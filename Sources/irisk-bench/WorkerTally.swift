import Histogram

/// One method's answers in a `--mix` run.
struct MethodTally {
    /// Latency of its recorded OK calls, in nanoseconds.
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: WorkerTally.highestLatency, numberOfSignificantValueDigits: .three)
    /// Responses by status code (index 16: codes above 15).
    var byCode = [UInt64](repeating: 0, count: 17)
    var recorded: UInt64 = 0

    mutating func add(_ other: MethodTally) {
        histogram.add(other.histogram)
        for i in byCode.indices { byCode[i] += other.byCode[i] }
        recorded += other.recorded
    }
}

/// One load thread's measurements. Written only by that thread while it runs;
/// read by the main thread only after joining it.
final class WorkerTally {
    /// Latency of every recorded OK call, in nanoseconds.
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: WorkerTally.highestLatency, numberOfSignificantValueDigits: .three)
    /// Responses by status code (index 16: codes above 15).
    var byCode = [UInt64](repeating: 0, count: 17)
    var recorded: UInt64 = 0
    /// `--mix`: per ``MixMethod`` (by raw value), for the methods in the mix.
    var methods: [MethodTally?] = []
    /// OK creates that said `already_existed` (ids collided: the run measured no-op creates).
    var alreadyExisted: UInt64 = 0
    /// Responses that were not parseable, or named a call not in flight.
    var protocolErrors: UInt64 = 0
    /// Sampled full decodes that did not read back the record sent.
    var verified: UInt64 = 0
    var verifyFailures: UInt64 = 0
    /// A few decoded error messages, for the report.
    var sampleErrors: [String] = []
    /// Connections the server closed (or that failed) before the run ended.
    var connectionFailures: [String] = []
    /// Calls still unanswered when the thread exited.
    var unanswered = 0
    /// This thread's CPU time between the edges of the measuring window.
    var cpuAtMeasureStart: UInt64?
    var cpuAtMeasureEnd: UInt64?
    var firstRecordedAt: UInt64?
    var lastRecordedAt: UInt64?

    static let highestLatency: UInt64 = 3_600_000_000_000

    /// Counts an answer; only OK answers go into the latency histogram (a fast
    /// refusal must not make the percentiles look better).
    @inline(__always)
    func record(latency: UInt64, code: UInt32, at now: UInt64, method: Int = -1) {
        let clamped = min(latency, Self.highestLatency)
        let codeIndex = Int(min(code, 16))
        if code == 0 { _ = histogram.record(clamped) }
        byCode[codeIndex] &+= 1
        if method >= 0 {
            if code == 0 { _ = methods[method]!.histogram.record(clamped) }
            methods[method]!.byCode[codeIndex] &+= 1
            methods[method]!.recorded &+= 1
        }
        recorded &+= 1
        if firstRecordedAt == nil { firstRecordedAt = now }
        lastRecordedAt = now
    }

    var errorCount: UInt64 { recorded - byCode[0] }

    /// Makes room for the methods of `mix`.
    func prepare(for mix: Mix?) {
        guard let mix else { return }
        methods = MixMethod.allCases.map { mix.weight(of: $0) > 0 ? MethodTally() : nil }
    }

    var cpuInWindow: UInt64 {
        guard let start = cpuAtMeasureStart, let end = cpuAtMeasureEnd, end >= start else { return 0 }
        return end - start
    }

    func noteError(_ message: String) {
        if sampleErrors.count < 3, !sampleErrors.contains(message) { sampleErrors.append(message) }
    }
}
