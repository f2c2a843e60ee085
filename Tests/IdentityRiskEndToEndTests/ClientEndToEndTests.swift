import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import IdentityRiskWire
import Testing

@Suite("Client library against a real server")
struct ClientEndToEndTests {
    @Test("create, get and list through the client library keep every field exactly")
    func createGetList() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let before = SystemEventClock().now()
                let created = try await client.create(seedDraft())
                let event = created.event
                #expect(!created.alreadyExisted)
                #expect(EventValidator.idProblem(event.id) == nil)
                #expect(event.id == event.id.lowercased() && event.id.count == 36)
                #expect(event.riskEventDateTime.description == "2017-01-01T00:01:00.7804275+03:00")
                #expect(event.closedDateTime?.description == "2017-01-01T00:01:30.8768135+03:00")
                #expect(event.userDisplayName == "User Display Name value")
                #expect(event.userPrincipalName == "User Principal Name value")
                #expect(event.riskEventType == "Risk Event Type value")
                #expect(event.riskLevel == .high && event.riskEventStatus == .active)
                #expect(event.userId == "User Id value")
                #expect(event.createdDateTime.instantTicks >= before.instantTicks)

                let fetched = try await client.get(id: event.id)
                #expect(fetched == event)

                let page = try await client.list(ListEvents.Request(filter: "userId eq 'User Id value'"))
                #expect(page.events == [event])
                #expect(page.nextPageToken.isEmpty)
            }
        }
    }

    @Test("the seed body with riskLevel 'String' cannot even be sent, and the server refuses an unknown enum number")
    func invalidEnum() async throws {
        try await withTestServer { server in
            let raw = try RawConnection(path: server.socketPath)
            raw.sendPreface()
            #expect(try await raw.expectServerPreface())
            // A CreateRequest whose draft lacks riskLevel: the server names the field and the allowed values.
            var draft = seedDraft()
            draft.riskLevel = nil
            raw.send(RawRequest.create(callID: 7, draft))
            let response = try #require(try await raw.readResponse())
            #expect(response.callID == 7)
            guard let error = response.failure else {
                Issue.record("expected a failure, got \(response)")
                return
            }
            #expect(error.code == .invalidArgument)
            #expect(error.target == "riskLevel")
            #expect(error.violations.first?.description.contains(RiskLevel.allowedValues) == true)
        }
    }

    @Test("200 concurrent creates over one connection: every answer matches its request")
    func concurrentCreatesOneConnection() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                try await client.connect()
                let results = try await withThrowingTaskGroup(of: (String, IdentityRiskEvent).self) { group in
                    for i in 0..<200 {
                        group.addTask {
                            let userId = "user-\(i)"
                            let outcome = try await client.create(seedDraft(userId: userId))
                            return (userId, outcome.event)
                        }
                    }
                    var all: [(String, IdentityRiskEvent)] = []
                    for try await result in group { all.append(result) }
                    return all
                }
                #expect(results.count == 200)
                for (userId, event) in results {
                    #expect(event.userId == userId)
                }
                #expect(Set(results.map(\.1.id)).count == 200)
                let health = try await client.health()
                #expect(health.openConnections == 1)
            }
        }
        #expect(store.count == 200)
    }

    @Test("idempotent create: same id and content returns the stored record; other content is a conflict")
    func idempotentCreate() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let first = try await client.create(seedDraft(id: "retry-1"))
                let again = try await client.create(seedDraft(id: "retry-1"))
                #expect(!first.alreadyExisted)
                #expect(again.alreadyExisted)
                #expect(again.event == first.event)
                var changed = seedDraft(id: "retry-1")
                changed.riskLevel = .low
                await #expect {
                    try await client.create(changed)
                } throws: { error in
                    (error as? IdentityRiskError)?.code == .alreadyExists
                }
                #expect(try await client.get(id: "retry-1").riskLevel == .high)
            }
        }
    }

    @Test("get of a missing id is notFound; a call after the server stops is unavailable")
    func notFoundAndUnavailable() async throws {
        let path = try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                await #expect {
                    _ = try await client.get(id: "missing")
                } throws: { error in
                    let e = error as? IdentityRiskError
                    return e?.code == .notFound && e?.target == "id"
                }
            }
            return server.socketPath
        }
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file is removed on shutdown")
        await #expect {
            _ = try await withIdentityRiskClient(socketPath: path) { try await $0.health() }
        } throws: { error in
            (error as? IdentityRiskError)?.code == .unavailable
        }
    }

    @Test("a client-side deadline shorter than the work gives deadlineExceeded; the connection stays usable")
    func deadline() async throws {
        try await withTestServer(store: SlowStore(delayMilliseconds: 300)) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                await #expect {
                    try await client.create(seedDraft(), timeoutMilliseconds: 50)
                } throws: { error in
                    (error as? IdentityRiskError)?.code == .deadlineExceeded
                }
                let health = try await client.health()
                #expect(health.serving == .serving)
            }
        }
    }

    @Test("cancelling the caller's task cancels the call and answers it as cancelled")
    func cancellation() async throws {
        // The store would take 20 s: an answer well before that can only be the cancellation.
        try await withTestServer(store: SlowStore(delayMilliseconds: 20_000)) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let task = Task { try await client.create(seedDraft()) }
                try await Task.sleep(for: .milliseconds(100))
                task.cancel()
                let start = ContinuousClock.now
                await #expect {
                    try await task.value
                } throws: { error in
                    (error as? IdentityRiskError)?.code == .cancelled
                }
                let elapsed = ContinuousClock.now - start
                #expect(elapsed < scaledDuration(1500), "answered \(elapsed) after the cancel")
                let health = try await client.health()
                #expect(health.serving == .serving)
            }
        }
    }
}

/// A store whose creates take a while (each in a task of its own), to test
/// deadlines and cancel. Everything else is the memory store's.
final class SlowStore: EventStore {
    let kind = "slow-memory"
    let inner = MemoryEventStore()
    let delayMilliseconds: Int

    init(delayMilliseconds: Int) {
        self.delayMilliseconds = delayMilliseconds
    }

    func run() async throws { try await inner.run() }

    func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        let inner = self.inner
        let delay = delayMilliseconds
        Task {
            try? await Task.sleep(for: .milliseconds(delay))
            inner.create(event, completion: completion)
        }
    }

    func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? { try await inner.get(id: id) }
    func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage { try await inner.list(query) }
    func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent {
        try await inner.replace(event, expectedVersion: expectedVersion)
    }
    func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 {
        try await inner.delete(id: id, expectedVersion: expectedVersion)
    }
    var changeFeed: ChangeFeed { inner.changeFeed }
    func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change] {
        try await inner.changes(after: cursor, limit: limit)
    }
    func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds { try await inner.changeLogBounds() }
}
