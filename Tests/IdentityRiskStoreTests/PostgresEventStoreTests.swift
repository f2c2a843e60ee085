import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import IdentityRiskTestSupport
import PostgresNIO
import Synchronization
import Testing

/// On CI the PostgreSQL tests must run: without a server they fail here.
@Suite("PostgreSQL test environment")
struct PostgresEnvironmentTests {
    @Test("on CI, IRISK_TEST_POSTGRES_URL is set (dev/with-postgres.sh), so the PostgreSQL store is tested", .enabled(if: ProcessInfo.processInfo.environment["CI"] != nil))
    func serverGivenOnCI() throws {
        #expect(PostgresTestServer.url != nil, PostgresTestServer.missingMessage)
        #expect(StoreFactory.all.map(\.name).contains("postgresql"), "the conformance suite runs against PostgreSQL")
    }
}

/// What only the PostgreSQL store promises: migrations under a lock, several
/// stores ("hosts") on one database, cursors in commit order across them.
@Suite("PostgresEventStore", .enabled(if: PostgresTestServer.enabled))
struct PostgresEventStoreTests {
    /// Runs `body` with `count` stores on one fresh database, all closed and the database dropped afterwards.
    func withHosts(_ count: Int, _ body: ([PostgresEventStore], PostgresLocation, PostgresTestServer.OpenStores) async throws -> Void) async throws {
        try await PostgresTestServer.withDatabase { location, open in
            let stores = try (0 ..< count).map { _ in try open.open(location) }
            try await body(stores, location, open)
        }
    }

    func appliedMigrations(_ location: PostgresLocation) async throws -> [String] {
        try await PostgresTestServer.withClient(location) { client in
            var versions: [String] = []
            for try await version in try await client.query("SELECT version FROM irisk_schema_migrations ORDER BY version").decode(String.self) {
                versions.append(version)
            }
            return versions
        }
    }

