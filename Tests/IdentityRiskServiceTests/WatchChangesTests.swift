import IdentityRiskCore
import IdentityRiskTestSupport
import Synchronization
import Testing

/// A store that is only a change log (a fixed list of changes) and a feed of
/// a chosen, small capacity: to drive ``WatchChanges`` through its catch-up
/// path (the feed's window no longer reaches back) and its live path.
final class LogOnlyStore: EventStore {
    let kind = "log-only"
    let changeFeed: ChangeFeed
    private let log: Mutex<[Change]>
    private let earliest: ChangeCursor
    let reads = Atomic<Int>(0)

    init(changes: [Change], earliestResumable: ChangeCursor = .zero, feedCapacity: Int) {
        log = Mutex(changes)
        earliest = earliestResumable
        changeFeed = ChangeFeed(capacity: feedCapacity)
        changeFeed.reset(latest: .zero)
        changeFeed.publish(changes)
    }

    /// Commits one more change: in the log, then in the feed.
    func commit(_ change: Change) {
        log.withLock { $0.append(change) }
        changeFeed.publish(change)
    }

    func run() async throws {}
    func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        completion(.failure(IdentityRiskError(code: .unimplemented, message: "log only")))
    }
    func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? { nil }
    func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage { ListPage(events: [], next: nil) }
    func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent { event }
    func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 { 0 }

    func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change] {
        reads.add(1, ordering: .relaxed)
        let bounds = try await changeLogBounds()
        if cursor < bounds.earliestResumable { throw .cursorExpired(cursor, bounds: bounds) }
        return Array(log.withLock { $0 }.filter { $0.cursor > cursor }.prefix(limit))
    }

    func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds {
        ChangeLogBounds(earliestResumable: earliest, latest: log.withLock { $0.last?.cursor ?? .zero })
    }
}

/// Messages a watch emits, until it has `limit` (then `emit` answers false).
final class Emitted: Sendable {
    private let messages = Mutex<[WatchChanges.Message]>([])
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func emit(_ message: WatchChanges.Message) -> Bool {
        messages.withLock {
            $0.append(message)
            return $0.count < limit
        }
    }

    var all: [WatchChanges.Message] { messages.withLock { $0 } }
    var changes: [Change] { all.compactMap { if case .change(let c) = $0 { c } else { nil } } }
}

@Suite("ChangeFeed and WatchChanges")
struct WatchChangesTests {
    static let created = dt("2024-05-01T12:00:00Z")

    static func change(_ n: UInt64, _ kind: ChangeKind = .created, level: RiskLevel = .high) -> Change {
        var event = seedEvent(id: "c-\(n)", createdDateTime: created, version: kind == .created ? 1 : 2)
        event.riskLevel = level
        return Change(cursor: ChangeCursor(n), kind: kind, event: event)
    }

    // MARK: ChangeFeed

    @Test("the feed's window keeps the newest changes; a cursor before it answers nil (read the log), at the latest []")
    func feedWindow() {
        let feed = ChangeFeed(capacity: 4)
        feed.reset(latest: ChangeCursor(2))
        #expect(feed.recent(after: ChangeCursor(1), limit: 10) == nil, "before the feed's start: the log")
        #expect(feed.recent(after: ChangeCursor(2), limit: 10) == [])
        feed.publish((3...10).map { Self.change($0) })
        #expect(feed.latest == ChangeCursor(10))
        #expect(feed.recent(after: ChangeCursor(5), limit: 10) == nil, "6 was evicted: after 5 is not in the window")
        #expect(feed.recent(after: ChangeCursor(6), limit: 10)?.map(\.cursor.rawValue) == [7, 8, 9, 10])
        #expect(feed.recent(after: ChangeCursor(7), limit: 2)?.map(\.cursor.rawValue) == [8, 9])
        #expect(feed.recent(after: ChangeCursor(10), limit: 10) == [])
    }

