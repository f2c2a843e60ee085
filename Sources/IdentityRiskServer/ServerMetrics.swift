public import CoreMetrics
import IdentityRiskCore
import IdentityRiskService
import NIOCore
import Synchronization

/// The server's metrics, through swift-metrics: created only when iriskd is
/// given `--metrics-socket` or `--metrics-listen` (without them the server has
/// none and no metrics code runs on a call's path).
///
/// Only two things are recorded as they happen: each call's duration (one
/// histogram per method, `irisk_request_duration_seconds{method}`) and each
/// store commit (`irisk_store_commit_batch_size`,
/// `irisk_store_commit_duration_seconds`, once per transaction). Everything
/// else is read from the counters Stats reads, when a scrape asks
/// (``IdentityRiskServer/refreshMetrics()``): counts become counter increments
/// by their growth since the last scrape, levels become gauges.
public final class ServerMetrics: Sendable {
    /// Metric names (Prometheus style; the factory may rename them).
    public enum Name {
        public static let requests = "irisk_requests_total"
        public static let requestDuration = "irisk_request_duration_seconds"
        public static let records = "irisk_store_records"
        public static let storeSize = "irisk_store_size_bytes"
        public static let queueDepth = "irisk_store_queue_depth"
        public static let storeAvailable = "irisk_store_available"
        public static let commitBatchSize = "irisk_store_commit_batch_size"
        public static let commitDuration = "irisk_store_commit_duration_seconds"
        public static let connections = "irisk_connections_open"
        public static let callsInFlight = "irisk_calls_in_flight"
        public static let watchers = "irisk_watchers_open"
        public static let slowWatchersEnded = "irisk_slow_watchers_ended_total"
        public static let refusedConnections = "irisk_connections_refused_total"
        public static let connectionTimeouts = "irisk_connection_timeouts_total"
        public static let uptime = "irisk_uptime_seconds"
    }

    private let factory: any MetricsFactory
    /// The request durations, lock-free per event loop (``RequestDurationHistograms``),
    /// rendered by ``requestDurationExposition()`` beside swift-prometheus' registry.
    private let durations: RequestDurationHistograms
    private let commitBatch: Recorder
    private let commitDuration: CoreMetrics.Timer
    private let gauges: Gauges
    private let scrape = Mutex(ScrapeState())

    private struct Gauges: Sendable {
        let records, storeSize, queueDepth, storeAvailable, connections, callsInFlight, watchers, uptime: Recorder
    }

    /// What the last scrape saw, to turn totals into increments.
    private struct ScrapeState: Sendable {
        var calls = CallTotals.zero
        var requestCounters: [Int: CoreMetrics.Counter] = [:]
        var seen: [String: Int] = [:]
        var counters: [String: CoreMetrics.Counter] = [:]
    }

    /// `loops`: the server's event loops (one more set serves a loop outside them).
    public init(factory: any MetricsFactory, loops: Int? = nil) {
        let loops = loops ?? System.coreCount
        self.factory = factory
        durations = RequestDurationHistograms(loops: loops)
        commitBatch = Recorder(label: Name.commitBatchSize, aggregate: true, factory: factory)
        commitDuration = CoreMetrics.Timer(label: Name.commitDuration, factory: factory)
        func gauge(_ name: String) -> Recorder { Recorder(label: name, aggregate: false, factory: factory) }
        gauges = Gauges(
            records: gauge(Name.records), storeSize: gauge(Name.storeSize), queueDepth: gauge(Name.queueDepth),
            storeAvailable: gauge(Name.storeAvailable), connections: gauge(Name.connections), callsInFlight: gauge(Name.callsInFlight),
            watchers: gauge(Name.watchers), uptime: gauge(Name.uptime))
    }

    /// On a call's event loop, when it is answered.
    @inline(__always)
    func recordDuration(loop: Int, methodSlot: Int, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let (seconds, attoseconds) = elapsed.components
        durations.record(loop: loop, methodSlot: methodSlot, nanoseconds: UInt64(clamping: seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000))
    }

    /// `irisk_request_duration_seconds` in the exposition format, to append to
    /// the registry's output.
    public func requestDurationExposition() -> String { durations.render(name: Name.requestDuration) }

    /// On the store's writer thread, once per committed transaction.
    func record(_ commit: CommitSample) {
        commitBatch.record(commit.batchSize)
        commitDuration.recordNanoseconds(Int64(clamping: commit.nanoseconds))
    }

    /// Brings the counters and gauges up to `totals`, `statistics` and `store`.
    func update(calls totals: CallTotals, statistics: ServerStatistics, store: StoreStatus, uptimeSeconds: Double) {
        gauges.records.record(Int64(clamping: store.records ?? 0))
        gauges.storeSize.record(Int64(clamping: store.sizeBytes ?? 0))
        gauges.queueDepth.record(store.queueDepth)
        gauges.storeAvailable.record(store.available ? 1 : 0)
        gauges.connections.record(statistics.openConnections)
        gauges.callsInFlight.record(statistics.callsInFlight)
        gauges.watchers.record(statistics.openStreams)
        gauges.uptime.record(uptimeSeconds)
        let factory = self.factory
        scrape.withLock { state in
            let grown = totals.since(state.calls)
            state.calls = totals
            for method in 0..<CallCounters.methodSlots {
                for code in [nil] + IdentityRiskError.Code.all {
                    let slot = CallCounters.slot(method: method, code: code)
                    let delta = grown.counts[slot]
                    // A series appears with its first call, so idle methods and codes add no lines.
                    guard delta > 0 || state.requestCounters[slot] != nil else { continue }
                    let counter = state.requestCounters[slot] ?? {
                        let name = method == 0 ? "none" : IdentityRiskMethods.all[method - 1].descriptor.name
                        let made = CoreMetrics.Counter(
                            label: Name.requests, dimensions: [("method", name), ("code", code.map { "\($0)" } ?? "ok")], factory: factory)
                        state.requestCounters[slot] = made
                        return made
                    }()
                    if delta > 0 { counter.increment(by: Int64(clamping: delta)) }
                }
            }
            func total(_ name: String, _ dimensions: [(String, String)], _ value: Int) {
                let key = name + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
                let counter = state.counters[key] ?? {
                    let made = CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
                    state.counters[key] = made
                    return made
                }()
                let delta = value - (state.seen[key] ?? 0)
                state.seen[key] = value
                if delta > 0 { counter.increment(by: delta) }
            }
            total(Name.slowWatchersEnded, [], statistics.slowStreamsEnded)
            total(Name.refusedConnections, [], statistics.refusedConnections)
            total(Name.connectionTimeouts, [("kind", "frame_read")], statistics.frameReadTimeouts)
            total(Name.connectionTimeouts, [("kind", "idle")], statistics.idleTimeouts)
            total(Name.connectionTimeouts, [("kind", "unwritable")], statistics.unwritableTimeouts)
        }
    }
}
