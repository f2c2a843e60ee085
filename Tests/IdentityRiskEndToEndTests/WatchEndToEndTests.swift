import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskTestSupport
import IdentityRiskServer
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskWire
import NIOCore
import Synchronization
import Testing

/// Watch against the real server on a real SQLite file, through the Swift client.
@Suite("Watch end to end (SQLite)")
struct WatchEndToEndTests {
    /// A test server on a fresh SQLite database, with quick bookmarks.
    func withSQLiteServer<R: Sendable>(
        bookmarkMilliseconds: Int64 = 200,
        storeConfiguration: SQLiteEventStore.Configuration = .init(),
        configure: @escaping (inout ServerConfiguration) -> Void = { _ in },
        _ body: @Sendable (TestServer, SQLiteEventStore) async throws -> R
    ) async throws -> R {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/events.sqlite", configuration: storeConfiguration)
        defer { Task { await store.close() } }
        return try await withTestServer(store: store, configure: {
            $0.watchBookmarkIntervalMilliseconds = bookmarkMilliseconds
            configure(&$0)
        }) { server in
            try await body(server, store)
        }
    }

    static func draft(_ id: String, level: RiskLevel) -> IdentityRiskEventDraft {
        var draft = seedDraft(id: id, userId: "user-\(id)")
        draft.riskLevel = level
        return draft
    }

    @Test("a watcher started before 1,000 creates from 4 connections, 100 updates and 100 deletes sees every change exactly once, in cursor order, as committed")
    func everyChangeExactlyOnce() async throws {
        try await withSQLiteServer { server, store in
            let watcher = IdentityRiskClient(socketPath: server.socketPath)
            let all = WatchCollector(client: watcher)
            let high = WatchCollector(client: watcher, filter: "riskLevel eq 'high'")
            #expect(await all.waitUntilLive())
            #expect(await high.waitUntilLive())

            // 4 connections × 250 creates, every other one high.
            let done = Locked<[ChangeKey: IdentityRiskEvent]>([:])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connection in 0..<4 {
                    group.addTask {
                        try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                            try await withThrowingTaskGroup(of: Void.self) { calls in
                                for n in 0..<250 {
                                    calls.addTask {
                                        let id = "w-\(connection)-\(n)"
                                        let created = try await client.create(Self.draft(id, level: n % 2 == 0 ? .high : .low))
                                        done.withLock { $0[ChangeKey(.created, id, 1)] = created.event }
                                    }
                                }
                                try await calls.waitForAll()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for n in 0..<100 {
                    let id = "w-\(n % 4)-\(n)"
                    var patch = EventPatch()
                    patch.set(.riskEventStatus, .riskEventStatus(.remediated))
                    let updated = try await client.update(id: id, patch)
                    done.withLock { $0[ChangeKey(.updated, id, 2)] = updated }
                }
                for n in 100..<200 {
                    let id = "w-\(n % 4)-\(n)"
                    let before = try await client.get(id: id)
                    let version = try await client.delete(id: id)
                    done.withLock { $0[ChangeKey(.deleted, id, version)] = before }
                }
            }
            let expected = done.withLock { $0 }
            #expect(expected.count == 1200)
            let highExpected = expected.filter { $0.value.riskLevel == .high }

            #expect(await all.wait { $0.count { if case .change = $0 { true } else { false } } >= 1200 }, "all changes arrive")
            #expect(await high.wait { $0.count { if case .change = $0 { true } else { false } } >= highExpected.count })
            try await Task.sleep(for: .milliseconds(300))  // anything extra would arrive now

            let seen = all.changes
            expectCursorOrderNoRepeats(seen)
            #expect(Set(seen.map(ChangeKey.init)) == Set(expected.keys), "exactly the changes made")
            #expect(seen.count == expected.count)
            for change in seen {
                #expect(change.event == expected[ChangeKey(change)], "\(ChangeKey(change)) carries the record as that change left it")
            }
            let seenHigh = high.changes
            expectCursorOrderNoRepeats(seenHigh)
            #expect(Set(seenHigh.map(ChangeKey.init)) == Set(highExpected.keys), "the filtered watcher sees exactly the matching changes")

            // Each change a watcher saw is in the committed log, under the same cursor.
            let log = try await store.changes(after: .zero, limit: 10_000)
            #expect(log == seen, "the watcher saw the durable log, in its order")
            await all.cancel()
            await high.cancel()
            await watcher.close()
        }
    }

    @Test("a watcher stopped after 20 changes and resumed after its last cursor sees the rest exactly once")
    func resumeAfterWatcherStops() async throws {
        try await withSQLiteServer { server, _ in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let first = WatchCollector(client: client)
                #expect(await first.waitUntilLive())
                for n in 0..<50 { _ = try await client.create(Self.draft("r-\(n)", level: .medium)) }
                #expect(await first.wait { $0.count { if case .change = $0 { true } else { false } } >= 20 })
                await first.cancel()
                let taken = Array(first.changes.prefix(20))
                let resumeAfter = try #require(taken.last?.cursor)
                for n in 50..<80 { _ = try await client.create(Self.draft("r-\(n)", level: .medium)) }

                let second = WatchCollector(client: client, from: .after(resumeAfter))
                #expect(await second.wait { $0.count { if case .change = $0 { true } else { false } } >= 60 })
                try await Task.sleep(for: .milliseconds(300))
                let rest = second.changes
                expectCursorOrderNoRepeats(taken + rest)
                #expect(Set((taken + rest).map(\.event.id)) == Set((0..<80).map { "r-\($0)" }))
                #expect(rest.count == 60, "the 30 not taken plus the 30 new")
                #expect(second.messages.first == .bookmark(resumeAfter), "the stream opens with a bookmark at its start")
                await second.cancel()
            }
        }
    }

    @Test("an idle watcher receives bookmarks at the latest cursor")
    func idleBookmarks() async throws {
        try await withSQLiteServer(bookmarkMilliseconds: 150) { server, store in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for n in 0..<3 { _ = try await client.create(Self.draft("b-\(n)", level: .low)) }
                let latest = try await store.changeLogBounds().latest
                let watch = WatchCollector(client: client, filter: "riskLevel eq 'hidden'", from: .after(.zero))
                #expect(await watch.wait(timeout: .seconds(10)) { $0.count >= 4 }, "the opening bookmark, then at least 3 more")
                #expect(watch.changes.isEmpty, "no change matched")
                #expect(watch.messages.allSatisfy { if case .bookmark = $0 { true } else { false } })
                #expect(watch.messages.first == .bookmark(.zero))
                #expect(watch.messages.dropFirst().allSatisfy { $0.cursor == latest }, "bookmarks carry the cursor reached")
                await watch.cancel()
            }
        }
    }