    @Test("a waiter wakes on a later change, times out, or stops on cancellation and close")
    func feedWaits() async {
        let feed = ChangeFeed(capacity: 8)
        feed.reset(latest: ChangeCursor(1))
        #expect(await feed.waitForChange(after: .zero, timeout: .seconds(5)), "already later: at once")
        #expect(await feed.waitForChange(after: ChangeCursor(1), timeout: .milliseconds(30)) == false, "timeout")

        let woken = Task { await feed.waitForChange(after: ChangeCursor(1), timeout: .seconds(30)) }
        while feed.waiting == 0 { await Task.yield() }
        feed.publish(CollectionOfOne(Self.change(2)))
        #expect(await woken.value)

        let cancelled = Task { await feed.waitForChange(after: ChangeCursor(2), timeout: .seconds(30)) }
        while feed.waiting == 0 { await Task.yield() }
        cancelled.cancel()
        #expect(await cancelled.value == false)
        #expect(feed.waiting == 0)

        let closed = Task { await feed.waitForChange(after: ChangeCursor(2), timeout: .seconds(30)) }
        while feed.waiting == 0 { await Task.yield() }
        feed.close()
        #expect(await closed.value == false)
        #expect(feed.isClosed)
    }

    // MARK: WatchChanges

    @Test("a watcher behind the feed's window catches up from the log, then follows the feed; the filter applies to deletes' last content")
    func catchUpThenLive() async throws {
        var history = (1...20).map { Self.change($0, level: $0 % 2 == 0 ? .high : .low) }
        history.append(Self.change(21, .deleted, level: .high))
        let store = LogOnlyStore(changes: history, feedCapacity: 4)
        let watch = WatchChanges(store: store, bookmarkInterval: .seconds(30), batchSize: 5)
        let plan = try await watch.begin(WatchChanges.Request(filter: "riskLevel eq 'high'", start: .after(.zero)))
        let emitted = Emitted(limit: 1 + 11 + 1)
        let running = Task { try await watch.run(plan) { emitted.emit($0) } }
        while emitted.all.count < 12 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(store.reads.load(ordering: .relaxed) >= 4, "20 changes behind a 4-change window, read 5 at a time from the log")
        store.commit(Self.change(22, .updated, level: .high))
        try await running.value
        #expect(emitted.all.first == .bookmark(.zero), "the opening bookmark")
        #expect(emitted.changes.map(\.cursor.rawValue) == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 21, 22], "the high ones, in order, then the live update")
        #expect(emitted.changes[10].kind == .deleted)
    }

    @Test("an idle watcher gets bookmarks at the cursor it reached, also when no change matched")
    func bookmarks() async throws {
        let store = LogOnlyStore(changes: (1...3).map { Self.change($0, level: .low) }, feedCapacity: 16)
        let watch = WatchChanges(store: store, bookmarkInterval: .milliseconds(40))
        let plan = try await watch.begin(WatchChanges.Request(filter: "riskLevel eq 'high'", start: .oldest))
        let emitted = Emitted(limit: 3)
        try await watch.run(plan) { emitted.emit($0) }
        #expect(emitted.all == [.bookmark(.zero), .bookmark(ChangeCursor(3)), .bookmark(ChangeCursor(3))])
    }

    @Test("begin resolves now and oldest against the log, refuses an expired or unknown cursor and a bad filter")
    func begin() async throws {
        let store = LogOnlyStore(changes: (11...15).map { Self.change($0) }, earliestResumable: ChangeCursor(10), feedCapacity: 16)
        let watch = WatchChanges(store: store)
        #expect(try await watch.begin(WatchChanges.Request(start: .now)).after == ChangeCursor(15))
        #expect(try await watch.begin(WatchChanges.Request(start: .oldest)).after == ChangeCursor(10))
        #expect(try await watch.begin(WatchChanges.Request(start: .after(ChangeCursor(12)))).after == ChangeCursor(12))
        await #expect(throws: IdentityRiskError.cursorExpired(ChangeCursor(9), bounds: ChangeLogBounds(earliestResumable: ChangeCursor(10), latest: ChangeCursor(15)))) {
            try await watch.begin(WatchChanges.Request(start: .after(ChangeCursor(9))))
        }
        do {
            _ = try await watch.begin(WatchChanges.Request(start: .after(ChangeCursor(16))))
            Issue.record("a cursor ahead of the log was accepted")
        } catch {
            #expect(error.innerCode == "CursorAhead")
        }
        do {
            _ = try await watch.begin(WatchChanges.Request(filter: "riskLevel eq", start: .now))
            Issue.record("a bad filter was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
        }
    }
}

@Suite("ChangeFeed's keyed waits")
struct ChangeFeedKeyTests {
    static func change(_ n: UInt64, user: String) -> Change {
        var event = seedEvent(id: "k-\(n)", createdDateTime: WatchChangesTests.created)
        event.userId = user
        event.riskLevel = .high
        return Change(cursor: ChangeCursor(n), kind: .created, event: event)
    }

