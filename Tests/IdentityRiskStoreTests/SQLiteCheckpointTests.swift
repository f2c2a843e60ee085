import Foundation
import GRDB
import IdentityRiskCore
@testable import IdentityRiskStore
import Testing

/// Checkpoints off the writer (`WALCheckpointer`): while writes come in, the
/// log is copied into the database on a thread of its own, the log starts
/// over instead of growing to SQLite's automatic bound, and nothing is lost.
/// (Kill -9 during those passes: `CrashTests`, `--sqlite-checkpoint-ms`.)
@Suite("SQLiteEventStore checkpoints")
struct SQLiteCheckpointTests {
    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Creates `count` records, 64 at a time, and returns them.
    static func fill(_ store: SQLiteEventStore, _ prefix: String, count: Int) async throws -> [IdentityRiskEvent] {
        var written: [IdentityRiskEvent] = []
        for wave in stride(from: 0, to: count, by: 64) {
            let events = try (wave ..< min(count, wave + 64)).map { n in
                var e = try Fixture.event("\(prefix)-\(n)")
                e.userId = "user-\(n % 97)"
                return e
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for e in events { group.addTask { _ = try await store.create(e) } }
                try await group.waitForAll()
            }
            written += events
        }
        return written
    }

    /// Frames in the log (`PRAGMA wal_checkpoint` on a connection of the
    /// test's own answers how many the log holds, then copies them).
    static func logFrames(_ path: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.writeWithoutTransaction { db in
            let row = try #require(try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)"))
            return row[1] as Int
        }
    }

    /// Creates `count` records, then one more after the log was copied; the
    /// database file's size and the frames in the log, with the store still
    /// open; then every record is read back after reopening.
    static func run(_ interval: Duration?, count: Int) async throws -> (database: Int, frames: Int, statistics: SQLiteEventStore.Statistics) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/events.sqlite"
        let store = try SQLiteEventStore(path: path, configuration: .init(checkpointInterval: interval))
        var written = try await fill(store, "cp", count: count)
        // The pass after the last commit copies the whole log.
        try await Task.sleep(for: .milliseconds(200))
        // So the next write starts the log over (when it was all copied).
        written += try await fill(store, "last", count: 1)
        try await Task.sleep(for: .milliseconds(100))
        let statistics = store.statistics
        let database = size(path)
        let frames = try logFrames(path)
        await store.close()
        let reopened = try SQLiteEventStore(path: path)
        for e in written {
            #expect(try await reopened.get(id: e.id) == e, "\(e.id) reads back")
        }
        await reopened.close()
        return (database, frames, statistics)
    }

    @Test("with a checkpoint interval the log is copied into the database while writes come in and starts over; without, it only grows; every record reads back")
    func copiesOffTheWriter() async throws {
        let count = 4000
        let off = try await Self.run(nil, count: count)
        let on = try await Self.run(.milliseconds(5), count: count)
        #expect(off.statistics.checkpoints == 0, "no checkpointer without an interval")
        #expect(on.statistics.checkpoints > 0)
        #expect(on.statistics.completeCheckpoints > 0, "a pass copied the whole log: \(on.statistics)")
        #expect(on.statistics.failedCheckpoints == 0)
        // Without: the records are still in the log (SQLite's own checkpoint
        // waits for 10,000 pages). With: they are in the database, and the
        // write after the last pass started the log over.
        #expect(off.frames > 1000, "off: \(off.frames) frames in the log")
        #expect(on.database > 2 * off.database, "on: database \(on.database) B against \(off.database) B off")
        #expect(on.frames < 100, "on: \(on.frames) frames in the log (off: \(off.frames))")
    }

    @Test("a checkpoint interval that is not positive is refused, naming the setting")
    func refusesNonPositive() async throws {
        try await withTemporaryDirectory { directory in
            for interval in [Duration.zero, .milliseconds(-5)] {
                let error = #expect(throws: IdentityRiskError.self) {
                    try SQLiteEventStore(path: directory + "/events.sqlite", configuration: .init(checkpointInterval: interval))
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains("checkpointInterval must be positive") == true, "\(String(describing: error?.message))")
            }
        }
    }
}
