import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

/// A server-streaming method that exists only in these tests: the service
/// layer carries streams through the same router, context and writer as
/// unary calls.
enum Ticks: RPCMethod {
    typealias Request = Int
    typealias Response = Int
    static let descriptor = MethodDescriptor(number: 100, name: "ticks", shape: .serverStreaming, permission: .read)
}

@Suite("The service layer: descriptors, router, writers")
struct RPCRouterTests {
    static func service(store: any EventStore = MemoryEventStore()) -> IdentityRiskService {
        IdentityRiskService(
            store: store,
            health: { HealthStatus(serving: .serving, serverVersion: "t", protocolVersion: 1, store: "memory", uptimeMilliseconds: 0, openConnections: 0) })
    }

    static func context(_ method: MethodDescriptor, deadline: ContinuousClock.Instant? = nil) -> CallContext {
        CallContext(method: method, peer: PeerIdentity(pid: 1, uid: 1000, gid: 1000), deadline: deadline)
    }

    @Test("the table: every method has a handler, numbers and names are unique, numbers fit their shape, permissions follow the seed's table")
    func table() {
        let router = Self.service().router
        #expect(router.missingMethods.isEmpty)
        #expect(router.registeredNumbers == Set(IdentityRiskMethods.descriptors.map(\.number)))
        let descriptors = IdentityRiskMethods.descriptors
        #expect(Set(descriptors.map(\.number)).count == descriptors.count)
        #expect(Set(descriptors.map(\.name)).count == descriptors.count)
        for d in descriptors {
            let range = d.shape == .unary ? MethodDescriptor.unaryNumbers : MethodDescriptor.streamingNumbers
            #expect(range.contains(d.number), "\(d)")
        }
        let writes = Set(descriptors.filter { $0.permission == .readWrite }.map(\.name))
        #expect(writes == ["create", "update", "delete"])
        #expect(Set(descriptors.filter { $0.permission == .read }.map(\.name)) == ["get", "list", "health", "stats", "watch"])
        #expect(Permission.readWrite.allows(.read) && Permission.readWrite.allows(.readWrite))
        #expect(Permission.read.allows(.read) && !Permission.read.allows(.readWrite))
    }

    @Test("a router without a handler for a method says which one is missing")
    func missing() {
        var router = RPCRouter()
        router.register(IdentityRiskMethods.Health.self) { _, _, writer in writer.respond(.failure(IdentityRiskError(code: .internal, message: "x"))) }
        #expect(Set(router.missingMethods.map(\.name)) == ["create", "get", "list", "update", "delete", "stats", "watch"])
        #expect(router.handler(for: IdentityRiskMethods.Create.self) == nil)
        #expect(router.handler(for: IdentityRiskMethods.Health.self) != nil)
    }

    @Test("a unary create answers exactly once, inline on the memory store (no task)")
    func unaryInline() throws {
        let handler = try #require(Self.service().router.handler(for: IdentityRiskMethods.Create.self))
        let sink = RecordingSink<CreateOutcome>()
        handler.start(seedDraft(id: "inline"), context: Self.context(IdentityRiskMethods.Create.descriptor), sink: sink)
        // No await in between: the memory store answered on this thread.
        let finishes = sink.finishes
        #expect(finishes.count == 1)
        guard case .success(let outcome?)? = finishes.first else { Issue.record("\(finishes)"); return }
        #expect(outcome.event.id == "inline" && outcome.event.version == 1)
        #expect(sink.messages.isEmpty, "a unary call writes no stream messages")
    }