    @Test("requiredEquality: an eq on a text or enum property, also inside and; none for or, ne, null, ranges, date-times")
    func requiredEquality() throws {
        func key(_ filter: String) throws -> ChangeFeed.Key? { try ODataFilter.parse(filter).requiredEquality }
        #expect(try key("userId eq 'u1'") == ChangeFeed.Key(FilterComparison(property: .userId, op: .eq, value: .string("u1"))))
        #expect(try key("riskLevel gt 'low' and riskLevel eq 'high'")?.value == .riskLevel(.high))
        #expect(try key("riskEventStatus eq 'active'")?.property == .riskEventStatus)
        #expect(try key("riskLevel eq 'high' and userId eq 'u1'")?.property == .userId, "a text value before an enum one")
        #expect(try key("userPrincipalName eq 'a@x' and userId eq 'u1'")?.property == .userPrincipalName, "else the left one")
        #expect(try key("userId eq 'a' or userId eq 'b'") == nil)
        #expect(try key("userId ne 'a'") == nil)
        #expect(try key("userDisplayName eq null") == nil)
        #expect(try key("riskEventDateTime eq 2024-01-01T00:00:00Z") == nil)
        #expect(try key("createdDateTime ge 2024-01-01T00:00:00Z and (userId eq 'a' or userId eq 'b')") == nil)
    }

    @Test("a keyed waiter sleeps through changes without its value, wakes for one with it, and may skip the others")
    func keyedWake() async throws {
        let feed = ChangeFeed(capacity: 64)
        feed.reset(latest: .zero)
        let key = try #require(try ODataFilter.parse("userId eq 'u7'").requiredEquality)
        let waiting = Task { await feed.waitForChange(after: .zero, key: key, timeout: .seconds(30)) }
        while feed.waiting == 0 { await Task.yield() }
        feed.publish((1...5).map { Self.change($0, user: "other") })
        try await Task.sleep(for: .milliseconds(20))
        #expect(feed.waiting == 1, "no change had u7: still waiting")
        feed.publish([Self.change(6, user: "other"), Self.change(7, user: "u7"), Self.change(8, user: "u7")])
        #expect(await waiting.value == ChangeFeed.Wake(changed: true, through: ChangeCursor(6)), "woken by 7; 1...6 lack u7")
        #expect(feed.waiting == 0)

        // Timed out: skip to the latest; without a key, nothing is skipped.
        let timedOut = Task { await feed.waitForChange(after: ChangeCursor(8), key: key, timeout: .milliseconds(80)) }
        let unkeyed = Task { await feed.waitForChange(after: ChangeCursor(8), key: nil, timeout: .seconds(30)) }
        while feed.waiting < 2 { await Task.yield() }
        feed.publish([Self.change(9, user: "other")])
        #expect(await unkeyed.value == ChangeFeed.Wake(changed: true, through: ChangeCursor(8)))
        feed.publish([Self.change(10, user: "other")])
        #expect(await timedOut.value == ChangeFeed.Wake(changed: false, through: ChangeCursor(10)))

        // A reset wakes keyed waiters too, skipping nothing.
        let reset = Task { await feed.waitForChange(after: ChangeCursor(10), key: key, timeout: .seconds(30)) }
        while feed.waiting == 0 { await Task.yield() }
        feed.reset(latest: ChangeCursor(12))
        #expect(await reset.value == ChangeFeed.Wake(changed: true, through: ChangeCursor(10)))
    }

