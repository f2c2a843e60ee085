import Foundation
import GRDB
import IdentityRiskCore
@testable import IdentityRiskStore
import Testing

/// What only the SQLite store's change log promises: the v3 migration,
/// cursors across reopening, changes in the batch's transaction, pruning in
/// chunks on the writer. The store-neutral contract is
/// `StoreConformanceTests+ChangeLog.swift`.
@Suite("SQLiteEventStore change log")
struct SQLiteChangeLogTests {
    @Test("a v2 database migrates to v3 with its records and an empty log; the first change is cursor 1")
    func migratesV2() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let old = try Fixture.event("v2-1", created: "2024-01-01T00:00:00Z")
            do {
                // As version 2 of this program left it: migrations v1 and v2, one row.
                let queue = try DatabaseQueue(path: path)
                var v2 = DatabaseMigrator()
                v2.registerMigration("v1") { db in try db.execute(sql: SQLiteSchema.v1) }
                v2.registerMigration("v2") { db in try db.execute(sql: SQLiteSchema.v2) }
                try v2.migrate(queue)
                try await queue.write { db in
                    _ = try SQLiteBinding.insert(old, with: db.makeStatement(sql: SQLiteSchema.insertSQL), in: db)
                }
                try queue.close()
            }
            let store = try SQLiteEventStore(path: path)
            #expect(try await store.get(id: "v2-1") == old)
            #expect(try await store.changeLogBounds() == ChangeLogBounds(earliestResumable: .zero, latest: .zero), "an empty log: latest 0")
            #expect(try await store.list(ListQuery()).cursor == .zero)
            #expect(store.changeFeed.latest == .zero)
            var updated = old
            updated.riskLevel = .low
            updated.version = 2
            _ = try await store.replace(updated, expectedVersion: 1)
            #expect(try await store.changes(after: .zero, limit: 10) == [Change(cursor: ChangeCursor(1), kind: .updated, event: updated)])
            await store.close()