    @Test("list, then watch after the list's cursor, misses nothing while creates continue during the list")
    func listThenWatch() async throws {
        try await withSQLiteServer { server, _ in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for n in 0..<300 { _ = try await client.create(Self.draft("l-\(n)", level: .low)) }
                let writing = Locked<Bool>(true)
                let acknowledged = Locked<Set<String>>(Set((0..<300).map { "l-\($0)" }))
                let writer = Task {
                    var n = 300
                    while writing.value, n < 2300 {
                        let id = "l-\(n)"
                        if (try? await client.create(Self.draft(id, level: .low))) != nil {
                            acknowledged.withLock { _ = $0.insert(id) }
                        }
                        n += 1
                    }
                }
                // Page through while creates continue.
                var request = ListEvents.Request(top: 50)
                var listed = Set<String>()
                var firstCursor: ChangeCursor?
                var firstPage = Set<String>()
                while true {
                    let page = try await client.list(request)
                    if firstCursor == nil {
                        firstCursor = page.cursor
                        firstPage = Set(page.events.map(\.id))
                    }
                    listed.formUnion(page.events.map(\.id))
                    if page.nextPageToken.isEmpty { break }
                    request.pageToken = page.nextPageToken
                }
                let cursor = try #require(firstCursor)
                #expect(cursor > .zero)
                let watch = WatchCollector(client: client, from: .after(cursor))
                try await Task.sleep(for: .milliseconds(200))
                writing.withLock { $0 = false }
                await writer.value
                let everything = acknowledged.withLock { $0 }
                func created(_ messages: [WatchChanges.Message]) -> Set<String> {
                    Set(messages.compactMap { if case .change(let c) = $0, c.kind == .created { c.event.id } else { nil } })
                }
                #expect(await watch.wait { listed.union(created($0)).isSuperset(of: everything) }, "list ∪ watch = every record")
                let watched = created(watch.messages)
                #expect(watched.isDisjoint(with: firstPage), "nothing the first page held is delivered again")
                expectCursorOrderNoRepeats(watch.changes)
                await watch.cancel()
            }
        }
    }

    @Test("watch refusals come before any message: a bad filter, a cursor ahead of the log")
    func refusals() async throws {
        try await withSQLiteServer { server, _ in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let badFilter = WatchCollector(client: client, filter: "riskLevel eq", options: WatchOptions(resume: false))
                let filterError = try #require(await badFilter.waitForEnd() ?? nil) as? IdentityRiskError
                #expect(filterError?.code == .invalidArgument)
                #expect(filterError?.target == "filter" || filterError?.message.contains("filter") == true, "\(String(describing: filterError))")

                let ahead = WatchCollector(client: client, from: .after(ChangeCursor(1_000_000)), options: WatchOptions(resume: false))
                let aheadError = try #require(await ahead.waitForEnd() ?? nil) as? IdentityRiskError
                #expect(aheadError?.code == .invalidArgument)
                #expect(aheadError?.innerCode == "CursorAhead")
                #expect(ahead.messages.isEmpty, "refused before any message")
            }
        }
    }

    @Test("a cursor whose successors retention pruned is refused with FAILED_PRECONDITION CursorExpired (the client, then the CLI with exit 9); OLDEST starts at the oldest retained")
    func expiredCursor() async throws {
        let retention = SQLiteEventStore.Configuration(
            changeRetention: ChangeRetention(maxAge: nil, maxCount: 10), changePruneInterval: .milliseconds(50))
        try await withSQLiteServer(storeConfiguration: retention) { server, store in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for n in 0..<50 { _ = try await client.create(Self.draft("e-\(n)", level: .low)) }
                let deadline = ContinuousClock.now + .seconds(10)
                var bounds = try await store.changeLogBounds()
                while bounds.earliestResumable < ChangeCursor(40), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    bounds = try await store.changeLogBounds()
                }
                #expect(bounds.earliestResumable == ChangeCursor(40), "10 changes kept of 50")

                let expired = WatchCollector(client: client, from: .after(ChangeCursor(5)), options: WatchOptions(resume: false))
                let error = try #require(await expired.waitForEnd() ?? nil) as? IdentityRiskError
                #expect(error?.isCursorExpired == true, "\(String(describing: error))")
                #expect(error?.code == .failedPrecondition)
                #expect(error?.message.contains("list again") == true)
                #expect(expired.messages.isEmpty)

                let resumable = WatchCollector(client: client, from: .after(bounds.earliestResumable))
                #expect(await resumable.wait { $0.count >= 11 }, "after the earliest resumable cursor: the 10 kept")
                #expect(resumable.changes.map(\.event.id) == (40..<50).map { "e-\($0)" })
                await resumable.cancel()
                let oldest = WatchCollector(client: client, from: .oldest)
                #expect(await oldest.wait { $0.count >= 11 })
                #expect(oldest.messages.first == .bookmark(bounds.earliestResumable), "OLDEST starts after the earliest resumable cursor")
                await oldest.cancel()

                let cli = try await blocking { try CLITests.runIrisk(["watch", "--socket", server.socketPath, "--from", "5"]) }
                #expect(cli.status == 9, "exit 9 for an expired cursor: \(cli.stderr)")
                #expect(cli.stderr.contains("CursorExpired"))
            }
        }
    }

    @Test("a watch with timeout_ms ends at its deadline with DEADLINE_EXCEEDED and its resume cursor; a cancel ends it with CANCELLED and the cursor")
    func deadlineAndCancel() async throws {
        try await withSQLiteServer { server, _ in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for n in 0..<3 { _ = try await client.create(Self.draft("d-\(n)", level: .low)) }
            }
            let raw = try await openRaw(server)
            raw.send(RawRequest(IdentityRiskMethods.Watch.self, WatchChanges.Request(start: .after(.zero)), callID: 3, timeoutMilliseconds: UInt32(scaled(1000))))
            var last: ChangeCursor?
            var final: RawResponse?
            while let response = try await raw.readResponse() {
                #expect(response.callID == 3)
                if let message = response.value(IdentityRiskMethods.Watch.self) { last = message.cursor } else { final = response; break }
            }
            let ended = try #require(final?.failure)
            #expect(ended.code == .deadlineExceeded)
            #expect(ended.resumeCursor == last && last == ChangeCursor(3), "the last cursor sent: \(String(describing: last))")

            raw.send(RawRequest(IdentityRiskMethods.Watch.self, WatchChanges.Request(start: .now), callID: 4))
            let opening = try #require(try await raw.readResponse())
            #expect(opening.value(IdentityRiskMethods.Watch.self) == .bookmark(ChangeCursor(3)))
            var cancel = ByteBuffer()
            RequestCodec.encodeCancel(targetCallID: 4, into: &cancel)
            raw.send(Array(cancel.readableBytesView))
            let cancelled = try #require(failure(try await raw.readResponse()))
            #expect(cancelled.code == .cancelled)
            #expect(cancelled.resumeCursor == ChangeCursor(3))
            raw.send(RawRequest.health(callID: 5))
            #expect(try await raw.readResponse()?.isHealth == true, "the connection stays usable")
        }
    }
}
