public import IdentityRiskCore

extension SQLiteEventStore {
    /// Tuning for the write queue and connections.
    public struct Configuration: Sendable, Hashable {
        /// Writes (creates, updates, deletes) that may wait for a transaction;
        /// beyond it a write is refused with `resourceExhausted` at once.
        public var maxQueuedWrites: Int
        /// Most writes committed in one transaction.
        public var maxBatchSize: Int
        /// How long a write waits for a lock held by another process.
        public var busyTimeout: Duration
        /// Concurrent reader connections for `get`, `list` and the change log.
        public var maxReaders: Int
        /// How much of the change log is kept (default 7 days, 1,000,000 changes).
        public var changeRetention: ChangeRetention
        /// How often the writer prunes the change log (when retention has a bound).
        public var changePruneInterval: Duration
        /// How often the log is copied into the database on a thread of its
        /// own while writes come in (at most once per interval, after a
        /// commit); `nil` leaves checkpoints to SQLite inside the writer's
        /// commits (every ``SQLiteEventStore/walAutocheckpointPages`` pages),
        /// where each one delays the writes behind it.
        public var checkpointInterval: Duration?

        public init(
            maxQueuedWrites: Int = 8192, maxBatchSize: Int = 1024, busyTimeout: Duration = .seconds(5), maxReaders: Int = 4,
            changeRetention: ChangeRetention = .default, changePruneInterval: Duration = .seconds(1),
            checkpointInterval: Duration? = .milliseconds(20)
        ) {
            self.checkpointInterval = checkpointInterval
            self.maxQueuedWrites = maxQueuedWrites
            self.maxBatchSize = maxBatchSize
            self.busyTimeout = busyTimeout
            self.maxReaders = maxReaders
            self.changeRetention = changeRetention
            self.changePruneInterval = changePruneInterval
        }

        /// What is wrong with the retention settings, if anything.
        var changeRetentionProblem: String? {
            if let maxCount = changeRetention.maxCount, maxCount < 1 {
                return "changeRetention.maxCount must be at least 1, got \(maxCount)"
            }
            if let maxAge = changeRetention.maxAge, maxAge <= .zero {
                return "changeRetention.maxAge must be positive, got \(maxAge)"
            }
            if changePruneInterval <= .zero {
                return "changePruneInterval must be positive, got \(changePruneInterval)"
            }
            if let checkpointInterval, checkpointInterval <= .zero {
                return "checkpointInterval must be positive (or nil), got \(checkpointInterval)"
            }
            return nil
        }
    }

    /// Counters since the store was opened, for benchmarks and Health.
    public struct Statistics: Sendable, Hashable {
        /// Transactions committed.
        public var batches = 0
        /// Writes answered by committed transactions, of every kind and outcome.
        public var writes = 0
        /// Creates answered by committed transactions (new, idempotent, conflicting, deleted id).
        public var creates = 0
        /// Records newly stored.
        public var inserted = 0
        /// Records replaced by an update.
        public var replaced = 0
        /// Records deleted (each left a tombstone).
        public var deleted = 0
        /// The largest batch committed, in writes.
        public var largestBatch = 0
        /// Transactions that failed; each of their writes was answered `unavailable`.
        public var failedBatches = 0
        public var failedWrites = 0
        /// Writes refused because the queue was full, and the creates among them.
        public var refusedWrites = 0
        public var refusedCreates = 0
        /// Wall time of the last committed transaction: its writes and commit
        /// (the log's flush follows on the ``WALSyncer`` thread).
        public var lastCommitNanoseconds: UInt64 = 0
        /// Sum of the wall times of all committed transactions.
        public var totalCommitNanoseconds: UInt64 = 0
        /// Checkpoint passes off the writer (``Configuration/checkpointInterval``);
        /// those that left every frame of the log in the database (the next
        /// write starts the log over); those that found the checkpoint lock
        /// taken by the writer's own checkpoint; those that failed (logged).
        public var checkpoints = 0
        public var completeCheckpoints = 0
        public var busyCheckpoints = 0
        public var failedCheckpoints = 0

        public init() {}

        /// `writes / batches`: how many writes share one fsync on average.
        public var averageBatchSize: Double { batches == 0 ? 0 : Double(writes) / Double(batches) }
    }
}
