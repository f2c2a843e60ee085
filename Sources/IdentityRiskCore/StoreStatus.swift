/// What a store reports about itself for Health and Stats, cheaply: every
/// field is read from state the store keeps anyway (no query, no scan), so
/// a health probe every second costs nothing measurable.
public struct StoreStatus: Sendable, Hashable {
    /// `"sqlite"`, `"memory"`, `"postgresql"`, ...
    public var kind: String
    /// Where the records live: the database file's path (SQLite); `nil` for
    /// the memory store, or a networked store that names a ``host`` instead.
    public var location: String?
    /// A networked store's server (PostgreSQL: host or host:port); `nil` otherwise.
    public var host: String?
    /// Bytes on disk (SQLite: the main file plus its `-wal`); `nil` when not
    /// known (memory, a networked store).
    public var sizeBytes: UInt64?
    /// Records stored (deleted ones not counted): a counter the store keeps,
    /// counted once at open and maintained as writes commit; `nil` if unknown.
    public var records: UInt64?
    /// Writes (creates, updates, deletes) waiting for the group commit.
    public var queueDepth: Int
    /// Whether the store can serve calls now; when not, ``problem`` says why.
    public var available: Bool
    public var problem: String?

    public init(
        kind: String, location: String? = nil, host: String? = nil, sizeBytes: UInt64? = nil, records: UInt64? = nil,
        queueDepth: Int = 0, available: Bool = true, problem: String? = nil
    ) {
        self.kind = kind
        self.location = location
        self.host = host
        self.sizeBytes = sizeBytes
        self.records = records
        self.queueDepth = queueDepth
        self.available = available
        self.problem = problem
    }
}

/// The group commit as a store's writer measured it over its last commits
/// (a bounded window: ``window`` commits at most). Percentiles are nearest-rank.
public struct CommitStatistics: Sendable, Hashable {
    /// Transactions committed since the store opened.
    public var commits: UInt64
    /// How many of the latest commits the percentiles cover.
    public var window: Int
    /// Writes per transaction.
    public var batchSize: Percentiles
    /// Wall time per transaction (writes and fsync), in microseconds.
    public var latencyMicroseconds: Percentiles

    public struct Percentiles: Sendable, Hashable {
        public var p50: UInt64
        public var p90: UInt64
        public var p99: UInt64
        public var max: UInt64

        public init(p50: UInt64 = 0, p90: UInt64 = 0, p99: UInt64 = 0, max: UInt64 = 0) {
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.max = max
        }

        /// Nearest-rank percentiles of `values` (sorted here); zeros when empty.
        public init(of values: [UInt64]) {
            guard !values.isEmpty else {
                self.init()
                return
            }
            let sorted = values.sorted()
            func rank(_ p: Int) -> UInt64 { sorted[Swift.max(0, (sorted.count * p + 99) / 100 - 1)] }
            self.init(p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[sorted.count - 1])
        }
    }

    public init(commits: UInt64, window: Int, batchSize: Percentiles, latencyMicroseconds: Percentiles) {
        self.commits = commits
        self.window = window
        self.batchSize = batchSize
        self.latencyMicroseconds = latencyMicroseconds
    }
}

/// One committed transaction, as a store hands it to a commit observer
/// (``EventStore/observeCommits(_:)``: the Prometheus histograms).
public struct CommitSample: Sendable, Hashable {
    public var batchSize: Int
    public var nanoseconds: UInt64

    public init(batchSize: Int, nanoseconds: UInt64) {
        self.batchSize = batchSize
        self.nanoseconds = nanoseconds
    }
}
