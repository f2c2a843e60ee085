import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskServer
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Per-method permissions checked against each method's descriptor.
@Suite("Permissions: read and readWrite grants")
struct PermissionTests {
    @Test("a reader gets, lists and watches but cannot create, update or delete (PERMISSION_DENIED naming the permission); the connection stays usable; nothing is stored")
    func readerOnOneConnection() async throws {
        let store = MemoryEventStore()
        let id = "granted-\(getpid())"
        _ = try await store.create(EventValidator().validate(seedDraft(id: id), assignID: { id }, createdDateTime: SystemEventClock().now()))
        // This test process (uid 0) is not the server's owner here, and only has read.
        try await withTestServer(store: store, configure: { $0.grants = [PermissionGrant(.read, to: .uid(getuid()))]; $0.ownerUID = 4_000_000 }) { server in
            let raw = try await openRaw(server)
            raw.send(RawRequest.create(callID: 1, seedDraft(id: "not-allowed")))
            let refused = try #require(failure(try await raw.readResponse()))
            #expect(refused.code == .permissionDenied)
            #expect(refused.message.contains("create needs the readWrite permission"))
            #expect(refused.innerCode == "ReadWriteRequired")
            raw.send(RawRequest(IdentityRiskMethods.Get.self, id, callID: 2))
            let got = try #require(try await raw.readResponse())
            #expect(got.callID == 2)
            #expect(got.value(IdentityRiskMethods.Get.self)?.id == id, "the same connection still serves reads: \(got)")
            var patch = EventPatch()
            patch.set(.riskLevel, .riskLevel(.low))
            raw.send(RawRequest(IdentityRiskMethods.Update.self, UpdateEvent.Request(id: id, patch: patch), callID: 3))
            #expect(failure(try await raw.readResponse())?.code == .permissionDenied)
            raw.send(RawRequest(IdentityRiskMethods.Delete.self, DeleteEvent.Request(id: id), callID: 4))
            #expect(failure(try await raw.readResponse())?.code == .permissionDenied)
            raw.send(RawRequest(IdentityRiskMethods.List.self, ListEvents.Request(), callID: 5))
            #expect(try await raw.readResponse()?.value(IdentityRiskMethods.List.self)?.events.map(\.id) == [id])
            raw.send(RawRequest(IdentityRiskMethods.Watch.self, WatchChanges.Request(start: .oldest), callID: 6))
            let opening = try #require(try await raw.readResponse())
            #expect(opening.callID == 6)
            #expect(opening.value(IdentityRiskMethods.Watch.self) != nil, "a reader may watch: \(opening)")
        }
        #expect(store.count == 1, "the refused create stored nothing")
        #expect(try await store.get(id: id)?.riskLevel == .high, "the refused update changed nothing")
    }

    @Test("a peer with no grant at all is refused every method, health included")
    func strangerRefused() async throws {
        try await withTestServer(configure: { $0.grants = [PermissionGrant(.read, to: .uid(4_000_001))]; $0.ownerUID = 4_000_000 }) { server in
            let raw = try await openRaw(server)
            raw.send(RawRequest.health(callID: 1))
            let error = try #require(failure(try await raw.readResponse()))
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("no permission"))
        }
    }

    @Test("the real iriskd with --grant read:uid=65534: nobody (setpriv) can get, list and watch but create and delete exit 8 with accessDenied; root, the server's uid, keeps readWrite")
    func otherUIDWithSetpriv() async throws {
        guard getuid() == 0 else {
            Issue.record("this test switches to uid 65534 with setpriv and needs to run as root, as CI does")
            return
        }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        chmod(directory, 0o755)
        let socket = directory + "/d.sock"
        let daemon = try HardeningDaemon(socketPath: socket, arguments: [
            "--store", "memory", "--socket-mode", "0666", "--grant", "read:uid=65534",
        ])
        try await daemon.waitUntilServing()
        let created = try await CLITests.runIriskAsync(["create", "--socket", socket, "--json", "-"], stdin: CLITests.seedBody)
        #expect(created.status == 0, "root is the server's uid: readWrite. \(created.stderr)")
        let id = try #require(try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])["id"] as? String ?? ""

        func asNobody(_ arguments: [String], stdin: String? = nil) async throws -> CLITests.Run {
            try await blocking {
                try CLITests.runProcess(
                    "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", productPath("irisk")] + arguments,
                    stdin: stdin)
            }
        }
        let get = try await asNobody(["get", id, "--socket", socket])
        #expect(get.status == 0, "read is granted: \(get.stderr)")
        let list = try await asNobody(["list", "--socket", socket])
        #expect(list.status == 0, "\(list.stderr)")
        let watch = try await asNobody(["watch", "--socket", socket, "--from", "beginning", "--count", "1"])
        #expect(watch.status == 0, "watch needs read only: \(watch.stderr)")
        #expect(watch.stdout.contains("\"kind\":\"created\"") && watch.stdout.contains(id), "the create, watched as nobody: \(watch.stdout)")
        let create = try await asNobody(["create", "--socket", socket, "--json", "-"], stdin: CLITests.seedBody)
        #expect(create.status == 8, "create needs readWrite: \(create.stderr)")
        #expect(create.stderr.contains("accessDenied"))
        let delete = try await asNobody(["delete", id, "--socket", socket])
        #expect(delete.status == 8)
        #expect(try await CLITests.runIriskAsync(["get", id, "--socket", socket]).status == 0, "nothing was deleted")
        let status = try await daemon.terminate()
        #expect(status == 0)
        #expect(daemon.log().contains("call refused: permission"), "refusals are logged")
        #expect(daemon.log().contains("uid=65534"), "with the peer's uid: \(daemon.log().suffix(2000))")
    }
}
