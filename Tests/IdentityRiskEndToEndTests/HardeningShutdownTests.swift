#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskServer
import IdentityRiskStore
import IdentityRiskTestSupport
import IdentityRiskWire
import Logging
import NIOCore
import Synchronization
import Testing

/// Shutdown under load, and a store that cannot write.
@Suite("Hardening: shutdown under load and storage faults", .serialized)
struct HardeningShutdownTests {
    @Test("beginShutdown: the call in flight is answered after its commit; new calls on the open connection get UNAVAILABLE; new connections are refused")
    func drainInProcess() async throws {
        let gated = GatedStore()
        try await withTestServer(store: gated) { server in
            let raw = try await openRaw(server)
            raw.send(RawRequest.create(callID: 1, seedDraft(id: "in-flight")))
            try await gated.waitUntilEntered(1)
            server.server.beginShutdown()
            for (id, request) in [(UInt64(2), RawRequest.health(callID: 2)), (3, RawRequest.create(callID: 3, seedDraft(id: "too-late")))] {
                raw.send(request)
                let response = try await raw.readResponse()
                #expect(response?.callID == id)
                let error = failure(response)
                #expect(error?.code == .unavailable)
                #expect(error?.retryAfterMilliseconds == 1000)
            }
            // The listening socket closes on its event loop, right after beginShutdown().
            for _ in 0..<(100 * timeScale) where connects(to: server.socketPath) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(!connects(to: server.socketPath), "no new connections")
            gated.release()
            let answered = try await raw.readResponse()
            #expect(answered?.callID == 1)
            if let outcome = answered?.created { #expect(outcome.event.id == "in-flight") } else { Issue.record("\(String(describing: answered))") }
            #expect(try await raw.readToEOF() == [], "then the connection closes")
            #expect(gated.inner.count == 1, "only the in-flight create was stored")
        }
    }

    /// What one call of the load ended with.
    /// One raw connection's share of the load: windows of 16 pipelined creates,
    /// each answered or cut off, until the server closes the connection.
    /// Raw sockets, so that what is checked is exactly what the server sends.
    static func drive(connection: Int, socket: String, load: ShutdownLoad, daemon: HardeningDaemon) throws {
        let timeout = scaledDuration(10_000)
        let raw = try RawConnection(path: socket, receiveTimeoutMilliseconds: Int(scaled(10_000)))
        raw.sendPreface()
        guard raw.expectServerPreface() else { return load.problem("connection \(connection): no server preface") }
        var callID: UInt64 = 0
        while callID < 5000 {
            var pending: [UInt64: String] = [:]
            for _ in 0..<16 {
                callID += 1
                let id = "term-\(connection)-\(callID)"
                load.sent(id)
                pending[callID] = id
                raw.send(RawRequest.create(callID: callID, seedDraft(id: id, userId: "u-\(connection)")))
            }
            while !pending.isEmpty {
                let started = ContinuousClock.now
                guard let response = try raw.readResponse() else {
                    if ContinuousClock.now - started >= timeout { load.problem("connection \(connection): no answer and no close within \(timeout)") }
                    return  // closed: the calls still pending were cut off, a clean connection error
                }
                guard let id = pending.removeValue(forKey: response.callID) else {
                    return load.problem("connection \(connection): unexpected answer \(response)")
                }
                if let outcome = response.created {
                    if load.acknowledge(id, outcome.event) == 300 { load.terminate(daemon) }
                } else if response.failure?.code == .unavailable {
                    load.refused(id)
                } else {
                    load.problem("call \(id): neither an answer nor UNAVAILABLE: \(response)")
                }
            }
        }
    }

    @Test("SIGTERM to the real iriskd under load: every call gets an answer, UNAVAILABLE or a clean close; exit 0 within the grace period; every acknowledged create is in the database")
    func sigtermUnderLoad() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let database = directory + "/events.sqlite"
        let grace = Int(scaled(3000))
        let daemon = try HardeningDaemon(socketPath: socket, arguments: ["--store", "sqlite:" + database, "--shutdown-grace-ms", "\(grace)"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()

        let load = ShutdownLoad()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in 0..<4 {
                group.addTask { try await blocking { try Self.drive(connection: connection, socket: socket, load: load, daemon: daemon) } }
            }
            try await group.waitForAll()
        }
        let sentAt = try #require(load.terminatedAt.withLock { $0 }, "SIGTERM was sent under load")
        let status = try await daemon.waitForExit(timeout: .milliseconds(grace + 5000))
        let exitedAfter = ContinuousClock.now - sentAt
        #expect(status == 0, "exit status 0; log: \(daemon.log())")
        #expect(exitedAfter < .milliseconds(grace + 2000), "exited within the grace period: \(exitedAfter)")
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket file is removed")

        let (sent, acked, refused, problems) = load.state.withLock { ($0.sent, $0.acknowledged, $0.refused, $0.problems) }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(acked.count >= 300)
        #expect(sent.count > acked.count + refused, "the load was cut off by the shutdown")

        let restarted = try HardeningDaemon(socketPath: socket, arguments: ["--store", "sqlite:" + database])
        defer { restarted.kill() }
        try await restarted.waitUntilServing()
        try await withIdentityRiskClient(socketPath: socket) { client in
            for (id, event) in acked {
                #expect(try await client.get(id: id) == event, "acknowledged create \(id) survived exactly")
            }
            var request = ListEvents.Request(top: 1000)
            var stored = 0
            while true {
                let page = try await client.list(request)
                stored += page.events.count
                #expect(page.events.allSatisfy { sent.contains($0.id) }, "nothing stored that was not sent")
                if page.nextPageToken.isEmpty { break }
                request.pageToken = page.nextPageToken
            }
            #expect(stored >= acked.count && stored <= sent.count - refused)
        }
        #expect(try await restarted.terminate() == 0)
    }

    @Test("a full disk: the first create that needs space gets UNAVAILABLE and is not stored; once space returns the server recovers without a restart")
    func fullDisk() async throws {
        let mount = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: mount) }
        let mounted = try await runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mount])
        try #require(mounted.status == 0, "mount tmpfs: \(mounted.output)")
        defer { _ = umount2(mount, Int32(MNT_DETACH)) }
        let database = mount + "/events.sqlite"
        let filler = mount + "/filler"
        let quiet = Logger(label: "store") { _ in SwiftLogNoOpLogHandler() }
        let store = try SQLiteEventStore(path: database, logger: quiet)
        let expectedOnDisk = Mutex<[String]>([])
        try await withTestServer(store: store) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath, configuration: ClientConfiguration(maxRetries: 0)) { client in
                _ = try await client.create(seedDraft(id: "before"))
                // Fill the file system to the last byte.
                let fd = open(filler, O_CREAT | O_WRONLY, 0o600)
                let chunk = [UInt8](repeating: 0xAB, count: 64 * 1024)
                var written = 0
                while true {
                    let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    written += n
                }
                close(fd)
                #expect(written > 0)

                // Creates that fit in the log's pages already on disk succeed
                // (once the log was copied into the database it is reused from
                // its start); the first that needs a new page must fail.
                var acknowledged: [String] = []
                var refusedID: String?
                for n in 0 ..< 2000 {
                    let id = "while-full-\(n)"
                    do {
                        _ = try await client.create(seedDraft(id: id))
                        acknowledged.append(id)
                    } catch {
                        #expect((error as? IdentityRiskError)?.code == .unavailable, "\(id): \(error)")
                        refusedID = id
                        break
                    }
                }
                let refused = try #require(refusedID, "a create needed space the full disk did not have")
                await #expect(throws: IdentityRiskError.self, "not stored, not acknowledged") {
                    _ = try await client.get(id: refused)
                }
                #expect(try await client.get(id: "before").id == "before", "reads still work")

                unlink(filler)
                let recovered = try await client.create(seedDraft(id: refused))
                #expect(!recovered.alreadyExisted)
                #expect(try await client.get(id: refused) == recovered.event)
                expectedOnDisk.withLock { $0 = ["before"] + acknowledged + [refused] }
            }
        }
        await store.close()
        let reopened = try SQLiteEventStore(path: database, logger: quiet)
        let page = try await reopened.list(ListQuery(filter: nil, order: .createdAscending, top: 1000, after: nil))
        #expect(page.events.map(\.id) == expectedOnDisk.withLock { $0 }, "exactly the acknowledged creates are on disk")
        await reopened.close()
    }
}
