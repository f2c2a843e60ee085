import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

/// What only the SQLite store promises or has: group commit and its
/// statistics, the bounded queue, failing and damaged databases, close. The
/// store-neutral contract is `StoreConformanceTests`; batches of updates and
/// deletes are in `SQLiteWriteBatchTests`, opening in `SQLiteOpenTests`.
@Suite("SQLiteEventStore")
struct SQLiteEventStoreTests {
    @Test("statistics count creates, idempotent retries and conflicts")
    func statisticsCountCreates() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let original = try Fixture.event("idem-1", created: "2024-01-01T00:00:00Z")
            _ = try await store.create(original)
            var retry = original
            retry.createdDateTime = try DateTimeOffset(parsing: "2024-01-02T00:00:00Z")
            #expect(try await store.create(retry).alreadyExisted)
            #expect(store.statistics.inserted == 1)

            let base = try Fixture.event("dup-1", created: "2024-01-01T00:00:00Z")
            var changed = base
            changed.userId = "someone-else"
            await withTaskGroup(of: Void.self) { group in
                for i in 0 ..< 40 {
                    let candidate = i.isMultiple(of: 2) ? base : changed
                    group.addTask { _ = await attempt { try await store.create(candidate) } }
                }
            }
            #expect(store.statistics.creates == 42)
            #expect(store.statistics.inserted == 2)
            #expect(store.statistics.writes == 42)
            #expect(store.statistics.replaced == 0 && store.statistics.deleted == 0)
            await store.close()
        }
    }

    @Test("a damaged row is an internal error naming record and column, never a crash")
    func damagedRow() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let damage = [
                ("bad-level", "risk_level = 'severe'", "risk_level"),
                ("bad-digits", "created_digits = 9", "created"),
                ("bad-offset", "risk_event_offset = 5000", "risk_event"),
                ("half-null", "closed_offset = NULL", "closed"),
                ("bad-ticks", "risk_event_ticks = 9223372036854775807", "risk_event"),
                ("bad-version", "version = 0", "version"),
            ]
            for (id, _, _) in damage {
                _ = try await store.create(try Fixture.event(id, closed: "2024-01-01T00:00:00Z", created: "2024-01-01T00:00:00Z"))
            }
            let healthy = try Fixture.event("healthy", created: "2024-01-01T00:00:00Z")
            _ = try await store.create(healthy)
            for (id, assignment, column) in damage {
                try await store.executeOnWriter("UPDATE identity_risk_events SET \(assignment) WHERE id = '\(id)'")
                let error = await #expect(throws: IdentityRiskError.self) { try await store.get(id: id) }
                #expect(error?.code == .internal)
                #expect(error?.message.contains("'\(id)'") == true)
                #expect(error?.message.contains(column) == true, "\(error?.message ?? "")")
            }
            let listError = await #expect(throws: IdentityRiskError.self) { try await store.list(ListQuery()) }
            #expect(listError?.code == .internal)
            // A retry of a damaged record fails alone; the batch commits for the others.
            let damagedAgain = try Fixture.event("bad-level", closed: "2024-01-01T00:00:00Z", created: "2024-01-01T00:00:00Z")
            let freshEvent = try Fixture.event("fresh", created: "2024-01-01T00:00:00Z")
            async let damagedRetry = attempt { try await store.create(damagedAgain) }
            async let fresh = attempt { try await store.create(freshEvent) }
            let (retry, other) = await (damagedRetry, fresh)
            #expect(throws: IdentityRiskError.self) { try retry.get() }
            #expect((try? other.get())?.alreadyExisted == false)
            #expect(try await store.get(id: "healthy") == healthy)
            // An update of a damaged record fails alone too; a delete needs only its version.
            var repaired = damagedAgain
            repaired.version = 2
            let replaceError = await attempt { try await store.replace(repaired, expectedVersion: 1) }.failure
            #expect(replaceError?.code == .internal)
            #expect(try await store.delete(id: "bad-digits", expectedVersion: 1) == 1)
            #expect(try await store.get(id: "bad-digits") == nil)
            await store.close()
        }
    }

    @Test("a write from a cancelled task is not queued")
    func cancelledBeforeQueueing() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let e = try Fixture.event("cancelled-1", created: "2024-01-01T00:00:00Z")
            let result = await Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return await attempt { try await store.create(e) }
            }.value
            #expect(throws: IdentityRiskError.self) { try result.get() }
            if case .failure(let error) = result { #expect(error.code == .cancelled) }
            #expect(try await store.get(id: "cancelled-1") == nil)

            let kept = try Fixture.event("cancelled-2", created: "2024-01-01T00:00:00Z")
            _ = try await store.create(kept)
            var changed = kept
            changed.riskLevel = .low
            changed.version = 2
            let (replaceError, deleteError) = await Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return (
                    await attempt { try await store.replace(changed, expectedVersion: 1) }.failure,
                    await attempt { try await store.delete(id: kept.id, expectedVersion: nil) }.failure)
            }.value
            #expect(replaceError?.code == .cancelled)
            #expect(deleteError?.code == .cancelled)
            #expect(try await store.get(id: kept.id) == kept, "neither was applied")
            await store.close()
        }
    }

    @Test("500 concurrent creates all commit, sharing transactions")
    func concurrentCreatesBatch() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let store = try SQLiteEventStore(path: path)
            var generator = SplitMix64(seed: 500)
            let events = (0 ..< 500).map { Fixture.varied($0, using: &generator) }
            let outcomes = try await withThrowingTaskGroup(of: CreateOutcome.self) { group in
                for e in events { group.addTask { try await store.create(e) } }
                return try await group.reduce(into: [CreateOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.count == 500)
            #expect(outcomes.allSatisfy { !$0.alreadyExisted })
            let stats = store.statistics
            #expect(stats.creates == 500)
            #expect(stats.inserted == 500)
            #expect(stats.batches < 500, "group commit must put several creates in one transaction")
            #expect(stats.largestBatch > 1)
            #expect(stats.totalCommitNanoseconds > 0)
            await store.close()

            let reopened = try SQLiteEventStore(path: path)
            for e in events { #expect(try await reopened.get(id: e.id) == e) }
            await reopened.close()
        }
    }

    @Test("records survive closing and reopening the store")
    func survivesReopen() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/nested/dir/events.sqlite"  // parent directories are created
            var generator = SplitMix64(seed: 7)
            let events = (0 ..< 25).map { Fixture.varied($0, using: &generator) }
            do {
                let store = try SQLiteEventStore(path: path)
                for e in events { _ = try await store.create(e) }
                await store.close()
                await store.close()  // idempotent
            }
            let reopened = try SQLiteEventStore(path: path)
            for e in events { #expect(try await reopened.get(id: e.id) == e) }
            let page = try await reopened.list(ListQuery(top: 100))
            #expect(page.events.count == 25)
            #expect(try await reopened.create(events[0]).alreadyExisted)
            await reopened.close()
        }
    }

    @Test("a full queue refuses creates with resourceExhausted; every accepted create is stored")
    func queueFull() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(
                path: directory + "/events.sqlite",
                configuration: .init(maxQueuedWrites: 2, maxBatchSize: 1))
            var generator = SplitMix64(seed: 99)
            let events = (0 ..< 400).map { Fixture.varied($0, using: &generator) }
            let results = await withTaskGroup(of: (IdentityRiskEvent, Result<CreateOutcome, IdentityRiskError>).self) { group in
                for e in events {
                    group.addTask { (e, await attempt { try await store.create(e) }) }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            var refused = 0
            for (e, result) in results {
                switch result {
                case .success(let outcome):
                    #expect(outcome.event == e)
                    #expect(try await store.get(id: e.id) == e)
                case .failure(let error):
                    refused += 1
                    #expect(error.code == .resourceExhausted)
                    #expect((error.retryAfterMilliseconds ?? 0) > 0)
                    #expect(try await store.get(id: e.id) == nil)
                }
            }
            #expect(refused > 0, "2 queue slots cannot hold 400 simultaneous creates")
            #expect(store.statistics.refusedCreates == refused)
            #expect(store.statistics.inserted == 400 - refused)
            await store.close()
        }
    }

    @Test("a failed commit answers its batch unavailable, stores nothing, and the writer recovers")
    func commitFailure() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            try await store.setWriterMaxPageCount(1)  // capped at the current size: growth fails with SQLITE_FULL
            let filler = String(repeating: "x", count: 250)
            var failed: [IdentityRiskEvent] = []
            var acknowledged: [IdentityRiskEvent] = []
            for i in 0 ..< 200 where failed.isEmpty {
                var e = try Fixture.event("full-\(i)", created: "2024-01-01T00:00:00Z")
                e.userPrincipalName = filler + "\(i)@example.com"
                e.riskEventType = filler
                do throws(IdentityRiskError) {
                    acknowledged.append(try await store.create(e).event)
                } catch {
                    #expect(error.code == .unavailable)
                    #expect(error.message.hasPrefix("could not commit: "))
                    #expect(error.retryAfterMilliseconds != nil)
                    failed.append(e)
                }
            }
            let failure = try #require(failed.first, "inserting 200 large rows must outgrow the capped file")
            #expect(try await store.get(id: failure.id) == nil, "nothing of a failed batch is stored")
            #expect(store.statistics.failedBatches >= 1)
            for e in acknowledged { #expect(try await store.get(id: e.id) == e) }

            try await store.setWriterMaxPageCount(1_073_741_823)
            #expect(try await store.create(failure).alreadyExisted == false, "later batches commit again")
            #expect(try await store.get(id: failure.id) == failure)
            await store.close()
        }
    }

    @Test("a database that has become read-only: creates are answered unavailable naming the cause, nothing is stored, reads still work; writable again, creates succeed without a restart")
    func readOnlyDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let before = try Fixture.event("before-ro", created: "2024-01-01T00:00:00Z")
            _ = try await store.create(before)
            // The writer connection refuses every write, as a read-only file would
            // (root, which CI runs as, can write through file modes and tmpfs
            // cannot be remounted read-only under an open database).
            try await store.executeOnWriter("PRAGMA query_only = ON")
            let refused = try Fixture.event("during-ro", created: "2024-01-01T00:00:01Z")
            await #expect {
                _ = try await store.create(refused)
            } throws: { error in
                guard let error = error as? IdentityRiskError else { return false }
                return error.code == .unavailable && error.message.contains("readonly") && error.message.contains("not stored")
            }
            #expect(try await store.get(id: refused.id) == nil, "no acknowledgement, nothing stored")
            #expect(try await store.get(id: before.id) == before, "reads still work")

            try await store.executeOnWriter("PRAGMA query_only = OFF")
            #expect(try await store.create(refused).alreadyExisted == false, "writable again: the same create succeeds")
            #expect(try await store.get(id: refused.id) == refused)
            await store.close()
        }
    }

    @Test("close commits what is queued, then refuses creates and reads")
    func closeDrainsQueue() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let store = try SQLiteEventStore(path: path)
            var generator = SplitMix64(seed: 3)
            let events = (0 ..< 300).map { Fixture.varied($0, using: &generator) }
            let results = await withTaskGroup(of: (IdentityRiskEvent, Result<CreateOutcome, IdentityRiskError>)?.self) { group in
                for e in events {
                    group.addTask { (e, await attempt { try await store.create(e) }) }
                }
                group.addTask { await store.close(); return nil }
                var results: [(IdentityRiskEvent, Result<CreateOutcome, IdentityRiskError>)] = []
                for await result in group { if let result { results.append(result) } }
                return results
            }
            let error = await #expect(throws: IdentityRiskError.self) { try await store.create(events[0]) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("closed") == true)
            await #expect(throws: IdentityRiskError.self) { try await store.get(id: events[0].id) }
            await store.close()

            let reopened = try SQLiteEventStore(path: path)
            #expect(results.count == events.count)
            for (e, result) in results {
                switch result {
                case .success(let outcome):
                    #expect(outcome.event == e)
                    #expect(try await reopened.get(id: e.id) == e, "an acknowledged create is durable")
                case .failure(let error):
                    #expect(error.code == .unavailable)
                    #expect(try await reopened.get(id: e.id) == nil, "a refused create is not stored")
                }
            }
            await reopened.close()
        }
    }

    @Test("filters nested deeper than SQLite allows are refused with invalidArgument")
    func deepFilter() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            var filter = Fixture.comparison(.userId, .eq, .string("user-1"))
            for _ in 0 ..< SQLiteListStatement.maxFilterDepth {
                filter = .and(filter, Fixture.comparison(.riskLevel, .ne, .riskLevel(.none)))
            }
            let error = await attempt { try await store.list(ListQuery(filter: filter)) }.failure
            #expect(error?.code == .invalidArgument)
            #expect(error?.target == "filter")
            await store.close()
        }
    }
}
