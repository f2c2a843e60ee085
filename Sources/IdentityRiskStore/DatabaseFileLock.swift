#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskCore
import Synchronization

/// One database, one iriskd: an exclusive `flock(2)` on the database file
/// itself, held by ``SQLiteEventStore`` from before SQLite opens the file
/// until after SQLite has closed it.
///
/// Why: two servers on one file would each keep their own change feed, their
/// own view of the log's cursors and their own retention; SQLite would keep
/// the file consistent, but watchers of one would miss the other's changes.
/// A second store on the same file (another process, or a second
/// `SQLiteEventStore` in this one) therefore fails at open, naming the path.
///
/// Why the database file and `flock`: no lock file is created, so none is
/// ever left behind, and the kernel drops the lock when the process dies
/// (`kill -9` included), so a restart never finds a stale one. `flock` locks
/// belong to an open file description and are independent of the POSIX
/// (`fcntl`) record locks SQLite takes on the same file: neither sees the other.
///
/// One trap remains: closing *any* descriptor of a file drops every POSIX lock
/// the process holds on it, SQLite's included. So this process never closes a
/// descriptor of a file its SQLite has open: our own descriptor is closed only
/// after SQLite has closed the database (``release()``, from the writer thread
/// after `DatabasePool.close()`), and a second open in this process is refused
/// from a registry of open files (device and inode, checked with `stat`)
/// *before* any descriptor is opened. Another process that is refused closes
/// only its own descriptor, which drops only its own (no) locks.
final class DatabaseFileLock: Sendable {
    private struct FileID: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// The database files locked by this process.
    private static let lockedInThisProcess = Mutex<Set<FileID>>([])

    private let descriptor: CInt
    private let file: FileID
    private let released = Atomic<Bool>(false)

    private init(descriptor: CInt, file: FileID) {
        self.descriptor = descriptor
        self.file = file
    }

    /// Opens (creating it if needed, as SQLite would) the database file at
    /// `path` and locks it.
    ///
    /// - Throws: `unavailable` naming `path`: when another store holds it
    ///   (innerCode `DatabaseInUse`), or when the file cannot be opened.
    static func acquire(path: String) throws(IdentityRiskError) -> DatabaseFileLock {
        try lockedInThisProcess.withLock { (locked) throws(IdentityRiskError) -> DatabaseFileLock in
            if let existing = fileID(path: path), locked.contains(existing) {
                throw inUse(path, by: "another SQLiteEventStore in this process", advice: "close the other store")
            }
            var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            if fd < 0, errno == EACCES || errno == EROFS {
                // A read-only file: SQLite opens it read-only and refuses writes
                // with its own clear error; the lock works on any descriptor.
                fd = open(path, O_RDONLY | O_CLOEXEC)
            }
            guard fd >= 0 else {
                throw IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)': \(errorText(errno))")
            }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let problem = errorText(errno)
                close(fd)
                throw IdentityRiskError(code: .unavailable, message: "cannot open the SQLite event store at '\(path)': \(problem)")
            }
            let file = FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            if locked.contains(file) {
                // Unreachable after the stat above, unless the file was replaced meanwhile;
                // keep the descriptor open rather than drop the other store's SQLite locks.
                throw inUse(path, by: "another SQLiteEventStore in this process", advice: "close the other store")
            }
            // A conflict is retried for up to 200 ms: a child process that another
            // thread is starting holds copies of our descriptors (close-on-exec
            // drops them only at its exec), so a lock we just released can still
            // look held for a moment. Another iriskd holds it for good.
            var code: CInt = 0
            for attempt in 0...20 {
                if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                    code = 0
                    break
                }
                code = errno
                guard code == EWOULDBLOCK, attempt < 20 else { break }
                usleep(10_000)
            }
            guard code == 0 else {
                close(fd)  // nothing of this process has the file open: this drops no lock of ours
                if code == EWOULDBLOCK {
                    throw inUse(path, by: "another iriskd (pid unknown)", advice: "stop the other one")
                }
                throw IdentityRiskError(code: .unavailable, message: "cannot lock the SQLite event store at '\(path)': \(errorText(code))")
            }
            locked.insert(file)
            return DatabaseFileLock(descriptor: fd, file: file)
        }
    }

    /// Unlocks and closes the descriptor. Call only once SQLite has closed the
    /// file (see the type's documentation). Idempotent.
    func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Self.lockedInThisProcess.withLock { locked in
            close(descriptor)
            locked.remove(file)
        }
    }

    private static func fileID(path: String) -> FileID? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    private static func inUse(_ path: String, by holder: String, advice: String) -> IdentityRiskError {
        IdentityRiskError(
            code: .unavailable,
            message: "the database \(path) is in use by \(holder); one database belongs to one iriskd: "
                + "\(advice) or use another --store path",
            target: "store",
            innerCode: "DatabaseInUse")
    }

    private static func errorText(_ code: CInt) -> String {
        String(cString: strerror(code))
    }
}
