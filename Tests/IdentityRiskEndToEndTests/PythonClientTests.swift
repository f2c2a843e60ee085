import Foundation
import IdentityRiskCore
import IdentityRiskStore
import Testing

@Suite("A client in another language, written from PROTOCOL.md")
struct PythonClientTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("clients/python/irisk_client.py creates, reads back and lists through Google's protobuf runtime")
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
            #expect(output.contains("ok: created"))
            let stored = try await store.get(id: "python-1")
            #expect(stored?.riskEventDateTime.description == "2017-01-01T00:01:00.7804275+03:00")
            #expect(stored?.riskLevel == .high)
            #expect(store.count == 1, "the invalid create stored nothing")
        }
    }
}
