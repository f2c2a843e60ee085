#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import GRDB
import IdentityRiskCore
import Logging
import Synchronization

/// The write side of ``SQLiteEventStore``: a bounded queue of writes (creates,
/// replaces, deletes: ``SQLiteWrite``) and one long-lived writer thread that
/// commits them in groups.
///
/// Why a dedicated thread: GRDB's `DatabasePool` write API blocks its caller
/// for the whole transaction (milliseconds). On a thread of its
/// own that costs nothing, whereas on Swift concurrency's cooperative pool (two
/// threads on a two-core host) it would stall unrelated tasks. The thread also
/// gives the shortest path for a lone caller: append under a mutex, one
/// semaphore signal, the thread wakes, runs the transaction on itself (GRDB's
/// serial writer queue executes `sync` work on the calling thread) and resumes
/// the caller's continuation; no task or queue hops in between. Under load
/// batching is automatic: while one transaction commits, new writes pile up
/// in the queue and the next loop iteration takes all of them (up to
/// `maxBatchSize`) into one transaction: one flush for the whole group, and no
/// artificial delay for anyone. Writes apply in queue order (`SQLiteBatch`).
/// A committed batch goes to ``WALSyncer``, which flushes the write-ahead log
/// and then answers it, while this thread commits the next batch.
///
/// Memory is bounded: at most `maxQueuedWrites` writes wait in the queue (a
/// write beyond that is refused with `resourceExhausted` at once) plus at most
/// `maxBatchSize` in the transaction being committed.
///
/// The change log: each batch appends its changes in its own transaction
/// (`SQLiteBatch`); once it is on disk, ``WALSyncer`` publishes them to the
/// ``ChangeFeed`` in cursor order, then answers the writers. Retention pruning
/// runs on this same thread, between batches, in transactions of its own of at
/// most ``pruneChunk`` rows: it never competes with the writes for SQLite's
/// write lock (no SQLITE_BUSY), never counts against `maxQueuedWrites`, and
/// under load alternates with the batches (one chunk, one batch), so a write
/// waits for at most one chunk. It is due every `pruneInterval` (checked when
/// the thread wakes, and by a timed sleep when idle), or on ``pruneNow()``.
final class GroupCommitWriter: Sendable {
    typealias Statistics = SQLiteEventStore.Statistics

    private struct State: Sendable {
        var queue: [SQLiteWrite] = []
        var accepting = true
        /// The thread is parked on `wakeUp` (or about to be); whoever clears
        /// this flag owes it exactly one `signal()`.
        var writerSleeping = false
        /// The thread has committed everything, closed the pool and exited.
        var finished = false
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        var statistics = Statistics()
        /// A pruning pass is due (or asked for): the thread prunes until
        /// nothing is beyond retention, then answers `pruneWaiters`.
        var pruneRequested = false
        var pruneWaiters: [CheckedContinuation<Void, Never>] = []
        /// Records stored: counted once at open, then kept by each commit.
        var records: Int64
        var recorder = CommitRecorder()
    }

    private enum Step {
        case commit([SQLiteWrite])
        case prune
        case sleep
        case exit
    }

    /// Most change rows one pruning transaction deletes.
    static let pruneChunk: Int64 = 5000

    private let state: Mutex<State>
    private let wakeUp = DispatchSemaphore(value: 0)
    private let pool: DatabasePool
    private let path: String
    private let maxQueuedWrites: Int
    private let maxBatchSize: Int
    private let changeFeed: ChangeFeed
    private let retention: ChangeRetention
    private let pruneInterval: Duration
    /// Runs on the thread once the pool is closed: releases the database's flock.
    private let afterClose: @Sendable () -> Void
    private let logger: Logger
    /// Flushes each committed batch to disk, then answers it (``WALSyncer``).
    private let syncer: WALSyncer
    /// Copies the log into the database off this thread, when configured.
    private let checkpointer: WALCheckpointer?

