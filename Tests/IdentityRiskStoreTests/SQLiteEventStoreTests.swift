import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("SQLiteEventStore")
struct SQLiteEventStoreTests {
    // MARK: - Create and get

    @Test("create/get round trip preserves every field exactly")
    func roundTrip() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let events = [
                try event("rt-1", display: "Alice Example", risk: "2017-01-01T00:01:00.7804275+03:00",
                          closed: "2017-01-02T10:00:00Z", created: "2024-05-06T07:08:09.1234567Z"),
                try event("rt-2", display: nil, risk: "2023-12-31T23:59:59Z",
                          closed: nil, created: "2024-05-06T07:08:09.1234567Z"),
                try event("rt-3", display: "Zoë \u{1F600}", risk: "2020-02-29T12:00:00.5-08:30",
                          closed: "2020-03-01T00:00:00.12+00:00", created: "2024-05-06T07:08:10.1Z"),
                try event("rt-4", display: "e\u{301}cole", risk: "0001-01-01T14:00:00+14:00",
                          closed: "9999-12-31T09:59:59.9999999-14:00", created: "1969-12-31T23:59:59.999Z"),
            ]
            for original in events {
                let outcome = try await store.create(original)
                #expect(outcome == CreateOutcome(event: original, alreadyExisted: false))
            }
            for original in events {
                let stored = try #require(try await store.get(id: original.id))
                #expect(stored == original)
                #expect(Array(stored.userDisplayName?.utf8 ?? "".utf8) == Array(original.userDisplayName?.utf8 ?? "".utf8), "text is stored byte for byte, not normalised")
                #expect(stored.riskEventDateTime.description == original.riskEventDateTime.description)
                #expect(stored.closedDateTime?.description == original.closedDateTime?.description)
                #expect(stored.createdDateTime.description == original.createdDateTime.description)
            }
            let first = try #require(try await store.get(id: "rt-1"))
            #expect(first.riskEventDateTime.description == "2017-01-01T00:01:00.7804275+03:00")
            #expect(first.closedDateTime?.description == "2017-01-02T10:00:00Z")
            #expect(try await store.get(id: "missing") == nil)
            let settings = try await store.writerDurabilitySettings()
            #expect(settings.journalMode == "wal")
            #expect(settings.synchronous == 2, "PRAGMA synchronous must be FULL (2)")
            #expect(store.kind == "sqlite")
            await store.close()
        }
    }

    @Test("an idempotent retry returns the stored record with alreadyExisted")
    func idempotentCreate() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let original = try event("idem-1", created: "2024-01-01T00:00:00Z")
            #expect(try await store.create(original).alreadyExisted == false)
            var retry = original
            retry.createdDateTime = try DateTimeOffset(parsing: "2024-01-02T00:00:00Z")
            let outcome = try await store.create(retry)
            #expect(outcome.alreadyExisted)
            #expect(outcome.event == original, "the stored record, with its original createdDateTime")
            #expect(store.statistics.inserted == 1)
            await store.close()
        }
    }

    @Test("different content under an existing id is alreadyExists and changes nothing")
    func conflict() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let original = try event("conflict-1", created: "2024-01-01T00:00:00Z")
            _ = try await store.create(original)
            var other = original
            other.riskLevel = .low
            let error = await #expect(throws: IdentityRiskError.self) { try await store.create(other) }
            #expect(error?.code == .alreadyExists)
            #expect(error?.target == "id")
            #expect(try await store.get(id: "conflict-1") == original)
            await store.close()
        }
    }

    @Test("duplicates inside one batch: first wins, same content is idempotent, other content conflicts")
    func duplicatesInOneBatch() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let base = try event("dup-1", created: "2024-01-01T00:00:00Z")
            var changed = base
            changed.userId = "someone-else"
            // 40 concurrent creates of one id: half identical, half different.
            let results = await withTaskGroup(of: Result<CreateOutcome, IdentityRiskError>.self) { group in
                for i in 0 ..< 40 {
                    let candidate = i.isMultiple(of: 2) ? base : changed
                    group.addTask { await attempt { try await store.create(candidate) } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let stored = try #require(try await store.get(id: "dup-1"))
            let fresh = results.compactMap { try? $0.get() }.filter { !$0.alreadyExisted }
            #expect(fresh.count == 1, "exactly one create stores the record")
            for result in results {
                switch result {
                case .success(let outcome):
                    #expect(outcome.event == stored)
                case .failure(let error):
                    #expect(error.code == .alreadyExists)
                }
            }
            let conflicts = results.filter { if case .failure = $0 { true } else { false } }.count
            #expect(conflicts == 20, "every create whose content differs from the winner's conflicts")
            #expect(store.statistics.creates == 40)
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
            ]
            for (id, _, _) in damage {
                _ = try await store.create(try event(id, closed: "2024-01-01T00:00:00Z", created: "2024-01-01T00:00:00Z"))
            }
            let healthy = try event("healthy", created: "2024-01-01T00:00:00Z")
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
            async let damagedRetry = attempt { try await store.create(try event("bad-level", created: "2024-01-01T00:00:00Z")) }
            async let fresh = attempt { try await store.create(try event("fresh", created: "2024-01-01T00:00:00Z")) }
            let (retry, other) = await (damagedRetry, fresh)
            #expect(throws: IdentityRiskError.self) { try retry.get() }
            #expect((try? other.get())?.alreadyExisted == false)
            #expect(try await store.get(id: "healthy") == healthy)
            await store.close()
        }
    }

    @Test("a create from a cancelled task is not queued")
    func cancelledBeforeQueueing() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let e = try event("cancelled-1", created: "2024-01-01T00:00:00Z")
            let result = await Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return await attempt { try await store.create(e) }
            }.value
            #expect(throws: IdentityRiskError.self) { try result.get() }
            if case .failure(let error) = result { #expect(error.code == .cancelled) }
            #expect(try await store.get(id: "cancelled-1") == nil)
            await store.close()
        }
    }

    // MARK: - Group commit

    @Test("500 concurrent creates all commit, sharing transactions")
    func concurrentCreatesBatch() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let store = try SQLiteEventStore(path: path)
            var generator = SplitMix64(seed: 500)
            let events = (0 ..< 500).map { makeEvent($0, using: &generator) }
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
            let events = (0 ..< 25).map { makeEvent($0, using: &generator) }
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
                configuration: .init(maxQueuedCreates: 2, maxBatchSize: 1))
            var generator = SplitMix64(seed: 99)
            let events = (0 ..< 400).map { makeEvent($0, using: &generator) }
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
                var e = try event("full-\(i)", created: "2024-01-01T00:00:00Z")
                e.userPrincipalName = filler + "\(i)@example.com"
                e.riskEventType = filler
                do {
                    acknowledged.append(try await store.create(e).event)
                } catch let error as IdentityRiskError {
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
            let before = try event("before-ro", created: "2024-01-01T00:00:00Z")
            _ = try await store.create(before)
            // The writer connection refuses every write, as a read-only file would
            // (root, which CI runs as, can write through file modes and tmpfs
            // cannot be remounted read-only under an open database).
            try await store.executeOnWriter("PRAGMA query_only = ON")
            let refused = try event("during-ro", created: "2024-01-01T00:00:01Z")
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
            let events = (0 ..< 300).map { makeEvent($0, using: &generator) }
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

    // MARK: - List

    @Test("list gives MemoryEventStore's pages for every filter and order")
    func listMatchesMemoryStore() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let memory = MemoryEventStore()
            var generator = SplitMix64(seed: 2024)
            let events = (0 ..< 300).map { makeEvent($0, using: &generator) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for e in events { group.addTask { _ = try await store.create(e) } }
                try await group.waitForAll()
            }
            for e in events { _ = try await memory.create(e) }

            var nonEmpty = 0
            for filter in try Self.filters() {
                for order in ListOrder.allCases {
                    let expected = try await memory.list(ListQuery(filter: filter, order: order, top: 1000)).events
                    #expect(expected == Self.reference(events, filter: filter, order: order))
                    if !expected.isEmpty { nonEmpty += 1 }

                    var collected: [IdentityRiskEvent] = []
                    var cursor: ListCursor?
                    var pages = 0
                    repeat {
                        let query = ListQuery(filter: filter, order: order, top: 7, after: cursor)
                        let page = try await store.list(query)
                        let memoryPage = try await memory.list(query)
                        let ids = page.events.map(\.id), memoryIDs = memoryPage.events.map(\.id)
                        #expect(ids == memoryIDs, "filter \(String(describing: filter)), \(order.rawValue), page \(pages)")
                        #expect(page.next == memoryPage.next, "filter \(String(describing: filter)), \(order.rawValue), page \(pages)")
                        if ids == memoryIDs { #expect(page.events == memoryPage.events) }
                        collected += page.events
                        cursor = page.next
                        pages += 1
                    } while cursor != nil && pages <= 100
                    #expect(collected.map(\.id) == expected.map(\.id), "paging reproduces the full result: \(String(describing: filter)), \(order.rawValue)")
                    #expect(Set(collected.map(\.id)).count == collected.count, "no duplicates")
                }
            }
            #expect(nonEmpty > 40, "the filters must select something to compare")
            await store.close()
        }
    }

    @Test("a cursor stays correct while events are inserted between pages")
    func cursorStableUnderInserts() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let memory = MemoryEventStore()
            var generator = SplitMix64(seed: 11)
            for i in 0 ..< 60 {
                let e = makeEvent(i, using: &generator)
                _ = try await store.create(e)
                _ = try await memory.create(e)
            }
            for (orderIndex, order) in ListOrder.allCases.enumerated() {
                let tag = "late\(orderIndex)"
                var cursor: ListCursor?
                var seen: [IdentityRiskEvent] = []
                var inserted = 0
                repeat {
                    let query = ListQuery(order: order, top: 7, after: cursor)
                    let page = try await store.list(query)
                    let memoryPage = try await memory.list(query)
                    #expect(page == memoryPage)
                    seen += page.events
                    cursor = page.next
                    if let cursor {
                        // One event sorting before the cursor (never listed), one after (listed later).
                        for delta: Int64 in [-1_000_000, 1_000_000] {
                            var e = makeEvent(1000 + inserted, using: &generator)
                            e.id = "\(tag)-\(inserted)"
                            let key = cursor.sortKey + (order.isDescending ? -delta : delta)
                            let dt = try DateTimeOffset(utcInstantTicks: key)
                            if order == .createdAscending || order == .createdDescending { e.createdDateTime = dt } else { e.riskEventDateTime = dt; e.closedDateTime = nil }
                            inserted += 1
                            _ = try await store.create(e)
                            _ = try await memory.create(e)
                        }
                    }
                } while cursor != nil
                #expect(Set(seen.map(\.id)).count == seen.count, "no duplicates")
                let keys = seen.map { order.sortKey($0) }
                for (a, b) in zip(keys, keys.dropFirst()) {
                    #expect(order.isDescending ? a >= b : a <= b, "page boundaries keep the order")
                }
                // Odd numbers were inserted after the cursor, even ones before it.
                let late = seen.filter { $0.id.hasPrefix(tag + "-") }.map { String($0.id.dropFirst(tag.count + 1)) }
                #expect(inserted >= 8)
                #expect(late.count == inserted / 2, "exactly the events after the cursor are picked up")
                #expect(late.allSatisfy { Int($0).map { !$0.isMultiple(of: 2) } ?? false })
            }
            await store.close()
        }
    }

    @Test("list validates top")
    func listTopValidation() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            for top in [0, -1, ListQuery.maxTop + 1] {
                let error = await #expect(throws: IdentityRiskError.self) { try await store.list(ListQuery(top: top)) }
                #expect(error?.code == .invalidArgument)
            }
            #expect(try await store.list(ListQuery(top: ListQuery.maxTop)).events.isEmpty)
            await store.close()
        }
    }

    // MARK: - Open errors

    @Test("a path that cannot be created is unavailable, naming the path")
    func unwritablePath() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory + "/plain-file"
            try Data("not a directory".utf8).write(to: URL(fileURLWithPath: file))
            let path = file + "/events.sqlite"
            let error = #expect(throws: IdentityRiskError.self) { try SQLiteEventStore(path: path) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains(path) == true)

            let directoryError = #expect(throws: IdentityRiskError.self) { try SQLiteEventStore(path: directory) }
            #expect(directoryError?.code == .unavailable)
            #expect(directoryError?.message.contains(directory) == true)
        }
    }

    @Test("a file that is not a database is unavailable, naming the path")
    func notADatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/garbage.sqlite"
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: IdentityRiskError.self) { try SQLiteEventStore(path: path) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains(path) == true)
            #expect(error?.message.contains("not a database") == true)
        }
    }

    @Test("configuration values below 1 are refused")
    func invalidConfiguration() async throws {
        try await withTemporaryDirectory { directory in
            let error = #expect(throws: IdentityRiskError.self) {
                try SQLiteEventStore(path: directory + "/events.sqlite", configuration: .init(maxQueuedCreates: 0))
            }
            #expect(error?.code == .invalidArgument)
            #expect(!FileManager.default.fileExists(atPath: directory + "/events.sqlite"))
        }
    }
}

