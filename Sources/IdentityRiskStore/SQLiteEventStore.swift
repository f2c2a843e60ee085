import Foundation
import GRDB
public import IdentityRiskCore
public import Logging

/// The durable ``EventStore``: one SQLite database file in WAL mode, written
/// through a group-commit queue (see `GroupCommitWriter`), read through a pool
/// of concurrent reader connections.
///
/// Durability: `PRAGMA synchronous = FULL` (plus `fullfsync` where the platform
/// has it), so ``create(_:)`` returns only after its transaction is committed and
/// fsynced. Many concurrent creates share one transaction and one fsync.
///
/// Schema `v1` (see `SQLiteSchema`): table `identity_risk_events`, datetimes as
/// `<name>_ticks` (the instant, sort/filter key) plus offset, fraction digits and
/// `Z` flag, so values read back exactly as written.
///
/// Indexed filters (each index ends in `created_ticks, id`, so a filter on its
/// leading column with the default `createdDateTime` order reads one page
/// straight from the index, whatever the table size):
/// - no filter / any `createdDateTime` range: `(created_ticks, id)`
/// - `riskEventDateTime` order or range: `(risk_event_ticks, id)`
/// - `userId eq`: `(user_id, created_ticks, id)`
/// - `userPrincipalName eq`: `(user_principal_name, created_ticks, id)`
/// - `riskLevel` (eq, or ranges as IN lists): `(risk_level, created_ticks, id)`
/// - `riskEventStatus` (likewise): `(risk_event_status, created_ticks, id)`
/// - `riskEventType eq`: `(risk_event_type, created_ticks, id)`
/// - `id eq`: the unique index on `id`
///
/// `userDisplayName` and `closedDateTime` are not indexed: alone, they scan in
/// the order's index until a page is full (fast when matches are common, a full
/// scan when they are rare). Descending orders read the same indexes backwards
/// and sort only the ties on the key by `id`.
///
/// Results of ``create(_:)``, ``get(id:)`` and ``list(_:)`` are those of
/// `MemoryEventStore` for the same sequence of calls, with two documented
/// limits: `list` requires `1 ... ListQuery.maxTop` for `top` and refuses
/// filters nested deeper than 400 levels (SQLite's expression depth limit),
/// both with `invalidArgument`.
public final class SQLiteEventStore: EventStore {
    /// Tuning for the write queue and connections.
    public struct Configuration: Sendable, Hashable {
        /// Creates that may wait for a transaction; beyond it `create` throws
        /// `resourceExhausted` at once.
        public var maxQueuedCreates: Int
        /// Most creates committed in one transaction.
        public var maxBatchSize: Int
        /// How long a write waits for a lock held by another process.
        public var busyTimeout: Duration
        /// Concurrent reader connections for `get` and `list`.
        public var maxReaders: Int

        public init(maxQueuedCreates: Int = 8192, maxBatchSize: Int = 1024, busyTimeout: Duration = .seconds(5), maxReaders: Int = 4) {
            self.maxQueuedCreates = maxQueuedCreates
            self.maxBatchSize = maxBatchSize
            self.busyTimeout = busyTimeout
            self.maxReaders = maxReaders
        }
    }

    /// Counters since the store was opened, for benchmarks and Health.
    public struct Statistics: Sendable, Hashable {
        /// Transactions committed.
        public var batches = 0
        /// Creates answered by committed transactions (new, idempotent and conflicting).
        public var creates = 0
        /// Records newly stored.
        public var inserted = 0
        /// The largest batch committed.
        public var largestBatch = 0
        /// Transactions that failed; each of their creates was answered `unavailable`.
        public var failedBatches = 0
        public var failedCreates = 0
        /// Creates refused because the queue was full.
        public var refusedCreates = 0
        /// Wall time of the last committed transaction, inserts and fsync included.
        public var lastCommitNanoseconds: UInt64 = 0
        /// Sum of the wall times of all committed transactions.
        public var totalCommitNanoseconds: UInt64 = 0

        public init() {}

        /// `creates / batches`: how many creates share one fsync on average.
        public var averageBatchSize: Double { batches == 0 ? 0 : Double(creates) / Double(batches) }
    }

    public let kind = "sqlite"
    public var answersCreatesByCompletion: Bool { true }
    public let path: String
    public let configuration: Configuration
    private let pool: DatabasePool
    private let writer: GroupCommitWriter
    private let logger: Logger

