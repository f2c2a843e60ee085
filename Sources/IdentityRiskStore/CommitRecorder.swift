import IdentityRiskCore

/// The batch size and duration of the last ``capacity`` commits, in a ring.
/// Written by the SQLite writer thread inside the lock it takes once per
/// commit anyway (so recording costs two stores, no extra lock); read by
/// Stats, which sorts a copy (at most ``capacity`` values) for percentiles.
struct CommitRecorder: Sendable {
    /// Commits the percentiles cover at most: at 100 commits a second, the last ~10 s.
    static let capacity = 1024

    private var batchSizes: [UInt32] = []
    private var durations: [UInt64] = []
    private var next = 0
    private(set) var commits: UInt64 = 0
    private var observer: (@Sendable (CommitSample) -> Void)?

    init() {
        batchSizes.reserveCapacity(Self.capacity)
        durations.reserveCapacity(Self.capacity)
    }

    /// Records one commit; returns the observer to call outside the lock, if any.
    mutating func record(batchSize: Int, nanoseconds: UInt64) -> (@Sendable (CommitSample) -> Void)? {
        commits &+= 1
        let size = UInt32(clamping: batchSize)
        if batchSizes.count < Self.capacity {
            batchSizes.append(size)
            durations.append(nanoseconds)
        } else {
            batchSizes[next] = size
            durations[next] = nanoseconds
            next = (next + 1) % Self.capacity
        }
        return observer
    }

    mutating func setObserver(_ observer: @escaping @Sendable (CommitSample) -> Void) {
        self.observer = observer
    }

    /// The raw window (copied out of the lock; ``summary(of:)`` sorts it outside).
    var window: (commits: UInt64, sizes: [UInt32], durations: [UInt64]) { (commits, batchSizes, durations) }

    static func summary(of window: (commits: UInt64, sizes: [UInt32], durations: [UInt64])) -> CommitStatistics {
        CommitStatistics(
            commits: window.commits,
            window: window.sizes.count,
            batchSize: .init(of: window.sizes.map { UInt64($0) }),
            latencyMicroseconds: .init(of: window.durations.map { $0 / 1000 }))
    }
}
