#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB
public import IdentityRiskCore
public import Logging
import ServiceLifecycle

/// The durable ``EventStore``: one SQLite database file in WAL mode, written
/// through a group-commit queue (see `GroupCommitWriter`), read through a pool
/// of concurrent reader connections.
///
/// Durability: a create, replace or delete is answered only after its
/// transaction is committed and the write-ahead log is flushed to disk
/// (`fdatasync`, see `WALSyncer`: the writer connection runs at
/// `synchronous = NORMAL` and the flush happens on a thread of its own while the
/// next batch is built). Many concurrent writes share one transaction and one
/// flush; a failed transaction applies none of them.
///
/// Lifecycle: a `Service`. ``run()`` keeps the store open until graceful
/// shutdown, then ``close()``s it: what is queued is committed and answered,
/// later calls throw `unavailable`. ``close()`` may also be called directly.
///
/// Schema `v3` (see `SQLiteSchema`): table `identity_risk_events`, datetimes as
/// `<name>_ticks` (the instant, sort/filter key) plus offset, fraction digits and
/// `Z` flag, so values read back exactly as written; a `version` per record;
/// tombstones of deleted ids; the change log. Databases written by v1 and v2
/// are migrated at open (a migrated database starts with an empty log).
///
/// The change log (Watch): every new record, replace and delete appends one
/// row to table `changes` in its batch's transaction, so a change is in the
/// log exactly when it is durable; its cursor (AUTOINCREMENT: never reused,
/// not even after pruning) follows commit order. Once the batch is on disk its
/// changes are published to ``changeFeed``, then the writers are answered.
/// ``list(_:)`` reads ``ListPage/cursor`` in the read transaction of the page,
/// so the page reflects exactly the changes up to it. Retention
/// (``Configuration/changeRetention``) prunes the oldest changes on the writer
/// thread, in chunks, between batches.
///
/// One database, one iriskd: the store holds an exclusive `flock` on the
/// database file while open (see `DatabaseFileLock`); a second store on the
/// same file, in this process or another, fails at open with `unavailable`
/// (innerCode `DatabaseInUse`) naming the path.
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
/// Results are those of `MemoryEventStore` for the same sequence of calls (the
/// conformance suite checks both), with two documented limits: `list` requires
/// `1 ... ListQuery.maxTop` for `top` and refuses filters nested deeper than
/// 400 levels (SQLite's expression depth limit), both with `invalidArgument`.
public final class SQLiteEventStore: EventStore {
    public let kind = "sqlite"
    public let path: String
    public let configuration: Configuration
    public let changeFeed: ChangeFeed
    private let pool: DatabasePool
    private let writer: GroupCommitWriter
    private let gets: SQLiteGetBatcher
    private let logger: Logger

    /// Opens (creating if needed, with its parent directory) the database at
    /// `path`, migrates it to the current schema and starts the writer.
    ///
    /// - Throws: ``IdentityRiskError`` `unavailable` naming `path` when the file
    ///   cannot be opened or written, is not a database, has a newer schema or
    ///   is open in another store (innerCode `DatabaseInUse`); `invalidArgument`
    ///   for a configuration value below 1 (or a retention or prune interval
    ///   that is not positive).
    public convenience init(
        path: String, configuration: Configuration = .init(), logger: Logger = Logger(label: "IdentityRiskStore.SQLiteEventStore")
    ) throws(IdentityRiskError) {
        try self.init(path: path, configuration: configuration, logger: logger, flush: nil)
    }