            let queue = try DatabaseQueue(path: path)
            let (applied, columns) = try await queue.read { db in
                (try SQLiteSchema.migrator.appliedIdentifiers(db),
                 try Row.fetchAll(db, sql: "PRAGMA table_info(changes)").map { $0["name"] as String })
            }
            try queue.close()
            #expect(applied == ["v1", "v2", "v3", "v4"])
            #expect(columns == ["cursor", "kind", "committed_at"] + SQLiteSchema.columns, "the record's columns as in the events table")
        }
    }

    @Test("changes survive reopening; cursors resume after the last one, also after retention pruned everything")
    func cursorsAcrossReopen() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let a = try Fixture.event("re-a"), b = try Fixture.event("re-b")
            var written: [Change] = []
            do {
                let store = try SQLiteEventStore(path: path)
                _ = try await store.create(a)
                _ = try await store.create(b)
                #expect(try await store.delete(id: "re-a", expectedVersion: 1) == 1)
                written = try await store.changes(after: .zero, limit: 10)
                await store.close()
            }
            #expect(written.map(\.kind) == [.created, .created, .deleted])
            do {
                let store = try SQLiteEventStore(path: path)
                #expect(try await store.changes(after: .zero, limit: 10) == written, "the log is durable")
                #expect(try await store.changeLogBounds().latest == ChangeCursor(3))
                #expect(store.changeFeed.latest == ChangeCursor(3), "the feed starts at the log's latest")
                #expect(store.changeFeed.recent(after: .zero, limit: 10) == nil, "and does not reach back: earlier changes come from the log")
                var b2 = b
                b2.riskEventType = "leakedCredentials"
                b2.version = 2
                _ = try await store.replace(b2, expectedVersion: 1)
                #expect(try await store.changes(after: ChangeCursor(3), limit: 10).map(\.cursor) == [ChangeCursor(4)])
                #expect(store.changeFeed.recent(after: ChangeCursor(3), limit: 10)?.map(\.event) == [b2])
                await store.close()
            }
            do {
                let store = try SQLiteEventStore(path: path, configuration: .init(changeRetention: ChangeRetention(maxAge: .milliseconds(1), maxCount: nil)))
                try await Task.sleep(for: .milliseconds(20))  // every change is older than maxAge
                await store.pruneChangesNow()
                #expect(try await store.changeLogBounds() == ChangeLogBounds(earliestResumable: ChangeCursor(4), latest: ChangeCursor(4)))
                await store.close()
            }
            let store = try SQLiteEventStore(path: path)
            #expect(try await store.changeLogBounds() == ChangeLogBounds(earliestResumable: ChangeCursor(4), latest: ChangeCursor(4)), "pruned empty, reopened: the latest is kept")
            _ = try await store.create(try Fixture.event("re-c"))
            #expect(try await store.changes(after: ChangeCursor(4), limit: 10).map(\.cursor) == [ChangeCursor(5)], "cursor 5: never a reused one")
            await store.close()
        }
    }

    @Test("the writes of one transaction append their changes in apply order; refused ones append none")
    func changesOfOneBatch() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let x = try Fixture.event("x"), y = try Fixture.event("y")
            var x2 = x
            x2.riskEventStatus = .remediated
            x2.version = 2
            var yOther = y
            yOther.userId = "user-2"
            let answers = await SQLiteWriteBatchTests().commitTogether(store, [
                .create(x), .replace(x2, expectedVersion: 1), .delete(id: "x", expectedVersion: 2), .create(x),
                .create(y), .create(yOther), .replace(yOther, expectedVersion: 2), .delete(id: "z", expectedVersion: nil), .create(y),
            ])
            #expect(answers.compactMap(\.failure).count == 4)
            #expect(store.statistics.batches == 1)
            let changes = try await store.changes(after: .zero, limit: 100)
            #expect(changes.map(\.kind) == [.created, .updated, .deleted, .created])
            #expect(changes.map(\.event) == [x, x2, x2, y])
            #expect(store.changeFeed.recent(after: .zero, limit: 100) == changes)
            await store.close()
        }
    }

    @Test("a failed transaction appends and publishes nothing; the next one continues the cursors")
    func failedBatchLogsNothing() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            let a = try Fixture.event("fail-a")
            _ = try await store.create(a)
            var big = a
            big.riskEventType = String(repeating: "t", count: 200_000)  // needs new pages
            big.version = 2
            try await store.setWriterMaxPageCount(1)
            #expect(await attempt { try await store.replace(big, expectedVersion: 1) }.failure?.code == .unavailable)
            #expect(try await store.changeLogBounds().latest == ChangeCursor(1))
            #expect(store.changeFeed.latest == ChangeCursor(1), "nothing published")
            try await store.setWriterMaxPageCount(1_073_741_823)
            _ = try await store.replace(big, expectedVersion: 1)
            #expect(try await store.changes(after: .zero, limit: 10).map(\.cursor) == [ChangeCursor(1), ChangeCursor(2)])
            #expect(store.changeFeed.recent(after: ChangeCursor(1), limit: 10)?.map(\.event) == [big])
            await store.close()
        }
    }

    @Test("deleting a damaged record keeps its change in the log as stored; the feed restarts after it, and reading the log says the row is damaged")
    func damagedDelete() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(path: directory + "/events.sqlite")
            _ = try await store.create(try Fixture.event("damaged"))
            try await store.executeOnWriter("UPDATE identity_risk_events SET risk_level = 'severe' WHERE id = 'damaged'")
            async let woke = store.changeFeed.waitForChange(after: ChangeCursor(1), timeout: .seconds(60))
            await Task.yield()
            #expect(try await store.delete(id: "damaged", expectedVersion: 1) == 1)
            #expect(await woke, "the feed's reset wakes a watcher waiting for the unpublishable change")
            #expect(try await store.changeLogBounds().latest == ChangeCursor(2))
            #expect(store.changeFeed.latest == ChangeCursor(2))
            #expect(store.changeFeed.recent(after: ChangeCursor(1), limit: 10) == nil, "behind the feed's window: read the log")
            let error = await attempt { try await store.changes(after: ChangeCursor(1), limit: 10) }.failure
            #expect(error?.code == .internal)
            #expect(error?.message.contains("risk_level") == true, "\(error?.message ?? "")")
            _ = try await store.create(try Fixture.event("healthy"))
            #expect(store.changeFeed.recent(after: ChangeCursor(2), limit: 10)?.map(\.event.id) == ["healthy"])
            await store.close()
        }
    }

    @Test("pruning deletes in chunks until retention holds, through the writer")
    func pruneInChunks() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(
                path: directory + "/events.sqlite",
                configuration: .init(changeRetention: ChangeRetention(maxAge: nil, maxCount: 10), changePruneInterval: .seconds(3600)))
            let total = Int(GroupCommitWriter.pruneChunk) + 1000
            for start in stride(from: 0, to: total, by: 1000) {
                let writes = try (start ..< start + 1000).map { n in
                    SQLiteWriteBatchTests.TestWrite.create(try Fixture.event("chunk-\(n)"))
                }
                let answers = await SQLiteWriteBatchTests().commitTogether(store, writes)
                #expect(answers.allSatisfy { (try? $0.get()) != nil })
            }
            #expect(try await store.changeLogBounds() == ChangeLogBounds(earliestResumable: .zero, latest: ChangeCursor(UInt64(total))))
            await store.pruneChangesNow()
            let latest = UInt64(total)
            #expect(try await store.changeLogBounds() == ChangeLogBounds(earliestResumable: ChangeCursor(latest - 10), latest: ChangeCursor(latest)), "more than one chunk was pruned")
            #expect(try await store.changes(after: ChangeCursor(latest - 10), limit: 100).count == 10)
            await store.close()
        }
    }

    @Test("the writer prunes on its own every changePruneInterval")
    func backgroundPruning() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteEventStore(
                path: directory + "/events.sqlite",
                configuration: .init(changeRetention: ChangeRetention(maxAge: nil, maxCount: 2), changePruneInterval: .milliseconds(20)))
            for n in 0 ..< 5 { _ = try await store.create(try Fixture.event("bg-\(n)")) }
            // No pruneChangesNow: wait (up to 20 s, normally one interval) for the writer's own pass.
            var bounds = try await store.changeLogBounds()
            for _ in 0 ..< 2000 where bounds.earliestResumable != ChangeCursor(3) {
                try await Task.sleep(for: .milliseconds(10))
                bounds = try await store.changeLogBounds()
            }
            #expect(bounds == ChangeLogBounds(earliestResumable: ChangeCursor(3), latest: ChangeCursor(5)))
            await store.close()
        }
    }

    @Test("retention settings that are not positive are refused at open")
    func invalidRetention() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let configurations: [SQLiteEventStore.Configuration] = [
                .init(changeRetention: ChangeRetention(maxAge: nil, maxCount: 0)),
                .init(changeRetention: ChangeRetention(maxAge: .zero, maxCount: nil)),
                .init(changePruneInterval: .zero),
            ]
            for configuration in configurations {
                let error = #expect(throws: IdentityRiskError.self) { try SQLiteEventStore(path: path, configuration: configuration) }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains("SQLiteEventStore.Configuration.change") == true, "\(error?.message ?? "")")
            }
            #expect(!FileManager.default.fileExists(atPath: path), "refused before anything was created")
        }
    }
}
