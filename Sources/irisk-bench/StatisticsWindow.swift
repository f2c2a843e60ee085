import IdentityRiskStore
import Synchronization

/// In-process SQLite: the store's counters at the window's edges, so that the
/// report shows the commits of the measured creates only (not the warmup's).
final class StatisticsWindow: MeasurementWindow {
    private let store: SQLiteEventStore?
    private let snapshots = Mutex<(begin: SQLiteEventStore.Statistics?, end: SQLiteEventStore.Statistics?)>((nil, nil))

    init(store: SQLiteEventStore?) {
        self.store = store
    }

    func begin() {
        guard let store else { return }
        let s = store.statistics
        snapshots.withLock { $0.begin = s }
    }

    func end() {
        guard let store else { return }
        let s = store.statistics
        snapshots.withLock { $0.end = s }
    }

    /// Commits between `begin()` and `end()`.
    var commits: ServerFigures.Commits? {
        let (b, e) = snapshots.withLock { ($0.begin, $0.end) }
        guard let b, let e else { return nil }
        let batches = e.batches - b.batches
        let creates = e.creates - b.creates
        let nanos = e.totalCommitNanoseconds &- b.totalCommitNanoseconds
        return ServerFigures.Commits(
            batches: batches, creates: creates,
            averageBatchSize: batches == 0 ? 0 : Double(creates) / Double(batches),
            largestBatch: e.largestBatch,
            averageCommitMilliseconds: batches == 0 ? 0 : Double(nanos) / Double(batches) / 1e6,
            failedBatches: e.failedBatches - b.failedBatches,
            refusedCreates: e.refusedCreates - b.refusedCreates)
    }
}
