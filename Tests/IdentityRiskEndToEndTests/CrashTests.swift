import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import IdentityRiskWire
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Crash safety of the real iriskd binary", .serialized)
struct CrashTests {
    /// Drives creates from 4 connections until `killAfter` have been acknowledged,
    /// then SIGKILLs the server mid-stream, restarts it on the same database, and
    /// checks: every acknowledged create is there, identical; every stored record is
    /// whole and is one that was sent; the server serves again.
    ///
    /// `checkpointMs` is `--sqlite-checkpoint-ms`: 20 (the default) copies the log
    /// into the database on a thread of its own every 20 ms under load; 1 does so
    /// almost without pause, so the kill lands during a copy; 0 leaves checkpoints
    /// inside the writer's commits (SQLite's own, every 10,000 pages).
    @Test("kill -9 under concurrent load loses no acknowledged create and leaves nothing partial",
          arguments: zip([25, 300, 1500, 1500, 1500], [20, 20, 20, 1, 0]))
    func killNineUnderLoad(killAfter: Int, checkpointMs: Int) async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let database = directory + "/events.sqlite"
        let storeArguments = ["--store", "sqlite:" + database, "--sqlite-checkpoint-ms", "\(checkpointMs)"]
        let daemon = try HardeningDaemon(socketPath: socket, arguments: storeArguments)
        try await daemon.waitUntilServing()

        let load = LoadState()
        let changes = ChangeLedger()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in 0..<4 {
                group.addTask {
                    let client = IdentityRiskClient(socketPath: socket, configuration: ClientConfiguration(defaultTimeoutMilliseconds: 10_000, maxRetries: 0))
                    defer { Task { await client.close() } }
                    try await withThrowingTaskGroup(of: Void.self) { calls in
                        for slot in 0..<16 {
                            calls.addTask {
                                var n = 0
                                while !load.killed.load(ordering: .relaxed), n < 2000 {
                                    n += 1
                                    let id = "crash-\(killAfter)-\(checkpointMs)-\(connection)-\(slot)-\(n)"
                                    var draft = seedDraft(id: id, userId: "user-\(connection)-\(slot)")
                                    draft.riskEventType = "type-\(n % 7)"
                                    load.sent.withLock { $0[id] = draft }
                                    guard let outcome = try? await client.create(draft) else { return }
                                    changes.acknowledge(slot: Self.slotOf(id), .created, outcome.event)
                                    let count = load.acknowledged.withLock { acked in
                                        acked[id] = outcome.event
                                        return acked.count
                                    }
                                    if count == killAfter, !load.killed.exchange(true, ordering: .relaxed) {
                                        daemon.kill()
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
        let wasKilled = load.killed.load(ordering: .relaxed)
        #expect(wasKilled, "the server was killed mid-load")
        let acked = load.acknowledged.withLock { $0 }
        let attempted = load.sent.withLock { $0 }
        #expect(acked.count >= killAfter)

        #expect(try await daemon.waitForExit(timeout: .seconds(10)) != nil, "the killed server is gone")
        // The change log: one change per acknowledged create, in each slot's order.
        let logged = try await Self.checkChangeLog(database: database, ledger: changes, slot: Self.slotOf)
        #expect(logged >= acked.count)
        // Restart on the same database.
        let restarted = try HardeningDaemon(socketPath: socket, arguments: storeArguments)
        try await restarted.waitUntilServing()
        try await withIdentityRiskClient(socketPath: socket) { client in
            for (id, event) in acked {
                let stored = try await client.get(id: id)
                #expect(stored == event, "acknowledged create \(id) must survive exactly")
            }
            // Everything stored is whole and is something that was sent.
            var request = ListEvents.Request(top: 1000)
            var seen = 0
            while true {
                let page = try await client.list(request)
                for event in page.events {
                    seen += 1
                    let draft = try #require(attempted[event.id], "stored id \(event.id) was never sent")
                    #expect(IdentityRiskEventDraft(event) == draft, "stored record \(event.id) equals what was sent")
                }
                if page.nextPageToken.isEmpty { break }
                request.pageToken = page.nextPageToken
            }
            #expect(seen >= acked.count)
            #expect(seen <= attempted.count)
            // And it serves again.
            let fresh = try await client.create(seedDraft(id: "after-restart-\(killAfter)"))
            #expect(!fresh.alreadyExisted)
        }
        let status = try await restarted.terminate()
        #expect(status == 0, "SIGTERM exits 0")
        #expect(!FileManager.default.fileExists(atPath: socket), "and removes the socket file")
    }
}

/// What the load tasks share.
final class LoadState: Sendable {
    let acknowledged = Mutex<[String: IdentityRiskEvent]>([:])
    let sent = Mutex<[String: IdentityRiskEventDraft]>([:])
    let killed = Atomic<Bool>(false)
}