// MARK: - Fixtures

extension SQLiteEventStoreTests {
    /// Filters covering every property, operator family, null handling, enum
    /// order, mismatched literal kinds and and/or nesting.
    static func filters() throws -> [FilterExpression?] {
        func c(_ p: FilterProperty, _ op: FilterOperator, _ v: FilterValue) -> FilterExpression {
            .comparison(FilterComparison(property: p, op: op, value: v))
        }
        let mid = try DateTimeOffset(parsing: "2021-06-15T12:00:00+02:00")
        let late = try DateTimeOffset(parsing: "2022-01-01T00:00:00Z")
        let createdMid = try DateTimeOffset(utcInstantTicks: Fixture.createdBase + 150 * Fixture.createdStep)
        var filters: [FilterExpression?] = [nil]
        for op in FilterOperator.allCases {
            filters.append(c(.riskLevel, op, .riskLevel(.high)))
            filters.append(c(.riskEventStatus, op, .riskEventStatus(.dismissedAsFixed)))
            filters.append(c(.userDisplayName, op, .string("Bob")))
            filters.append(c(.userDisplayName, op, .null))
            filters.append(c(.closedDateTime, op, .dateTime(mid)))
            filters.append(c(.closedDateTime, op, .null))
            filters.append(c(.riskEventDateTime, op, .dateTime(mid)))
            filters.append(c(.createdDateTime, op, .dateTime(createdMid)))
            filters.append(c(.userPrincipalName, op, .string("carol@example.com")))
            filters.append(c(.riskEventType, op, .string("leakedCredentials")))
        }
        filters += [
            c(.riskLevel, .lt, .riskLevel(.low)),
            c(.riskLevel, .gt, .riskLevel(.unknownFutureValue)),
            c(.riskLevel, .ge, .riskLevel(.low)),
            c(.riskEventStatus, .gt, .riskEventStatus(.closedMultipleReasons)),
            c(.userId, .eq, .string("user-3")),
            c(.userId, .ge, .string("user-5")),
            c(.id, .gt, .string("evt-0150")),
            c(.id, .eq, .string("evt-0042")),
            // Canonically equivalent text in other bytes: strings compare by UTF-8 bytes,
            // so a precomposed literal does not match the decomposed spelling.
            c(.userPrincipalName, .eq, .string("ren\u{E9}@example.com")),
            c(.userDisplayName, .eq, .string("Rene\u{301}e")),
            c(.userDisplayName, .lt, .string("Ren\u{E9}")),
            // A literal of the wrong kind matches nothing, whatever the operator.
            c(.id, .eq, .dateTime(mid)),
            c(.userId, .ne, .null),
            c(.riskLevel, .ne, .riskEventStatus(.active)),
            c(.createdDateTime, .ne, .string("x")),
            .and(c(.riskLevel, .ge, .riskLevel(.medium)), c(.closedDateTime, .ne, .null)),
            .or(c(.userId, .eq, .string("user-1")), c(.riskEventStatus, .eq, .riskEventStatus(.active))),
            .and(
                .or(c(.riskLevel, .eq, .riskLevel(.high)), c(.userDisplayName, .eq, .null)),
                .or(c(.riskEventDateTime, .lt, .dateTime(late)), c(.closedDateTime, .gt, .dateTime(mid)))),
            .or(c(.userDisplayName, .ne, .string("Bob")), c(.id, .eq, .dateTime(mid))),
        ]
        return filters
    }

