#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import GRDB
import IdentityRiskCore
import Logging
import Synchronization

/// The write side of ``SQLiteEventStore``: a bounded queue of creates and one
/// long-lived writer thread that commits them in groups.
///
/// Why a dedicated thread: GRDB's `DatabasePool` write API blocks its caller
/// for the whole transaction, fsync included (milliseconds). On a thread of its
/// own that costs nothing, whereas on Swift concurrency's cooperative pool (two
/// threads on a two-core host) it would stall unrelated tasks. The thread also
/// gives the shortest path for a lone caller: append under a mutex, one
/// semaphore signal, the thread wakes, runs the transaction on itself (GRDB's
/// serial writer queue executes `sync` work on the calling thread) and resumes
/// the caller's continuation; no task or queue hops in between. Under load
/// batching is automatic: while one transaction commits, new creates pile up
/// in the queue and the next loop iteration takes all of them (up to
/// `maxBatchSize`) into one transaction: one fsync for the whole group, and no
/// artificial delay for anyone.
///
/// Memory is bounded: at most `maxQueuedCreates` creates wait in the queue (a
/// create beyond that is refused with `resourceExhausted` at once) plus at most
/// `maxBatchSize` in the transaction being committed.
final class GroupCommitWriter: Sendable {
    typealias Statistics = SQLiteEventStore.Statistics

    typealias Completion = @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void

    private struct Pending: Sendable {
        var event: IdentityRiskEvent
        var completion: Completion
    }

    private struct State: Sendable {
        var queue: [Pending] = []
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
        case commit([Pending])
        case sleep
        case exit
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let pool: DatabasePool
    private let path: String
    private let maxQueuedCreates: Int
    private let maxBatchSize: Int
    private let logger: Logger

    /// Milliseconds a refused caller should wait before retrying.
    static let queueFullRetryAfterMilliseconds: UInt32 = 50

    init(pool: DatabasePool, path: String, maxQueuedCreates: Int, maxBatchSize: Int, logger: Logger) {
        self.pool = pool
        self.path = path
        self.maxQueuedCreates = maxQueuedCreates
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

    /// Queues `event` and returns once the batch holding it is committed (or failed).
    /// A task cancelled before the create is queued gets `cancelled`; once
    /// queued, the create is not abandoned and its outcome is returned.
    func create(_ event: IdentityRiskEvent) async throws -> CreateOutcome {
        if Task.isCancelled {
            throw IdentityRiskError(code: .cancelled, message: "the create was cancelled before it was queued; nothing was stored")
        }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CreateOutcome, any Error>) in
            submit(event) { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// Queues `event`; `completion` runs on the writer thread once the batch
    /// holding it is committed or failed, or at once (on the caller's thread)
    /// if the queue is full or the store closed. Exactly once either way.
    func submit(_ event: IdentityRiskEvent, completion: @escaping Completion) {
        let admission = state.withLock { state -> Result<Bool, IdentityRiskError> in
            guard state.accepting else { return .failure(SQLiteEventStore.closedError()) }
            guard state.queue.count < maxQueuedCreates else {
                state.statistics.refusedCreates += 1
                return .failure(IdentityRiskError(
                    code: .resourceExhausted,
                    message: "the SQLite store's write queue is full (\(maxQueuedCreates) creates waiting to commit); retry shortly",
                    retryAfterMilliseconds: Self.queueFullRetryAfterMilliseconds
                ))
            }
            state.queue.append(Pending(event: event, completion: completion))
            guard state.writerSleeping else { return .success(false) }
            state.writerSleeping = false
            return .success(true)
        }
        switch admission {
        case .success(let mustWake):
            if mustWake { wakeUp.signal() }
        case .failure(let error):
            completion(.failure(error))
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

    /// ``beginShutdown()``, then waits until every queued create is answered and
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
    private func commit(_ batch: [Pending]) {
        let started = DispatchTime.now().uptimeNanoseconds
        var outcomes: [Result<CreateOutcome, IdentityRiskError>] = []
        outcomes.reserveCapacity(batch.count)
        var inserted = 0
        do {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    // Reset on every attempt so a failed transaction leaves nothing behind.
                    outcomes.removeAll(keepingCapacity: true)
                    inserted = 0
                    let insert = try db.cachedStatement(sql: SQLiteSchema.insertSQL)
                    let select = try db.cachedStatement(sql: SQLiteSchema.selectByIDSQL)
                    for pending in batch {
                        let event = pending.event
                        if try SQLiteInsertBinding.insert(event, with: insert, in: db) {
                            inserted += 1
                            outcomes.append(.success(CreateOutcome(event: event, alreadyExisted: false)))
                            continue
                        }
                        // The id exists: stored earlier, or earlier in this batch.
                        guard let row = try Row.fetchOne(select, arguments: [event.id]) else {
                            throw DatabaseError(
                                resultCode: .SQLITE_INTERNAL,
                                message: "id '\(event.id)' conflicted on insert but cannot be selected")
                        }
                        outcomes.append(Result { () throws(IdentityRiskError) -> CreateOutcome in
                            let stored = try SQLiteSchema.decode(row)
                            guard stored.hasSameContent(as: event) else { throw .conflict(id: event.id) }
                            return CreateOutcome(event: stored, alreadyExisted: true)
                        })
                    }
                    return .commit
                }
            }
        } catch {
            let elapsed = DispatchTime.now().uptimeNanoseconds &- started
            let failure = SQLiteEventStore.commitError(error)
            state.withLock { state in
                state.statistics.failedBatches += 1
                state.statistics.failedCreates += batch.count
            }
            logger.error(
                "SQLite batch commit failed; every create in it is answered unavailable",
                metadata: [
                    "path": "\(path)", "batch": "\(batch.count)", "error": "\(error)",
                    "elapsed_us": "\(elapsed / 1000)",
                ])
            for pending in batch { pending.completion(.failure(failure)) }
            return
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds &- started
        state.withLock { state in
            state.statistics.batches += 1
            state.statistics.creates += batch.count
            state.statistics.inserted += inserted
            state.statistics.largestBatch = max(state.statistics.largestBatch, batch.count)
            state.statistics.lastCommitNanoseconds = elapsed
            state.statistics.totalCommitNanoseconds &+= elapsed
        }
        logger.trace("SQLite batch committed", metadata: [
            "batch": "\(batch.count)", "inserted": "\(inserted)", "elapsed_us": "\(elapsed / 1000)",
        ])
        for (pending, outcome) in zip(batch, outcomes) {
            pending.completion(outcome)
        }
    }
}
