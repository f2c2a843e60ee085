public import IdentityRiskCore

/// The stats method takes no parameters.
public struct StatsRequest: Sendable, Hashable {
    public init() {}
}

/// What a server has done since it started (the `stats` method): counts by
/// method and status, rates, the group commit, and what is open now.
///
/// The counts are the server's: a call is counted once, when it is answered
/// (a refusal before its method ran included), by the method it named and the
/// status it got.
public struct StatsReport: Sendable, Hashable {
    public var uptimeMilliseconds: UInt64
    /// Records stored now (``StoreStatus/records``; 0 when the store cannot tell).
    public var records: UInt64
    /// Creates answered OK, new records and idempotent repeats together.
    public var creates: UInt64
    /// Of ``creates``, those answered with the record already stored (a retried create).
    public var idempotentCreates: UInt64
    /// Updates and deletes answered OK.
    public var updates: UInt64
    public var deletes: UInt64
    /// Calls answered OK, over every method.
    public var callsOK: UInt64
    /// Calls answered with an error, by status code (only codes that occurred,
    /// in ``IdentityRiskError/Code/all`` order).
    public var errors: [ErrorCount]
    /// Per second over about the last 10 s (``recentWindowMilliseconds``).
    public var recent: Rates
    public var recentWindowMilliseconds: UInt64
    /// Per second since the server started.
    public var sinceStart: Rates
    /// The store's group commit; `nil` for a store without one (memory).
    public var commits: CommitStatistics?
    public var queueDepth: UInt32
    public var openConnections: UInt32
    /// Watch streams open now.
    public var openWatchers: UInt32

    public struct ErrorCount: Sendable, Hashable {
        public var code: IdentityRiskError.Code
        public var count: UInt64

        public init(code: IdentityRiskError.Code, count: UInt64) {
            self.code = code
            self.count = count
        }
    }

    public struct Rates: Sendable, Hashable {
        public var creates: Double
        public var updates: Double
        public var deletes: Double
        /// Every call answered, OK or not.
        public var calls: Double
        public var errors: Double

        public init(creates: Double = 0, updates: Double = 0, deletes: Double = 0, calls: Double = 0, errors: Double = 0) {
            self.creates = creates
            self.updates = updates
            self.deletes = deletes
            self.calls = calls
            self.errors = errors
        }
    }

    public init(
        uptimeMilliseconds: UInt64 = 0, records: UInt64 = 0, creates: UInt64 = 0, idempotentCreates: UInt64 = 0, updates: UInt64 = 0,
        deletes: UInt64 = 0, callsOK: UInt64 = 0, errors: [ErrorCount] = [], recent: Rates = Rates(), recentWindowMilliseconds: UInt64 = 0,
        sinceStart: Rates = Rates(), commits: CommitStatistics? = nil, queueDepth: UInt32 = 0, openConnections: UInt32 = 0,
        openWatchers: UInt32 = 0
    ) {
        self.uptimeMilliseconds = uptimeMilliseconds
        self.records = records
        self.creates = creates
        self.idempotentCreates = idempotentCreates
        self.updates = updates
        self.deletes = deletes
        self.callsOK = callsOK
        self.errors = errors
        self.recent = recent
        self.recentWindowMilliseconds = recentWindowMilliseconds
        self.sinceStart = sinceStart
        self.commits = commits
        self.queueDepth = queueDepth
        self.openConnections = openConnections
        self.openWatchers = openWatchers
    }

    /// Errors of every code together.
    public var errorTotal: UInt64 { errors.reduce(0) { $0 + $1.count } }
}