    /// What list must return, computed without any store.
    static func reference(_ events: [IdentityRiskEvent], filter: FilterExpression?, order: ListOrder) -> [IdentityRiskEvent] {
        events.filter { filter?.matches($0) ?? true }.sorted { a, b in
            let ka = order.sortKey(a), kb = order.sortKey(b)
            if ka != kb { return order.isDescending ? ka > kb : ka < kb }
            return a.id < b.id
        }
    }
}

private enum Fixture {
    static let createdBase: Int64 = 1_700_000_000 * DateTimeOffset.ticksPerSecond
    static let createdStep: Int64 = 10_000
}

/// Deterministic pseudo-random numbers, so failures reproduce.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A varied event: ties on createdDateTime (so order falls back to id), mixed
/// offsets and fraction digits, optional fields, non-ASCII and non-NFC text.
private func makeEvent(_ index: Int, using generator: inout SplitMix64) -> IdentityRiskEvent {
    let upns = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "rene\u{301}@example.com", "ren\u{E9}@example.com"]
    let names: [String?] = [nil, "Alice", "Bob", "Carol", "Rene\u{301}e", "Ren\u{E9}e", "Zoë"]
    let types = ["unlikelyTravel", "anonymizedIPAddress", "leakedCredentials", "malwareInfectedIPAddress"]
    func dateTime(around base: Int64, spread: Int64) -> DateTimeOffset {
        let digits = UInt8.random(in: 0 ... 7, using: &generator)
        let units: [Int64] = [10_000_000, 1_000_000, 100_000, 10_000, 1000, 100, 10, 1]
        let unit = units[Int(digits)]
        let ticks = (base + Int64.random(in: 0 ..< spread, using: &generator)) / unit * unit
        let seconds = ticks / DateTimeOffset.ticksPerSecond
        let offsets: [Int16] = [0, 0, 60, -300, 330, 840, -840]
        let offset = offsets.randomElement(using: &generator)!
        return try! DateTimeOffset(
            unixSeconds: seconds, ticks: UInt32(ticks - seconds * DateTimeOffset.ticksPerSecond),
            offsetMinutes: offset, fractionDigits: digits, utcDesignator: offset == 0 && Bool.random(using: &generator))
    }
    let risk = dateTime(around: 1_600_000_000 * DateTimeOffset.ticksPerSecond, spread: 100_000_000 * DateTimeOffset.ticksPerSecond)
    let closed: DateTimeOffset? = Bool.random(using: &generator)
        ? dateTime(around: risk.instantTicks, spread: 30_000_000 * DateTimeOffset.ticksPerSecond) : nil
    let createdTicks = Fixture.createdBase + Int64.random(in: 0 ..< 300, using: &generator) * Fixture.createdStep
    return IdentityRiskEvent(
        id: String(format: "evt-%04d", index),
        userDisplayName: names.randomElement(using: &generator)!,
        userPrincipalName: upns.randomElement(using: &generator)!,
        riskEventDateTime: risk,
        riskEventType: types.randomElement(using: &generator)!,
        riskLevel: RiskLevel.allCases.randomElement(using: &generator)!,
        riskEventStatus: RiskEventStatus.allCases.randomElement(using: &generator)!,
        closedDateTime: closed,
        createdDateTime: try! DateTimeOffset(utcInstantTicks: createdTicks),
        userId: "user-\(Int.random(in: 0 ..< 8, using: &generator))"
    )
}