    @Test("a watcher of one user stays inside a small window while thousands of other changes pass, and gets exactly its own")
    func keyedWatcherSkips() async throws {
        let store = LogOnlyStore(changes: [], feedCapacity: 16)
        let watch = WatchChanges(store: store, bookmarkInterval: .seconds(30), lingerInterval: .zero)
        let plan = try await watch.begin(WatchChanges.Request(filter: "userId eq 'mine' and riskLevel eq 'high'", start: .now))
        let emitted = Emitted(limit: 1 + 20)
        let running = Task { try await watch.run(plan) { emitted.emit($0) } }
        while store.changeFeed.waiting == 0 { await Task.yield() }
        var expected: [UInt64] = []
        for n in UInt64(1)...4000 {
            let mine = n % 200 == 0
            store.commit(Self.change(n, user: mine ? "mine" : "u\(n % 97)"))
            if mine {
                expected.append(n)
                // Until it has it and (but for the last, after which the run ends at its
                // limit) is back waiting: the next 199 changes pass while it sleeps.
                while emitted.changes.count < expected.count || (n < 4000 && store.changeFeed.waiting == 0) {
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
        }
        try await running.value
        #expect(emitted.changes.map(\.cursor.rawValue) == expected)
        #expect(store.reads.load(ordering: .relaxed) == 0, "never fell behind the 16-change window: the feed let it skip")
    }
}

@Suite("ChangeFeed's mailboxes")
struct ChangeFeedMailboxTests {
    static let key = ChangeFeed.Key(FilterComparison(property: .userId, op: .eq, value: .string("u7")))!

    static func publish(_ feed: ChangeFeed, _ cursors: ClosedRange<UInt64>, user: String) {
        feed.publish(cursors.map { ChangeFeedKeyTests.change($0, user: user) })
    }

    @Test("a mailbox holds only its value's changes after its start; taking them reaches the latest cursor, or the last one taken")
    func takes() throws {
        let feed = ChangeFeed(capacity: 64)
        feed.reset(latest: .zero)
        Self.publish(feed, 1...2, user: "u7")
        let box = try #require(feed.subscribe(Self.key, capacity: 4))
        #expect(box.from == ChangeCursor(2) && feed.subscriptions == 1)
        Self.publish(feed, 3...3, user: "other")
        Self.publish(feed, 4...4, user: "u7")
        Self.publish(feed, 5...5, user: "other")
        var taken = try #require(feed.take(box, after: box.from, limit: 10))
        #expect(taken.matches.map(\.cursor.rawValue) == [4] && taken.reached == ChangeCursor(5), "1 and 2 came before it; 3 and 5 are not u7's")
        Self.publish(feed, 6...8, user: "u7")
        taken = try #require(feed.take(box, after: ChangeCursor(5), limit: 2))
        #expect(taken.matches.map(\.cursor.rawValue) == [6, 7] && taken.reached == ChangeCursor(7), "8 still waits")
        taken = try #require(feed.take(box, after: ChangeCursor(7), limit: 2))
        #expect(taken.matches.map(\.cursor.rawValue) == [8] && taken.reached == ChangeCursor(8))
        Self.publish(feed, 9...9, user: "u7")
        taken = try #require(feed.take(box, after: ChangeCursor(9), limit: 2))
        #expect(taken.matches.isEmpty && taken.reached == ChangeCursor(9), "9 was read elsewhere: skipped")

        // More than it holds: incomplete, until a new one.
        Self.publish(feed, 10...14, user: "u7")
        #expect(feed.take(box, after: ChangeCursor(9), limit: 10) == nil)
        feed.unsubscribe(box)
        feed.unsubscribe(box)
        #expect(feed.subscriptions == 0)

        // A reset leaves every mailbox incomplete.
        let next = try #require(feed.subscribe(Self.key, capacity: 4))
        Self.publish(feed, 15...15, user: "u7")
        feed.reset(latest: ChangeCursor(20))
        Self.publish(feed, 21...21, user: "u7")
        #expect(feed.take(next, after: next.from, limit: 10) == nil)
        feed.close()
        #expect(feed.subscribe(Self.key, capacity: 4) == nil, "closed")
    }

    @Test("a one-user watcher reads its mailbox: exactly its changes while 4,000 others pass a 16-change window at full speed, no log reads, unsubscribed at the end")
    func watcherReadsMailbox() async throws {
        let store = LogOnlyStore(changes: [], feedCapacity: 16)
        let watch = WatchChanges(store: store, bookmarkInterval: .seconds(30), lingerInterval: .zero)
        let plan = try await watch.begin(WatchChanges.Request(filter: "userId eq 'mine' and riskLevel eq 'high'", start: .now))
        let emitted = Emitted(limit: 1 + 20)
        let running = Task { try await watch.run(plan) { emitted.emit($0) } }
        while store.changeFeed.subscriptions == 0 { await Task.yield() }
        // No waiting for the watcher: it falls far behind the window, never behind its mailbox (128).
        for n in UInt64(1)...4000 {
            store.commit(ChangeFeedKeyTests.change(n, user: n % 200 == 0 ? "mine" : "u\(n % 97)"))
        }
        try await running.value
        #expect(emitted.changes.map(\.cursor.rawValue) == Array(stride(from: 200, through: 4000, by: 200)))
        #expect(store.reads.load(ordering: .relaxed) == 0, "served from the mailbox, not the log")
        #expect(store.changeFeed.subscriptions == 0, "the run ended its subscription")
    }
}
