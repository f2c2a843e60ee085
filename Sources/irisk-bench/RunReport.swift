import Histogram

/// Everything one run found, as printed and as `--json` emits it.
struct RunReport: Codable, Sendable {
    struct Latency: Codable, Sendable {
        /// Microseconds.
        var p50: Double
        var p90: Double
        var p99: Double
        var p999: Double
        var max: Double
        var mean: Double
    }

    /// One method of a `--mix` run.
    struct MethodFigures: Codable, Sendable {
        var method: String
        var weight: Int
        /// Answers recorded in the window (OK or not).
        var calls: UInt64
        var okPerSecond: Double
        var errors: UInt64
        var errorsByStatus: [String: UInt64]
        /// Of OK answers only.
        var latency: Latency
    }

    var target: String
    var connections: Int
    var inFlightPerConnection: Int
    var clientThreads: Int
    var warmupSeconds: Double
    var measuredSeconds: Double
    /// Answers recorded in the window (OK or not).
    var calls: UInt64
    /// OK create answers per second (for the floor: echoes per second; in a
    /// `--mix`, the creates only: ``okPerSecond`` counts every method).
    var createsPerSecond: Double
    /// OK answers per second, every method.
    var okPerSecond: Double
    /// `--mix` as given (normalized), and each method's figures; nil: creates only.
    var mix: String?
    var methods: [MethodFigures]?
    /// Records created before the window for the mix to read (`--seed`), and how long that took.
    var seededRecords: UInt64?
    var seedSeconds: Double?
    /// All answers per second, errors included.
    var answersPerSecond: Double
    /// Latency of OK answers only, from writing the request to reading the answer.
    var latency: Latency
    var errors: UInt64
    var errorsByStatus: [String: UInt64]
    /// OK creates that reported `already_existed` (should be 0: every id is new).
    var alreadyExisted: UInt64
    /// Unparseable answers or answers to calls not in flight.
    var protocolErrors: UInt64
    /// Calls sent but not answered when the run ended.
    var unanswered: Int
    /// Sampled answers decoded in full with ResponseCodec, and how many did not match.
    var verified: UInt64
    var verifyFailures: UInt64
    var sampleErrors: [String]
    var connectionFailures: [String]
    /// CPU of the load threads in the window: if near 1 core per thread, the generator limits the run.
    var clientCPUSeconds: Double
    var clientCPUCores: Double
    var hitHardStop: Bool
    var incomplete: Bool
    var server: ServerFigures
    /// `--watchers`: what the watch streams received during the window.
    var watchers: WatcherPool.Figures?
    var notes: [String]

    static let statusNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "STATUS_10", "STATUS_11",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "STATUS_15", "STATUS_ABOVE_15",
    ]

    init(target: any BenchTarget, shape: LoadShape, result: LoadResult) {
        let t = result.tally
        let h = t.histogram
        func us(_ ns: UInt64) -> Double { Double(ns) / 1e3 }
        func latency(_ h: Histogram<UInt64>) -> Latency {
            h.totalCount == 0
                ? Latency(p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0)
                : Latency(
                    p50: us(h.valueAtPercentile(50)), p90: us(h.valueAtPercentile(90)), p99: us(h.valueAtPercentile(99)),
                    p999: us(h.valueAtPercentile(99.9)), max: us(h.max), mean: h.mean / 1e3)
        }
        func byStatus(_ codes: [UInt64]) -> [String: UInt64] {
            var named: [String: UInt64] = [:]
            for (code, count) in codes.enumerated() where code > 0 && count > 0 { named[Self.statusNames[code]] = count }
            return named
        }
        let seconds = result.measuredSeconds
        self.target = target.name
        connections = shape.connections
        inFlightPerConnection = shape.depth
        clientThreads = max(1, min(shape.clientThreads, shape.connections))
        warmupSeconds = shape.warmupSeconds
        measuredSeconds = result.measuredSeconds
        calls = t.recorded
        answersPerSecond = result.throughput
        okPerSecond = seconds > 0 ? Double(t.byCode[0]) / seconds : 0
        self.latency = latency(h)
        errors = t.errorCount
        errorsByStatus = byStatus(t.byCode)
        mix = shape.mix?.description
        if let mix = shape.mix {
            let figures = MixMethod.allCases.compactMap { method -> MethodFigures? in
                guard let m = t.methods.indices.contains(method.rawValue) ? t.methods[method.rawValue] : nil else { return nil }
                return MethodFigures(
                    method: method.name, weight: mix.weight(of: method), calls: m.recorded,
                    okPerSecond: seconds > 0 ? Double(m.byCode[0]) / seconds : 0, errors: m.recorded - m.byCode[0],
                    errorsByStatus: byStatus(m.byCode), latency: latency(m.histogram))
            }
            methods = figures
            createsPerSecond = figures.first { $0.method == MixMethod.create.name }?.okPerSecond ?? 0
        } else {
            createsPerSecond = okPerSecond
        }
        alreadyExisted = t.alreadyExisted
        protocolErrors = t.protocolErrors
        unanswered = t.unanswered
        verified = t.verified
        verifyFailures = t.verifyFailures
        sampleErrors = t.sampleErrors
        connectionFailures = t.connectionFailures
        clientCPUSeconds = result.clientCPUSeconds
        clientCPUCores = result.measuredSeconds > 0 ? result.clientCPUSeconds / result.measuredSeconds : 0
        hitHardStop = result.hitHardStop
        incomplete = result.incomplete
        server = target.figures(for: result)
        notes = result.notes
        if hitHardStop { notes.append("HARD STOP: the run was cut off \(Int(shape.hardStopSeconds)) s after it started; the server did not answer in time") }
        if incomplete { notes.append("--requests not reached within --duration: the figures cover what was answered") }
        if alreadyExisted > 0 { notes.append("\(alreadyExisted) creates hit existing ids: part of the run measured idempotent no-ops") }
        if clientThreads > 0, clientCPUCores > 0.85 * Double(clientThreads) {
            notes.append("the load threads were CPU-bound (\(Format.fixed(clientCPUCores, 2)) cores for \(clientThreads) thread(s)): the generator may be the limit")
        }
    }

    /// Requests in flight ÷ commit time: what group commit could reach if every
    /// in-flight create joined the next fsync.
    var sqliteCeilings: (commit: Double?, probe: Double?) {
        let inFlight = Double(connections * inFlightPerConnection)
        let commit = server.commits.flatMap { $0.averageCommitMilliseconds > 0 ? inFlight / ($0.averageCommitMilliseconds / 1e3) : nil }
        let probe = server.fsyncProbeMilliseconds.flatMap { $0 > 0 ? inFlight / ($0 / 1e3) : nil }
        return (commit, probe)
    }
}

/// `--compare`: iriskd against the floor, same shape.
struct Comparison: Codable, Sendable {
    /// iriskd OK answers/s ÷ floor echoes/s.
    var throughputRatio: Double
    /// iriskd p50 ÷ floor p50.
    var p50Ratio: Double
    var p99Ratio: Double

    init?(server: RunReport, floor: RunReport) {
        guard floor.okPerSecond > 0, floor.latency.p50 > 0, floor.latency.p99 > 0 else { return nil }
        throughputRatio = server.okPerSecond / floor.okPerSecond
        p50Ratio = server.latency.p50 / floor.latency.p50
        p99Ratio = server.latency.p99 / floor.latency.p99
    }
}