    /// Opens (creating if needed, with its parent directory) the database at
    /// `path`, migrates it to the current schema and starts the writer.
    ///
    /// - Throws: ``IdentityRiskError`` `unavailable` naming `path` when the file
    ///   cannot be opened or written, is not a database or has a newer schema;
    ///   `invalidArgument` for a configuration value below 1.
    public init(path: String, configuration: Configuration = .init(), logger: Logger = Logger(label: "IdentityRiskStore.SQLiteEventStore")) throws {
        for (name, value) in [("maxQueuedCreates", configuration.maxQueuedCreates), ("maxBatchSize", configuration.maxBatchSize), ("maxReaders", configuration.maxReaders)] where value < 1 {
            throw IdentityRiskError(code: .invalidArgument, message: "SQLiteEventStore.Configuration.\(name) must be at least 1, got \(value)", target: name)
        }
        self.path = path
        self.configuration = configuration
        self.logger = logger
        pool = try Self.openPool(path: path, configuration: configuration)
        writer = GroupCommitWriter(
            pool: pool, path: path,
            maxQueuedCreates: configuration.maxQueuedCreates, maxBatchSize: configuration.maxBatchSize,
            logger: logger)
        writer.start()
        logger.info("opened SQLite event store", metadata: [
            "path": "\(path)", "schema": "\(Self.schemaVersion)", "synchronous": "FULL", "journal_mode": "WAL",
        ])
    }

    deinit {
        // Without close(), let the writer finish on its own: nothing can be
        // queued any more (every create holds a reference to the store).
        writer.beginShutdown()
    }

    /// Page cache of the writer connection (readers keep SQLite's 2 MiB default).
    static let writerCacheKiB = 16 * 1024

    /// WAL pages between automatic checkpoints (SQLite's default is 1,000). A
    /// checkpoint copies the WAL into the database and fsyncs it inside some
    /// commit; fewer, larger ones cost less per record. Bounds the WAL to ~40 MiB.
    static let walAutocheckpointPages = 10_000

    /// The newest migration this code knows.
    static let schemaVersion = "v1"

