import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

/// The stats method and health's store fields, through the real server and client.
@Suite("Stats and health's store status against a real server")
struct StatsEndToEndTests {
    /// Creates `creates` records, repeats one, updates `updates`, deletes `deletes`,
    /// and makes two notFound and one alreadyExists error.
    func traffic(_ client: IdentityRiskClient, tag: String, creates: Int, updates: Int, deletes: Int) async throws {
        var ids: [String] = []
        for i in 0..<creates {
            ids.append(try await client.create(seedDraft(id: "\(tag)-\(i)")).event.id)
        }
        #expect(try await client.create(seedDraft(id: "\(tag)-0")).alreadyExisted, "an idempotent repeat")
        for id in ids.prefix(updates) {
            var patch = EventPatch()
            patch.set(.riskEventStatus, .riskEventStatus(.remediated))
            _ = try await client.update(id: id, patch)
        }
        for id in ids.suffix(deletes) { _ = try await client.delete(id: id) }
        for missing in ["nope-1", "nope-2"] {
            await #expect(throws: IdentityRiskError.self) { _ = try await client.get(id: missing) }
        }
        var other = seedDraft(id: "\(tag)-0")
        other.userId = "someone else"
        await #expect(throws: IdentityRiskError.self) { _ = try await client.create(other) }
    }

    @Test("after N creates, updates, deletes and errors, stats counts exactly those, by status; records, rates and connections follow")
    func countsAfterTraffic() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                try await traffic(client, tag: "st", creates: 12, updates: 5, deletes: 3)
                let stats = try await client.stats()
                #expect(stats.creates == 13, "12 new and 1 idempotent repeat")
                #expect(stats.idempotentCreates == 1)
                #expect(stats.updates == 5)
                #expect(stats.deletes == 3)
                #expect(stats.records == 9)
                #expect(stats.errors == [
                    StatsReport.ErrorCount(code: .notFound, count: 2), StatsReport.ErrorCount(code: .alreadyExists, count: 1),
                ])
                // 13 creates, 5 updates, 3 deletes, and the client's own health check when it connected.
                #expect(stats.callsOK >= 21)
                #expect(stats.openConnections == 1)
                #expect(stats.openWatchers == 0)
                #expect(stats.queueDepth == 0)
                #expect(stats.commits == nil, "the memory store has no group commit")
                #expect(stats.sinceStart.creates > 0 && stats.sinceStart.errors > 0)
                #expect(stats.recent.calls > 0 && stats.recentWindowMilliseconds > 0)
                #expect(stats.uptimeMilliseconds > 0)

                let again = try await client.stats()
                #expect(again.callsOK == stats.callsOK + 1, "the first stats call is counted once it is answered")
            }
        }
    }

    @Test("stats from the SQLite store include the group commit's batch sizes and latency percentiles")
    func sqliteCommits() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/stats.sqlite")
        try await withTestServer(store: store) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                try await traffic(client, tag: "sq", creates: 6, updates: 2, deletes: 1)
                let stats = try await client.stats()
                #expect(stats.creates == 7 && stats.updates == 2 && stats.deletes == 1)
                #expect(stats.records == 5)
                let commits = try #require(stats.commits)
                // One create, update or delete at a time: every write is a transaction of its own
                // (the conflicting create, answered alreadyExists, is a write too).
                #expect(commits.commits >= 10)
                #expect(commits.window == Int(commits.commits))
                #expect(commits.batchSize.p50 == 1 && commits.batchSize.max >= 1)
                #expect(commits.latencyMicroseconds.p50 > 0)
                #expect(commits.latencyMicroseconds.max >= commits.latencyMicroseconds.p99)
                #expect(commits.latencyMicroseconds.p99 >= commits.latencyMicroseconds.p50)
            }
        }
        await store.close()
    }

    @Test("health reports the SQLite store's path, size on disk and record count, kept by commits")
    func sqliteHealth() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/health.sqlite"
        let first = try SQLiteEventStore(path: path)
        try await withTestServer(store: first) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for i in 0..<4 { _ = try await client.create(seedDraft(id: "pre-\(i)")) }
            }
        }
        await first.close()
        // Reopened: the counter starts from the one count at open.
        let store = try SQLiteEventStore(path: path)
        try await withTestServer(store: store) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let before = try await client.health().storeStatus
                #expect(before.kind == "sqlite")
                #expect(before.location == path)
                #expect(before.host == nil)
                #expect(before.records == 4)
                #expect((before.sizeBytes ?? 0) > 0)
                #expect(before.available && before.problem == nil)
                #expect(before.queueDepth == 0)
                _ = try await client.create(seedDraft(id: "h-1"))
                _ = try await client.create(seedDraft(id: "h-2"))
                _ = try await client.delete(id: "pre-0")
                let after = try await client.health().storeStatus
                #expect(after.records == 5)
                #expect((after.sizeBytes ?? 0) >= (before.sizeBytes ?? 0))
            }
        }
        await store.close()
    }

    @Test("health reports the memory store: no path, no size, its record count")
    func memoryHealth() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                _ = try await client.create(seedDraft(id: "m-1"))
                _ = try await client.create(seedDraft(id: "m-2"))
                _ = try await client.delete(id: "m-1")
                let health = try await client.health()
                #expect(health.store == "memory")
                #expect(health.storeStatus.kind == "memory")
                #expect(health.storeStatus.location == nil && health.storeStatus.sizeBytes == nil)
                #expect(health.storeStatus.records == 1)
                #expect(health.storeStatus.available)
            }
        }
    }
}
