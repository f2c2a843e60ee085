#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import GRDBSQLite
import IdentityRiskCore
import Logging
import Synchronization

/// Copies the write-ahead log into the database on a thread and connection of
/// its own, so that checkpoints leave the writer's commits.
///
/// Without it, SQLite checkpoints inside a commit: when the log passes
/// ``SQLiteEventStore/walAutocheckpointPages`` pages, the committing
/// connection (the writer) copies all of them into the database and syncs it,
/// and every write queued behind that batch waits. Here, after the writer
/// commits, this thread runs a `PASSIVE` checkpoint at most once per
/// `interval`: it copies what the log holds beyond the database while the
/// writer goes on appending (SQLite lets one checkpointer and one writer run
/// at once), without waiting for readers or the writer. When a pass has
/// copied every frame before the writer's next transaction begins, that
/// transaction starts the log over from its beginning. Under steady load that
/// is rare (the writer has appended more by the time a pass ends), so the
/// writer's own automatic checkpoint stays on: it finds all but the last
/// pass's worth copied already (or the checkpoint lock taken by this thread,
/// and skips), and starts the log over. Measured (4 × 64, fresh store, 3
/// rounds): creates +11%, p99 73 → 52 ms; 100 ms instead of 20 gave less
/// (+3%, p99 63 ms).
///
/// Durability is unchanged: this connection runs with `synchronous = NORMAL`,
/// so SQLite syncs the log before a checkpoint copies it and the database
/// after, exactly as when the writer checkpoints; a frame is marked copied
/// only once the database holding it is synced, and the log is reused only
/// after that (see ``WALSyncer`` for why that keeps every acknowledged
/// batch). A checkpoint that fails leaves the log as it was (nothing is marked
/// copied); it is logged and retried at the next interval.
final class WALCheckpointer: Sendable {
    private struct State: Sendable {
        /// A batch committed since the last pass began.
        var pending = false
        var sleeping = false
        var finishing = false
        var statistics = Statistics()
        var lastFailure: String?
    }

    /// Passes run, and what they found.
    struct Statistics: Sendable, Hashable {
        var passes = 0
        /// Passes that copied every frame in the log (the next write may start it over).
        var complete = 0
        /// Passes that found the checkpoint lock taken (by the writer's own
        /// automatic checkpoint): nothing to do.
        var busy = 0
        /// Passes that failed otherwise (I/O errors), each new kind logged.
        var failed = 0
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let path: String
    private let interval: Duration
    private let logger: Logger
    /// The connection, used only by the thread (and closed by it).
    private let connection: Connection

    /// The thread's own SQLite connection handle.
    private final class Connection: @unchecked Sendable {
        var handle: OpaquePointer?
    }

    /// Opens the checkpointing connection (read-write, not creating: the store
    /// has created and migrated the file by now).
    init(path: String, interval: Duration, logger: Logger) throws(IdentityRiskError) {
        self.path = path
        self.interval = interval
        self.logger = logger
        connection = Connection()
        var handle: OpaquePointer?
        let code = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)' for checkpoints: \(message)")
        }
        // NORMAL: sync the log before copying, the database after. The
        // others as the writer (fullfsync is a no-op off Apple platforms).
        // The read opens the connection's view of the log: a checkpoint on a
        // connection that never read may find no log to copy.
        let setup = """
            PRAGMA synchronous = NORMAL; PRAGMA fullfsync = ON; PRAGMA checkpoint_fullfsync = ON; PRAGMA wal_autocheckpoint = 0;
            SELECT count(*) FROM sqlite_schema
            """
        guard sqlite3_exec(handle, setup, nil, nil, nil) == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(handle))
            sqlite3_close(handle)
            throw IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)' for checkpoints: \(message)")
        }
        connection.handle = handle
    }

    func start() {
        GroupCommitWriter.startThread(named: "irisk-checkpnt") { [self] in run() }
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    /// The writer committed a batch: a pass is due (within `interval`).
    func committed() {
        update { $0.pending = true }
    }

    /// Stops the thread (after the pass it may be running) and closes its
    /// connection; returns once both are done. Call once, before the pool closes.
    func finish() {
        update { $0.finishing = true }
        stopped.wait()
    }

    /// Applies `change` and wakes the thread if it sleeps.
    private func update(_ change: (inout State) -> Void) {
        let mustWake = state.withLock { state -> Bool in
            change(&state)
            guard state.sleeping else { return false }
            state.sleeping = false
            return true
        }
        if mustWake { wakeUp.signal() }
    }

    private func run() {
        let pause = UInt32(clamping: GroupCommitWriter.nanoseconds(interval) / 1000)
        while true {
            let work = state.withLock { state -> Bool? in
                if state.finishing { return nil }
                if state.pending {
                    state.pending = false
                    return true
                }
                state.sleeping = true
                return false
            }
            guard let work else { break }
            guard work else {
                wakeUp.wait()
                continue
            }
            pass()
            // At most one pass per interval: writes that commit meanwhile
            // set `pending` and are copied by the next one.
            if pause > 0 { usleep(pause) }
        }
        sqlite3_close(connection.handle)
        connection.handle = nil
        stopped.signal()
    }

    private func pass() {
        var logFrames: Int32 = -1
        var copiedFrames: Int32 = -1
        let code = sqlite3_wal_checkpoint_v2(connection.handle, "main", SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copiedFrames)
        let busy = code == SQLITE_BUSY
        let failure: String? = code == SQLITE_OK || busy ? nil : String(cString: sqlite3_errmsg(connection.handle))
        let (report, recovered) = state.withLock { state -> (Bool, Bool) in
            state.statistics.passes += 1
            let recovered = failure == nil && state.lastFailure != nil
            let report = failure != nil && failure != state.lastFailure
            state.lastFailure = failure
            guard failure == nil else {
                state.statistics.failed += 1
                return (report, recovered)
            }
            guard !busy else {
                state.statistics.busy += 1
                return (report, recovered)
            }
            if logFrames >= 0, logFrames == copiedFrames { state.statistics.complete += 1 }
            return (report, recovered)
        }
        // Each new kind of failure once, not once per interval.
        if report, let failure {
            logger.error("SQLite checkpoint failed; the log keeps every frame and the next pass retries", metadata: [
                "path": "\(path)", "code": "\(code)", "error": "\(failure)",
            ])
        } else if recovered {
            logger.notice("SQLite checkpoints succeed again", metadata: ["path": "\(path)"])
        }
    }
}
