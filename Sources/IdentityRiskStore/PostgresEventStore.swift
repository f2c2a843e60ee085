public import IdentityRiskCore
public import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The ``EventStore`` for a fleet: every host runs its own iriskd with its own
/// `PostgresEventStore`, and they all share one PostgreSQL database. The
/// semantics are SQLite's, checked by the same conformance suite.
///
/// Durability: every write is one transaction, answered after its COMMIT
/// returned; the store sets `synchronous_commit = on` on its connections, so a
/// COMMIT returns once its WAL is flushed on the server (with synchronous
/// replication, also once the standbys named by `synchronous_standby_names`
/// have it). A write whose transaction failed is answered `unavailable` and
/// stored nothing — except when the connection is lost *during* COMMIT, when
/// the outcome is unknown (the message says so; creates are idempotent, so a
/// retry is safe).
///
/// Group commit: concurrent creates on one store are queued (at most
/// ``Configuration/maxQueuedWrites`` writes, then `resourceExhausted`) and
/// committed together by one committer, up to ``Configuration/maxBatchSize``
/// per transaction, with one multi-row `INSERT ... ON CONFLICT (id) DO
/// NOTHING`. Rows are inserted in byte order of their ids, so that two hosts'
/// batches lock the same ids in the same order and cannot deadlock. Updates
/// and deletes are one transaction each (`SELECT ... FOR UPDATE`, compare the
/// version, write).
///
/// Ids: a create that conflicts with a stored id answers that record (same
/// content: `alreadyExisted`) or ALREADY_EXISTS, also when two hosts race: the
/// unique index decides, and the loser reads the winner's row. A deleted id
/// keeps a tombstone; the tombstone probe runs *after* the insert, as a new
/// statement, so it sees a delete that committed while the insert waited on
/// the row lock (an insert whose id turns out tombstoned is removed again and
/// answered `deletedID`): a delete racing a create never resurrects the id.
///
/// The change log and its cursor: every new record, update and delete inserts
/// its change row in its transaction, with a cursor taken from the one-row
/// table `change_cursor` (`UPDATE change_cursor SET last = last + n RETURNING
/// last`) as the transaction's last statement before COMMIT. That UPDATE's row
/// lock is a transaction-scoped lock held until COMMIT (or ROLLBACK), so
/// cursors are handed out in commit order across every host: when cursor N is
/// visible, every cursor below N is too — a reader can never pass an
/// uncommitted N-1, the trap of a SERIAL column. (A sequence behind
/// `pg_advisory_xact_lock` orders commits the same way, but a sequence is not
/// transactional: a rolled-back batch would leave holes, and `list` could not
/// read the latest cursor consistently with its page; the counter row is
/// rolled back with its transaction.) The cost: the fleet's writing
/// transactions commit one at a time from that UPDATE to the end of their
/// COMMIT (one WAL flush each), so the fleet's commit rate is bounded by the
/// server's flush latency; group commit amortises it over up to
/// ``Configuration/maxBatchSize`` creates, and everything before the UPDATE
/// (the inserts, the checks) runs concurrently.
///
/// ``list(_:)`` reads its page and the cursor in one REPEATABLE READ snapshot,
/// so the page reflects exactly the changes up to the cursor.
/// ``changeFeed`` gets this host's changes as they commit, and the changes
/// other hosts committed when their `NOTIFY irisk_changes` arrives (one pooled
/// connection LISTENs), and in any case every
/// ``Configuration/changePollInterval`` (`PostgresFeedPump`: always in cursor
/// order, never with a gap; a lost notification only delays).
///
/// Schema: versioned migrations (`PostgresSchema`) applied at start under a
/// session advisory lock, so two hosts starting at once migrate once. The
/// store connects in the background from ``init(location:configuration:logger:)``
/// on (it needs no `run()` to work, as the SQLite store); calls wait for the
/// first connection attempt and answer `unavailable` naming the server while
/// it cannot be reached. The PostgreSQL client does not run inside ``run()``:
/// a graceful shutdown would close it at once, before the store has answered
/// what is queued; ``close()`` stops it last.
public final class PostgresEventStore: EventStore {
    public let kind = "postgresql"
    public let location: PostgresLocation
    public let configuration: Configuration
    public let changeFeed: ChangeFeed

