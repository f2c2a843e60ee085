import Foundation
import IdentityRiskTestSupport
import IdentityRiskCore
import IdentityRiskStore
import Testing

/// The issue's walk-through, with the irisk binary as a user would run it, on
/// the durable store.
@Suite("irisk update and delete against a real server")
struct CLIUpdateDeleteTests {
    func irisk(_ arguments: [String], stdin: String? = nil) async throws -> CLITests.Run {
        try await blocking { try CLITests.runIrisk(arguments, stdin: stdin) }
    }

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("create, update with flags, stale --if-match (exit 7), invalid merge (exit 2), PATCH body, delete, get and delete again exit 3")
    func walkThrough() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/events.sqlite")
        try await withTestServer(store: store) { server in
            let socket = ["--socket", server.socketPath]
            let created = try await irisk(["create"] + socket + ["--json", "-"], stdin: CLITests.seedBody)
            #expect(created.status == 0, "\(created.stderr)")
            let record = try object(created.stdout)
            let id = try #require(record["id"] as? String)
            #expect(record["@odata.etag"] as? String == "W/\"1\"")

            let updated = try await irisk(["update", id] + socket + [
                "--risk-event-status", "dismissedAsFalsePositive", "--closed-date-time", "2017-01-02T08:00:00Z", "--if-match", "W/\"1\"",
            ])
            #expect(updated.status == 0, "\(updated.stderr)")
            let after = try object(updated.stdout)
            #expect(after["riskEventStatus"] as? String == "dismissedAsFalsePositive")
            #expect(after["closedDateTime"] as? String == "2017-01-02T08:00:00Z")
            #expect(after["@odata.etag"] as? String == "W/\"2\"")
            for key in ["id", "userDisplayName", "userPrincipalName", "riskEventDateTime", "riskEventType", "riskLevel", "createdDateTime", "userId"] {
                #expect(after[key] as? String == record[key] as? String, "\(key) is unchanged")
            }
            let read = try await irisk(["get", id] + socket)
            #expect(read.status == 0)
            #expect(try object(read.stdout) as NSDictionary == after as NSDictionary, "get reads back exactly what update printed")

            let stale = try await irisk(["update", id] + socket + ["--risk-level", "low", "--if-match", "1"])
            #expect(stale.status == 7, "a stale etag exits 7: \(stale.stderr)")
            #expect(stale.stderr.contains("preconditionFailed"))
            #expect(try object(try await irisk(["get", id] + socket).stdout)["riskLevel"] as? String == "high", "and changes nothing")

            let backwards = try await irisk(["update", id] + socket + ["--closed-date-time", "2016-12-31T00:00:00Z"])
            #expect(backwards.status == 2)
            #expect(backwards.stderr.contains("closedDateTime") && backwards.stderr.contains("riskEventDateTime"), "\(backwards.stderr)")

            let body = try await irisk(["update", id] + socket + ["--json", "-"], stdin: #"{"userDisplayName": null, "@odata.etag": "W/\"2\""}"#)
            #expect(body.status == 0, "\(body.stderr)")
            let cleared = try object(body.stdout)
            #expect(cleared["userDisplayName"] is NSNull)
            #expect(cleared["@odata.etag"] as? String == "W/\"3\"")

            let readOnly = try await irisk(["update", id] + socket + ["--json", "-"], stdin: #"{"createdDateTime": "2020-01-01T00:00:00Z"}"#)
            #expect(readOnly.status == 2)
            #expect(readOnly.stderr.contains("ReadOnlyProperty"))

            let badClear = try await irisk(["update", id] + socket + ["--clear", "userId"])
            #expect(badClear.status == 64, "a usage error: \(badClear.stderr)")

            let deleted = try await irisk(["delete", id] + socket + ["--if-match", "W/\"3\""])
            #expect(deleted.status == 0, "\(deleted.stderr)")
            #expect(deleted.stdout.isEmpty)
            let gone = try await irisk(["get", id] + socket)
            #expect(gone.status == 3)
            #expect(gone.stderr.contains("itemNotFound"))
            let twice = try await irisk(["delete", id] + socket)
            #expect(twice.status == 3)
            let again = try await irisk(["create"] + socket + ["--json", "-", "--id", id], stdin: CLITests.seedBody)
            #expect(again.status == 4, "a deleted id is never reused: \(again.stderr)")
        }
    }
}
