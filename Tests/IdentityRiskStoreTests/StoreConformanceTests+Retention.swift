import IdentityRiskCore
import IdentityRiskTestSupport
@testable import IdentityRiskStore
import Testing

/// Change-log retention: pruning by count and by age, `cursorExpired`, and
/// cursors that are never reused.
extension StoreConformanceTests {
    @Test("count retention keeps the newest maxCount changes; a cursor before them is cursorExpired", arguments: StoreFactory.all)
    func countRetention(_ factory: StoreFactory) async throws {
        try await factory.withStore(retention: ChangeRetention(maxAge: nil, maxCount: 5)) { store in
            var generator = SplitMix64(seed: 12)
            let events = (0 ..< 12).map { Fixture.varied($0, using: &generator) }
            for e in events { _ = try await store.create(e) }
            await pruneChanges(store)
            let bounds = try await store.changeLogBounds()
            #expect(bounds == ChangeLogBounds(earliestResumable: ChangeCursor(7), latest: ChangeCursor(12)))
            for expired in [ChangeCursor.zero, ChangeCursor(6)] {
                let error = await attempt { try await store.changes(after: expired, limit: 100) }.failure
                #expect(error?.isCursorExpired == true, "\(expired)")
                #expect(error?.code == .failedPrecondition)
                #expect(error?.message.contains("list again") == true, "tells the client to re-list: \(error?.message ?? "")")
                #expect(error?.message.contains("7") == true, "names the oldest resumable cursor")
            }
            let kept = try await store.changes(after: ChangeCursor(7), limit: 100)
            #expect(kept.map(\.cursor.rawValue) == Array(8...12))
            #expect(kept.map(\.event) == Array(events[7...]))
            #expect(try await store.list(ListQuery(top: 100)).cursor == ChangeCursor(12), "pruning does not move the latest cursor")
        }
    }

    @Test("age retention prunes every change older than maxAge; the empty log resumes at its latest cursor, never reused", arguments: StoreFactory.all)
    func ageRetention(_ factory: StoreFactory) async throws {
        try await factory.withStore(retention: ChangeRetention(maxAge: .milliseconds(200), maxCount: nil)) { store in
            for n in 0 ..< 3 { _ = try await store.create(try Fixture.event("age-\(n)")) }
            try await Task.sleep(for: .milliseconds(450))  // every change is now older than maxAge
            await pruneChanges(store)
            let empty = try await store.changeLogBounds()
            #expect(empty == ChangeLogBounds(earliestResumable: ChangeCursor(3), latest: ChangeCursor(3)), "pruned empty: earliest = latest")
            #expect(try await store.changes(after: ChangeCursor(3), limit: 10) == [])
            #expect(await attempt { try await store.changes(after: ChangeCursor(2), limit: 10) }.failure?.isCursorExpired == true)

            let fresh = try Fixture.event("age-fresh")
            _ = try await store.create(fresh)
            let after = try await store.changes(after: ChangeCursor(3), limit: 10)
            #expect(after.map(\.cursor) == [ChangeCursor(4)], "the next cursor follows the pruned ones")
            #expect(after.map(\.event) == [fresh])
            #expect(try await store.changeLogBounds() == ChangeLogBounds(earliestResumable: ChangeCursor(3), latest: ChangeCursor(4)))
        }
    }

    /// A retention pass now: the SQLite store's writer and the PostgreSQL store prune on request; the
    /// memory store prunes as it appends and reads.
    func pruneChanges(_ store: any EventStore) async {
        if let sqlite = store as? SQLiteEventStore { await sqlite.pruneChangesNow() }
        if let postgres = store as? PostgresEventStore { await postgres.pruneChangesNow() }
    }
}

extension StoreFactory {
    /// Runs `body` with a fresh store of this kind keeping `retention` (the
    /// SQLite store prunes only when asked, see `pruneChanges`).
    func withStore(retention: ChangeRetention, _ body: (any EventStore) async throws -> Void) async throws {
        switch name {
        case "memory":
            try await body(MemoryEventStore(changeRetention: retention))
        case "sqlite":
            try await withTemporaryDirectory { directory in
                let store = try SQLiteEventStore(
                    path: directory + "/events.sqlite",
                    configuration: .init(changeRetention: retention, changePruneInterval: .seconds(3600)))
                do {
                    try await body(store)
                } catch {
                    await store.close()
                    throw error
                }
                await store.close()
            }
        case "postgresql":
            let location = try await PostgresTestServer.createDatabase()
            let store = try PostgresEventStore(
                location: location, configuration: .init(changeRetention: retention, changePruneInterval: .seconds(3600)))
            do {
                try await body(store)
            } catch {
                await store.close()
                await PostgresTestServer.releaseDatabase(location.database)
                throw error
            }
            await store.close()
            await PostgresTestServer.releaseDatabase(location.database)
        default:
            Issue.record("no retention variant of store '\(name)': add one here")
        }
    }
}
