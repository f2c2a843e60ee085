import Foundation
import IdentityRiskTestSupport
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import Testing

@Suite("The irisk CLI against a real server")
struct CLITests {
    static let seedBody = """
        {
          "@odata.type": "#microsoft.graph.identityRiskEvent",
          "userDisplayName": "User Display Name value",
          "userPrincipalName": "User Principal Name value",
          "riskEventDateTime": "2017-01-01T00:01:00.7804275+03:00",
          "riskEventType": "Risk Event Type value",
          "riskLevel": "high",
          "riskEventStatus": "active",
          "closedDateTime": "2017-01-01T00:01:30.8768135+03:00",
          "userId": "User Id value"
        }
        """

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func irisk(_ arguments: [String], stdin: String? = nil) async throws -> Run {
        try await blocking { try Self.runIrisk(arguments, stdin: stdin) }
    }

    static func runIrisk(_ arguments: [String], stdin: String? = nil) throws -> Run {
        try runProcess(productPath("irisk"), arguments, stdin: stdin)
    }

    static func runIriskAsync(_ arguments: [String], stdin: String? = nil) async throws -> Run {
        try await blocking { try runIrisk(arguments, stdin: stdin) }
    }

    /// Runs `executable` with `arguments`, feeding it `stdin`, and collects its output.
    static func runProcess(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("irisk create --json with the seed body prints the record with every field echoed exactly")
    func createFromSeed() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let bodyPath = server.directory + "/body.json"
            try Self.seedBody.write(toFile: bodyPath, atomically: true, encoding: .utf8)
            let run = try await irisk(["create", "--socket", server.socketPath, "--json", bodyPath])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            let record = try object(run.stdout)
            let id = try #require(record["id"] as? String)
            #expect(id.count == 36 && id == id.lowercased() && id.split(separator: "-").count == 5)
            #expect(record["@odata.type"] as? String == "#microsoft.graph.identityRiskEvent")
            #expect(run.stdout.contains("\"riskEventDateTime\": \"2017-01-01T00:01:00.7804275+03:00\""))
            #expect(run.stdout.contains("\"closedDateTime\": \"2017-01-01T00:01:30.8768135+03:00\""))
            for key in ["userDisplayName", "userPrincipalName", "riskEventType", "riskLevel", "riskEventStatus", "userId"] {
                let body = try object(Self.seedBody)
                #expect(record[key] as? String == body[key] as? String, "\(key)")
            }
            let created = try #require(record["createdDateTime"] as? String)
            #expect((try? DateTimeOffset(parsing: created)) != nil)
            #expect(store.count == 1)

            // get prints the same record
            let get = try await irisk(["get", "--socket", server.socketPath, id])
            #expect(get.status == 0)
            #expect(get.stdout == run.stdout)
        }
    }

    @Test("the seed body as written (riskLevel \"String\") is refused naming riskLevel and the allowed values")
    func seedAsWritten() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let body = Self.seedBody.replacingOccurrences(of: "\"high\"", with: "\"String\"")
            let run = try await irisk(["create", "--socket", server.socketPath, "--json", "-"], stdin: body)
            #expect(run.status == 2)
            #expect(run.stdout.isEmpty)
            let error = try #require(try object(run.stderr)["error"] as? [String: Any])
            #expect(error["code"] as? String == "invalidRequest")
            #expect(error["target"] as? String == "riskLevel")
            let message = try #require(error["message"] as? String)
            #expect(message.contains("low, medium, high, hidden, none, unknownFutureValue"))
            #expect(store.count == 0)
        }
    }

    @Test("a supplied createdDateTime is refused as ReadOnlyProperty")
    func readOnlyCreated() async throws {
        try await withTestServer { server in
            let body = Self.seedBody.replacingOccurrences(of: "\"userId\"", with: "\"createdDateTime\": \"2017-01-01T00:00:46.1697867+03:00\", \"userId\"")
            let run = try await irisk(["create", "--socket", server.socketPath, "--json", "-"], stdin: body)
            #expect(run.status == 2)
            #expect(run.stderr.contains("ReadOnlyProperty"))
            #expect(run.stderr.contains("createdDateTime"))
        }
    }

    @Test("irisk get of an unknown id exits 3 with itemNotFound; no server exits 5")
    func exitCodes() async throws {
        try await withTestServer { server in
            let run = try await irisk(["get", "--socket", server.socketPath, "no-such-id"])
            #expect(run.status == 3)
            #expect(run.stderr.contains("itemNotFound"))
        }
        let none = try await irisk(["health", "--socket", "/tmp/irisk-no-such-socket.sock"])
        #expect(none.status == 5)
        #expect(none.stderr.contains("serviceNotAvailable"))
    }

    @Test("irisk health reports serving")
    func health() async throws {
        try await withTestServer { server in
            let run = try await irisk(["health", "--socket", server.socketPath])
            #expect(run.status == 0)
            #expect(try object(run.stdout)["status"] as? String == "serving")
        }
    }
}