private func event(
    _ id: String,
    display: String? = "Alice",
    risk: String = "2023-03-04T05:06:07.89+01:00",
    closed: String? = nil,
    created: String
) throws -> IdentityRiskEvent {
    IdentityRiskEvent(
        id: id,
        userDisplayName: display,
        userPrincipalName: "alice@example.com",
        riskEventDateTime: try DateTimeOffset(parsing: risk),
        riskEventType: "unlikelyTravel",
        riskLevel: .high,
        riskEventStatus: .active,
        closedDateTime: try closed.map { try DateTimeOffset(parsing: $0) },
        createdDateTime: try DateTimeOffset(parsing: created),
        userId: "user-1"
    )
}

/// The outcome of `body`; any error other than IdentityRiskError is a test failure.
private func attempt(_ body: () async throws -> CreateOutcome) async -> Result<CreateOutcome, IdentityRiskError> {
    do {
        return .success(try await body())
    } catch let error as IdentityRiskError {
        return .failure(error)
    } catch {
        Issue.record(error, "stores throw IdentityRiskError only")
        return .failure(IdentityRiskError(code: .unknown, message: "\(error)"))
    }
}

/// Runs `body` with a fresh directory, removed afterwards whatever happens.
private func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("irisk-sqlite-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    do {
        try await body(path)
    } catch {
        try? FileManager.default.removeItem(atPath: path)
        throw error
    }
    try FileManager.default.removeItem(atPath: path)
}