    @Test("a call whose deadline passed, or that was cancelled before it started, is answered without running")
    func notStarted() async throws {
        let store = MemoryEventStore()
        let handler = try #require(Self.service(store: store).router.handler(for: IdentityRiskMethods.Create.self))
        let late = RecordingSink<CreateOutcome>()
        handler.start(seedDraft(id: "late"), context: Self.context(IdentityRiskMethods.Create.descriptor, deadline: .now - .milliseconds(1)), sink: late)
        guard case .failure(let error)? = late.finishes.first else { Issue.record("\(late.finishes)"); return }
        #expect(error.code == .deadlineExceeded)
        let cancelled = RecordingSink<CreateOutcome>()
        cancelled.cancel()
        handler.start(seedDraft(id: "cancelled"), context: Self.context(IdentityRiskMethods.Create.descriptor), sink: cancelled)
        guard case .failure(let error2)? = cancelled.finishes.first else { Issue.record("\(cancelled.finishes)"); return }
        #expect(error2.code == .cancelled)
        #expect(try await store.get(id: "late") == nil)
        #expect(try await store.get(id: "cancelled") == nil)
    }

    @Test("an async unary handler runs in a task that the call's cancellation cancels")
    func unaryCancellation() async throws {
        var router = RPCRouter()
        router.registerUnary(IdentityRiskMethods.Get.self) { _, _ throws(IdentityRiskError) in
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                throw IdentityRiskError(code: .cancelled, message: "stopped")
            }
            throw IdentityRiskError(code: .internal, message: "not cancelled")
        }
        let handler = try #require(router.handler(for: IdentityRiskMethods.Get.self))
        let sink = RecordingSink<IdentityRiskEvent>()
        let started = ContinuousClock.now
        handler.start("x", context: Self.context(IdentityRiskMethods.Get.descriptor), sink: sink)
        try await Task.sleep(for: .milliseconds(20))
        sink.cancel()
        guard case .failure(let error)? = await sink.waitUntilFinished() else { Issue.record("not answered"); return }
        #expect(error.code == .cancelled)
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(sink.finishes.count == 1, "answered exactly once")
    }

    @Test("a server-streaming handler writes many messages then one final status, through the same router")
    func streaming() async throws {
        var router = RPCRouter()
        router.register(Ticks.self) { count, _, writer in
            for i in 0..<count where writer.write(i) {}
            writer.finish()
        }
        let handler = try #require(router.handler(for: Ticks.self))
        let sink = RecordingSink<Int>()
        handler.start(5, context: Self.context(Ticks.descriptor), sink: sink)
        #expect(sink.messages == [0, 1, 2, 3, 4])
        guard case .success(nil)? = sink.finishes.first else { Issue.record("\(sink.finishes)"); return }
        #expect(sink.finishes.count == 1)
    }

    @Test("a stream stops producing when its writer reports the call over (bounded buffer), and ends with the error it is given")
    func streamingBackpressure() throws {
        var router = RPCRouter()
        router.register(Ticks.self) { count, _, writer in
            var written = 0
            for i in 0..<count {
                guard writer.write(i) else { break }
                written += 1
            }
            if written < count {
                writer.finish(error: IdentityRiskError(code: .resourceExhausted, message: "stopped after \(written)"))
            } else {
                writer.finish()
            }
        }
        let handler = try #require(router.handler(for: Ticks.self))
        let sink = RecordingSink<Int>(capacity: 3)
        handler.start(1000, context: Self.context(Ticks.descriptor), sink: sink)
        #expect(sink.messages == [0, 1, 2])
        guard case .failure(let error)? = sink.finishes.first else { Issue.record("\(sink.finishes)"); return }
        #expect(error.code == .resourceExhausted)
        #expect(error.message == "stopped after 3")
    }

    @Test("a stream's handler hears about cancellation and ends the call")
    func streamingCancellation() async throws {
        var router = RPCRouter()
        router.register(Ticks.self) { _, _, writer in
            writer.onCancel { writer.finish(error: IdentityRiskError(code: .cancelled, message: "cancelled by the client")) }
        }
        let handler = try #require(router.handler(for: Ticks.self))
        let sink = RecordingSink<Int>()
        handler.start(1, context: Self.context(Ticks.descriptor), sink: sink)
        #expect(sink.finishes.isEmpty, "an idle stream stays open")
        sink.cancel()
        guard case .failure(let error)? = await sink.waitUntilFinished() else { Issue.record("not ended"); return }
        #expect(error.code == .cancelled)
        #expect(!sink.write(1), "writes after the end are refused")
    }
}
