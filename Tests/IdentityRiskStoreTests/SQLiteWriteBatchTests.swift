import IdentityRiskCore
@testable import IdentityRiskStore
import Synchronization
import Testing

/// Creates, updates and deletes sharing the SQLite store's group-commit batches.
@Suite("SQLiteEventStore write batches")
struct SQLiteWriteBatchTests {
    @Test("writes in one transaction see the effects of the earlier ones")
    func oneBatch() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let x = try Fixture.event("x")
            let y = try Fixture.event("y")
            var x2 = x
            x2.riskEventStatus = .remediated
            x2.version = 2
            var yOther = y
            yOther.userId = "user-2"
            let batchesBefore = store.statistics.batches
            let answers = await commitTogether(store, [
                .create(x), .replace(x2, expectedVersion: 1), .delete(id: "x", expectedVersion: 2), .create(x),
                .create(y), .create(yOther), .replace(yOther, expectedVersion: 2), .delete(id: "z", expectedVersion: nil), .create(y),
            ])
            #expect(store.statistics.batches == batchesBefore + 1, "one transaction")
            #expect(store.statistics.writes == 9)
            #expect(answers[0] == .success(.created(CreateOutcome(event: x, alreadyExisted: false))))
            #expect(answers[1] == .success(.replaced(x2)))
            #expect(answers[2] == .success(.deleted(2)))
            #expect(answers[3].failure?.innerCode == "DeletedID", "deleted earlier in the same batch")
            #expect(answers[4] == .success(.created(CreateOutcome(event: y, alreadyExisted: false))))
            #expect(answers[5].failure?.code == .alreadyExists, "conflicts with the create earlier in the batch")
            #expect(answers[6].failure?.isVersionMismatch == true)
            #expect(answers[7].failure?.code == .notFound)
            #expect(answers[8] == .success(.created(CreateOutcome(event: y, alreadyExisted: true))))
            #expect(try await store.get(id: "x") == nil)
            #expect(try await store.get(id: "y") == y)
            #expect(store.statistics.inserted == 2 && store.statistics.replaced == 1 && store.statistics.deleted == 1)
            await store.close()
        }
    }

    @Test("a failed commit applies none of the batch's updates and deletes, and answers each unavailable")
    func failedBatch() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let a = try Fixture.event("a"), b = try Fixture.event("b"), c = try Fixture.event("c")
            for e in [a, b, c] { _ = try await store.create(e) }
            var a2 = a
            a2.riskLevel = .low
            a2.version = 2
            var c2 = c
            c2.riskEventType = String(repeating: "t", count: 200_000)  // needs new pages
            c2.version = 2
            try await store.setWriterMaxPageCount(1)  // capped at the current size: growth fails with SQLITE_FULL
            let writes: [TestWrite] = [.replace(a2, expectedVersion: 1), .delete(id: "b", expectedVersion: 1), .replace(c2, expectedVersion: 1)]
            let failed = await commitTogether(store, writes)
            for answer in failed {
                #expect(answer.failure?.code == .unavailable)
                #expect(answer.failure?.message.hasPrefix("could not commit: ") == true)
            }
            #expect(store.statistics.failedBatches == 1)
            #expect(store.statistics.failedWrites == 3)
            #expect(try await store.get(id: "a") == a, "the update before the failure was rolled back")
            #expect(try await store.get(id: "b") == b, "the delete was rolled back")
            #expect(try await store.create(b).alreadyExisted, "and left no tombstone")
            #expect(try await store.get(id: "c") == c)

            try await store.setWriterMaxPageCount(1_073_741_823)
            let retried = await commitTogether(store, writes)
            #expect(retried == [.success(.replaced(a2)), .success(.deleted(1)), .success(.replaced(c2))])
            #expect(try await store.get(id: "c") == c2)
            await store.close()
        }
    }

    @Test("updates and deletes survive closing and reopening the store")
    func durableUpdatesAndDeletes() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let a = try Fixture.event("a"), b = try Fixture.event("b"), c = try Fixture.event("c")
            var a3 = a
            do {
                let store = try SQLiteEventStore(path: path)
                for e in [a, b, c] { _ = try await store.create(e) }
                a3.closedDateTime = try DateTimeOffset(parsing: "2023-03-04T06:00:00.0000001+01:00")
                a3.version = 2
                _ = try await store.replace(a3, expectedVersion: 1)
                a3.userDisplayName = nil
                a3.version = 3
                _ = try await store.replace(a3, expectedVersion: 2)
                #expect(try await store.delete(id: "b", expectedVersion: 1) == 1)
                await store.close()
            }
            let reopened = try SQLiteEventStore(path: path)
            #expect(try await reopened.get(id: "a") == a3)
            #expect(try await reopened.get(id: "b") == nil)
            #expect(try await reopened.get(id: "c") == c)
            #expect(await attempt { try await reopened.create(b) }.failure?.innerCode == "DeletedID", "the tombstone is durable")
            #expect(await attempt { try await reopened.delete(id: "b", expectedVersion: nil) }.failure?.code == .notFound)
            #expect(try await reopened.list(ListQuery()).events.map(\.id) == ["a", "c"])
            await reopened.close()
        }
    }

    // MARK: - Support

    enum TestWrite {
        case create(IdentityRiskEvent)
        case replace(IdentityRiskEvent, expectedVersion: UInt64)
        case delete(id: String, expectedVersion: UInt64?)
    }

    enum Answer: Sendable, Equatable {
        case created(CreateOutcome)
        case replaced(IdentityRiskEvent)
        case deleted(UInt64)
    }

    /// Submits `writes` in one step (one transaction) and returns their answers in order.
    func commitTogether(_ store: SQLiteEventStore, _ writes: [TestWrite]) async -> [Result<Answer, IdentityRiskError>] {
        await withCheckedContinuation { continuation in
            let answers = Answers(count: writes.count) { continuation.resume(returning: $0) }
            store.submitTogether(writes.enumerated().map { index, write -> SQLiteWrite in
                switch write {
                case .create(let e): .create(e) { answers.set(index, $0.map(Answer.created)) }
                case .replace(let e, let expected): .replace(e, expectedVersion: expected) { answers.set(index, $0.map(Answer.replaced)) }
                case .delete(let id, let expected): .delete(id: id, expectedVersion: expected) { answers.set(index, $0.map(Answer.deleted)) }
                }
            })
        }
    }

    /// Collects one answer per write; calls `done` once all are in.
    final class Answers: Sendable {
        private let results: Mutex<[Result<Answer, IdentityRiskError>?]>
        private let done: @Sendable ([Result<Answer, IdentityRiskError>]) -> Void

        init(count: Int, done: @escaping @Sendable ([Result<Answer, IdentityRiskError>]) -> Void) {
            results = Mutex(Array(repeating: nil, count: count))
            self.done = done
        }

        func set(_ index: Int, _ result: Result<Answer, IdentityRiskError>) {
            let complete = results.withLock { results -> [Result<Answer, IdentityRiskError>]? in
                precondition(results[index] == nil, "write \(index) answered twice")
                results[index] = result
                let all = results.compactMap { $0 }
                return all.count == results.count ? all : nil
            }
            if let complete { done(complete) }
        }
    }
}