    /// Milliseconds a refused caller should wait before retrying.
    static let queueFullRetryAfterMilliseconds: UInt32 = 50

    init(
        pool: DatabasePool, path: String, maxQueuedWrites: Int, maxBatchSize: Int,
        changeFeed: ChangeFeed, retention: ChangeRetention, pruneInterval: Duration,
        records: Int64, flush: @escaping WALSyncer.Flush, checkpointer: WALCheckpointer?,
        afterClose: @escaping @Sendable () -> Void, logger: Logger
    ) {
        self.syncer = WALSyncer(path: path, flush: flush, logger: logger)
        self.checkpointer = checkpointer
        self.state = Mutex(State(records: records))
        self.pool = pool
        self.path = path
        self.maxQueuedWrites = maxQueuedWrites
        self.maxBatchSize = maxBatchSize
        self.changeFeed = changeFeed
        self.retention = retention
        self.pruneInterval = pruneInterval
        self.afterClose = afterClose
        self.logger = logger
    }

    /// Starts the writer thread. Call once.
    func start() {
        syncer.start()
        checkpointer?.start()
        Self.startThread(named: "irisk-sqlwriter") { [self] in run() }
    }

    /// Starts a long-lived store thread (user-initiated priority) named `name`.
    static func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            nameThisThread(name)
            body()
        }
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    /// The calling thread's name in top -H, perf and gdb (Linux keeps at most 15
    /// characters; Foundation's `Thread.name` does not reach the kernel here).
    static func nameThisThread(_ name: String) {
        #if canImport(Glibc)
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        #endif
    }

    var statistics: Statistics {
        var statistics = state.withLock { $0.statistics }
        if let checkpoints = checkpointer?.statistics {
            statistics.checkpoints = checkpoints.passes
            statistics.completeCheckpoints = checkpoints.complete
            statistics.busyCheckpoints = checkpoints.busy
            statistics.failedCheckpoints = checkpoints.failed
        }
        return statistics
    }

    var isAccepting: Bool { state.withLock { $0.accepting } }

    /// Records stored and writes waiting, in one lock.
    var recordsAndQueueDepth: (records: Int64, queueDepth: Int) { state.withLock { ($0.records, $0.queue.count) } }

    var commitStatistics: CommitStatistics {
        CommitRecorder.summary(of: state.withLock { $0.recorder.window })
    }

    func observeCommits(_ observer: @escaping @Sendable (CommitSample) -> Void) {
        state.withLock { $0.recorder.setObserver(observer) }
    }

    // MARK: - Callers

    /// Queues the write made by `make` and returns its answer once the batch
    /// holding it is committed (or failed). A task cancelled before the write
    /// is queued gets `cancelled`; once queued, the write is not abandoned and
    /// its outcome is returned.
    func perform<T: Sendable>(
        _ what: String, _ make: (@escaping SQLiteWrite.Completion<T>) -> SQLiteWrite
    ) async throws(IdentityRiskError) -> T {
        if Task.isCancelled {
            throw IdentityRiskError(code: .cancelled, message: "the \(what) was cancelled before it was queued; nothing was changed")
        }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, IdentityRiskError>, Never>) in
            submit(make { continuation.resume(returning: $0) })
        }
        return try result.get()
    }

    /// Queues `write`; it is answered on the writer thread once the batch
    /// holding it is committed or failed, or at once (on the caller's thread)
    /// if the queue is full or the store closed. Exactly once either way.
    func submit(_ write: SQLiteWrite) {
        if let refusal = admit(count: 1, creates: write.isCreate ? 1 : 0, { $0.append(write) }) {
            write.fail(refusal)
        }
    }

    /// Queues `writes` together, in order: they are committed in one batch
    /// when there are at most `maxBatchSize`, or all refused if the queue
    /// cannot take them all. Tests use it to put writes in one transaction.
    func submit(_ writes: [SQLiteWrite]) {
        if let refusal = admit(count: writes.count, creates: writes.count { $0.isCreate }, { $0.append(contentsOf: writes) }) {
            for write in writes { write.fail(refusal) }
        }
    }

    /// Appends `count` writes with `append` if the store is open and the queue
    /// has room (waking the thread if it sleeps); otherwise the refusal.
    private func admit(count: Int, creates: Int, _ append: (inout [SQLiteWrite]) -> Void) -> IdentityRiskError? {
        let admission = state.withLock { state -> Result<Bool, IdentityRiskError> in
            guard state.accepting else { return .failure(SQLiteEventStore.closedError()) }
            if let failure = syncer.failure { return .failure(failure) }
            guard state.queue.count + count <= maxQueuedWrites else {
                state.statistics.refusedWrites += count
                state.statistics.refusedCreates += creates
                return .failure(IdentityRiskError(
                    code: .resourceExhausted,
                    message: "the SQLite store's write queue is full (\(maxQueuedWrites) creates, updates and deletes waiting to commit); retry shortly",
                    retryAfterMilliseconds: Self.queueFullRetryAfterMilliseconds
                ))
            }
            append(&state.queue)
            guard state.writerSleeping else { return .success(false) }
            state.writerSleeping = false
            return .success(true)
        }
        switch admission {
        case .success(let mustWake):
            if mustWake { wakeUp.signal() }
            return nil
        case .failure(let error):
            return error
        }
    }

    /// Stops accepting; the thread commits what is queued, closes the pool and exits.
    func beginShutdown() {
        let mustWake = state.withLock { state -> Bool in
            state.accepting = false
            guard state.writerSleeping else { return false }
            state.writerSleeping = false
            return true
        }
        if mustWake { wakeUp.signal() }
    }

    /// ``beginShutdown()``, then waits until every queued write is answered and
    /// the pool is closed. Safe to call any number of times, concurrently.
    func shutdown() async {
        beginShutdown()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state -> Bool in
                if state.finished { return true }
                state.closeWaiters.append(continuation)
                return false
            }
            if finished { continuation.resume() }
        }
    }

    /// Runs a pruning pass now (on the writer thread, between batches) and
    /// returns once nothing is beyond retention any more (or the store closed).
    func pruneNow() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (now, mustWake) = state.withLock { state -> (Bool, Bool) in
                guard state.accepting, !state.finished else { return (true, false) }
                state.pruneRequested = true
                state.pruneWaiters.append(continuation)
                guard state.writerSleeping else { return (false, false) }
                state.writerSleeping = false
                return (false, true)
            }
            if mustWake { wakeUp.signal() }
            if now { continuation.resume() }
        }
    }

    // MARK: - Writer thread

    private var prunes: Bool { retention.maxAge != nil || retention.maxCount != nil }

    private func run() {
        logger.debug("SQLite writer started", metadata: ["path": "\(path)"])
        let interval = Self.nanoseconds(pruneInterval)
        var lastPrune = DispatchTime.now().uptimeNanoseconds
        /// Under load, batches and pruning chunks alternate.
        var pruneTurn = false
        /// ``pruneNow()`` callers whose request came before the current
        /// chunk: the pass answers them when it ends.
        var passWaiters: [CheckedContinuation<Void, Never>] = []
        loop: while true {
            let now = DispatchTime.now().uptimeNanoseconds
            let due = prunes && now &- lastPrune >= interval
            if due { lastPrune = now }
            let step = state.withLock { state -> Step in
                if due { state.pruneRequested = true }
                if state.pruneRequested, state.accepting, state.queue.isEmpty || pruneTurn {
                    passWaiters += state.pruneWaiters
                    state.pruneWaiters = []
                    return .prune
                }
                if state.queue.isEmpty {
                    guard state.accepting else { return .exit }
                    state.writerSleeping = true
                    return .sleep
                }
                if state.queue.count <= maxBatchSize {
                    defer { state.queue = [] }
                    return .commit(state.queue)
                }
                defer { state.queue.removeFirst(maxBatchSize) }
                return .commit(Array(state.queue.prefix(maxBatchSize)))
            }
            switch step {
            case .commit(let batch):
                commit(batch)
                pruneTurn = true
            case .prune:
                pruneTurn = false
                if !pruneChunkOfChanges() {
                    // The pass is over; a request made during its last chunk gets a pass of its own.
                    state.withLock { $0.pruneRequested = !$0.pruneWaiters.isEmpty }
                    for waiter in passWaiters { waiter.resume() }
                    passWaiters = []
                }
            case .sleep:
                guard prunes else {
                    wakeUp.wait()
                    continue
                }
                let remaining = interval &- min(interval, DispatchTime.now().uptimeNanoseconds &- lastPrune)
                if wakeUp.wait(timeout: .now() + .nanoseconds(Int(clamping: remaining))) == .timedOut {
                    // Nobody signalled: take the flag back (if somebody cleared
                    // it meanwhile, their signal is pending and the next wait
                    // returns at once; harmless).
                    state.withLock { $0.writerSleeping = false }
                }
            case .exit: break loop
            }
        }
        // Every committed batch flushed and answered before the pool closes.
        syncer.finish()
        checkpointer?.finish()
        do {
            try pool.close()
        } catch {
            logger.error("could not close the SQLite database cleanly", metadata: ["path": "\(path)", "error": "\(error)"])
        }
        afterClose()
        changeFeed.close()
        for waiter in passWaiters { waiter.resume() }
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer {
                state.closeWaiters = []
                state.pruneWaiters = []
            }
            return state.closeWaiters + state.pruneWaiters
        }
        logger.debug("SQLite writer stopped", metadata: ["path": "\(path)"])
        for waiter in waiters { waiter.resume() }
    }

    /// Column `index` of `row` as an integer; `nil` for NULL or another type (never traps).
    static func integer(_ row: Row, _ index: Int) -> Int64? {
        let value: DatabaseValue = row[index]
        return Int64.fromDatabaseValue(value)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64.max : whole &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// One pruning transaction: deletes the oldest changes beyond retention
    /// (older than `maxAge`, or beyond the newest `maxCount`), at most
    /// ``pruneChunk`` of them, always a prefix of the log (so that every
    /// change after the new oldest one is still there). Whether more may be
    /// due. A failure is logged and ends the pass; the next one retries.
    private func pruneChunkOfChanges() -> Bool {
        let nowMilliseconds = SystemEventClock().now().instantTicks / (DateTimeOffset.ticksPerSecond / 1000)
        let cutoff = retention.maxAge.map { nowMilliseconds &- Int64(clamping: Self.nanoseconds($0) / 1_000_000) }
        let maxCount = retention.maxCount.map { Int64(max(0, $0)) }
        do {
            let (pruned, more) = try pool.writeWithoutTransaction { db -> (Int64, Bool) in
                var result: (Int64, Bool) = (0, false)
                try db.inTransaction(.immediate) {
                    guard let bounds = try Row.fetchOne(db.cachedStatement(sql: SQLiteSchema.changeBoundsSQL)),
                        let oldest = Self.integer(bounds, 0), let latest = Self.integer(bounds, 1)
                    else { return .commit }  // an empty log
                    let chunkEnd = oldest &+ Self.pruneChunk &- 1
                    var cut = oldest - 1
                    if let maxCount { cut = max(cut, latest &- maxCount) }
                    if let cutoff, cut < chunkEnd {
                        let rows = try Row.fetchCursor(db.cachedStatement(sql: SQLiteSchema.oldestChangesSQL), arguments: [Self.pruneChunk])
                        while let row = try rows.next() {
                            guard let cursor = Self.integer(row, 0), let committed = Self.integer(row, 1),
                                cursor <= chunkEnd, committed < cutoff
                            else { break }
                            cut = max(cut, cursor)
                        }
                    }
                    cut = min(cut, chunkEnd)
                    guard cut >= oldest else { return .commit }
                    try db.cachedStatement(sql: SQLiteSchema.pruneChangesSQL).execute(arguments: [cut])
                    result = (cut - oldest + 1, cut == chunkEnd)
                    return .commit
                }
                return result
            }
            if pruned > 0 {
                logger.debug("pruned the change log", metadata: ["path": "\(path)", "changes": "\(pruned)"])
            }
            return more
        } catch {
            logger.error("could not prune the change log; retrying at the next interval", metadata: ["path": "\(path)", "error": "\(error)"])
            return false
        }
    }

    /// One write transaction for the whole batch; every caller gets its own outcome.
    private func commit(_ batch: [SQLiteWrite]) {
        if let failure = syncer.failure {
            for write in batch { write.fail(failure) }
            return
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let now = SystemEventClock().now().instantTicks
        let applied: SQLiteBatch.Outcome
        do {
            applied = try pool.writeWithoutTransaction { db in
                var outcome: SQLiteBatch.Outcome?
                try db.inTransaction(.immediate) {
                    // A fresh batch on every attempt, so a failed one leaves nothing behind.
                    var attempt = SQLiteBatch(db: db, capacity: batch.count, now: now)
                    for write in batch { try attempt.apply(write) }
                    outcome = attempt.outcome
                    return .commit
                }
                guard let outcome else {
                    throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the batch transaction ended without applying its writes")
                }
                return outcome
            }
        } catch {
            let elapsed = DispatchTime.now().uptimeNanoseconds &- started
            let failure = SQLiteEventStore.commitError(error)
            state.withLock { state in
                state.statistics.failedBatches += 1
                state.statistics.failedWrites += batch.count
            }
            logger.error(
                "SQLite batch commit failed; every write in it is answered unavailable",
                metadata: [
                    "path": "\(path)", "batch": "\(batch.count)", "error": "\(error)",
                    "elapsed_us": "\(elapsed / 1000)",
                ])
            for write in batch { write.fail(failure) }
            return
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds &- started
        let creates = batch.count { $0.isCreate }
        let observer = state.withLock { state in
            state.records += Int64(applied.inserted) - Int64(applied.deleted)
            state.statistics.batches += 1
            state.statistics.writes += batch.count
            state.statistics.creates += creates
            state.statistics.inserted += applied.inserted
            state.statistics.replaced += applied.replaced
            state.statistics.deleted += applied.deleted
            state.statistics.largestBatch = max(state.statistics.largestBatch, batch.count)
            state.statistics.lastCommitNanoseconds = elapsed
            state.statistics.totalCommitNanoseconds &+= elapsed
            return state.recorder.record(batchSize: batch.count, nanoseconds: elapsed)
        }
        observer?(CommitSample(batchSize: batch.count, nanoseconds: elapsed))
        logger.trace("SQLite batch committed", metadata: [
            "batch": "\(batch.count)", "inserted": "\(applied.inserted)", "replaced": "\(applied.replaced)",
            "deleted": "\(applied.deleted)", "elapsed_us": "\(elapsed / 1000)",
        ])
        // Committed, not yet on disk: the syncer flushes the log, then watchers
        // see the changes (in cursor order) before the writers hear back.
        let changeFeed = changeFeed
        syncer.submit(WALSyncer.Batch(
            publish: {
                changeFeed.publish(applied.changes)
                if applied.unreadableChange, let last = applied.lastCursor {
                    // A change the feed cannot carry: restart its window after the
                    // batch, so watchers read these changes from the log.
                    changeFeed.reset(latest: last)
                }
            },
            answers: applied.answers))
        checkpointer?.committed()
    }
}
