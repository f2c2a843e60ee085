import Dispatch
import Foundation
import GRDB
import IdentityRiskCore
import Synchronization

/// Answers gets by id on threads of its own, many per read transaction.
///
/// Why: GRDB's async `read` costs three thread hops per call (a queue that
/// waits for a free reader, the reader's queue, the caller's task) plus a
/// BEGIN and COMMIT; at 256 gets in flight that held SQLite gets to ~3,000/s on
/// two cores, a quarter of the durable create rate. Here a get is queued under
/// a mutex with its completion (no task), and a reader thread takes every get
/// waiting (up to ``maxBatch``) into one synchronous read transaction, one
/// snapshot, and answers each from that thread.
///
/// Reads see every acknowledged write: a get is queued after its caller heard
/// of any write it depends on, and the transaction that answers it begins
/// after it was queued, so its snapshot holds that write.
///
/// Memory is bounded: at most ``maxQueued`` gets wait; more are answered
/// `resourceExhausted` with a retry-after at once. ``finish()`` answers what is
/// still queued `unavailable` (the store is closing) and stops the threads.
final class SQLiteGetBatcher: Sendable {
    typealias Completion = @Sendable (Result<IdentityRiskEvent?, IdentityRiskError>) -> Void

    struct Pending: Sendable {
        var id: String
        var completion: Completion
    }

    private struct State: Sendable {
        var queue: [Pending] = []
        var sleeping = 0
        var finishing = false
        var running = 0
    }

    static let maxBatch = 256
    static let maxQueued = 8192

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let pool: DatabasePool
    private let threads: Int
    /// A failed read, as the store describes it (closed, busy, damaged file).
    private let readError: @Sendable (any Error) -> IdentityRiskError

    init(pool: DatabasePool, threads: Int, readError: @escaping @Sendable (any Error) -> IdentityRiskError) {
        self.pool = pool
        self.threads = max(1, threads)
        self.readError = readError
    }

    func start() {
        state.withLock { $0.running = threads }
        for index in 0..<threads {
            let thread = Thread { [self] in
                GroupCommitWriter.nameThisThread("irisk-sqlread\(index)")
                run()
            }
            thread.start()
        }
    }

    /// Queues the get; `completion` runs once, on a reader thread (or at once
    /// when the queue is full or the store is closing).
    func get(id: String, completion: @escaping Completion) {
        enum Admission { case queued(wake: Bool), full, closed }
        let admission = state.withLock { state -> Admission in
            if state.finishing { return .closed }
            guard state.queue.count < Self.maxQueued else { return .full }
            state.queue.append(Pending(id: id, completion: completion))
            guard state.sleeping > 0 else { return .queued(wake: false) }
            state.sleeping -= 1
            return .queued(wake: true)
        }
        switch admission {
        case .queued(let wake):
            if wake { wakeUp.signal() }
        case .full:
            completion(.failure(IdentityRiskError(
                code: .resourceExhausted,
                message: "the SQLite event store has \(Self.maxQueued) gets waiting for a reader; retry shortly",
                retryAfterMilliseconds: 10)))
        case .closed:
            completion(.failure(SQLiteEventStore.closedError()))
        }
    }

    /// Answers what is queued `unavailable`, lets a batch being read finish,
    /// and returns once every reader thread has stopped. Idempotent; concurrent
    /// calls all return after the threads stopped.
    func finish() {
        beginFinish()
        stopped.wait()
        stopped.signal()  // for a concurrent or later finish()
    }

    /// ``finish()`` without waiting for the threads (the store's deinit).
    func beginFinish() {
        let (leftover, wakes) = state.withLock { state -> ([Pending], Int) in
            state.finishing = true
            defer { state.queue = []; state.sleeping = 0 }
            return (state.queue, state.sleeping)
        }
        for _ in 0..<wakes { wakeUp.signal() }
        for pending in leftover { pending.completion(.failure(SQLiteEventStore.closedError())) }
    }

    private func run() {
        while true {
            let (batch, finishing) = state.withLock { state -> ([Pending], Bool) in
                if state.finishing { return ([], true) }
                if state.queue.isEmpty {
                    state.sleeping += 1
                    return ([], false)
                }
                let taken = min(state.queue.count, Self.maxBatch)
                let batch = Array(state.queue.prefix(taken))
                state.queue.removeFirst(taken)
                return (batch, false)
            }
            if finishing { break }
            if batch.isEmpty {
                wakeUp.wait()
                continue
            }
            answer(batch)
        }
        let last = state.withLock { state -> Bool in
            state.running -= 1
            return state.running == 0
        }
        if last { stopped.signal() }
    }

    private func answer(_ batch: [Pending]) {
        let results: [Result<IdentityRiskEvent?, IdentityRiskError>]
        do {
            results = try pool.read { db in
                let select = try db.cachedStatement(sql: SQLiteSchema.selectByIDSQL)
                return batch.map { pending in
                    do {
                        guard let row = try Row.fetchOne(select, arguments: [pending.id]) else { return .success(nil) }
                        return .success(try SQLiteRowDecoder.decode(row))
                    } catch let error as IdentityRiskError {
                        return .failure(error)  // this record's row is damaged; the others are answered
                    } catch {
                        return .failure(readError(error))
                    }
                }
            }
        } catch {
            let failure = readError(error)
            for pending in batch { pending.completion(.failure(failure)) }
            return
        }
        for (pending, result) in zip(batch, results) { pending.completion(result) }
    }
}