    /// `flush`: how committed batches are made durable before they are
    /// answered (tests replace it); `nil`, `fdatasync` of the `-wal` file.
    init(
        path: String, configuration: Configuration = .init(), logger: Logger = Logger(label: "IdentityRiskStore.SQLiteEventStore"),
        flush: WALSyncer.Flush?
    ) throws(IdentityRiskError) {
        for (name, value) in [("maxQueuedWrites", configuration.maxQueuedWrites), ("maxBatchSize", configuration.maxBatchSize), ("maxReaders", configuration.maxReaders)] where value < 1 {
            throw IdentityRiskError(code: .invalidArgument, message: "SQLiteEventStore.Configuration.\(name) must be at least 1, got \(value)", target: name)
        }
        if let problem = configuration.changeRetentionProblem {
            throw IdentityRiskError(code: .invalidArgument, message: "SQLiteEventStore.Configuration.\(problem)", target: "changeRetention")
        }
        self.path = path
        self.configuration = configuration
        self.logger = logger
        try Self.createDirectory(of: path)
        let lock = try DatabaseFileLock.acquire(path: path)
        let opened: DatabasePool
        let latest: ChangeCursor
        let records: Int64
        do throws(IdentityRiskError) {
            opened = try Self.openPool(path: path, configuration: configuration, logger: logger)
            do throws(IdentityRiskError) {
                latest = try Self.readBounds(pool: opened, path: path).latest
                records = try Self.countRecords(pool: opened, path: path)
            } catch {
                try? opened.close()
                throw error
            }
        } catch {
            // SQLite has closed the file (or never opened it): the lock can go.
            lock.release()
            throw error
        }
        let checkpointer: WALCheckpointer?
        do throws(IdentityRiskError) {
            checkpointer = try configuration.checkpointInterval.map { interval throws(IdentityRiskError) in
                try WALCheckpointer(path: path, interval: interval, logger: logger)
            }
        } catch {
            try? opened.close()
            lock.release()
            throw error
        }
        pool = opened
        changeFeed = ChangeFeed()
        changeFeed.reset(latest: latest)
        writer = GroupCommitWriter(
            pool: pool, path: path,
            maxQueuedWrites: configuration.maxQueuedWrites, maxBatchSize: configuration.maxBatchSize,
            changeFeed: changeFeed, retention: configuration.changeRetention, pruneInterval: configuration.changePruneInterval,
            records: records, flush: flush ?? { [wal = WALFile(databasePath: path)] in wal.flush() }, checkpointer: checkpointer,
            afterClose: { lock.release() },
            logger: logger)
        writer.start()
        gets = SQLiteGetBatcher(pool: pool, threads: Self.getThreads) { [writer, path] error in
            Self.readError(error, path: path, accepting: writer.isAccepting)
        }
        gets.start()
        logger.info("opened SQLite event store", metadata: [
            "path": "\(path)", "schema": "\(SQLiteSchema.currentVersion)", "synchronous": "NORMAL, each batch flushed before it is answered", "journal_mode": "WAL",
            "latest_change": "\(latest)", "records": "\(records)",
            "checkpoints": "\(configuration.checkpointInterval.map { "off the writer, at most every \($0)" } ?? "inside the writer's commits")",
        ])
    }

    deinit {
        // Without close(), let the writer finish on its own: nothing can be
        // queued any more (every caller holds a reference to the store).
        gets.beginFinish()
        writer.beginShutdown()
    }

    /// Page cache of the writer connection (readers keep SQLite's 2 MiB default).
    static let writerCacheKiB = 16 * 1024

    /// WAL pages between automatic checkpoints (SQLite's default is 1,000). A
    /// checkpoint copies the WAL into the database and fsyncs it inside some
    /// commit; fewer, larger ones cost less per record. Bounds the WAL to ~40 MiB.
    static let walAutocheckpointPages = 10_000

