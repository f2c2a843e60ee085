public import IdentityRiskCore

extension PostgresEventStore {
    /// Tuning for the write queue, the change log and the connections (the
    /// pool's size is ``PostgresLocation/poolSize``, from the URL).
    public struct Configuration: Sendable, Hashable {
        /// Writes (creates, updates, deletes) that may wait for a transaction;
        /// beyond it a write is refused with `resourceExhausted` at once.
        public var maxQueuedWrites: Int
        /// Most creates committed in one transaction (1 ... 1,000).
        public var maxBatchSize: Int
        /// How much of the change log is kept (default 7 days, 1,000,000 changes).
        public var changeRetention: ChangeRetention
        /// How often this host prunes the change log (when retention has a bound).
        public var changePruneInterval: Duration
        /// How often this host reads the changes other hosts committed into its
        /// ``PostgresEventStore/changeFeed`` (its own are published as they
        /// commit), whether or not a notification came: the safety net under
        /// ``listensForChanges``, so a lost notification delays a change by at
        /// most this long and never loses it.
        public var changePollInterval: Duration
        /// Whether one of the pool's connections LISTENs for the other hosts'
        /// commits (`NOTIFY irisk_changes`, sent by every writing transaction)
        /// and catches up at once; otherwise only the poll does.
        public var listensForChanges: Bool
        /// How long opening one connection may take.
        public var connectTimeout: Duration
        /// How long one store operation (a transaction, a read) may take with
        /// its connection; past it the call answers `unavailable` and the
        /// connection is closed, so a dead connection cannot hold the group
        /// commit (at least ``connectTimeout``).
        public var operationTimeout: Duration

        public init(
            maxQueuedWrites: Int = 8192, maxBatchSize: Int = 512, changeRetention: ChangeRetention = .default,
            changePruneInterval: Duration = .seconds(1), changePollInterval: Duration = .seconds(1),
            listensForChanges: Bool = true, connectTimeout: Duration = .seconds(5), operationTimeout: Duration = .seconds(30)
        ) {
            self.maxQueuedWrites = maxQueuedWrites
            self.maxBatchSize = maxBatchSize
            self.changeRetention = changeRetention
            self.changePruneInterval = changePruneInterval
            self.changePollInterval = changePollInterval
            self.listensForChanges = listensForChanges
            self.connectTimeout = connectTimeout
            self.operationTimeout = operationTimeout
        }

        /// Most creates in one transaction: 20 bound columns each stay far
        /// below PostgreSQL's 65,535 parameters per statement.
        public static let maxBatchSizeLimit = 1000

        /// What is wrong with these settings, if anything.
        var problem: String? {
            if maxQueuedWrites < 1 { return "maxQueuedWrites must be at least 1, got \(maxQueuedWrites)" }
            if !(1...Self.maxBatchSizeLimit).contains(maxBatchSize) {
                return "maxBatchSize must be in 1 ... \(Self.maxBatchSizeLimit), got \(maxBatchSize)"
            }
            if let maxCount = changeRetention.maxCount, maxCount < 1 { return "changeRetention.maxCount must be at least 1, got \(maxCount)" }
            if let maxAge = changeRetention.maxAge, maxAge <= .zero { return "changeRetention.maxAge must be positive, got \(maxAge)" }
            for (name, value) in [("changePruneInterval", changePruneInterval), ("changePollInterval", changePollInterval), ("connectTimeout", connectTimeout)]
            where value <= .zero {
                return "\(name) must be positive, got \(value)"
            }
            if operationTimeout < connectTimeout { return "operationTimeout must be at least connectTimeout (\(connectTimeout)), got \(operationTimeout)" }
            return nil
        }
    }
}
