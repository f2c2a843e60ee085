#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import Synchronization
import Testing

/// The flush of each committed batch (`WALSyncer`): a write is answered only
/// after the write-ahead log is on disk, the writer commits the next batch
/// while the last one is being flushed, and a failed flush answers
/// `unavailable` and stops the store taking writes.
@Suite("SQLiteEventStore flushing")
struct SQLiteFlushTests {
    /// A flush the test holds until it opens the gate; counts the flushes.
    final class GatedFlush: Sendable {
        private let gate = DispatchSemaphore(value: 0)
        private let state = Mutex((entered: 0, open: false, result: Int32(0)))

        var entered: Int { state.withLock { $0.entered } }

        func flush() -> Int32 {
            let open = state.withLock { state -> Bool in
                state.entered += 1
                return state.open
            }
            if !open { gate.wait() }
            return state.withLock { $0.result }
        }

        /// Lets every waiting and later flush through, answering `result`.
        func open(result: Int32 = 0) {
            let waiting = state.withLock { state -> Int in
                state.open = true
                state.result = result
                return state.entered
            }
            for _ in 0..<waiting { gate.signal() }
        }
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .sequentiallyConsistent) }
        var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    }

    /// Polls `condition` every 10 ms, for at most 20 s.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<2000 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    static func open(_ directory: String, flush: GatedFlush) throws -> SQLiteEventStore {
        try SQLiteEventStore(path: directory + "/events.sqlite", flush: { flush.flush() })
    }

    @Test("the writer connection is in WAL mode with synchronous NORMAL; each batch is flushed with fdatasync")
    func durabilitySettings() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let settings = try await store.writerDurabilitySettings()
            #expect(settings.journalMode == "wal")
            #expect(settings.synchronous == 1, "PRAGMA synchronous must be NORMAL (1): WALSyncer flushes")
            // The real flush: the -wal file exists once something is written, and a create comes back.
            _ = try await store.create(try Fixture.event("flushed-1"))
            #expect(FileManager.default.fileExists(atPath: directory + "/events.sqlite-wal"))
            #expect(WALFile(databasePath: directory + "/events.sqlite").flush() == 0)
            #expect(try await store.get(id: "flushed-1")?.id == "flushed-1")
            await store.close()
        }
    }

    @Test("a create is answered only after its committed batch is flushed, and its change is published only then")
    func answeredAfterFlush() async throws {
        try await withTemporaryDirectory { directory in
            let flush = GatedFlush()
            let store = try Self.open(directory, flush: flush)
            let answered = Flag()
            let create = Task {
                defer { answered.set() }
                return try await store.create(try Fixture.event("held-1"))
            }
            #expect(try await Self.eventually { store.statistics.batches == 1 && flush.entered == 1 })
            // Committed (readable) but not on disk: not answered, not published.
            try await Task.sleep(for: .milliseconds(200))
            #expect(!answered.isSet)
            #expect(try await store.get(id: "held-1") != nil)
            #expect(store.changeFeed.latest == ChangeCursor(0))
            flush.open()
            let outcome = try await create.value
            #expect(outcome.event.id == "held-1" && !outcome.alreadyExisted)
            #expect(store.changeFeed.latest == ChangeCursor(1))
            await store.close()
        }
    }

    @Test("the writer commits the next batch while the last one is being flushed; both are answered in order")
    func nextBatchOverlapsTheFlush() async throws {
        try await withTemporaryDirectory { directory in
            let flush = GatedFlush()
            let store = try Self.open(directory, flush: flush)
            let first = Task { try await store.create(try Fixture.event("overlap-1")) }
            #expect(try await Self.eventually { store.statistics.batches == 1 && flush.entered == 1 })
            let second = Task { try await store.create(try Fixture.event("overlap-2")) }
            // The first flush is still held, yet the second batch commits.
            #expect(try await Self.eventually { store.statistics.batches == 2 })
            #expect(flush.entered == 1)
            flush.open()
            #expect(try await first.value.event.id == "overlap-1")
            #expect(try await second.value.event.id == "overlap-2")
            #expect(store.changeFeed.latest == ChangeCursor(2))
            await store.close()
        }
    }

    @Test("close() flushes and answers every committed batch before the database closes")
    func closeFlushesFirst() async throws {
        try await withTemporaryDirectory { directory in
            let flush = GatedFlush()
            let store = try Self.open(directory, flush: flush)
            let create = Task { try await store.create(try Fixture.event("closing-1")) }
            #expect(try await Self.eventually { flush.entered == 1 })
            let closed = Flag()
            let closing = Task {
                await store.close()
                closed.set()
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(!closed.isSet, "close() must wait for the held flush")
            flush.open()
            #expect(try await create.value.event.id == "closing-1")
            await closing.value
            let reopened = try SQLiteEventStore(path: directory + "/events.sqlite")
            #expect(try await reopened.get(id: "closing-1") != nil)
            await reopened.close()
        }
    }

    @Test("a failed flush answers the batch unavailable and refuses later writes; reads go on")
    func failedFlush() async throws {
        try await withTemporaryDirectory { directory in
            let flush = GatedFlush()
            flush.open(result: EIO)
            let store = try Self.open(directory, flush: flush)
            let error = await #expect(throws: IdentityRiskError.self) { _ = try await store.create(try Fixture.event("lost-1")) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("could not flush its write-ahead log") == true)
            #expect(error?.message.contains(String(cString: strerror(EIO))) == true)
            let entered = flush.entered
            // Later writes are refused at once, without another flush.
            let later = await #expect(throws: IdentityRiskError.self) { _ = try await store.create(try Fixture.event("lost-2")) }
            #expect(later?.code == .unavailable)
            #expect(flush.entered == entered)
            // The committed batch stays readable (and in the log: the feed did not skip it).
            #expect(try await store.get(id: "lost-1") != nil)
            #expect(try await store.get(id: "lost-2") == nil)
            #expect(store.changeFeed.latest == ChangeCursor(1))
            await store.close()
        }
    }
}
