import Foundation
import IdentityRiskCore
import IdentityRiskTestSupport
@testable import IdentityRiskStore
import Testing

/// One database, one iriskd: the SQLite store's `flock` on its database file.
/// The other holders are a second store in this process and a child process
/// (`sh` with `flock(1)`), so that this process never closes a descriptor of a
/// file its own SQLite has open (see `DatabaseFileLock`).
@Suite("SQLiteEventStore database lock")
struct SQLiteDatabaseLockTests {
    @Test("a second store on the same file in this process is refused with a clear error; after the first closed, it opens")
    func secondStoreInProcess() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let first = try SQLiteEventStore(path: path)
            _ = try await first.create(try Fixture.event("locked-1"))
            let error = #expect(throws: IdentityRiskError.self) { try SQLiteEventStore(path: path) }
            #expect(error?.code == .unavailable)
            #expect(error?.innerCode == "DatabaseInUse")
            #expect(error?.message.contains("the database \(path) is in use by another") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("one database belongs to one iriskd") == true)
            #expect(error?.message.contains("--store") == true)
            // The refusal touched nothing: the first store still works.
            _ = try await first.create(try Fixture.event("locked-2"))
            await first.close()

            let second = try SQLiteEventStore(path: path)
            #expect(try await second.get(id: "locked-2") != nil)
            await second.close()
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
            #expect(files.isSubset(of: ["events.sqlite", "events.sqlite-wal", "events.sqlite-shm"]), "no lock file: \(files)")
        }
    }

    @Test("another process sees the file locked while the store is open, and free once it closed")
    func lockedForOtherProcesses() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let store = try SQLiteEventStore(path: path)
            #expect(try await runFlockProbe(path) == 75, "flock -n reports the conflict while the store is open")
            await store.close()
            #expect(try await runFlockProbe(path) == 0, "free after close")
        }
    }

    @Test("a file locked by another process is refused at open ('another iriskd'), and opens once that process is gone")
    func lockedByOtherProcess() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/bin/sh")
            // exec: the shell becomes `sleep`, so terminating it closes the locked descriptor.
            holder.arguments = ["-c", "exec 9<>\"$0\" && flock -n 9 || exit 75; echo locked; exec sleep 60", path]
            let output = Pipe()
            holder.standardOutput = output
            try holder.run()
            let line = try await blocking { String(decoding: output.fileHandleForReading.readData(ofLength: 7), as: UTF8.self) }
            try #require(line == "locked\n", "the child holds the lock")

            let error = #expect(throws: IdentityRiskError.self) { try SQLiteEventStore(path: path) }
            #expect(error?.innerCode == "DatabaseInUse")
            #expect(error?.message == "the database \(path) is in use by another iriskd (pid unknown); one database belongs to one iriskd: stop the other one or use another --store path")

            holder.terminate()
            try await blocking { holder.waitUntilExit() }
            let store = try SQLiteEventStore(path: path)
            _ = try await store.create(try Fixture.event("after-holder"))
            await store.close()
        }
    }

    /// `flock -n -E 75 PATH true` in a child process: 75 when the file is locked, 0 when not.
    /// (On a thread of its own: `waitUntilExit` must not block the cooperative pool.)
    private func runFlockProbe(_ path: String) async throws -> Int32 {
        try await blocking {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
            probe.arguments = ["-n", "-E", "75", path, "true"]
            try probe.run()
            probe.waitUntilExit()
            return probe.terminationStatus
        }
    }
}
