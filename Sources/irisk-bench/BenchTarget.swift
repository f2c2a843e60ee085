/// Something irisk-bench sends creates to: the IdentityRisk server (in-process,
/// a child iriskd, or an external one) or the C echo floor.
protocol BenchTarget: AnyObject, Sendable {
    /// "iriskd" or "floor": the report's first column.
    var name: String { get }
    var socketPath: String { get }
    /// Whether answers are IdentityRisk responses (sampled full decode, error
    /// messages); the floor's are echoed requests.
    var speaksIdentityRisk: Bool { get }
    /// Snapshots taken at the measuring window's edges.
    var window: any MeasurementWindow { get }
    /// Server-side figures for the report, after a run.
    func figures(for result: LoadResult) -> ServerFigures
    /// Stops what the target started (a no-op for an external server).
    func stop() async
}

/// The server side of one run, as far as it can be observed.
struct ServerFigures: Codable, Sendable {
    struct Commits: Codable, Sendable {
        var batches: Int
        var creates: Int
        var averageBatchSize: Double
        var largestBatch: Int
        var averageCommitMilliseconds: Double
        var failedBatches: Int
        var refusedCreates: Int
    }

    /// How the server ran: "in-process", "child process", "external", "floor".
    var kind: String
    var store: String?
    var pid: Int32?
    var rssBytes: Int?
    var peakRSSBytes: Int?
    /// In-process only: this process's RSS before the server started.
    var baselineRSSBytes: Int?
    /// Server CPU in the measuring window, in seconds, and as cores busy.
    var cpuSeconds: Double?
    var cpuCores: Double?
    /// SQLite: group commits within the measuring window.
    var commits: Commits?
    /// SQLite: a raw write+fsync of 4 KiB in the database's directory, median ms.
    var fsyncProbeMilliseconds: Double?
    var notes: [String] = []
}

extension ServerFigures {
    /// In-process CPU: the whole process minus the load threads.
    mutating func setInProcessCPU(_ result: LoadResult) {
        guard result.measuredSeconds > 0 else { return }
        let server = max(0, result.processCPUSeconds - result.clientCPUSeconds)
        cpuSeconds = server
        cpuCores = server / result.measuredSeconds
    }
}
