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
/// for the whole transaction, fsync included (milliseconds). On a thread of its
/// own that costs nothing, whereas on Swift concurrency's cooperative pool (two
/// threads on a two-core host) it would stall unrelated tasks. The thread also
/// gives the shortest path for a lone caller: append under a mutex, one
/// semaphore signal, the thread wakes, runs the transaction on itself (GRDB's
/// serial writer queue executes `sync` work on the calling thread) and resumes
/// the caller's continuation; no task or queue hops in between. Under load
/// batching is automatic: while one transaction commits, new writes pile up
/// in the queue and the next loop iteration takes all of them (up to
/// `maxBatchSize`) into one transaction: one fsync for the whole group, and no
/// artificial delay for anyone. Writes apply in queue order (`SQLiteBatch`).
///
/// Memory is bounded: at most `maxQueuedWrites` writes wait in the queue (a
/// write beyond that is refused with `resourceExhausted` at once) plus at most
/// `maxBatchSize` in the transaction being committed.
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
    }

    private enum Step {
        case commit([SQLiteWrite])
        case sleep
        case exit
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let pool: DatabasePool
    private let path: String
    private let maxQueuedWrites: Int
    private let maxBatchSize: Int
    private let logger: Logger

    /// Milliseconds a refused caller should wait before retrying.
    static let queueFullRetryAfterMilliseconds: UInt32 = 50

    init(pool: DatabasePool, path: String, maxQueuedWrites: Int, maxBatchSize: Int, logger: Logger) {
        self.pool = pool
        self.path = path
        self.maxQueuedWrites = maxQueuedWrites
        self.maxBatchSize = maxBatchSize
        self.logger = logger
    }

    /// Starts the writer thread. Call once.
    func start() {
        let thread = Thread { [self] in
            Self.nameThisThread("irisk-sqlwriter")
            run()
        }
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    /// The calling thread's name in top -H, perf and gdb (Linux keeps at most 15
    /// characters; Foundation's `Thread.name` does not reach the kernel here).
    private static func nameThisThread(_ name: String) {
        #if canImport(Glibc)
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        #endif
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    var isAccepting: Bool { state.withLock { $0.accepting } }

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

    // MARK: - Writer thread

    private func run() {
        logger.debug("SQLite writer started", metadata: ["path": "\(path)"])
        loop: while true {
            let step = state.withLock { state -> Step in
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
            case .commit(let batch): commit(batch)
            case .sleep: wakeUp.wait()
            case .exit: break loop
            }
        }
        do {
            try pool.close()
        } catch {
            logger.error("could not close the SQLite database cleanly", metadata: ["path": "\(path)", "error": "\(error)"])
        }
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer { state.closeWaiters = [] }
            return state.closeWaiters
        }
        logger.debug("SQLite writer stopped", metadata: ["path": "\(path)"])
        for waiter in waiters { waiter.resume() }
    }

    /// One write transaction for the whole batch; every caller gets its own outcome.
    private func commit(_ batch: [SQLiteWrite]) {
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
        state.withLock { state in
            state.statistics.batches += 1
            state.statistics.writes += batch.count
            state.statistics.creates += creates
            state.statistics.inserted += applied.inserted
            state.statistics.replaced += applied.replaced
            state.statistics.deleted += applied.deleted
            state.statistics.largestBatch = max(state.statistics.largestBatch, batch.count)
            state.statistics.lastCommitNanoseconds = elapsed
            state.statistics.totalCommitNanoseconds &+= elapsed
        }
        logger.trace("SQLite batch committed", metadata: [
            "batch": "\(batch.count)", "inserted": "\(applied.inserted)", "replaced": "\(applied.replaced)",
            "deleted": "\(applied.deleted)", "elapsed_us": "\(elapsed / 1000)",
        ])
        for answer in applied.answers { answer.deliver() }
    }
}
