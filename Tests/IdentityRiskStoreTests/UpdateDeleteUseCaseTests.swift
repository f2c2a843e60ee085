import IdentityRiskCore
import IdentityRiskStore
import Testing

/// ``UpdateEvent`` and ``DeleteEvent`` (Core's use cases) over every store.
@Suite("Update and delete use cases")
struct UpdateDeleteUseCaseTests {
    private func stored(_ store: any EventStore, _ id: String = "uc-1") async throws -> IdentityRiskEvent {
        try await store.create(try Fixture.event(id, display: "Alice", risk: "2023-03-04T05:06:07.89+01:00")).event
    }

    private func update(_ store: any EventStore, _ id: String, ifMatch: UInt64? = nil, _ edit: (inout EventPatch) -> Void) async -> Result<IdentityRiskEvent, IdentityRiskError> {
        var patch = EventPatch()
        edit(&patch)
        let request = UpdateEvent.Request(id: id, patch: patch, ifMatch: ifMatch)
        return await attempt { try await UpdateEvent(store: store)(request) }
    }

    @Test("dismissing as false positive with a closedDateTime changes only those, at version 2", arguments: StoreFactory.all)
    func dismiss(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try await stored(store)
            let closed = try DateTimeOffset(parsing: "2023-03-05T00:00:00.5-02:00")
            let updated = try await update(store, "uc-1", ifMatch: 1) { patch in
                patch.set(.riskEventStatus, .riskEventStatus(.dismissedAsFalsePositive))
                patch.set(.closedDateTime, .dateTime(closed))
            }.get()
            var expected = original
            expected.riskEventStatus = .dismissedAsFalsePositive
            expected.closedDateTime = closed
            expected.version = 2
            #expect(updated == expected, "every other property unchanged")
            for property in EventProperty.allCases where property != .riskEventStatus && property != .closedDateTime {
                #expect(updated[property] == original[property], "\(property)")
            }
            #expect(try await store.get(id: "uc-1") == expected)
            #expect(updated.etag == #"W/"2""#)
        }
    }

    @Test("clearing userDisplayName stores it absent", arguments: StoreFactory.all)
    func clearOptional(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            _ = try await stored(store)
            let updated = try await update(store, "uc-1") { $0.set(.userDisplayName, nil) }.get()
            #expect(updated.userDisplayName == nil)
            #expect(updated.version == 2)
            #expect(try await store.get(id: "uc-1")?.userDisplayName == nil)
        }
    }

    @Test("clearing a required property is refused, naming it", arguments: StoreFactory.all)
    func clearRequired(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try await stored(store)
            for property in EventProperty.allCases where property.isUpdatable && !property.isNullable {
                let error = await update(store, "uc-1") { $0.set(property, nil) }.failure
                #expect(error?.code == .invalidArgument, "\(property)")
                #expect(error?.target == property.graphName)
                #expect(error?.message.contains(property.graphName) == true)
            }
            #expect(try await store.get(id: "uc-1") == original)
        }
    }

    @Test("id and createdDateTime in the patch are read-only", arguments: StoreFactory.all)
    func readOnly(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try await stored(store)
            let edits: [(EventProperty, PropertyValue)] = [
                (.id, .text("uc-2")),
                (.createdDateTime, .dateTime(try DateTimeOffset(parsing: "2020-01-01T00:00:00Z"))),
            ]
            for (property, value) in edits {
                let error = await update(store, "uc-1") { $0.set(property, value) }.failure
                #expect(error?.code == .invalidArgument)
                #expect(error?.innerCode == "ReadOnlyProperty", "\(property)")
                #expect(error?.target == property.graphName)
            }
            #expect(try await store.get(id: "uc-1") == original)
            #expect(try await store.get(id: "uc-2") == nil)
        }
    }

    @Test("closedDateTime before riskEventDateTime is refused, naming both", arguments: StoreFactory.all)
    func closedBeforeRisk(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try await stored(store)
            let error = await update(store, "uc-1") {
                $0.set(.closedDateTime, .dateTime(try! DateTimeOffset(parsing: "2023-03-04T05:06:07.88+01:00")))
            }.failure
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("closedDateTime") == true)
            #expect(error?.message.contains("riskEventDateTime") == true)
            #expect(try await store.get(id: "uc-1") == original)
        }
    }

    @Test("a stale ifMatch is 412 VersionMismatch and changes nothing", arguments: StoreFactory.all)
    func staleIfMatch(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            _ = try await stored(store)
            let current = try await update(store, "uc-1") { $0.set(.riskLevel, .riskLevel(.low)) }.get()
            let error = await update(store, "uc-1", ifMatch: 1) { $0.set(.riskLevel, .riskLevel(.medium)) }.failure
            #expect(error?.code == .failedPrecondition)
            #expect(error?.code.httpStatus == 412)
            #expect(error?.innerCode == "VersionMismatch")
            #expect(try await store.get(id: "uc-1") == current)

            let deleteError = await attempt { () async throws(IdentityRiskError) in
                try await DeleteEvent(store: store)(.init(id: "uc-1", ifMatch: 1))
            }.failure
            #expect(deleteError?.innerCode == "VersionMismatch")
            #expect(try await store.get(id: "uc-1") == current, "a stale delete deletes nothing")
        }
    }

    @Test("an update that changes nothing keeps the version", arguments: StoreFactory.all)
    func noChange(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try await stored(store)
            let same = try await update(store, "uc-1", ifMatch: 1) {
                $0.set(.riskLevel, .riskLevel(original.riskLevel))
                $0.set(.userDisplayName, .text("Alice"))
            }.get()
            #expect(same == original)
            #expect(same.version == 1)
            #expect(try await store.get(id: "uc-1")?.version == 1)
        }
    }

    @Test("delete returns the version; updating or deleting it again is notFound", arguments: StoreFactory.all)
    func deleteThenUpdate(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            _ = try await stored(store)
            _ = try await update(store, "uc-1") { $0.set(.riskEventStatus, .riskEventStatus(.remediated)) }.get()
            let delete = DeleteEvent(store: store)
            #expect(try await delete(.init(id: "uc-1", ifMatch: 2)) == 2)
            let error = await update(store, "uc-1") { $0.set(.riskLevel, .riskLevel(.low)) }.failure
            #expect(error?.code == .notFound)
            #expect(error?.code.httpStatus == 404)
            let again = await attempt { try await delete(.init(id: "uc-1")) }.failure
            #expect(again?.code == .notFound)
            let invalid = await attempt { try await delete(.init(id: "bad id")) }.failure
            #expect(invalid?.code == .invalidArgument)
        }
    }
}