    private let client: PostgresClient
    private let logger: Logger
    private let state = Mutex(State())
    private let pump: PostgresFeedPump
    /// Why the server could not be reached, as the last query to it found
    /// (the poll asks every ``Configuration/changePollInterval``); nil once one succeeds.
    private let reachability: Reachability
    /// The group commit's recent batches and durations (``commitStatistics``).
    private let recorder = Mutex(CommitRecorder())
    /// The client and the background loops; cancelled by ``close()``.
    private let background = Mutex<Task<Void, Never>?>(nil)

    typealias CreateCompletion = @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void

    private struct State {
        enum Phase {
            case starting
            case ready
            /// Not connected or migrated yet; retried in the background.
            case failed(IdentityRiskError)
        }
        var phase = Phase.starting
        var closing = false
        var readyWaiters: [CheckedContinuation<Void, Never>] = []
        /// Writes accepted and not yet answered.
        var queued = 0
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var pendingCreates: [(event: IdentityRiskEvent, completion: CreateCompletion)] = []
        var committing = false
    }

    /// Starts connecting to `location` (in the background) and returns.
    ///
    /// - Throws: `invalidArgument` for a configuration value out of range.
    public init(
        location: PostgresLocation, configuration: Configuration = .init(),
        logger: Logger = Logger(label: "IdentityRiskStore.PostgresEventStore")
    ) throws(IdentityRiskError) {
        var configuration = configuration
        // The URL's connect_timeout wins over the configuration's.
        if let connectTimeout = location.connectTimeout {
            configuration.connectTimeout = connectTimeout
            configuration.operationTimeout = max(configuration.operationTimeout, connectTimeout)
        }
        if let problem = configuration.problem {
            throw IdentityRiskError(code: .invalidArgument, message: "PostgresEventStore.Configuration.\(problem)", target: "configuration")
        }
        guard PostgresLocation.poolSizes.contains(location.poolSize) else {
            throw IdentityRiskError(code: .invalidArgument, message: "the pool size must be in \(PostgresLocation.poolSizes.lowerBound) ... \(PostgresLocation.poolSizes.upperBound), got \(location.poolSize)", target: "store")
        }
        self.location = location
        self.configuration = configuration
        self.logger = logger
        self.client = PostgresClient(configuration: try Self.clientConfiguration(location, configuration), backgroundLogger: logger)
        let feed = ChangeFeed()
        self.changeFeed = feed
        let client = self.client
        let serverDescription = location.serverDescription
        let readLogger = logger
        let readConfiguration = configuration
        let reachability = Reachability()
        self.reachability = reachability
        self.pump = PostgresFeedPump(feed: feed) { after, limit throws(IdentityRiskError) in
            do throws(IdentityRiskError) {
                let changes = try await Self.readChanges(
                    client: client, configuration: readConfiguration, after: after, limit: limit, server: serverDescription, logger: readLogger)
                reachability.succeeded()
                return changes
            } catch {
                reachability.failed(error)
                throw error
            }
        }
        let task = Task.detached { [self] in await self.runBackground() }
        background.withLock { $0 = task }
    }

