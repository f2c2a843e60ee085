import Foundation
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

@Suite("A client in another language, written from PROTOCOL.md")
struct PythonClientTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("clients/python/irisk_client.py creates, reads back, lists, updates and deletes through Google's protobuf runtime")
    func pythonClient() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let (status, output) = try await blocking {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["python3", Self.repositoryRoot + "/clients/python/irisk_client.py", "--socket", server.socketPath, "--id", "python-1"]
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                try process.run()
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                return (process.terminationStatus, String(decoding: data, as: UTF8.self))
            }
            #expect(status == 0, "python client output: \(output)")
            #expect(output.contains("ok: created, read back, listed, updated and deleted"))
            // It deleted what it created, and the invalid create stored nothing: the id
            // it used is a tombstone now, and no other record exists.
            #expect(try await store.get(id: "python-1") == nil)
            let event = try EventValidator().validate(seedDraft(id: "python-1"), assignID: { "python-1" }, createdDateTime: SystemEventClock().now())
            let recreate = await #expect(throws: IdentityRiskError.self) { try await store.create(event) }
            #expect(recreate?.innerCode == "DeletedID")
            #expect(try await store.list(ListQuery()).events.isEmpty)
        }
    }
}
