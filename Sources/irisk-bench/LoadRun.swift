#if canImport(Glibc)
import Glibc
#endif
import Histogram

/// The traffic shape of one run.
struct LoadShape: Sendable {
    var connections: Int
    var depth: Int
    var warmupSeconds: Double
    var durationSeconds: Double
    /// Fixed number of measured creates (over all connections) instead of a duration.
    var requests: UInt64?
    var clientThreads: Int
    var templates: Int
    /// Creates carry no id: the server assigns one (a time-ordered UUID).
    var serverIDs: Bool = false
    var verifyEvery: UInt64
    var liveStatus: Bool
    /// `--mix`: the methods sent, in ratio; nil: creates only.
    var mix: Mix? = nil
    /// `--seed`: records created before measuring, for a mix's gets, lists and updates.
    var seed: UInt64 = 0

    /// Past this, a run stops whatever the server does.
    var hardStopSeconds: Double { warmupSeconds + durationSeconds + 30 }

    /// The seeding phase does not take longer than this.
    static let seedTimeLimitSeconds = 600.0
    var seeds: Bool { mix?.needsSeed == true && seed > 0 }

    /// The shape that creates the records a mix reads: `seed` creates over the same connections.
    var seeding: LoadShape {
        LoadShape(
            connections: connections, depth: depth, warmupSeconds: 0, durationSeconds: Self.seedTimeLimitSeconds, requests: seed,
            clientThreads: clientThreads, templates: templates, serverIDs: false, verifyEvery: verifyEvery, liveStatus: liveStatus)
    }
}

/// What one run measured, before the target adds its server-side figures.
struct LoadResult {
    var measuredSeconds: Double
    var tally: WorkerTally
    var clientCPUSeconds: Double
    var processCPUSeconds: Double
    var hitHardStop: Bool
    var incomplete: Bool
    var notes: [String] = []
    var throughput: Double { measuredSeconds > 0 ? Double(tally.recorded) / measuredSeconds : 0 }
}

/// Connects, runs the load threads through warmup, measuring and draining,
/// prints the live status line, and merges what the threads measured.
struct LoadRun {
    let shape: LoadShape
    let label: String
    let runTag: String
    /// With a mix: the run tag of the seeding phase (the ids it created).
    var seedTag: String? = nil

    func run(socketPath: String, verify: Bool, window: any MeasurementWindow) async throws -> LoadResult {
        let budgets: [UInt64] = shape.requests.map { total in
            (0..<shape.connections).map { i in
                total / UInt64(shape.connections) + (UInt64(i) < total % UInt64(shape.connections) ? 1 : 0)
            }
        } ?? []
        var connections: [BenchConnection] = []
        for i in 0..<shape.connections {
            let pool = try FramePool(runTag: runTag, connection: i, templates: shape.templates, serverIDs: shape.serverIDs)
            let mix = try shape.mix.map { mix throws(BenchError) in
                (mix, try MixFrames(mix: mix, seed: shape.seed, seedConnections: shape.connections, seedTag: seedTag ?? runTag + "s", creates: pool))
            }
            let fd = try UnixSocket.connectAndHandshake(path: socketPath)
            connections.append(BenchConnection(
                fd: fd, index: i, depth: shape.depth, pool: pool, mix: mix,
                budget: budgets.isEmpty ? nil : budgets[i], verifyEvery: verify ? shape.verifyEvery : 0))
        }
        let threadCount = max(1, min(shape.clientThreads, shape.connections))
        let control = RunControl(requestsPerConnection: budgets, workers: threadCount)
        let workers = (0..<threadCount).map { t in
            LoadWorker(
                connections: connections.enumerated().filter { $0.offset % threadCount == t }.map(\.element),
                control: control, live: control.workers[t])
        }
        connections.removeAll()

        let start = MonotonicClock.now()
        var measureStart: UInt64?
        var measureEnd: UInt64?
        var processCPUStart: UInt64 = 0
        var processCPUEnd: UInt64 = 0
        func beginMeasuring(_ now: UInt64) {
            measureStart = now
            processCPUStart = MonotonicClock.processCPU()
            window.begin()
            control.set(.measuring)
        }
        func endMeasuring(_ now: UInt64) {
            control.set(.draining)
            measureEnd = now
            processCPUEnd = MonotonicClock.processCPU()
            window.end()
        }
        if shape.warmupSeconds <= 0 { beginMeasuring(start) }
        let threads = try workers.enumerated().map { i, worker in
            try PosixThread { worker.run() }
        }

        let hardStop = start + UInt64(shape.hardStopSeconds * 1e9)
        var hitHardStop = false
        var incomplete = false
        var status = LiveStatusLine(enabled: shape.liveStatus, label: label, shape: shape, start: start)
        while true {
            try? await Task.sleep(for: .milliseconds(10))
            let now = MonotonicClock.now()
            switch control.phase {
            case .warmup:
                if now >= start + UInt64(shape.warmupSeconds * 1e9) { beginMeasuring(now) }
            case .measuring:
                let timeUp = now >= measureStart! + UInt64(shape.durationSeconds * 1e9)
                if control.fixedCount, control.allBudgetsDone {
                    endMeasuring(now)
                } else if timeUp {
                    incomplete = control.fixedCount
                    endMeasuring(now)
                }
            case .draining, .stop:
                break
            }
            if control.allFinished { break }
            if now >= hardStop, control.phase != .stop {
                hitHardStop = true
                if measureEnd == nil { endMeasuring(now) }
                control.set(.stop)
            }
            if hitHardStop, now >= hardStop + 2_000_000_000 { break }
            status.update(now: now, control: control, measureStart: measureStart)
        }
        status.finish()
        if !control.allFinished {
            // A thread that does not exit within 2 s of the hard stop: report
            // without it rather than hang (the process exits after the report).
            return LoadResult(
                measuredSeconds: 0, tally: WorkerTally(), clientCPUSeconds: 0, processCPUSeconds: 0,
                hitHardStop: true, incomplete: true, notes: ["load threads did not stop; no results"])
        }
        for thread in threads { thread.join() }

        let merged = WorkerTally()
        merged.prepare(for: shape.mix)
        var clientCPU: UInt64 = 0
        for worker in workers {
            let t = worker.tally
            merged.histogram.add(t.histogram)
            for (i, m) in t.methods.enumerated() {
                if let m { merged.methods[i]?.add(m) }
            }
            for i in merged.byCode.indices { merged.byCode[i] += t.byCode[i] }
            merged.recorded += t.recorded
            merged.alreadyExisted += t.alreadyExisted
            merged.protocolErrors += t.protocolErrors
            merged.verified += t.verified
            merged.verifyFailures += t.verifyFailures
            merged.unanswered += t.unanswered
            merged.connectionFailures += t.connectionFailures
            for e in t.sampleErrors { merged.noteError(e) }
            clientCPU += t.cpuInWindow
            if let last = t.lastRecordedAt { merged.lastRecordedAt = max(merged.lastRecordedAt ?? 0, last) }
        }
        var seconds = 0.0
        if let s = measureStart, let e = measureEnd {
            // --requests: the window ends at the last answer, not at the poll that noticed it.
            let end = control.fixedCount && !incomplete ? min(e, merged.lastRecordedAt ?? e) : e
            seconds = Double(end &- s) / 1e9
        }
        return LoadResult(
            measuredSeconds: seconds, tally: merged,
            clientCPUSeconds: Double(clientCPU) / 1e9,
            processCPUSeconds: Double(processCPUEnd &- processCPUStart) / 1e9,
            hitHardStop: hitHardStop, incomplete: incomplete)
    }
}