    private static func openPool(path: String, configuration: Configuration) throws(IdentityRiskError) -> DatabasePool {
        func unavailable(_ why: String) -> IdentityRiskError {
            IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)': \(why)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw unavailable("cannot create the directory '\(directory)': \(error.localizedDescription)")
            }
        }
        var config = GRDB.Configuration()
        config.label = "IdentityRisk.SQLiteEventStore"
        config.foreignKeysEnabled = false
        config.maximumReaderCount = configuration.maxReaders
        let (seconds, attoseconds) = configuration.busyTimeout.components
        config.busyMode = .timeout(max(0, Double(seconds) + Double(attoseconds) / 1e18))
        config.prepareDatabase { db in
            // Make fsync a real flush to stable storage on Apple platforms
            // (F_FULLFSYNC); a no-op elsewhere, where fsync already is.
            try db.execute(sql: "PRAGMA fullfsync = ON; PRAGMA checkpoint_fullfsync = ON")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            let migrator = SQLiteSchema.migrator
            try pool.writeWithoutTransaction { db in
                // DatabasePool sets synchronous=NORMAL when it enables WAL, after
                // prepareDatabase; the writer is the only connection that writes.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // Every create touches 8 B-trees at scattered positions; a
                // page cache this size keeps their inner pages in memory
                // (SQLite's default is 2 MiB). Allocated only as used.
                try db.execute(sql: "PRAGMA cache_size = -\(Self.writerCacheKiB)")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.walAutocheckpointPages)")
                let applied = try migrator.appliedIdentifiers(db)
                let unknown = applied.subtracting(migrator.migrations).sorted()
                if !unknown.isEmpty {
                    throw unavailable("its schema was written by a newer version (unknown migrations: \(unknown.joined(separator: ", "))); upgrade this program")
                }
                if applied.isEmpty, try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'") != 0 {
                    throw unavailable("it is an SQLite database of another application (it has tables but no event store schema); refusing to modify it")
                }
                // Fails with SQLITE_READONLY when the file or directory is not writable.
                try db.execute(sql: "BEGIN IMMEDIATE; ROLLBACK")
            }
            try migrator.migrate(pool)
            return pool
        } catch let error as IdentityRiskError {
            throw error
        } catch let error as DatabaseError {
            throw unavailable(describe(error))
        } catch {
            throw unavailable("\(error)")
        }
    }

    // MARK: - EventStore

    /// Queues `event` for the next group commit and returns once it is durable.
    ///
    /// Throws `resourceExhausted` (with `retryAfterMilliseconds`) when
    /// `maxQueuedCreates` creates are already waiting, `unavailable` when the
    /// store is closed or the transaction failed (nothing was stored),
    /// `alreadyExists` for an existing id with other content, and `cancelled`
    /// when the task was cancelled before the create was queued. Once queued a
    /// create is not abandoned: its outcome is what was committed.
    public func create(_ event: IdentityRiskEvent) async throws -> CreateOutcome {
        try await writer.create(event)
    }

    /// Queues the create for the next group commit; `completion` runs on the
    /// writer thread after the commit (or at once if the queue is full).
    public func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        writer.submit(event, completion: completion)
    }

    public func get(id: String) async throws -> IdentityRiskEvent? {
        try await read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: SQLiteSchema.selectByIDSQL), arguments: [id]) else {
                return nil
            }
            return try SQLiteSchema.decode(row)
        }
    }

    public func list(_ query: ListQuery) async throws -> ListPage {
        let statement = try SQLiteListStatement(query)
        let top = query.top
        let order = query.order
        return try await read { db in
            // Unfiltered queries have 8 shapes and are cached; filtered ones are
            // prepared each time, so arbitrary filters cannot grow the cache.
            let select = statement.isCacheable ? try db.cachedStatement(sql: statement.sql) : try db.makeStatement(sql: statement.sql)
            let rows = try Row.fetchCursor(select, arguments: StatementArguments(statement.arguments))
            var events: [IdentityRiskEvent] = []
            events.reserveCapacity(min(top + 1, 64))
            while let row = try rows.next() {
                events.append(try SQLiteSchema.decode(row))
            }
            guard events.count > top else { return ListPage(events: events, next: nil) }
            events.removeLast(events.count - top)
            let last = events[events.count - 1]
            return ListPage(events: events, next: ListCursor(sortKey: order.sortKey(last), id: last.id))
        }
    }

    /// Counters since open; cheap (one lock).
    public var statistics: Statistics { writer.statistics }

    /// Stops accepting creates (they throw `unavailable` "store is closed"),
    /// commits and answers everything already queued, then closes the database.
    /// Reads are refused from the first call. Idempotent; concurrent calls all
    /// return once the database is closed.
    public func close() async {
        await writer.shutdown()
    }

    // MARK: - Diagnostics (internal: tests)

    /// The writer connection's journal mode and `synchronous` level (2 = FULL).
    func writerDurabilitySettings() async throws -> (journalMode: String, synchronous: Int) {
        try await pool.writeWithoutTransaction { db in
            let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? ""
            let synchronous = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            return (mode, synchronous)
        }
    }

    /// Runs `sql` on the writer connection, outside the group-commit queue.
    /// For tests that need a damaged row or an unusual connection state.
    func executeOnWriter(_ sql: String) async throws {
        try await pool.writeWithoutTransaction { db in try db.execute(sql: sql) }
    }

    /// Caps the database size (`PRAGMA max_page_count`) on the writer
    /// connection, so that tests can make commits fail with SQLITE_FULL.
    /// Returns the cap in effect, which SQLite never sets below the current size.
    @discardableResult
    func setWriterMaxPageCount(_ pages: Int) async throws -> Int {
        try await pool.writeWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pages)") ?? -1
        }
    }

    // MARK: - Errors

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        guard writer.isAccepting else { throw Self.closedError() }
        do {
            return try await pool.read(body)
        } catch let error as IdentityRiskError {
            throw error
        } catch is CancellationError {
            throw IdentityRiskError(code: .cancelled, message: "the read was cancelled")
        } catch let error as DatabaseError {
            if !writer.isAccepting { throw Self.closedError() }
            switch error.resultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_FORMAT:
                throw IdentityRiskError(code: .internal, message: "could not read the SQLite event store at '\(path)': \(Self.describe(error))")
            default:
                throw IdentityRiskError(code: .unavailable, message: "could not read the SQLite event store at '\(path)': \(Self.describe(error))", retryAfterMilliseconds: 1000)
            }
        }
    }

    static func closedError() -> IdentityRiskError {
        IdentityRiskError(code: .unavailable, message: "the SQLite event store is closed")
    }

    /// What every caller of a failed transaction gets: nothing of the batch was stored.
    static func commitError(_ error: any Error) -> IdentityRiskError {
        let busy: Bool
        let reason: String
        if let error = error as? DatabaseError {
            busy = error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
            reason = describe(error)
        } else {
            busy = false
            reason = "\(error)"
        }
        return IdentityRiskError(
            code: .unavailable,
            message: "could not commit: \(reason); the record was not stored",
            retryAfterMilliseconds: busy ? 100 : 1000
        )
    }

    /// SQLite's message plus its extended code, without the SQL text.
    static func describe(_ error: DatabaseError) -> String {
        let message = error.message ?? "SQLite error"
        return "\(message) (SQLite \(error.extendedResultCode.rawValue))"
    }
}
