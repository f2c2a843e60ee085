import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import Synchronization
import Testing

@Suite("The SQLite writer's commit recorder")
struct CommitRecorderTests {
    @Test("keeps only the last 1,024 commits (bounded), counts every one, and hands each to the observer")
    func bounded() {
        var recorder = CommitRecorder()
        let seen = Mutex(0)
        recorder.setObserver { _ in seen.withLock { $0 += 1 } }
        for i in 1...3000 {
            let observer = recorder.record(batchSize: i, nanoseconds: UInt64(i) * 1000)
            observer?(CommitSample(batchSize: i, nanoseconds: UInt64(i) * 1000))
        }
        let summary = CommitRecorder.summary(of: recorder.window)
        #expect(summary.commits == 3000)
        #expect(summary.window == CommitRecorder.capacity)
        // The window holds commits 1977 ... 3000.
        #expect(summary.batchSize.max == 3000)
        #expect(summary.batchSize.p50 == UInt64(3000 - 1024 + 512))
        #expect(summary.latencyMicroseconds.max == 3000)
        #expect(seen.withLock { $0 } == 3000)
    }

    @Test("the SQLite store reports its commits and calls the observer once per transaction")
    func sqliteObserver() async throws {
        let directory = "/tmp/irisk-commit-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/c.sqlite")
        let samples = Mutex<[CommitSample]>([])
        store.observeCommits { sample in samples.withLock { $0.append(sample) } }
        for i in 0..<5 {
            _ = try await store.create(try Fixture.event("c-\(i)"))
        }
        let stats = try #require(store.commitStatistics)
        #expect(stats.commits == 5)
        #expect(samples.withLock { $0.map(\.batchSize) } == [1, 1, 1, 1, 1])
        #expect(samples.withLock { $0.allSatisfy { $0.nanoseconds > 0 } })
        #expect(store.status.records == 5)
        await store.close()
        #expect(!store.status.available && store.status.problem != nil, "a closed store says so")
    }
}
