#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import IdentityRiskCore
import Logging
import Synchronization

/// Makes the batches ``GroupCommitWriter`` commits durable before anyone hears
/// of them, on a thread of its own, so that the writer builds the next batch
/// while the disk flushes the last one.
///
/// The writer connection runs with `synchronous = NORMAL`: its COMMIT writes
/// the batch's pages and commit frame to the write-ahead log without waiting
/// for the disk. Each committed batch is then handed here; this thread calls
/// `fdatasync` on the `-wal` file (one call covers every batch committed before
/// it started) and only then publishes the batch's changes to the
/// ``ChangeFeed`` and answers its writers, in commit order. So "acknowledged"
/// still means "on disk", and a batch costs the writer thread no fsync.
///
/// Why this is as safe as `synchronous = FULL`: the log only grows between
/// checkpoints, so the flush after batch N's commit covers N's frames and every
/// earlier one; and SQLite itself, at `NORMAL`, syncs the log before a
/// checkpoint copies it into the database, syncs the database after, and syncs
/// the log's header when it starts reusing the file: frames are never
/// overwritten before they are in the synced database. What a crash can lose is
/// a batch that committed but was not yet flushed: its writers were not
/// answered. (Other connections can read such a batch a few milliseconds
/// before its writers hear back, as in any database; only a power loss or an
/// operating system crash in that window can take it back, not a crash of
/// iriskd, whose writes are in the kernel's page cache by then.)
///
/// A flush that fails (EIO, ENOSPC on some file systems) answers the batches
/// it covered `unavailable` and stops the store taking writes: after a failed
/// fsync Linux may have dropped the dirty pages, and a later fsync can succeed
/// without them (PostgreSQL stops for the same reason). Reads go on.
///
/// Memory is bounded: at most ``maxPendingBatches`` committed batches wait
/// here; the writer waits for room before it hands over another.
final class WALSyncer: Sendable {
    /// One committed batch: what to publish and whom to answer once it is durable.
    struct Batch: Sendable {
        var publish: @Sendable () -> Void
        var answers: [SQLiteWriteAnswer]
    }

    /// Flushes the log; 0 on success, else the errno.
    typealias Flush = @Sendable () -> Int32

    private struct State: Sendable {
        var pending: [Batch] = []
        var sleeping = false
        var finishing = false
        var failure: IdentityRiskError?
    }

    static let maxPendingBatches = 8

    private let state = Mutex(State())
    /// Set (once, after `State.failure`) when a flush failed: the writer's
    /// admission checks it on every write without taking this syncer's lock.
    private let failed = Atomic<Bool>(false)
    private let wakeUp = DispatchSemaphore(value: 0)
    private let room = DispatchSemaphore(value: WALSyncer.maxPendingBatches)
    private let stopped = DispatchSemaphore(value: 0)
    private let flush: Flush
    private let path: String
    private let logger: Logger

    init(path: String, flush: @escaping Flush, logger: Logger) {
        self.path = path
        self.flush = flush
        self.logger = logger
    }

    func start() {
        GroupCommitWriter.startThread(named: "irisk-walsync") { [self] in run() }
    }

    /// The failure that stopped the store taking writes, if one did.
    var failure: IdentityRiskError? {
        guard failed.load(ordering: .acquiring) else { return nil }
        return state.withLock { $0.failure }
    }

    /// Hands over a committed batch (writer thread); waits while
    /// ``maxPendingBatches`` are already waiting for the disk.
    func submit(_ batch: Batch) {
        room.wait()
        let mustWake = state.withLock { state -> Bool in
            state.pending.append(batch)
            guard state.sleeping else { return false }
            state.sleeping = false
            return true
        }
        if mustWake { wakeUp.signal() }
    }

    /// Flushes and answers what was handed over, then stops the thread and
    /// returns (writer thread, before it closes the pool).
    func finish() {
        let mustWake = state.withLock { state -> Bool in
            state.finishing = true
            guard state.sleeping else { return false }
            state.sleeping = false
            return true
        }
        if mustWake { wakeUp.signal() }
        stopped.wait()
    }

    private func run() {
        while true {
            let (batches, finishing) = state.withLock { state -> ([Batch], Bool) in
                if state.pending.isEmpty, !state.finishing { state.sleeping = true }
                defer { state.pending = [] }
                return (state.pending, state.finishing)
            }
            if batches.isEmpty {
                if finishing { break }
                wakeUp.wait()
                continue
            }
            let failure = flushOnce()
            for batch in batches {
                // The changes are in the log whatever the flush said: the feed must not skip them.
                batch.publish()
                if let failure {
                    for answer in batch.answers { answer.fail(failure) }
                } else {
                    for answer in batch.answers { answer.deliver() }
                }
                room.signal()
            }
        }
        stopped.signal()
    }

    /// One flush; the store's failure once one has failed (then it does not flush again).
    private func flushOnce() -> IdentityRiskError? {
        if let failure = state.withLock({ $0.failure }) { return failure }
        let code = flush()
        guard code != 0 else { return nil }
        let failure = IdentityRiskError(
            code: .unavailable,
            message: "the SQLite store could not flush its write-ahead log to disk (\(String(cString: strerror(code)))): this write was committed but may not survive a power loss, and the store takes no more writes; check the disk and restart iriskd")
        state.withLock { $0.failure = failure }
        failed.store(true, ordering: .releasing)
        logger.critical("fdatasync of the write-ahead log failed; the store takes no more writes", metadata: [
            "path": "\(path)", "errno": "\(code)",
        ])
        return failure
    }
}

/// The `-wal` file of a database, flushed with `fdatasync` through a
/// descriptor of its own (on Linux, fsync flushes the file's dirty pages
/// whichever descriptor wrote them). Used only on the ``WALSyncer`` thread.
final class WALFile: @unchecked Sendable {
    private let walPath: String
    private let databasePath: String
    private var fd: Int32 = -1
    private var device: UInt64 = 0
    private var inode: UInt64 = 0

    init(databasePath: String) {
        self.databasePath = databasePath
        self.walPath = databasePath + "-wal"
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// 0 or the errno. Checks that the descriptor still names the `-wal` file
    /// (SQLite deletes it only when the last connection closes, after this
    /// thread has stopped; the check makes that an assumption nobody relies on).
    /// Without a `-wal` file everything is in the database file: that is flushed.
    func flush() -> Int32 {
        var status = stat()
        guard stat(walPath, &status) == 0 else {
            guard errno == ENOENT else { return errno }
            return Self.flush(path: databasePath)
        }
        if fd < 0 || UInt64(status.st_dev) != device || UInt64(status.st_ino) != inode {
            if fd >= 0 { close(fd) }
            fd = open(walPath, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { return errno }
            var opened = stat()
            guard fstat(fd, &opened) == 0 else { return errno }
            device = UInt64(opened.st_dev)
            inode = UInt64(opened.st_ino)
        }
        return Self.dataSync(fd)
    }

    private static func flush(path: String) -> Int32 {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        return dataSync(fd)
    }

    /// `fdatasync`, again after a signal interrupted it; 0 or the errno.
    private static func dataSync(_ fd: Int32) -> Int32 {
        while fdatasync(fd) != 0 {
            guard errno == EINTR else { return errno }
        }
        return 0
    }
}