    @Test("four stores starting at once on an empty database migrate it once; a later start migrates nothing and sees the data")
    func concurrentMigrations() async throws {
        try await withHosts(4) { stores, location, open in
            // Each store's first call waits for its own start-up (migrations under the lock).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (n, store) in stores.enumerated() {
                    group.addTask { _ = try await store.create(try Fixture.event("mig-\(n)")) }
                }
                try await group.waitForAll()
            }
            #expect(try await appliedMigrations(location) == PostgresSchema.migrations.map(\.version))
            let later = try open.open(location)
            #expect(try await later.list(ListQuery(top: 10)).events.map(\.id).sorted() == ["mig-0", "mig-1", "mig-2", "mig-3"])
            #expect(try await later.changeLogBounds() == ChangeLogBounds(earliestResumable: .zero, latest: ChangeCursor(4)))
            await later.close()
            #expect(try await appliedMigrations(location) == PostgresSchema.migrations.map(\.version), "applied once")
        }
    }

    @Test("two hosts racing creates of the same ids: each stored once; same content answers alreadyExisted, other content ALREADY_EXISTS")
    func hostsRaceCreates() async throws {
        try await withHosts(2) { stores, _, _ in
            let (a, b) = (stores[0], stores[1])
            let count = 200
            var generator = SplitMix64(seed: 11)
            let events = (0 ..< count).map { Fixture.varied($0, using: &generator) }
            typealias Outcomes = [(Int, Int, Result<CreateOutcome, IdentityRiskError>)]
            let outcomes: Outcomes = await withTaskGroup(of: (Int, Int, Result<CreateOutcome, IdentityRiskError>).self) { group in
                for (index, event) in events.enumerated() {
                    for (host, store) in [a, b].enumerated() {
                        var mine = event
                        // Odd ids: the hosts disagree on the content.
                        if index % 2 == 1, host == 1 { mine.riskEventType = "other-\(index)" }
                        let create = mine
                        group.addTask { (index, host, await attempt { try await store.create(create) }) }
                    }
                }
                return await group.reduce(into: Outcomes()) { $0.append($1) }
            }
            let stored = try await a.list(ListQuery(top: 1000)).events
            #expect(stored.count == count, "every id stored exactly once")
            let byID = Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0) })
            for index in 0 ..< count {
                let pair = outcomes.filter { $0.0 == index }.sorted { $0.1 < $1.1 }.map(\.2)
                try #require(pair.count == 2)
                let stored = try #require(byID[events[index].id])
                let created = pair.compactMap { try? $0.get() }.filter { !$0.alreadyExisted }
                #expect(created.count == 1, "exactly one host created \(events[index].id)")
                #expect(created.first?.event == stored, "the winner's record is the stored one")
                if index % 2 == 0 {
                    #expect(pair.compactMap { try? $0.get() }.filter(\.alreadyExisted).map(\.event) == [stored], "the other host got the stored record")
                } else {
                    let refused = pair.compactMap(\.failure)
                    #expect(refused.count == 1 && refused.first?.code == .alreadyExists && refused.first?.innerCode != "DeletedID", "\(refused)")
                }
            }
            #expect(try await b.changeLogBounds().latest == ChangeCursor(UInt64(count)), "one change per stored record")
        }
    }

    @Test("two hosts writing concurrently: cursors 1...N with no gap and no repeat, and a reader following the log misses none")
    func commitOrderedCursors() async throws {
        try await withHosts(2) { stores, _, _ in
            let (a, b) = (stores[0], stores[1])
            let perWriter = 60
            let writers = 4
            let total = 2 * writers * perWriter
            // Both open before the first write, so both feeds start at cursor 0.
            _ = try await a.changeLogBounds()
            _ = try await b.changeLogBounds()
            // A reader that follows the log while the writes commit: with cursors
            // assigned out of commit order it would pass a cursor still
            // uncommitted, and never see that change.
            let reader = Task { () throws -> [Change] in
                var seen: [Change] = []
                var after = ChangeCursor.zero
                while seen.count < total {
                    let next = try await b.changes(after: after, limit: 10_000)
                    seen += next
                    after = next.last?.cursor ?? after
                    if next.isEmpty { _ = await b.changeFeed.waitForChange(after: after, timeout: .milliseconds(50)) }
                }
                return seen
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (host, store) in [a, b].enumerated() {
                    for writer in 0 ..< writers {
                        group.addTask {
                            for n in 0 ..< perWriter {
                                var e = try Fixture.event("co-\(host)-\(writer)-\(n)")
                                _ = try await store.create(e)
                                if n % 3 == 0 {
                                    e.riskLevel = .low
                                    e.version = 2
                                    _ = try await store.replace(e, expectedVersion: 1)
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let updates = 2 * writers * ((perWriter + 2) / 3)
            let log = try await a.changes(after: .zero, limit: 10_000)
            #expect(log.map(\.cursor.rawValue) == Array(1 ... UInt64(total + updates)), "gap-free, in order")
            #expect(Set(log.filter { $0.kind == .created }.map(\.event.id)).count == total)
            let followed = try await withTimeout(reader)
            #expect(followed.map(\.cursor) == Array(log.prefix(followed.count)).map(\.cursor), "the follower read the log in order, missing nothing")
            #expect(followed.count >= total)

            // Each host's feed holds every change, its own and the other's, in order.
            let latest = log[log.count - 1].cursor
            for store in [a, b] {
                #expect(await store.changeFeed.waitForChange(after: ChangeCursor(latest.rawValue - 1), timeout: .seconds(30)))
                #expect(store.changeFeed.recent(after: .zero, limit: 10_000) == log, "the feed: both hosts' changes, in cursor order")
            }
        }
    }

    /// The value of `task`, or a failure after 60 s (the task is cancelled).
    func withTimeout<T: Sendable>(_ task: Task<T, any Error>) async throws -> T {
        let watchdog = Task {
            try await Task.sleep(for: .seconds(60))
            task.cancel()
        }
        defer { watchdog.cancel() }
        return try await task.value
    }

    @Test("a host sees another host's create through get, list and its feed")
    func crossHostReads() async throws {
        try await withHosts(2) { stores, _, _ in
            let (a, b) = (stores[0], stores[1])
            _ = try await b.changeLogBounds()  // b is open (its feed starts at 0)
            let e = try Fixture.event("cross-1", display: "Zoë \u{1F600}")
            _ = try await a.create(e)
            #expect(try await b.get(id: "cross-1") == e)
            #expect(try await b.list(ListQuery()).events == [e])
            #expect(await b.changeFeed.waitForChange(after: .zero, timeout: .seconds(30)), "b's poller publishes a's change")
            #expect(b.changeFeed.recent(after: .zero, limit: 10)?.map(\.event) == [e])
            #expect(await attempt { try await b.create(e) }.map(\.alreadyExisted) == .success(true))
            _ = try await b.delete(id: "cross-1", expectedVersion: 1)
            #expect(await attempt { try await a.create(e) }.failure?.innerCode == "DeletedID", "a deleted id stays deleted on every host")
        }
    }

    /// Whether host B's feed shows host A's create within `wait`, with B configured as given.
    func feedSeesOtherHost(_ configuration: PostgresEventStore.Configuration, within wait: Duration) async throws -> Bool {
        try await PostgresTestServer.withDatabase { location, open in
            let a = try open.open(location)
            let b = try open.open(location, configuration: configuration)
            _ = try await a.changeLogBounds()
            _ = try await b.changeLogBounds()
            // B's listener (when it has one) is up once it has a connection: give it a moment.
            try await Task.sleep(for: .milliseconds(500))
            _ = try await a.create(try Fixture.event("notify-1"))
            return await b.changeFeed.waitForChange(after: .zero, timeout: wait)
        }
    }

    @Test("LISTEN/NOTIFY wakes another host's feed at once: with a 10-minute poll, A's create reaches B's feed within seconds")
    func notificationWakesOtherHost() async throws {
        #expect(try await feedSeesOtherHost(.init(changePollInterval: .seconds(600)), within: .seconds(10)))
    }

    @Test("without the notification (listener off) and a 10-minute poll, B's feed does not see A's create: the control for the test above")
    func withoutNotificationNothingWakes() async throws {
        #expect(try await !feedSeesOtherHost(.init(changePollInterval: .seconds(600), listensForChanges: false), within: .seconds(2)))
    }

    @Test("a lost notification only delays: with no listener, the poll still brings A's create to B's feed")
    func pollIsTheSafetyNet() async throws {
        #expect(try await feedSeesOtherHost(.init(changePollInterval: .milliseconds(200), listensForChanges: false), within: .seconds(10)))
    }

    /// Answers collected from completion handlers on any thread.
    final class Answers: Sendable {
        private let results = Mutex<[Result<CreateOutcome, IdentityRiskError>]>([])
        func append(_ result: Result<CreateOutcome, IdentityRiskError>) { results.withLock { $0.append(result) } }
        var value: [Result<CreateOutcome, IdentityRiskError>] { results.withLock { $0 } }
    }

    @Test("a slow database (the table locked by another session): the write queue stays bounded, the rest is refused at once with a retry-after, and what was accepted commits once the lock goes")
    func slowDatabaseBoundedQueue() async throws {
        try await PostgresTestServer.withDatabase { location, open in
            let store = try open.open(location, configuration: .init(maxQueuedWrites: 16, maxBatchSize: 4))
            _ = try await store.changeLogBounds()
            try await PostgresTestServer.withClient(location) { client in
                try await client.withConnection { locker in
                    _ = try await locker.query("BEGIN", logger: PostgresTestServer.logger)
                    _ = try await locker.query("LOCK TABLE identity_risk_events IN ACCESS EXCLUSIVE MODE", logger: PostgresTestServer.logger)
                    let answers = Answers()
                    let started = ContinuousClock.now
                    for n in 0..<40 {
                        store.create(try Fixture.event("slow-\(n)")) { result in answers.append(result) }
                    }
                    // The refusals come at once, while the lock is held.
                    try await Task.sleep(for: .milliseconds(300))
                    let early = answers.value
                    #expect(early.count == 24, "16 accepted and waiting, 24 refused: \(early.count)")
                    #expect(early.allSatisfy { $0.failure?.code == .resourceExhausted && $0.failure?.retryAfterMilliseconds != nil })
                    #expect(ContinuousClock.now - started < .seconds(5))
                    _ = try await locker.query("COMMIT", logger: PostgresTestServer.logger)
                    let deadline = ContinuousClock.now + .seconds(30)
                    while answers.value.count < 40, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                    let all = answers.value
                    #expect(all.count == 40)
                    #expect(all.filter { (try? $0.get()) != nil }.count == 16, "the accepted creates committed")
                }
            }
            #expect(try await store.list(ListQuery(top: 100)).events.count == 16)
        }
    }

    @Test("close() while the start-up waits on the migration lock (another host holds it; 60 s deadlines) returns at once, and so does a call waiting for the start-up")
    func closeDoesNotWaitForTheDeadline() async throws {
        try await PostgresTestServer.withDatabase { location, open in
            try await PostgresTestServer.withClient(location) { client in
                try await client.withConnection { other in
                    _ = try await other.query("SELECT pg_advisory_lock(\(PostgresSchema.migrationLockKey))", logger: PostgresTestServer.logger)
                    let store = try open.open(location, configuration: .init(connectTimeout: .seconds(60), operationTimeout: .seconds(60)))
                    let call = Task { await attempt { try await store.get(id: "x") } }
                    // Until the store's start-up waits for the lock, as the server sees it.
                    let deadline = ContinuousClock.now + .seconds(60)
                    var waiting: Int64 = 0
                    while waiting == 0, ContinuousClock.now < deadline {
                        for try await count in try await other.query(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", logger: PostgresTestServer.logger
                        ).decode(Int64.self) { waiting = count }
                        if waiting == 0 { try await Task.sleep(for: .milliseconds(20)) }
                    }
                    #expect(waiting == 1, "the store's start-up waits for the migration lock")
                    let closing = ContinuousClock.now
                    await store.close()
                    // The store gives up waiting for its client at 10 s: well below that.
                    #expect(ContinuousClock.now - closing < .seconds(5), "close() took \(ContinuousClock.now - closing)")
                    let answer = await call.value
                    #expect(answer.failure?.message.contains("closed") == true, "\(answer)")
                    _ = try await other.query("SELECT pg_advisory_unlock(\(PostgresSchema.migrationLockKey))", logger: PostgresTestServer.logger)
                }
            }
        }
    }

    @Test("a server that cannot be reached: calls answer unavailable with a retry-after, naming the server")
    func unreachable() async throws {
        let directory = "/nonexistent-irisk-\(UUID().uuidString)"
        let location = try PostgresLocation(parsing: "postgresql://nobody@/irisk?host=\(directory)", environment: [:])
        let store = try PostgresEventStore(location: location, configuration: .init(connectTimeout: .seconds(2)))
        let error = await attempt { try await store.get(id: "x") }.failure
        #expect(error?.code == .unavailable)
        #expect(error?.retryAfterMilliseconds != nil)
        #expect(error?.message.contains(directory) == true, "\(error?.message ?? "")")
        let create = await attempt { try await store.create(try Fixture.event("u-1")) }.failure
        #expect(create?.code == .unavailable)
        await store.close()
        #expect(await attempt { try await store.get(id: "x") }.failure?.message.contains("closed") == true)
    }
}