    /// Creates the parent directory of `path` if it is missing.
    private static func createDirectory(of path: String) throws(IdentityRiskError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw IdentityRiskError(
                    code: .unavailable,
                    message: "cannot open the SQLite event store at '\(path)': cannot create the directory '\(directory)': \(error.localizedDescription)")
            }
        }
    }

    /// Whether `path` is a file with at least one byte (an SQLite database to probe).
    private static func fileHasContent(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_size > 0
    }

    private static func openPool(path: String, configuration: Configuration, logger: Logger) throws(IdentityRiskError) -> DatabasePool {
        func unavailable(_ why: String) -> IdentityRiskError {
            IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)': \(why)")
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
            // Before a DatabasePool switches the file to WAL (a write): refuse
            // another application's database without touching it.
            if Self.fileHasContent(path) {
                var probeConfiguration = GRDB.Configuration()
                probeConfiguration.readonly = true
                let probe = try DatabaseQueue(path: path, configuration: probeConfiguration)
                let foreign = try probe.read { db in
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'") != 0
                        && !(try db.tableExists("grdb_migrations"))
                }
                try probe.close()
                if foreign {
                    throw unavailable("it is an SQLite database of another application (it has tables but no event store schema); refusing to modify it")
                }
            }
            let pool = try DatabasePool(path: path, configuration: config)
            let migrator = SQLiteSchema.migrator
            // Closed before the error is thrown, so that the caller can release the file lock.
            do {
                try pool.writeWithoutTransaction { db in
                    // The writer is the only connection that writes. NORMAL: a
                    // COMMIT does not wait for the disk; WALSyncer flushes the
                    // log before the batch is answered (see there why that is as
                    // durable as FULL). Set explicitly: DatabasePool's WAL default.
                    try db.execute(sql: "PRAGMA synchronous = NORMAL")
                    // Every create touches 8 B-trees at scattered positions (and
                    // probes the small tombstone one); a
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
                    if !applied.isEmpty, !applied.contains("v4") {
                        let records = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(SQLiteSchema.table)") ?? 0
                        logger.notice("migrating the SQLite event store to schema v4: rebuilding its 7 secondary indexes, once (about 10 s per million records on 2 cores)", metadata: [
                            "path": "\(path)", "records": "\(records)",
                        ])
                    }
                }
                try migrator.migrate(pool)
            } catch {
                try? pool.close()
                throw error
            }
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

    /// Open until graceful shutdown (or cancellation), then ``close()``.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Queues the create for the next group commit; `completion` runs on the
    /// writer thread after the commit, or at once when the queue is full
    /// (`resourceExhausted`, with `retryAfterMilliseconds`), the store is closed
    /// (`unavailable`) or the calling task is already cancelled (`cancelled`,
    /// nothing queued). A failed transaction answers `unavailable` and stored
    /// nothing; an existing id with other content is `alreadyExists`. Once
    /// queued a create is not abandoned: its outcome is what was committed.
    public func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        // Outside a task (an event-loop thread) this is false; inside, it is the
        // async create's task: a cancelled caller's create is not queued.
        if Task.isCancelled {
            completion(.failure(IdentityRiskError(code: .cancelled, message: "the create was cancelled before it was queued; nothing was stored")))
            return
        }
        writer.submit(.create(event, completion))
    }

    public func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<IdentityRiskEvent?, IdentityRiskError>, Never>) in
            get(id: id) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    public var answersGetsWithoutTask: Bool { true }

    /// Queued for a reader thread, which reads it with every other get waiting
    /// in one transaction (see `SQLiteGetBatcher`); `completion` runs there.
    public func get(id: String, completion: @escaping @Sendable (Result<IdentityRiskEvent?, IdentityRiskError>) -> Void) {
        guard writer.isAccepting else { return completion(.failure(Self.closedError())) }
        gets.get(id: id, completion: completion)
    }

    /// Reader threads answering gets: two cores here; more would only contend.
    static let getThreads = 2

    public func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage {
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
                events.append(try SQLiteRowDecoder.decode(row))
            }
            // The same read transaction (one WAL snapshot) as the page: the
            // page reflects exactly the changes up to this cursor.
            let cursor = try Self.bounds(db, path: self.path).latest
            guard events.count > top else { return ListPage(events: events, next: nil, cursor: cursor) }
            events.removeLast(events.count - top)
            let last = events[events.count - 1]
            return ListPage(events: events, next: ListCursor(sortKey: order.sortKey(last), id: last.id), cursor: cursor)
        }
    }

    // MARK: - The change log

    /// Most changes one ``changes(after:limit:)`` returns.
    public static let maxChangesLimit = 10_000

    /// Reads the `changes` table on a reader connection, in one read
    /// transaction with the bounds it checks `cursor` against.
    public func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change] {
        guard (1...Self.maxChangesLimit).contains(limit) else {
            throw IdentityRiskError.invalid([FieldViolation(field: "limit", description: "is \(limit); allowed: 1 ... \(Self.maxChangesLimit)")])
        }
        guard let after = Int64(exactly: cursor.rawValue) else {
            throw IdentityRiskError.cursorAhead(cursor, bounds: try await changeLogBounds())
        }
        let path = self.path
        return try await read { db in
            let bounds = try Self.bounds(db, path: path)
            if cursor < bounds.earliestResumable { throw IdentityRiskError.cursorExpired(cursor, bounds: bounds) }
            if cursor > bounds.latest { throw IdentityRiskError.cursorAhead(cursor, bounds: bounds) }
            let rows = try Row.fetchCursor(db.cachedStatement(sql: SQLiteSchema.selectChangesSQL), arguments: [after, limit])
            var changes: [Change] = []
            changes.reserveCapacity(min(limit, 256))
            while let row = try rows.next() {
                changes.append(try Self.decodeChange(row))
            }
            return changes
        }
    }

    /// `earliestResumable`: just before the oldest retained change (the
    /// latest when retention pruned everything); `latest`: the AUTOINCREMENT
    /// high-water mark, which pruning never lowers.
    public func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds {
        let path = self.path
        return try await read { db in try Self.bounds(db, path: path) }
    }

    /// Runs a retention pass now on the writer thread and returns once nothing
    /// is beyond retention (for tests and tools; the writer also prunes every
    /// ``Configuration/changePruneInterval``).
    public func pruneChangesNow() async {
        await writer.pruneNow()
    }

    /// The one COUNT(*) of the store's life, at open; commits keep the count from then on.
    private static func countRecords(pool: DatabasePool, path: String) throws(IdentityRiskError) -> Int64 {
        do {
            return try pool.read { db in try Int64.fetchOne(db, sql: "SELECT count(*) FROM \(SQLiteSchema.table)") ?? 0 }
        } catch let error as DatabaseError {
            throw IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)': \(describe(error))")
        } catch {
            throw IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)': \(error)")
        }
    }

    private static func readBounds(pool: DatabasePool, path: String) throws(IdentityRiskError) -> ChangeLogBounds {
        do {
            return try pool.read { db in try bounds(db, path: path) }
        } catch let error as IdentityRiskError {
            throw error
        } catch let error as DatabaseError {
            throw IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)': \(describe(error))")
        } catch {
            throw IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)': \(error)")
        }
    }

    private static func bounds(_ db: Database, path: String) throws -> ChangeLogBounds {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: SQLiteSchema.changeBoundsSQL)) else {
            return ChangeLogBounds(earliestResumable: .zero, latest: .zero)
        }
        func cursor(_ index: Int) throws(IdentityRiskError) -> ChangeCursor? {
            let value: DatabaseValue = row[index]
            if value.isNull { return nil }
            guard let raw = Int64.fromDatabaseValue(value), raw >= 0 else {
                throw IdentityRiskError(code: .internal, message: "the change log of '\(path)' holds a cursor that is not a non-negative integer (\(value)); the database file may be damaged")
            }
            return ChangeCursor(UInt64(raw))
        }
        let oldest = try cursor(0)
        let latest = max(try cursor(1) ?? .zero, oldest ?? .zero)
        let earliest = oldest.map { ChangeCursor($0.rawValue - 1) } ?? latest
        return ChangeLogBounds(earliestResumable: earliest, latest: latest)
    }

    /// A row of ``SQLiteSchema/selectChangesSQL``: the record's columns, then cursor and kind.
    private static func decodeChange(_ row: Row) throws(IdentityRiskError) -> Change {
        let event = try SQLiteRowDecoder.decode(row)
        let cursorValue: DatabaseValue = row[SQLiteSchema.columns.count]
        let kindValue: DatabaseValue = row[SQLiteSchema.columns.count + 1]
        guard let cursor = Int64.fromDatabaseValue(cursorValue), cursor > 0 else {
            throw IdentityRiskError(code: .internal, message: "a change of identityRiskEvent '\(event.id)' has no valid cursor (\(cursorValue)); the database file may be damaged")
        }
        guard let number = Int64.fromDatabaseValue(kindValue), let wire = UInt32(exactly: number), let kind = ChangeKind(wireNumber: wire) else {
            throw IdentityRiskError(code: .internal, message: "change \(cursor) of identityRiskEvent '\(event.id)' has an unknown kind (\(kindValue)); the database file may be damaged")
        }
        return Change(cursor: ChangeCursor(UInt64(cursor)), kind: kind, event: event)
    }

    /// Queued like a create; the stored version must be `expectedVersion`
    /// (else `versionMismatch`), the record is stored with version
    /// `expectedVersion + 1` and its stored `id` and `createdDateTime`.
    public func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent {
        try await writer.perform("update") { .replace(event, expectedVersion: expectedVersion, $0) }
    }

    /// Queued like a create: deletes the row and inserts its tombstone in the
    /// same transaction.
    public func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 {
        try await writer.perform("delete") { .delete(id: id, expectedVersion: expectedVersion, $0) }
    }

    /// Counters since open; cheap (one lock).
    public var statistics: Statistics { writer.statistics }

    /// The record counter and queue depth (one lock) and two `stat` calls
    /// (the file and its `-wal`); no query.
    public var status: StoreStatus {
        let (records, queueDepth) = writer.recordsAndQueueDepth
        let open = writer.isAccepting
        return StoreStatus(
            kind: kind, location: path, sizeBytes: Self.fileSize(path) + Self.fileSize(path + "-wal"),
            records: UInt64(max(0, records)), queueDepth: queueDepth,
            available: open, problem: open ? nil : "the SQLite event store is closed")
    }

    public var commitStatistics: CommitStatistics? { writer.commitStatistics }

    public func observeCommits(_ observer: @escaping @Sendable (CommitSample) -> Void) {
        writer.observeCommits(observer)
    }

    private static func fileSize(_ path: String) -> UInt64 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(max(0, info.st_size)) : 0
    }

    /// Stops accepting writes (they throw `unavailable` "store is closed"),
    /// commits and answers everything already queued, then closes the database.
    /// Reads are refused from the first call. Idempotent; concurrent calls all
    /// return once the database is closed.
    public func close() async {
        // Off the cooperative pool: finish() waits for the reader threads.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [gets] in
                gets.finish()
                continuation.resume()
            }
        }
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

    /// Queues `writes` in one step, so that (up to `maxBatchSize`) they are
    /// committed in one transaction, in order.
    func submitTogether(_ writes: [SQLiteWrite]) {
        writer.submit(writes)
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

    /// Runs `body` on a reader connection. An ``IdentityRiskError`` it throws
    /// (a damaged row's `internal`) passes through; GRDB's become ``readError(_:)``.
    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(IdentityRiskError) -> T {
        guard writer.isAccepting else { throw Self.closedError() }
        do {
            return try await pool.read(body)
        } catch let error as IdentityRiskError {
            throw error
        } catch {
            throw readError(error)
        }
    }

    /// A failed read: `cancelled`, `unavailable` (closed, busy, I/O) or
    /// `internal` (the file is damaged).
    private func readError(_ error: any Error) -> IdentityRiskError {
        Self.readError(error, path: path, accepting: writer.isAccepting)
    }

    static func readError(_ error: any Error, path: String, accepting: Bool) -> IdentityRiskError {
        if error is CancellationError {
            return IdentityRiskError(code: .cancelled, message: "the read was cancelled")
        }
        if !accepting { return Self.closedError() }
        guard let error = error as? DatabaseError else {
            return IdentityRiskError(code: .unavailable, message: "could not read the SQLite event store at '\(path)': \(error)", retryAfterMilliseconds: 1000)
        }
        switch error.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_FORMAT:
            return IdentityRiskError(code: .internal, message: "could not read the SQLite event store at '\(path)': \(Self.describe(error))")
        default:
            return IdentityRiskError(code: .unavailable, message: "could not read the SQLite event store at '\(path)': \(Self.describe(error))", retryAfterMilliseconds: 1000)
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
            message: "could not commit: \(reason); the change was not stored",
            retryAfterMilliseconds: busy ? 100 : 1000
        )
    }

    /// SQLite's message plus its extended code, without the SQL text.
    static func describe(_ error: DatabaseError) -> String {
        let message = error.message ?? "SQLite error"
        return "\(message) (SQLite \(error.extendedResultCode.rawValue))"
    }
}
