import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import Testing

/// Two iriskd processes ("host A" and "host B", two sockets) on one
/// PostgreSQL database of the test's own cluster (ThrowawayPostgres), through
/// the Swift client: what a fleet promises.
@Suite("A fleet: two iriskd on one PostgreSQL", .serialized, .enabled(if: ThrowawayPostgres.enabled))
struct FleetDaemonTests {
    struct Fleet {
        let postgres: ThrowawayPostgres
        let directory: String
        let a: HardeningDaemon
        let b: HardeningDaemon

        func stop() async {
            a.kill()
            b.kill()
            await postgres.destroy()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    func withFleet(_ body: (Fleet) async throws -> Void) async throws {
        let postgres = try await ThrowawayPostgres()
        let directory = try makeTemporaryDirectory()
        // connect_timeout=2: calls (and health) learn of an outage within 2 s.
        let arguments = ["--store", postgres.url + "&connect_timeout=\(2 * timeScale)"]
        let fleet = Fleet(
            postgres: postgres, directory: directory,
            a: try HardeningDaemon(socketPath: directory + "/a.sock", arguments: arguments),
            b: try HardeningDaemon(socketPath: directory + "/b.sock", arguments: arguments))
        do {
            try await fleet.a.waitUntilServing()
            try await fleet.b.waitUntilServing()
            try await body(fleet)
        } catch {
            Issue.record("host A's log:\n\(fleet.a.log())\nhost B's log:\n\(fleet.b.log())")
            await fleet.stop()
            throw error
        }
        await fleet.stop()
    }

    static func draft(_ id: String, user: String = "fleet-user") -> IdentityRiskEventDraft {
        seedDraft(id: id, userId: user)
    }

    /// Every stored record, through list pages.
    static func everything(_ client: IdentityRiskClient) async throws -> [IdentityRiskEvent] {
        var events: [IdentityRiskEvent] = []
        var token = ""
        repeat {
            let page = try await client.list(ListEvents.Request(top: 1000, pageToken: token))
            events += page.events
            token = page.nextPageToken
        } while !token.isEmpty
        return events
    }

    @Test("a create on A reads back identically from B; 8 connections on each host racing the same 1,000 ids store each once; a watcher on B sees every create of A and B once, in cursor order")
    func sharedRecordsAndRaces() async throws {
        try await withFleet { fleet in
            let clientB = IdentityRiskClient(socketPath: fleet.b.socketPath)
            let watch = WatchCollector(client: clientB, options: WatchOptions(maxConsecutiveFailures: nil))
            #expect(await watch.waitUntilLive())

            let created = try await withIdentityRiskClient(socketPath: fleet.a.socketPath) { try await $0.create(Self.draft("fleet-first")) }
            #expect(!created.alreadyExisted)
            #expect(try await clientB.get(id: "fleet-first") == created.event, "B reads A's record identically")

            // 8 connections per host, every connection trying every id (in its own order).
            let ids = (0..<1000).map { "race-\($0)" }
            let firsts = Locked<Int>(0)
            let repeats = Locked<Int>(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (host, socket) in [fleet.a.socketPath, fleet.b.socketPath].enumerated() {
                    for connection in 0..<8 {
                        group.addTask {
                            let client = IdentityRiskClient(socketPath: socket)
                            defer { Task { await client.close() } }
                            var random = SplitMix64(seed: UInt64(host * 8 + connection + 1))
                            let order = ids.shuffled(using: &random)
                            try await withThrowingTaskGroup(of: Void.self) { calls in
                                for slot in 0..<8 {
                                    calls.addTask {
                                        for id in order[(slot * order.count / 8)..<((slot + 1) * order.count / 8)] {
                                            let outcome = try await client.create(Self.draft(id))
                                            (outcome.alreadyExisted ? repeats : firsts).withLock { $0 += 1 }
                                        }
                                    }
                                }
                                try await calls.waitForAll()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(firsts.value == ids.count, "each id created exactly once over both hosts")
            #expect(repeats.value == 15 * ids.count, "every other attempt answered already_existed")
            let stored = try await Self.everything(clientB)
            #expect(stored.count == ids.count + 1)
            #expect(Set(stored.map(\.id)) == Set(ids + ["fleet-first"]))

            // B's watcher: every create of both hosts, once, in cursor order.
            #expect(await watch.wait(timeout: .seconds(60)) { messages in
                messages.reduce(0) { if case .change = $1 { $0 + 1 } else { $0 } } >= ids.count + 1
            })
            try await Task.sleep(for: .milliseconds(500))
            let changes = watch.changes
            expectCursorOrderNoRepeats(changes)
            #expect(changes.count == ids.count + 1, "no create twice, none missing")
            #expect(Set(changes.map(\.event.id)) == Set(ids + ["fleet-first"]))
            #expect(changes.allSatisfy { $0.kind == .created })
            await watch.cancel()
            await clientB.close()
        }
    }

    @Test("PostgreSQL stopped for 5 s under load from both hosts, then started: calls meanwhile get UNAVAILABLE with a retry-after, no acknowledged create is lost, both hosts recover by themselves")
    func outageUnderLoad() async throws {
        try await withFleet { fleet in
            let acknowledged = Locked<Set<String>>([])
            let unavailable = Locked<Int>(0)
            let otherErrors = Locked<[String]>([])
            let withoutRetryAfter = Locked<Int>(0)
            let phase = Locked<Int>(0)  // 0 before the outage, 1 during, 2 after the restart
            let afterRestart = Locked<[Int]>([0, 0])
            let givenUp = Locked<Bool>(false)
            let load = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (host, socket) in [fleet.a.socketPath, fleet.b.socketPath].enumerated() {
                        group.addTask {
                            // A deadline past the store's 30 s operation timeout: every
                            // call is answered by the server (on a loaded machine a few
                            // calls cut off by the outage wait for that timeout).
                            let client = IdentityRiskClient(
                                socketPath: socket, configuration: ClientConfiguration(defaultTimeoutMilliseconds: UInt32(scaled(45_000)), maxRetries: 0))
                            defer { Task { await client.close() } }
                            try await withThrowingTaskGroup(of: Void.self) { calls in
                                for slot in 0..<4 {
                                    calls.addTask {
                                        var n = 0
                                        while afterRestart.value[host] < 200, !givenUp.value, n < 100_000 {
                                            n += 1
                                            let id = "out-\(host)-\(slot)-\(n)"
                                            do {
                                                _ = try await client.create(Self.draft(id))
                                                acknowledged.withLock { _ = $0.insert(id) }
                                                if phase.value == 2 { afterRestart.withLock { $0[host] += 1 } }
                                            } catch let error as IdentityRiskError where error.code == .unavailable {
                                                unavailable.withLock { $0 += 1 }
                                                if error.retryAfterMilliseconds == nil { withoutRetryAfter.withLock { $0 += 1 } }
                                                try await Task.sleep(for: .milliseconds(50))
                                            } catch {
                                                otherErrors.withLock { $0.append("\(id): \(error)") }
                                                try await Task.sleep(for: .milliseconds(50))
                                            }
                                        }
                                    }
                                }
                                try await calls.waitForAll()
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await Task.sleep(for: .seconds(1))
            let beforeOutage = acknowledged.value.count
            phase.withLock { $0 = 1 }
            try await fleet.postgres.stop()
            let outageStarted = ContinuousClock.now
            // Both daemons are alive and answer while their store is down, and
            // say so once a query to it has failed: within connect_timeout as a
            // rule, but on a loaded machine the queries cut off by the stop can
            // hang until the store's 30 s operation timeout (README, Running a
            // fleet: the known issue), so wait past that.
            for daemon in [fleet.a, fleet.b] {
                var health = try await withIdentityRiskClient(socketPath: daemon.socketPath) { try await $0.health() }
                while health.storeStatus.available, ContinuousClock.now - outageStarted < scaledDuration(40_000) {
                    try await Task.sleep(for: .milliseconds(200))
                    health = try await withIdentityRiskClient(socketPath: daemon.socketPath) { try await $0.health() }
                }
                #expect(health.serving == .serving)
                #expect(health.storeStatus.kind == "postgresql")
                #expect(!health.storeStatus.available, "health says the store is unavailable during the outage")
                #expect(health.storeStatus.host?.contains(fleet.postgres.directory) == true, "and names the server it tried: \(health.storeStatus)")
                #expect(health.storeStatus.problem?.isEmpty == false)
            }
            // At least 5 s down (longer only if a loaded machine made health slow
            // to notice), and until a call has been answered UNAVAILABLE: on a
            // loaded machine the calls cut off by the outage can wait for the
            // store's 30 s operation timeout, and 5 s passed before any was
            // answered (the bound only stops a store that would never answer;
            // the check below fails then).
            if ContinuousClock.now < outageStarted + .seconds(5) {
                try await Task.sleep(until: outageStarted + .seconds(5), clock: .continuous)
            }
            while unavailable.value == 0, ContinuousClock.now - outageStarted < scaledDuration(45_000) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let outageLasted = ContinuousClock.now - outageStarted
            try await fleet.postgres.start()
            phase.withLock { $0 = 2 }
            let watchdog = Task {
                try await Task.sleep(for: .seconds(90 * min(timeScale, 4)))
                givenUp.withLock { $0 = true }
            }
            try await load.value
            watchdog.cancel()

            #expect(beforeOutage > 0, "load ran before the outage")
            #expect(unavailable.value > 0, "calls during the outage (\(outageLasted)) were answered UNAVAILABLE (acknowledged before: \(beforeOutage), in all: \(acknowledged.value.count); other errors: \(otherErrors.value.count), e.g. \(otherErrors.value.prefix(3)))")
            if unavailable.value == 0 || otherErrors.value.count > 16 {
                for daemon in [fleet.a, fleet.b] {
                    print("fleet daemon \(daemon.socketPath), the end of its log:\n" + daemon.log().split(separator: "\n").suffix(60).joined(separator: "\n"))
                }
            }
            #expect(withoutRetryAfter.value == 0, "each UNAVAILABLE carried a retry-after")
            for host in 0..<2 {
                #expect(afterRestart.value[host] >= 200, "host \(host) recovered by itself (creates after the restart: \(afterRestart.value), errors: \(otherErrors.value.suffix(3)))")
            }
            for daemon in [fleet.a, fleet.b] {
                let health = try await withIdentityRiskClient(socketPath: daemon.socketPath) { try await $0.health() }
                #expect(health.storeStatus.available, "available again after the restart: \(health.storeStatus)")
            }
            let other = otherErrors.value
            #expect(other.count <= 16, "only the creates cut off during COMMIT may fail otherwise: \(other.prefix(5))")
            let stored = Set(try await withIdentityRiskClient(socketPath: fleet.b.socketPath) { try await Self.everything($0) }.map(\.id))
            let lost = acknowledged.value.subtracting(stored)
            #expect(lost.isEmpty, "acknowledged creates lost: \(lost.prefix(10))")
            if givenUp.value { Issue.record("host A's log:\n\(fleet.a.log())\nhost B's log:\n\(fleet.b.log())") }
        }
    }
}
