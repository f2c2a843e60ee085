import IdentityRiskCore
public import IdentityRiskService
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Stats, the periodic summary line and the metrics' refresh: all read the
/// same ``CallCounters`` (summed on read) and the store's ``StoreStatus``.
extension IdentityRiskServer {
    /// What the server has done since it started (the `stats` method).
    public func statsReport() -> StatsReport {
        let now = NIODeadline.now()
        let uptimeNanoseconds = max(0, (now - startedAt).nanoseconds)
        let totals = callCounters.totals
        let recentBase = samples.withLock { $0.oldest }
        let statistics = self.statistics
        let store = self.store.status
        let sinceStart = Self.rates(totals.since(.zero), nanoseconds: uptimeNanoseconds)
        let recent: StatsReport.Rates
        let recentNanoseconds: Int64
        if let base = recentBase {
            recentNanoseconds = max(0, (now - base.at).nanoseconds)
            recent = Self.rates(totals.since(base.totals), nanoseconds: recentNanoseconds)
        } else {
            // The first second: the window is the whole uptime.
            recentNanoseconds = uptimeNanoseconds
            recent = sinceStart
        }
        return StatsReport(
            uptimeMilliseconds: UInt64(uptimeNanoseconds / 1_000_000),
            records: store.records ?? 0,
            creates: totals.creates,
            idempotentCreates: totals.idempotentCreates,
            updates: totals.updates,
            deletes: totals.deletes,
            callsOK: totals.ok,
            errors: totals.errorsByCode.filter { $0.1 > 0 }.map { StatsReport.ErrorCount(code: $0.0, count: $0.1) },
            recent: recent,
            recentWindowMilliseconds: UInt64(recentNanoseconds / 1_000_000),
            sinceStart: sinceStart,
            commits: self.store.commitStatistics,
            queueDepth: UInt32(clamping: store.queueDepth),
            openConnections: UInt32(clamping: statistics.openConnections),
            openWatchers: UInt32(clamping: statistics.openStreams))
    }

    static func rates(_ counts: CallTotals, nanoseconds: Int64) -> StatsReport.Rates {
        guard nanoseconds > 0 else { return StatsReport.Rates() }
        let seconds = Double(nanoseconds) / 1e9
        return StatsReport.Rates(
            creates: Double(counts.creates) / seconds, updates: Double(counts.updates) / seconds,
            deletes: Double(counts.deletes) / seconds, calls: Double(counts.calls) / seconds,
            errors: Double(counts.errors) / seconds)
    }

    /// Brings the metrics up to date; call before rendering a scrape. No-op without metrics.
    public func refreshMetrics() {
        guard let metrics else { return }
        metrics.update(
            calls: callCounters.totals, statistics: statistics, store: store.status,
            uptimeSeconds: Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9)
    }

    /// The once-a-second rate sampler and, if configured, the summary line's timer.
    func startTimers() -> [RepeatedTask] {
        let loop = group.next()
        var tasks = [
            loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
                let sample = RateSamples.Sample(at: .now(), totals: callCounters.totals)
                samples.withLock { $0.append(sample) }
            }
        ]
        let interval = configuration.summaryIntervalMilliseconds
        if interval > 0 {
            let last = Mutex(RateSamples.Sample(at: startedAt, totals: .zero))
            tasks.append(loop.scheduleRepeatedTask(initialDelay: .milliseconds(interval), delay: .milliseconds(interval)) { [self] _ in
                let now = RateSamples.Sample(at: .now(), totals: callCounters.totals)
                let previous = last.withLock { previous in
                    defer { previous = now }
                    return previous
                }
                logSummary(from: previous, to: now)
            })
        }
        return tasks
    }

    /// One info line for the interval, if it had any call: calls, creates, updates
    /// and deletes per second, errors by status (`errors_<code>=N`), queue depth.
    func logSummary(from previous: RateSamples.Sample, to now: RateSamples.Sample) {
        let counts = now.totals.since(previous.totals)
        guard counts.calls > 0 else { return }
        let nanoseconds = max(1, (now.at - previous.at).nanoseconds)
        let rates = Self.rates(counts, nanoseconds: nanoseconds)
        func rate(_ value: Double) -> Logger.MetadataValue { "\((value * 10).rounded() / 10)" }
        var metadata: Logger.Metadata = [
            "interval_s": "\(Double(nanoseconds / 1_000_000) / 1000)",
            "calls": "\(counts.calls)",
            "calls_per_s": rate(rates.calls),
            "creates_per_s": rate(rates.creates),
            "updates_per_s": rate(rates.updates),
            "deletes_per_s": rate(rates.deletes),
            "errors": "\(counts.errors)",
            "queue_depth": "\(store.status.queueDepth)",
            "connections": "\(limiter.open)",
        ]
        for (code, count) in counts.errorsByCode where count > 0 {
            metadata["errors_\(code)"] = "\(count)"
        }
        logger.info("summary", metadata: metadata)
    }
}

/// Totals once a second over about the last 10 s (a ring of 11), for the recent rates.
struct RateSamples: Sendable {
    struct Sample: Sendable {
        var at: NIODeadline
        var totals: CallTotals
    }

    static let capacity = 11
    private var ring: [Sample] = []
    private var next = 0

    mutating func append(_ sample: Sample) {
        if ring.count < Self.capacity {
            ring.append(sample)
        } else {
            ring[next] = sample
            next = (next + 1) % Self.capacity
        }
    }

    /// The oldest sample kept (about 10 s ago once the ring is full).
    var oldest: Sample? { ring.isEmpty ? nil : ring[ring.count < Self.capacity ? 0 : next] }
}

/// A late, weak way from the router's report closures to the server they
/// report on (the router is built in the server's initializer).
final class ServerBox: Sendable {
    private struct Weak: Sendable { weak var server: IdentityRiskServer? }
    private let reference = Mutex(Weak())

    var server: IdentityRiskServer? {
        get { reference.withLock { $0.server } }
        set { reference.withLock { $0.server = newValue } }
    }
}
