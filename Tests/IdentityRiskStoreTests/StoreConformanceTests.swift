import IdentityRiskCore
import IdentityRiskStore
import Testing

/// The ``EventStore`` contract, checked against every store in
/// ``StoreFactory/all`` through `any EventStore` only. List and paging tests
/// are in `StoreConformanceTests+List.swift`.
@Suite("EventStore conformance")
struct StoreConformanceTests {
    // MARK: - Create and get

    @Test("create stores version 1 and get returns every field exactly", arguments: StoreFactory.all)
    func createAndGet(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let events = [
                try Fixture.event("rt-1", display: "Alice Example", risk: "2017-01-01T00:01:00.7804275+03:00",
                                  closed: "2017-01-02T10:00:00Z", created: "2024-05-06T07:08:09.1234567Z"),
                try Fixture.event("rt-2", display: nil, risk: "2023-12-31T23:59:59Z",
                                  closed: nil, created: "2024-05-06T07:08:09.1234567Z"),
                try Fixture.event("rt-3", display: "Zoë \u{1F600}", risk: "2020-02-29T12:00:00.5-08:30",
                                  closed: "2020-03-01T00:00:00.12+00:00", created: "2024-05-06T07:08:10.1Z"),
                try Fixture.event("rt-4", display: "e\u{301}cole", risk: "0001-01-01T14:00:00+14:00",
                                  closed: "9999-12-31T09:59:59.9999999-14:00", created: "1969-12-31T23:59:59.999Z"),
            ]
            for original in events {
                let outcome = try await store.create(original)
                #expect(outcome == CreateOutcome(event: original, alreadyExisted: false))
                #expect(outcome.event.version == 1)
            }
            for original in events {
                let stored = try #require(try await store.get(id: original.id))
                #expect(stored == original)
                #expect(stored.version == 1)
                #expect(Array(stored.userDisplayName?.utf8 ?? "".utf8) == Array(original.userDisplayName?.utf8 ?? "".utf8), "text is stored byte for byte, not normalised")
                #expect(stored.riskEventDateTime.description == original.riskEventDateTime.description)
                #expect(stored.closedDateTime?.description == original.closedDateTime?.description)
                #expect(stored.createdDateTime.description == original.createdDateTime.description)
            }
            let first = try #require(try await store.get(id: "rt-1"))
            #expect(first.riskEventDateTime.description == "2017-01-01T00:01:00.7804275+03:00")
            #expect(first.closedDateTime?.description == "2017-01-02T10:00:00Z")
            #expect(try await store.get(id: "missing") == nil)
            #expect(store.kind == factory.name)

            var versioned = try Fixture.event("rt-5")
            versioned.version = 9
            #expect(try await store.create(versioned).event.version == 1, "a new record is version 1, whatever the caller passed")
            #expect(try await store.get(id: "rt-5")?.version == 1)
        }
    }

    @Test("an idempotent retry returns the stored record with alreadyExisted", arguments: StoreFactory.all)
    func idempotentCreate(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try Fixture.event("idem-1", created: "2024-01-01T00:00:00Z")
            #expect(try await store.create(original).alreadyExisted == false)
            var retry = original
            retry.createdDateTime = try DateTimeOffset(parsing: "2024-01-02T00:00:00Z")
            let outcome = try await store.create(retry)
            #expect(outcome.alreadyExisted)
            #expect(outcome.event == original, "the stored record, with its original createdDateTime")
            #expect(try await store.list(ListQuery()).events == [original], "stored once")
        }
    }

    @Test("different content under an existing id is alreadyExists and changes nothing", arguments: StoreFactory.all)
    func conflict(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try Fixture.event("conflict-1")
            _ = try await store.create(original)
            var other = original
            other.riskLevel = .low
            let error = await attempt { try await store.create(other) }.failure
            #expect(error?.code == .alreadyExists)
            #expect(error?.target == "id")
            #expect(error?.innerCode != "DeletedID")
            #expect(try await store.get(id: "conflict-1") == original)
        }
    }

    // MARK: - Replace

    @Test("replace stores the new fields with version + 1 and keeps createdDateTime", arguments: StoreFactory.all)
    func replace(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try Fixture.event("upd-1", closed: nil, created: "2024-02-03T04:05:06.7Z")
            _ = try await store.create(original)
            var changed = original
            changed.riskEventStatus = .dismissedAsFalsePositive
            changed.riskLevel = .low
            changed.userDisplayName = nil
            changed.closedDateTime = try DateTimeOffset(parsing: "2023-03-05T00:00:00.1234567-07:00")
            changed.userPrincipalName = "b\u{F6}b@example.com"
            changed.version = 2
            let replaced = try await store.replace(changed, expectedVersion: 1)
            #expect(replaced == changed)
            #expect(replaced.createdDateTime == original.createdDateTime)
            #expect(try await store.get(id: "upd-1") == changed)

            var again = changed
            again.riskEventType = "leakedCredentials"
            again.version = 3
            #expect(try await store.replace(again, expectedVersion: 2) == again)
            #expect(try await store.get(id: "upd-1")?.version == 3)
            let listed = try await store.list(ListQuery(filter: Fixture.comparison(.id, .eq, .string("upd-1"))))
            #expect(listed.events == [again], "list shows the replaced record")
        }
    }

    @Test("replace with a stale or future version is versionMismatch and changes nothing", arguments: StoreFactory.all)
    func replaceStale(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try Fixture.event("stale-1")
            _ = try await store.create(original)
            var first = original
            first.riskLevel = .medium
            first.version = 2
            _ = try await store.replace(first, expectedVersion: 1)
            for expected: UInt64 in [1, 3, 99] {
                var late = original
                late.riskLevel = .none
                late.version = expected + 1
                let error = await attempt { try await store.replace(late, expectedVersion: expected) }.failure
                #expect(error?.isVersionMismatch == true, "expected \(expected)")
                #expect(error?.code == .failedPrecondition)
                #expect(error?.code.httpStatus == 412)
                #expect(error?.message.contains(#"W/"2""#) == true, "names the stored version: \(error?.message ?? "")")
            }
            #expect(try await store.get(id: "stale-1") == first, "nothing changed")
        }
    }

    @Test("replace and delete of an unknown id are notFound", arguments: StoreFactory.all)
    func unknownID(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let ghost = try Fixture.event("ghost")
            let replaceError = await attempt { try await store.replace(ghost, expectedVersion: 1) }.failure
            #expect(replaceError?.code == .notFound)
            #expect(replaceError?.target == "id")
            for expected: UInt64? in [nil, 1] {
                let deleteError = await attempt { try await store.delete(id: "ghost", expectedVersion: expected) }.failure
                #expect(deleteError?.code == .notFound)
            }
            #expect(try await store.get(id: "ghost") == nil, "nothing was created")
        }
    }

    // MARK: - Delete

    @Test("delete returns the version, hides the record, and the id is never reused", arguments: StoreFactory.all)
    func delete(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let doomed = try Fixture.event("del-1")
            let kept = try Fixture.event("del-2")
            _ = try await store.create(doomed)
            _ = try await store.create(kept)
            var updated = doomed
            updated.riskEventStatus = .remediated
            updated.version = 2
            _ = try await store.replace(updated, expectedVersion: 1)

            let stale = await attempt { try await store.delete(id: "del-1", expectedVersion: 1) }.failure
            #expect(stale?.isVersionMismatch == true)
            #expect(try await store.get(id: "del-1") == updated, "a stale delete deletes nothing")

            #expect(try await store.delete(id: "del-1", expectedVersion: 2) == 2)
            #expect(try await store.get(id: "del-1") == nil)
            #expect(try await store.list(ListQuery()).events == [kept], "list no longer shows it")
            #expect(try await store.list(ListQuery(filter: Fixture.comparison(.id, .eq, .string("del-1")))).events.isEmpty)

            let again = await attempt { try await store.delete(id: "del-1", expectedVersion: nil) }.failure
            #expect(again?.code == .notFound)
            var revived = updated
            revived.version = 3
            let replaceError = await attempt { try await store.replace(revived, expectedVersion: 2) }.failure
            #expect(replaceError?.code == .notFound)
            for candidate in [doomed, updated] {
                let createError = await attempt { try await store.create(candidate) }.failure
                #expect(createError?.code == .alreadyExists)
                #expect(createError?.innerCode == "DeletedID")
                #expect(createError?.target == "id")
            }
            #expect(try await store.get(id: "del-1") == nil, "a create of a deleted id stores nothing")
            #expect(try await store.list(ListQuery()).events == [kept])
            #expect(try await store.delete(id: "del-2", expectedVersion: nil) == 1, "without an expected version, any version")
        }
    }
}
