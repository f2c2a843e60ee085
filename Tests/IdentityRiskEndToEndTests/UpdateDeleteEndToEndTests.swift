import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

/// Update and delete from a client's point of view, through the real server,
/// on both stores (the "done means", through the Swift client).
@Suite("Update and delete through the client library")
struct UpdateDeleteEndToEndTests {
    @Test("status to dismissedAsFalsePositive with a closedDateTime; stale etag 412; invalid merge refused naming both; delete; get and a second delete not found; the id is never reused",
          arguments: ["memory", "sqlite"])
    func lifecycle(storeKind: String) async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store: any EventStore = storeKind == "memory" ? MemoryEventStore() : try SQLiteEventStore(path: directory + "/events.sqlite")
        try await withTestServer(store: store) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let created = try await client.create(seedDraft(id: "seed-\(storeKind)")).event
                #expect(created.version == 1)

                var patch = EventPatch()
                patch.set(.riskEventStatus, .riskEventStatus(.dismissedAsFalsePositive))
                patch.set(.closedDateTime, .dateTime(try DateTimeOffset(parsing: "2017-01-02T08:00:00Z")))
                let updated = try await client.update(id: created.id, patch, ifMatch: created.version)
                var expected = created
                expected.riskEventStatus = .dismissedAsFalsePositive
                expected.closedDateTime = try DateTimeOffset(parsing: "2017-01-02T08:00:00Z")
                expected.version = 2
                #expect(updated == expected, "only the two properties changed, and the version moved on")
                #expect(updated.etag == "W/\"2\"")
                #expect(try await client.get(id: created.id) == expected, "read back exactly")

                // A stale etag: 412, nothing changed.
                var again = EventPatch()
                again.set(.riskLevel, .riskLevel(.low))
                let stale = await #expect(throws: IdentityRiskError.self) { try await client.update(id: created.id, again, ifMatch: 1) }
                #expect(stale?.code == .failedPrecondition)
                #expect(stale?.code.httpStatus == 412)
                #expect(stale?.isVersionMismatch == true)
                #expect(try await client.get(id: created.id) == expected)

                // closedDateTime before riskEventDateTime: refused naming both.
                var backwards = EventPatch()
                backwards.set(.closedDateTime, .dateTime(try DateTimeOffset(parsing: "2016-12-31T00:00:00Z")))
                let invalid = await #expect(throws: IdentityRiskError.self) { try await client.update(id: created.id, backwards) }
                #expect(invalid?.code == .invalidArgument)
                #expect(invalid?.target == "closedDateTime")
                #expect(invalid?.message.contains("riskEventDateTime") == true)
                #expect(try await client.get(id: created.id) == expected)

                // An update that changes nothing keeps the version.
                var same = EventPatch()
                same.set(.riskEventStatus, .riskEventStatus(.dismissedAsFalsePositive))
                #expect(try await client.update(id: created.id, same) == expected)

                // Delete: stale etag refused, then deleted; get and a second delete are not found.
                let staleDelete = await #expect(throws: IdentityRiskError.self) { try await client.delete(id: created.id, ifMatch: 1) }
                #expect(staleDelete?.code == .failedPrecondition)
                #expect(try await client.delete(id: created.id, ifMatch: 2) == 2)
                let gone = await #expect(throws: IdentityRiskError.self) { try await client.get(id: created.id) }
                #expect(gone?.code == .notFound)
                let twice = await #expect(throws: IdentityRiskError.self) { try await client.delete(id: created.id) }
                #expect(twice?.code == .notFound)
                let updateGone = await #expect(throws: IdentityRiskError.self) { try await client.update(id: created.id, same) }
                #expect(updateGone?.code == .notFound)

                // A retried create of the deleted id never brings it back.
                let resurrect = await #expect(throws: IdentityRiskError.self) { try await client.create(seedDraft(id: created.id)) }
                #expect(resurrect?.code == .alreadyExists)
                #expect(resurrect?.innerCode == "DeletedID")
                #expect(try await client.list().events.contains { $0.id == created.id } == false)
            }
        }
    }

    @Test("read-only and required properties in an update are refused by name; the record is unchanged")
    func refusedPatches() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let created = try await client.create(seedDraft(id: "patch-checks")).event
                var readOnly = EventPatch()
                readOnly.set(.createdDateTime, .dateTime(try DateTimeOffset(parsing: "2020-01-01T00:00:00Z")))
                readOnly.set(.id, .text("other"))
                let refused = await #expect(throws: IdentityRiskError.self) { try await client.update(id: created.id, readOnly) }
                #expect(Set(refused?.violations.map(\.field) ?? []) == ["createdDateTime", "id"])
                #expect(refused?.violations.allSatisfy { $0.innerCode == "ReadOnlyProperty" } == true)

                var clearRequired = EventPatch()
                clearRequired.set(.userId, nil)
                let required = await #expect(throws: IdentityRiskError.self) { try await client.update(id: created.id, clearRequired) }
                #expect(required?.target == "userId")

                var clearOptional = EventPatch()
                clearOptional.set(.userDisplayName, nil)
                let cleared = try await client.update(id: created.id, clearOptional)
                #expect(cleared.userDisplayName == nil)
                #expect(cleared.version == 2)
                #expect(cleared.userPrincipalName == created.userPrincipalName)
            }
        }
    }
}
