import IdentityRiskCore
import IdentityRiskServer
import IdentityRiskStore
import Logging
import Synchronization

/// `--spawn`: `IdentityRiskServer` and its store in this process, on a scratch
/// socket, as `iriskd` wires them. Cheapest to set up, but the server shares
/// the process with the load threads: its RSS includes irisk-bench's, and its
/// CPU is estimated as process CPU minus the load threads' (`--spawn-process`
/// measures the real daemon separately).
final class InProcessServer: BenchTarget {
    let name = "iriskd"
    let socketPath: String
    let speaksIdentityRisk = true
    var window: any MeasurementWindow { statistics }
    private let statistics: StatisticsWindow
    private let server: IdentityRiskServer
    private let sqlite: SQLiteEventStore?
    private let storeText: String
    private let baseline: ProcessMetrics.Memory?
    private let fsync: FsyncProbe.Result?
    /// Set when the server task returns.
    private let stopped = Flag()

    private final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    init(store spec: StoreSpec, depth: Int, scratch: TemporaryDirectory) throws {
        baseline = ProcessMetrics.memory()
        socketPath = scratch.path + "/iriskd.sock"
        let logger = Logger(label: "irisk-bench.server")
        let store = try spec.open(logger: logger)
        sqlite = store as? SQLiteEventStore
        if let path = spec.databasePath {
            fsync = FsyncProbe.run(directory: StoreSpec.directory(of: path))
            storeText = "sqlite (\(path))"
        } else {
            fsync = nil
            storeText = spec.description
        }
        statistics = StatisticsWindow(store: sqlite)
        server = IdentityRiskServer(
            configuration: ServerConfiguration(
                socketPath: socketPath,
                // One uid opens every connection here: the load's and up to 4,096 watchers'.
                maxConnections: 8192,
                maxConnectionsPerUID: 8192,
                maxCallsInFlightPerConnection: max(1024, depth),
                maxStreams: 8192,
                shutdownGraceMilliseconds: 2000,
                serverVersion: "irisk-bench"),
            store: store,
            logger: logger)
    }

    /// Starts the server task and returns once it listens.
    func start() async throws {
        let server = self.server
        let stopped = self.stopped
        Task {
            do {
                try await server.run()
            } catch {
                Logger(label: "irisk-bench").error("in-process server failed: \(error)")
            }
            stopped.value.store(true, ordering: .relaxed)
        }
        try await server.waitUntilListening()
    }

    func figures(for result: LoadResult) -> ServerFigures {
        let memory = ProcessMetrics.memory()
        var figures = ServerFigures(
            kind: "in-process", store: storeText,
            rssBytes: memory?.rssBytes, peakRSSBytes: memory?.peakBytes, baselineRSSBytes: baseline?.rssBytes)
        figures.setInProcessCPU(result)
        figures.commits = statistics.commits
        figures.fsyncProbeMilliseconds = fsync?.medianMilliseconds
        figures.notes.append("in-process: RSS is irisk-bench's whole process (load threads included); CPU is process minus load threads. Use --spawn-process for the daemon alone.")
        if fsync?.filesystemIsTmpfs == true {
            figures.notes.append("the database is on tmpfs: fsync is a no-op there, commit times are not disk times")
        }
        return figures
    }

    func stop() async {
        server.beginShutdown()
        for _ in 0..<500 where !stopped.value.load(ordering: .relaxed) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        await sqlite?.close()
    }
}