    static func clientConfiguration(_ location: PostgresLocation, _ configuration: Configuration) throws(IdentityRiskError) -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        switch location.endpoint {
        case .unixSocket:
            config = PostgresClient.Configuration(
                unixSocketPath: location.endpoint.socketPath ?? "", username: location.username, password: location.password, database: location.database)
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS
            switch location.sslMode {
            case .disable:
                tls = .disable
            case .prefer, .require:
                // libpq's meaning: encrypted, the certificate not checked.
                var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
                tlsConfiguration.certificateVerification = .none
                tls = location.sslMode == .prefer ? .prefer(tlsConfiguration) : .require(tlsConfiguration)
            case .verifyCA, .verifyFull:
                var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
                if let roots = location.sslRootCertificate { tlsConfiguration.trustRoots = .file(roots) }
                // verify-ca: the chain, not the name (libpq's meaning).
                if location.sslMode == .verifyCA { tlsConfiguration.certificateVerification = .noHostnameVerification }
                tls = .require(tlsConfiguration)
            }
            config = PostgresClient.Configuration(
                host: host, port: port, username: location.username, password: location.password, database: location.database, tls: tls)
        }
        config.options.maximumConnections = location.poolSize
        config.options.minimumConnections = 0
        config.options.connectTimeout = location.connectTimeout ?? configuration.connectTimeout
        config.options.additionalStartupParameters = [("synchronous_commit", "on"), ("application_name", "iriskd")]
        return config
    }

    deinit {
        background.withLock { $0?.cancel() }
    }

    // MARK: - Status

    /// No query: the queue depth, the start-up phase and what the last query
    /// to the server found. Records are not counted (a fleet's table has no
    /// cheap exact count; `records` is unknown).
    public var status: StoreStatus {
        let (queued, phase, closing) = state.withLock { ($0.queued, $0.phase, $0.closing) }
        var problem: String?
        switch phase {
        case .starting: problem = "connecting to PostgreSQL at \(location.serverDescription)"
        case .failed(let error): problem = error.message
        case .ready: problem = reachability.problem
        }
        if closing { problem = "the PostgreSQL event store is closed" }
        return StoreStatus(
            kind: kind, location: nil, host: location.serverDescription, sizeBytes: nil, records: nil,
            queueDepth: queued, available: problem == nil, problem: problem)
    }

    public var commitStatistics: CommitStatistics? {
        CommitRecorder.summary(of: recorder.withLock { $0.window })
    }

    public func observeCommits(_ observer: @escaping @Sendable (CommitSample) -> Void) {
        recorder.withLock { $0.setObserver(observer) }
    }

    /// What the last query to the server found: nil (it answered) or why not.
    final class Reachability: Sendable {
        private let last = Mutex<String?>(nil)
        var problem: String? { last.withLock { $0 } }
        func succeeded() { last.withLock { $0 = nil } }
        /// Only a server that could not be reached (`unavailable`) counts; a
        /// refused write (conflict, bad input) says nothing about the server.
        func failed(_ error: IdentityRiskError) {
            guard error.code == .unavailable else { return }
            last.withLock { $0 = error.message }
        }
    }

    // MARK: - Lifecycle

    /// The client, the start-up (migrations) and, once ready, the change
    /// poller and the pruner; all end when this task is cancelled.
    private func runBackground() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask {
                await self.startUp()
                await withDiscardingTaskGroup { loops in
                    loops.addTask { await self.pollLoop() }
                    if self.configuration.listensForChanges { loops.addTask { await self.listenLoop() } }
                    loops.addTask { await self.pruneLoop() }
                }
            }
        }
    }

    /// Migrates and reads the log's latest cursor, retrying every second
    /// until it succeeds (calls meanwhile answer the last error).
    private func startUp() async {
        while !Task.isCancelled {
            do throws(IdentityRiskError) {
                let latest = try await migrate()
                changeFeed.reset(latest: latest)
                setPhase(.ready)
                logger.info("opened PostgreSQL event store", metadata: [
                    "server": "\(location.serverDescription)", "schema": "\(PostgresSchema.currentVersion)",
                    "synchronous_commit": "on", "latest_change": "\(latest)",
                ])
                return
            } catch {
                setPhase(.failed(error))
                logger.warning("PostgreSQL event store not available yet; retrying in 1 s", metadata: ["error": "\(error.message)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func setPhase(_ phase: State.Phase) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.phase = phase
            defer { state.readyWaiters = [] }
            return state.readyWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Applies the migrations this database lacks, under the migration lock,
    /// and returns the latest cursor.
    private func migrate() async throws(IdentityRiskError) -> ChangeCursor {
        let logger = self.logger
        return try await withConnection("migrate the schema") { connection in
            try await connection.query("SELECT pg_advisory_lock(\(PostgresSchema.migrationLockKey))", logger: logger)
            do {
                try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.createMigrationsTable), logger: logger)
                var applied: Set<String> = []
                for try await version in try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT version FROM \(PostgresSchema.migrationsTable)"), logger: logger
                ).decode(String.self) {
                    applied.insert(version)
                }
                let known = Set(PostgresSchema.migrations.map(\.version))
                let unknown = applied.subtracting(known).sorted()
                if !unknown.isEmpty {
                    throw IdentityRiskError(
                        code: .unavailable,
                        message: "the PostgreSQL event store at \(self.location.serverDescription) has a schema written by a newer version "
                            + "(unknown migrations: \(unknown.joined(separator: ", "))); upgrade this program",
                        retryAfterMilliseconds: 1000)
                }
                for migration in PostgresSchema.migrations where !applied.contains(migration.version) {
                    try await connection.query("BEGIN", logger: logger)
                    do {
                        for statement in migration.statements {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query("INSERT INTO irisk_schema_migrations (version) VALUES (\(migration.version))", logger: logger)
                        try await connection.query("COMMIT", logger: logger)
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: logger)
                        throw error
                    }
                    logger.info("applied PostgreSQL schema migration", metadata: ["version": "\(migration.version)"])
                }
                let rows = try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.latestCursorSQL), logger: logger)
                var latest = ChangeCursor.zero
                for try await last in rows.decode(Int64.self) { latest = ChangeCursor(UInt64(max(0, last))) }
                try await connection.query("SELECT pg_advisory_unlock(\(PostgresSchema.migrationLockKey))", logger: logger)
                return latest
            } catch {
                // The session lock ends with the session at the latest: close it if the unlock fails.
                do {
                    try await connection.query("SELECT pg_advisory_unlock(\(PostgresSchema.migrationLockKey))", logger: logger)
                } catch {
                    try? await connection.close()
                }
                throw error
            }
        }
    }

    /// Waits until the store has connected once (or failed to); throws if it
    /// is closing or not available.
    private func ready() async throws(IdentityRiskError) {
        while true {
            let verdict: IdentityRiskError?? = state.withLock { state in
                if state.closing { return .some(Self.closedError()) }
                switch state.phase {
                case .ready: return .some(nil)
                case .failed(let error): return .some(error)
                case .starting: return nil
                }
            }
            if let verdict {
                if let error = verdict { throw error }
                return
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    guard case .starting = state.phase, !state.closing else { return true }
                    state.readyWaiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// Open until graceful shutdown (or cancellation), then ``close()``.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Stops accepting calls (they throw `unavailable`), commits and answers
    /// every write already accepted, then closes the connections and the
    /// feed. Idempotent; concurrent calls all return once closed.
    public func close() async {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.closing = true
            defer { state.readyWaiters = [] }
            return state.readyWaiters
        }
        for waiter in waiters { waiter.resume() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drained = state.withLock { state -> Bool in
                if state.queued == 0 { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if drained { continuation.resume() }
        }
        let task = background.withLock { $0 }
        task?.cancel()
        if let task { await Self.awaitEnd(of: task, atMost: .seconds(10), logger: logger) }
        changeFeed.close()
    }

    /// Waits for `task` to end, but at most `limit` (then logs and returns:
    /// the connections close on their own once the client's run ends).
    private static func awaitEnd(of task: Task<Void, Never>, atMost limit: Duration, logger: Logger) async {
        let gate = ResumeOnce()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            gate.set(continuation)
            let timer = Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled, gate.resume() {
                    logger.warning("the PostgreSQL client did not stop within \(limit); closing the store anyway")
                }
            }
            Task {
                await task.value
                timer.cancel()
                _ = gate.resume()
            }
        }
    }

    /// A continuation resumed by whichever comes first.
    private final class ResumeOnce: Sendable {
        private let continuation = Mutex<CheckedContinuation<Void, Never>?>(nil)

        func set(_ value: CheckedContinuation<Void, Never>) {
            continuation.withLock { $0 = value }
        }

        /// Whether this call resumed it.
        func resume() -> Bool {
            guard let value = continuation.withLock({ current in defer { current = nil }; return current }) else { return false }
            value.resume()
            return true
        }
    }

    // MARK: - Admission

    /// Counts a write in, or refuses it (closed, queue full).
    private func admit() throws(IdentityRiskError) {
        let refusal: IdentityRiskError? = state.withLock { state in
            if state.closing { return Self.closedError() }
            guard state.queued < configuration.maxQueuedWrites else {
                return IdentityRiskError(
                    code: .resourceExhausted,
                    message: "the PostgreSQL store's write queue is full (\(configuration.maxQueuedWrites) creates, updates and deletes waiting to commit); retry shortly",
                    retryAfterMilliseconds: 50)
            }
            state.queued += 1
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Counts `count` answered writes out; wakes ``close()`` when none is left.
    private func finished(_ count: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.queued -= count
            guard state.queued == 0 else { return [] }
            defer { state.drainWaiters = [] }
            return state.drainWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    static func closedError() -> IdentityRiskError {
        IdentityRiskError(code: .unavailable, message: "the PostgreSQL event store is closed")
    }

    // MARK: - Writes

    /// Queues the create for the next group commit; `completion` runs after
    /// its transaction committed, or at once when the queue is full
    /// (`resourceExhausted`), the store is closed (`unavailable`) or the
    /// calling task is already cancelled (`cancelled`, nothing queued).
    public func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        if Task.isCancelled {
            completion(.failure(IdentityRiskError(code: .cancelled, message: "the create was cancelled before it was queued; nothing was stored")))
            return
        }
        do throws(IdentityRiskError) {
            try admit()
        } catch {
            completion(.failure(error))
            return
        }
        let start = state.withLock { state -> Bool in
            state.pendingCreates.append((event, completion))
            guard !state.committing else { return false }
            state.committing = true
            return true
        }
        if start {
            Task.detached { [self] in await self.commitQueuedCreates() }
        }
    }

    /// The committer: one batch at a time until the queue is empty.
    private func commitQueuedCreates() async {
        while true {
            let batch = state.withLock { state -> [(event: IdentityRiskEvent, completion: CreateCompletion)] in
                let count = min(configuration.maxBatchSize, state.pendingCreates.count)
                guard count > 0 else {
                    state.committing = false
                    return []
                }
                let batch = Array(state.pendingCreates.prefix(count))
                state.pendingCreates.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            let results = await commitCreates(batch.map(\.event))
            for (pending, result) in zip(batch, results) { pending.completion(result) }
            finished(batch.count)
        }
    }

    /// One transaction for `events`; every create's answer, in order.
    private func commitCreates(_ events: [IdentityRiskEvent]) async -> [Result<CreateOutcome, IdentityRiskError>] {
        do throws(IdentityRiskError) {
            try await readyForWrite()
            let logger = self.logger
            let started = ContinuousClock.now
            let (results, changes) = try await withTransaction("commit", write: true) { connection in
                try await PostgresCreateBatch(events: events, connection: connection, logger: logger).apply()
            }
            let elapsed = ContinuousClock.now - started
            let nanoseconds = UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
            reachability.succeeded()
            let observer = recorder.withLock { $0.record(batchSize: events.count, nanoseconds: nanoseconds) }
            observer?(CommitSample(batchSize: events.count, nanoseconds: nanoseconds))
            await pump.committed(changes)
            return results
        } catch {
            reachability.failed(error)
            return Array(repeating: .failure(error), count: events.count)
        }
    }

    /// Like ``ready()``, but a closing store still commits what it accepted.
    private func readyForWrite() async throws(IdentityRiskError) {
        while true {
            let verdict: IdentityRiskError?? = state.withLock { state in
                switch state.phase {
                case .ready: return .some(nil)
                case .failed(let error): return .some(error)
                case .starting: return state.closing ? .some(Self.closedError()) : nil
                }
            }
            if let verdict {
                if let error = verdict { throw error }
                return
            }
            try await ready()
        }
    }

    /// The stored version must be `expectedVersion` (else `versionMismatch`);
    /// stores `event` with version `expectedVersion + 1` and its stored `id`
    /// and `createdDateTime`.
    public func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent {
        try admit()
        defer { finished(1) }
        try await readyForWrite()
        let logger = self.logger
        let (result, changes) = try await withTransaction("commit the update", write: true) { connection in
            try await PostgresSingleWrite.replace(event, expectedVersion: expectedVersion, connection: connection, logger: logger)
        }
        await pump.committed(changes)
        return try result.get()
    }

    /// Deletes the row and inserts its tombstone in one transaction.
    public func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 {
        try admit()
        defer { finished(1) }
        try await readyForWrite()
        let logger = self.logger
        let (result, changes) = try await withTransaction("commit the delete", write: true) { connection in
            try await PostgresSingleWrite.delete(id: id, expectedVersion: expectedVersion, connection: connection, logger: logger)
        }
        await pump.committed(changes)
        return try result.get()
    }

    // MARK: - Reads

    public func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? {
        try await ready()
        let logger = self.logger
        return try await withConnection("read") { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.selectByIDSQL, binds: Self.binds(texts: [id])), logger: logger)
            for try await row in rows {
                return try PostgresRecordCoding.decode(row.makeRandomAccess())
            }
            return nil
        }
    }

    /// Most bound parameters of one statement (PostgreSQL's limit).
    static let maxBinds = 65_535

    public func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage {
        let statement = try ListStatementSQL(query, dialect: .postgres)
        guard statement.arguments.count <= Self.maxBinds else {
            throw IdentityRiskError.invalid([FieldViolation(field: "filter", description: "needs more than \(Self.maxBinds) values; simplify the filter")])
        }
        var bindings = PostgresBindings(capacity: statement.arguments.count)
        for argument in statement.arguments {
            switch argument {
            case .text(let text): bindings.append(text)
            case .integer(let value): bindings.append(value)
            }
        }
        try await ready()
        let binds = bindings
        let top = query.top
        let order = query.order
        let logger = self.logger
        let (events, cursor) = try await withTransaction("list", write: false) { connection -> ([IdentityRiskEvent], ChangeCursor) in
            var events: [IdentityRiskEvent] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: statement.sql, binds: binds), logger: logger) {
                events.append(try PostgresRecordCoding.decode(row.makeRandomAccess()))
            }
            // The same snapshot as the page.
            var cursor = ChangeCursor.zero
            for try await last in try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.latestCursorSQL), logger: logger).decode(Int64.self) {
                cursor = ChangeCursor(UInt64(max(0, last)))
            }
            return (events, cursor)
        }
        guard events.count > top else { return ListPage(events: events, next: nil, cursor: cursor) }
        let page = Array(events.prefix(top))
        let last = page[page.count - 1]
        return ListPage(events: page, next: ListCursor(sortKey: order.sortKey(last), id: last.id), cursor: cursor)
    }

    // MARK: - The change log

    public static let maxChangesLimit = SQLiteEventStore.maxChangesLimit

    public func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change] {
        guard (1...Self.maxChangesLimit).contains(limit) else {
            throw IdentityRiskError.invalid([FieldViolation(field: "limit", description: "is \(limit); allowed: 1 ... \(Self.maxChangesLimit)")])
        }
        try await ready()
        guard Int64(exactly: cursor.rawValue) != nil else {
            throw IdentityRiskError.cursorAhead(cursor, bounds: try await changeLogBounds())
        }
        let logger = self.logger
        return try await withTransaction("read the change log", write: false) { connection in
            let bounds = try await Self.bounds(connection, logger: logger)
            if cursor < bounds.earliestResumable { throw IdentityRiskError.cursorExpired(cursor, bounds: bounds) }
            if cursor > bounds.latest { throw IdentityRiskError.cursorAhead(cursor, bounds: bounds) }
            return try await Self.selectChanges(connection, after: cursor, limit: limit, logger: logger)
        }
    }

    public func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds {
        try await ready()
        let logger = self.logger
        return try await withConnection("read the change log") { connection in try await Self.bounds(connection, logger: logger) }
    }

    private static func bounds(_ connection: PostgresConnection, logger: Logger) async throws -> ChangeLogBounds {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.changeBoundsSQL), logger: logger)
        for try await (oldest, last) in rows.decode((Int64?, Int64?).self) {
            let latest = ChangeCursor(UInt64(max(0, last ?? 0)))
            let earliest = oldest.map { ChangeCursor(UInt64(max(0, $0 - 1))) } ?? latest
            return ChangeLogBounds(earliestResumable: earliest, latest: latest)
        }
        return ChangeLogBounds(earliestResumable: .zero, latest: .zero)
    }

    private static func selectChanges(_ connection: PostgresConnection, after cursor: ChangeCursor, limit: Int, logger: Logger) async throws -> [Change] {
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: PostgresSchema.selectChangesSQL, binds: binds(Int64(clamping: cursor.rawValue), Int64(limit))), logger: logger)
        var changes: [Change] = []
        for try await row in rows {
            changes.append(try PostgresRecordCoding.decodeChange(row.makeRandomAccess()))
        }
        return changes
    }

    /// The feed pump's read: the changes after `after`, without bounds checks.
    /// Bounded like every other query (a lease within `connectTimeout`): an
    /// unbounded wait here would hold the pump, and with it the group commit
    /// that publishes through it, for as long as the server is away.
    private static func readChanges(
        client: PostgresClient, configuration: Configuration, after: ChangeCursor, limit: Int, server: String, logger: Logger
    ) async throws(IdentityRiskError) -> [Change] {
        try await withConnection(
            client: client, connectTimeout: configuration.connectTimeout, operationTimeout: configuration.operationTimeout,
            server: server, logger: logger, "read the change log"
        ) { connection in
            try await selectChanges(connection, after: after, limit: limit, logger: logger)
        }
    }

    /// Reads other hosts' changes into the feed.
    private func pollLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.changePollInterval)
            await pump.catchUp(through: nil)
        }
    }

    /// Holds one pooled connection that LISTENs on
    /// `PostgresSchema.notifyChannel` and catches the feed up to each
    /// announced cursor it has not published yet (its own commits are already
    /// there). Once listening it catches up once, for what committed before.
    /// A broken connection is replaced after a second; meanwhile the poll
    /// carries on.
    private func listenLoop() async {
        let feed = changeFeed
        let pump = self.pump
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: PostgresSchema.notifyChannel) { notifications in
                        await pump.catchUp(through: nil)
                        for try await notification in notifications {
                            guard let announced = UInt64(notification.payload) else { continue }
                            if ChangeCursor(announced) <= feed.latest { continue }
                            await pump.catchUp(through: ChangeCursor(announced))
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("LISTEN for other hosts' changes failed; retrying in 1 s (the poll goes on)", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func pruneLoop() async {
        let retention = configuration.changeRetention
        guard retention.maxAge != nil || retention.maxCount != nil else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.changePruneInterval)
            if Task.isCancelled { return }
            try? await prune()
        }
    }

    /// Runs a retention pass now (for tests and tools; the store also prunes
    /// every ``Configuration/changePruneInterval``). Every host prunes the
    /// shared log; the passes are idempotent.
    public func pruneChangesNow() async {
        try? await prune()
    }

    private func prune() async throws(IdentityRiskError) {
        let retention = configuration.changeRetention
        let logger = self.logger
        try await withConnection("prune the change log") { connection in
            if let maxCount = retention.maxCount {
                try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.pruneByCountSQL, binds: Self.binds(Int64(maxCount))), logger: logger)
            }
            if let maxAge = retention.maxAge {
                let (seconds, attoseconds) = maxAge.components
                let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
                try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.pruneByAgeSQL, binds: Self.binds(milliseconds)), logger: logger)
            }
        }
    }

    // MARK: - Connections and errors

    static func binds(_ values: any PostgresDynamicTypeEncodable...) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { bindings.append(value) }
        return bindings
    }

    static func binds(texts values: [String]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { bindings.append(value) }
        return bindings
    }

    /// Runs `body` on a pooled connection; its errors become ``IdentityRiskError``.
    /// Waiting for the connection is bounded by ``Configuration/connectTimeout``
    /// (the pool alone would keep a call waiting while it retries an
    /// unreachable server); once leased, `body` runs to its end.
    private func withConnection<T: Sendable>(
        _ doing: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(IdentityRiskError) -> T {
        try await Self.withConnection(
            client: client, connectTimeout: configuration.connectTimeout, operationTimeout: configuration.operationTimeout,
            server: location.serverDescription, logger: logger, doing, body)
    }

    /// ``withConnection(_:_:)`` for the code that runs before the store
    /// exists (the feed pump's read): a pooled connection within
    /// `connectTimeout`, the whole operation within `operationTimeout`.
    static func withConnection<T: Sendable>(
        client: PostgresClient, connectTimeout: Duration, operationTimeout: Duration, server: String, logger: Logger,
        _ doing: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(IdentityRiskError) -> T {
        let lease = LeaseDeadline()
        let outcome = FirstOutcome<T>()
        let held = HeldConnection()
        // Unstructured, so that a lease or query that ignores cancellation
        // cannot hold the caller (the committer, a call) past the deadlines.
        let work = Task {
            do {
                let value = try await client.withConnection { connection in
                    guard lease.leased() else { throw LeaseDeadline.Expired() }
                    held.set(connection)
                    defer { held.set(nil) }
                    return try await body(connection)
                }
                outcome.finish(.success(value))
            } catch {
                outcome.finish(.failure(error))
            }
        }
        let timer = Task {
            try? await Task.sleep(for: connectTimeout)
            if Task.isCancelled { return }
            if lease.expire() {
                outcome.finish(.failure(LeaseDeadline.Expired()))
                work.cancel()
                return
            }
            try? await Task.sleep(for: operationTimeout - connectTimeout)
            if Task.isCancelled { return }
            if outcome.finish(.failure(OperationTimeout())) {
                work.cancel()
                // A query that outlived its deadline: its connection may be
                // dead without knowing it; close it so the pool opens another.
                if let connection = held.connection { Task { try? await connection.close() } }
            }
        }
        let result = await withTaskCancellationHandler {
            await outcome.value
        } onCancel: {
            work.cancel()
        }
        timer.cancel()
        switch result {
        case .success(let value):
            return value
        case .failure(let error as IdentityRiskError):
            throw error
        case .failure(is LeaseDeadline.Expired):
            throw IdentityRiskError(
                code: .unavailable,
                message: "could not \(doing): no connection to PostgreSQL at \(server) within \(connectTimeout) (it may be down or unreachable)",
                retryAfterMilliseconds: 1000)
        case .failure(is OperationTimeout):
            logger.warning("PostgreSQL did not answer in time; its connection was closed", metadata: [
                "doing": "\(doing)", "server": "\(server)", "timeout": "\(operationTimeout)",
            ])
            throw IdentityRiskError(
                code: .unavailable,
                message: "could not \(doing): PostgreSQL at \(server) did not answer within \(operationTimeout); the connection was closed (the outcome of a write is unknown: retry it, creates are idempotent)",
                retryAfterMilliseconds: 1000)
        case .failure(let error):
            throw Self.databaseError(error, doing: doing, server: server)
        }
    }

    /// The connection an operation is using, for its deadline to close.
    private final class HeldConnection: Sendable {
        private let current = Mutex<PostgresConnection?>(nil)
        var connection: PostgresConnection? { current.withLock { $0 } }
        func set(_ connection: PostgresConnection?) { current.withLock { $0 = connection } }
    }

    /// A store operation outlived ``Configuration/operationTimeout``.
    struct OperationTimeout: Error {}

    /// The first of several outcomes (work, deadlines), awaited once.
    private final class FirstOutcome<T: Sendable>: Sendable {
        private struct State: ~Copyable {
            var result: Result<T, any Error>?
            var waiter: CheckedContinuation<Result<T, any Error>, Never>?
        }
        private let state = Mutex(State())

        /// Whether `result` came first (it is then the outcome).
        @discardableResult
        func finish(_ result: Result<T, any Error>) -> Bool {
            let (won, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Result<T, any Error>, Never>?) in
                guard state.result == nil else { return (false, nil) }
                state.result = result
                defer { state.waiter = nil }
                return (true, state.waiter)
            }
            if won { waiter?.resume(returning: result) }
            return won
        }

        var value: Result<T, any Error> {
            get async {
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Result<T, any Error>? in
                        if let result = state.result { return result }
                        state.waiter = continuation
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            }
        }
    }

    /// Which came first: the connection or the deadline (then the other gives up).
    private final class LeaseDeadline: Sendable {
        struct Expired: Error {}
        /// 0: waiting, 1: leased, 2: expired.
        private let state = Mutex(0)

        /// Whether the connection came first.
        func leased() -> Bool {
            state.withLock { state in
                if state == 0 { state = 1 }
                return state == 1
            }
        }

        /// Whether the deadline came first.
        func expire() -> Bool {
            state.withLock { state in
                if state == 0 { state = 2 }
                return state == 2
            }
        }
    }

    /// Runs `body` in one transaction: READ COMMITTED for writes (each
    /// statement sees what committed before it, and the cursor row lock waits
    /// instead of failing), REPEATABLE READ READ ONLY for reads (one snapshot).
    /// An error thrown by `body` rolls it back.
    private func withTransaction<T: Sendable>(
        _ doing: String, write: Bool, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(IdentityRiskError) -> T {
        let logger = self.logger
        return try await withConnection(doing) { connection in
            try await connection.query(write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            let result: T
            do {
                result = try await body(connection)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            do {
                try await connection.query("COMMIT", logger: logger)
            } catch {
                throw CommitFailure(underlying: error)
            }
            return result
        }
    }

    /// COMMIT itself failed: the transaction may or may not have committed.
    struct CommitFailure: Error {
        var underlying: any Error
    }

    /// An error of postgres-nio (or the pool) as the store's `unavailable`,
    /// naming the server, with a retry-after.
    static func databaseError(_ error: any Error, doing: String, server: String) -> IdentityRiskError {
        if error is CancellationError {
            return IdentityRiskError(code: .cancelled, message: "the call was cancelled")
        }
        var uncertain = false
        var error = error
        if let failure = error as? CommitFailure {
            uncertain = true
            error = failure.underlying
        }
        let reason: String
        var code = IdentityRiskError.Code.unavailable
        if let psql = error as? PSQLError {
            if let serverInfo = psql.serverInfo, let message = serverInfo[.message] {
                let sqlState = serverInfo[.sqlState] ?? "?"
                reason = "\(message) (SQLSTATE \(sqlState))"
                if sqlState.hasPrefix("54") { code = .invalidArgument }  // program limit: statement too complex
            } else {
                reason = "\(psql.code)" + (psql.underlying.map { ": \($0)" } ?? "")
            }
        } else {
            reason = String(describing: error)
        }
        if code == .invalidArgument {
            return IdentityRiskError.invalid([FieldViolation(field: "filter", description: "is too complex for PostgreSQL (\(reason)); simplify the filter")])
        }
        let outcome = uncertain
            ? "; the connection failed during COMMIT, so the change may or may not have been stored: read it back, or retry (creates are idempotent)"
            : (doing.hasPrefix("commit") ? "; the change was not stored" : "")
        return IdentityRiskError(
            code: code,
            message: "could not \(doing) on PostgreSQL at \(server): \(reason)\(outcome)",
            retryAfterMilliseconds: 1000)
    }
}
