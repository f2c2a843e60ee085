import IdentityRiskCore
import IdentityRiskTestSupport
import IdentityRiskStore
import ServiceLifecycle
import Testing

/// The change log (Watch): which writes append a change, cursors, paging,
/// bounds, the feed and list's cursor. Retention is in
/// `StoreConformanceTests+Retention.swift`.
extension StoreConformanceTests {
    @Test("creates, updates and deletes append changes with increasing cursors; refused writes and idempotent repeats append none", arguments: StoreFactory.all)
    func changesOfWrites(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            #expect(try await store.changeLogBounds() == ChangeLogBounds(earliestResumable: .zero, latest: .zero), "a new store has an empty log")
            #expect(try await store.changes(after: .zero, limit: 10) == [])

            let a = try Fixture.event("log-a", created: "2024-01-01T00:00:00Z")
            let b = try Fixture.event("log-b", display: "Bob", created: "2024-01-01T00:00:01Z")
            _ = try await store.create(a)
            _ = try await store.create(b)
            #expect(try await store.create(a).alreadyExisted, "an idempotent repeat")
            var conflicting = a
            conflicting.riskLevel = .low
            #expect(await attempt { try await store.create(conflicting) }.failure?.code == .alreadyExists)
            var a2 = a
            a2.riskEventStatus = .remediated
            a2.version = 2
            _ = try await store.replace(a2, expectedVersion: 1)
            var stale = a
            stale.riskLevel = .none
            stale.version = 2
            #expect(await attempt { try await store.replace(stale, expectedVersion: 1) }.failure?.isVersionMismatch == true)
            #expect(await attempt { try await store.replace(try Fixture.event("log-ghost"), expectedVersion: 1) }.failure?.code == .notFound)
            #expect(await attempt { try await store.delete(id: "log-b", expectedVersion: 7) }.failure?.isVersionMismatch == true)
            var b2 = b
            b2.userDisplayName = "Bob, last version"
            b2.version = 2
            _ = try await store.replace(b2, expectedVersion: 1)
            #expect(try await store.delete(id: "log-b", expectedVersion: 2) == 2)
            #expect(await attempt { try await store.create(b) }.failure?.innerCode == "DeletedID")
            #expect(await attempt { try await store.delete(id: "log-b", expectedVersion: nil) }.failure?.code == .notFound)
            // An update that changes nothing never reaches the store's replace.
            var same = EventPatch()
            same.set(.riskEventStatus, .riskEventStatus(.remediated))
            #expect(try await UpdateEvent(store: store)(UpdateEvent.Request(id: "log-a", patch: same)) == a2)

            let changes = try await store.changes(after: .zero, limit: 100)
            #expect(changes.map(\.kind) == [.created, .created, .updated, .updated, .deleted])
            #expect(changes.map(\.event) == [a, b, a2, b2, b2], "each change carries the record as it left it; a delete its last version and content")
            #expect(changes.map(\.cursor.rawValue) == Array(1...5), "a fresh store numbers its changes from 1, in order")
            let bounds = try await store.changeLogBounds()
            #expect(bounds == ChangeLogBounds(earliestResumable: .zero, latest: ChangeCursor(5)))
            #expect(bounds.canResume(after: .zero) && bounds.canResume(after: ChangeCursor(5)) && !bounds.canResume(after: ChangeCursor(6)))
            #expect(try await store.changes(after: ChangeCursor(3), limit: 100) == Array(changes[3...]))
            #expect(try await store.changes(after: ChangeCursor(5), limit: 100) == [], "after the latest: nothing yet")

            #expect(store.changeFeed.latest == ChangeCursor(5))
            #expect(store.changeFeed.recent(after: .zero, limit: 100) == changes, "the feed carries what the log holds, in order")
            #expect(store.changeFeed.recent(after: ChangeCursor(4), limit: 100) == [changes[4]])
        }
    }

    @Test("changes(after:limit:) pages in cursor order; a bad limit is invalidArgument; a cursor ahead of the log is cursorAhead", arguments: StoreFactory.all)
    func changePaging(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            var generator = SplitMix64(seed: 25)
            let events = (0 ..< 25).map { Fixture.varied($0, using: &generator) }
            for e in events { _ = try await store.create(e) }
            var pages: [[Change]] = []
            var after = ChangeCursor.zero
            while true {
                let page = try await store.changes(after: after, limit: 10)
                if page.isEmpty { break }
                pages.append(page)
                after = try #require(page.last).cursor
            }
            #expect(pages.map(\.count) == [10, 10, 5])
            let all = pages.flatMap { $0 }
            #expect(all.map(\.event) == events)
            #expect(all.allSatisfy { $0.kind == .created })
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.cursor < $1.cursor })
            #expect(try await store.changes(after: .zero, limit: 10_000) == all, "the largest limit")

            for limit in [0, -1, 10_001, Int.max] {
                let error = await attempt { try await store.changes(after: .zero, limit: limit) }.failure
                #expect(error?.code == .invalidArgument, "limit \(limit)")
                #expect(error?.target == "limit")
            }
            let latest = try await store.changeLogBounds().latest
            #expect(latest == after)
            for ahead in [ChangeCursor(latest.rawValue + 1), ChangeCursor(UInt64.max)] {
                let error = await attempt { try await store.changes(after: ahead, limit: 10) }.failure
                #expect(error?.code == .invalidArgument, "\(ahead)")
                #expect(error?.innerCode == "CursorAhead")
                #expect(error?.message.contains("\(latest)") == true, "names the latest cursor: \(error?.message ?? "")")
            }
        }
    }

    @Test("8 concurrent writers: every acknowledged change is in the log exactly once, cursors strictly increase, each writer's changes in its order, the feed equal", arguments: StoreFactory.all)
    func concurrentChanges(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            /// What one writer had acknowledged, in its order: (id, kind, version).
            typealias Acked = [(id: String, kind: ChangeKind, version: UInt64)]
            let acknowledged = try await withThrowingTaskGroup(of: Acked.self) { group in
                for writer in 0 ..< 8 {
                    group.addTask {
                        var acked: Acked = []
                        for n in 0 ..< 30 {
                            var e = try Fixture.event("w\(writer)-\(n)", created: "2024-01-01T00:00:00Z")
                            e.userId = "writer-\(writer)"
                            _ = try await store.create(e)
                            acked.append((e.id, .created, 1))
                            if n % 2 == 0 {
                                e.riskEventStatus = .dismissedAsFixed
                                e.version = 2
                                _ = try await store.replace(e, expectedVersion: 1)
                                acked.append((e.id, .updated, 2))
                            }
                            if n % 3 == 0 {
                                let version = try await store.delete(id: e.id, expectedVersion: nil)
                                acked.append((e.id, .deleted, version))
                            }
                        }
                        return acked
                    }
                }
                return try await group.reduce(into: [Acked]()) { $0.append($1) }
            }
            var log: [Change] = []
            var after = ChangeCursor.zero
            while true {
                let page = try await store.changes(after: after, limit: 37)
                guard let last = page.last else { break }
                log += page
                after = last.cursor
            }
            #expect(log.count == acknowledged.map(\.count).reduce(0, +), "one change per acknowledged write")
            #expect(zip(log, log.dropFirst()).allSatisfy { $0.cursor < $1.cursor }, "strictly increasing cursors")
            #expect(Set(log.map(\.cursor)).count == log.count)
            for acked in acknowledged {
                let writer = try #require(acked.first).id.split(separator: "-").first.map(String.init) ?? ""
                let mine = log.filter { $0.event.id.hasPrefix(writer + "-") }
                #expect(mine.map(\.event.id) == acked.map(\.id), "writer \(writer): its changes in the order it made them")
                #expect(mine.map(\.kind) == acked.map(\.kind))
                #expect(mine.map(\.event.version) == acked.map(\.version))
            }
            let last = try #require(log.last)
            #expect(try await store.changeLogBounds().latest == last.cursor)
            #expect(store.changeFeed.recent(after: .zero, limit: 10_000) == log, "the feed received the same changes, in order")
        }
    }

    @Test("a watcher waiting on the feed wakes when a change commits", arguments: StoreFactory.all)
    func feedWakesWatchers(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            _ = try await store.create(try Fixture.event("wake-1"))
            let latest = store.changeFeed.latest
            #expect(await store.changeFeed.waitForChange(after: .zero, timeout: .seconds(60)), "already later: at once")
            async let woke = store.changeFeed.waitForChange(after: latest, timeout: .seconds(60))
            _ = try await store.create(try Fixture.event("wake-2"))
            #expect(await woke)
            #expect(store.changeFeed.recent(after: latest, limit: 10)?.map(\.event.id) == ["wake-2"])
        }
    }

    @Test("after graceful shutdown the log is unavailable and the feed is closed: waiting watchers return false", arguments: StoreFactory.all)
    func changeLogAfterShutdown(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let group = ServiceGroup(services: [store])
            let running = Task { try await group.run() }
            _ = try await store.create(try Fixture.event("shut-1"))
            let latest = store.changeFeed.latest
            async let waiting = store.changeFeed.waitForChange(after: latest, timeout: .seconds(600))
            await Task.yield()
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(await waiting == false, "a waiting watcher is released by the close, not by its timeout")
            #expect(await store.changeFeed.waitForChange(after: latest, timeout: .seconds(600)) == false, "no new waits once closed")
            #expect(await attempt { try await store.changes(after: .zero, limit: 10) }.failure?.code == .unavailable)
            #expect(await attempt { try await store.changeLogBounds() }.failure?.code == .unavailable)
        }
    }

    @Test("list's cursor: a watch after it, applied to the page, gives exactly the final state (SQLite: the page reflects no change after it)", arguments: StoreFactory.all)
    func listCursor(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            for n in 0 ..< 10 { _ = try await store.create(try Fixture.event("lc-\(n)", created: "2024-01-01T00:00:00Z")) }
            let quiet = try await store.list(ListQuery(top: 1000))
            #expect(quiet.cursor == ChangeCursor(10), "with no write in flight, the latest cursor")

            // Lists while writers create, update and delete.
            let pages = try await withThrowingTaskGroup(of: [ListPage].self) { group in
                for writer in 0 ..< 4 {
                    group.addTask {
                        for n in 0 ..< 25 {
                            var e = try Fixture.event("lc-\(writer)-\(n)", created: "2024-01-01T00:00:00Z")
                            _ = try await store.create(e)
                            e.riskLevel = .low
                            e.version = 2
                            _ = try await store.replace(e, expectedVersion: 1)
                            if n % 4 == 0 { _ = try await store.delete(id: e.id, expectedVersion: 2) }
                        }
                        return []
                    }
                }
                group.addTask {
                    var pages: [ListPage] = []
                    for _ in 0 ..< 8 {
                        pages.append(try await store.list(ListQuery(top: 1000)))
                        await Task.yield()
                    }
                    return pages
                }
                return try await group.reduce(into: [ListPage]()) { $0 += $1 }
            }
            let final = try await store.list(ListQuery(top: 1000))
            let finalState = Dictionary(uniqueKeysWithValues: final.events.map { ($0.id, $0) })
            let latest = try await store.changeLogBounds().latest
            #expect(final.cursor == latest)
            for page in pages {
                #expect(page.next == nil)
                var state = Dictionary(uniqueKeysWithValues: page.events.map { ($0.id, $0) })
                let later = try await store.changes(after: page.cursor, limit: 10_000)
                for change in later {
                    switch change.kind {
                    case .created, .updated: state[change.event.id] = change.event
                    case .deleted: state[change.event.id] = nil
                    }
                }
                #expect(state == finalState, "page at \(page.cursor) + the changes after it = the final state: nothing missed")
                if factory.name == "sqlite" {
                    // One snapshot: the page is the log replayed up to its cursor, no more, no less.
                    let earlier = try await store.changes(after: .zero, limit: 10_000).filter { $0.cursor <= page.cursor }
                    var replayed: [String: IdentityRiskEvent] = [:]
                    for change in earlier {
                        replayed[change.event.id] = change.kind == .deleted ? nil : change.event
                    }
                    #expect(replayed == Dictionary(uniqueKeysWithValues: page.events.map { ($0.id, $0) }), "the page is exactly the changes up to its cursor")
                }
            }
        }
    }
}
