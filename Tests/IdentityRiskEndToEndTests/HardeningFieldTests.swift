import Foundation
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskServer
import IdentityRiskStore
import IdentityRiskTestSupport
import IdentityRiskWire
import NIOCore
import Testing

/// Well-formed protobuf carrying values the server must refuse, field by field.
/// Each answer names the field; the connection stays usable; nothing is stored.
@Suite("Hardening: bad field values and envelope misuse")
struct HardeningFieldTests {
    /// Sends one payload on a fresh raw connection; returns the error answered for call 42,
    /// after checking the same connection still serves a health call.
    func attack(_ payload: [UInt8], store: MemoryEventStore) async throws -> IdentityRiskError? {
        try await withTestServer(store: store) { server in
            let raw = try await openRaw(server)
            raw.send(Proto.frame(payload))
            let response = try await raw.readResponse()
            #expect(response?.callID == 42)
            let error = failure(response)
            raw.send(RawRequest.health(callID: 43))
            #expect(try await raw.readResponse()?.callID == 43, "the connection stays usable")
            try await expectStillServing(server, store: store, expectedCount: 0)
            return error
        }
    }

    static let enumCases: [(String, [UInt8], String)] = [
        ("riskLevel 99", Proto.tag(6, 0) + Proto.varint(99), "riskLevel"),
        ("riskLevel -1 (10-byte varint)", Proto.tag(6, 0) + Proto.varint(UInt64.max), "riskLevel"),
        ("riskEventStatus 9", Proto.tag(7, 0) + Proto.varint(9), "riskEventStatus"),
        ("riskEventStatus 2^31", Proto.tag(7, 0) + Proto.varint(1 << 31), "riskEventStatus"),
    ]

    @Test("out-of-range enum numbers in a create: INVALID_ARGUMENT naming the field and the allowed members", arguments: 0..<enumCases.count)
    func enums(index: Int) async throws {
        let (name, extra, field) = Self.enumCases[index]
        let error = try await attack(Proto.create(callID: 42, event: Proto.event(extra: extra)), store: MemoryEventStore())
        #expect(error?.code == .invalidArgument, "\(name)")
        let violation = error?.violations.first { $0.field == field }
        #expect(violation?.description.contains("allowed: 1 (") == true, "\(name): \(String(describing: error))")
    }

    @Test("an out-of-range orderBy in a list: INVALID_ARGUMENT naming orderBy")
    func orderBy() async throws {
        let list = Proto.tag(2, 0) + Proto.varint(7)
        let error = try await attack(Proto.tag(1, 0) + Proto.varint(42) + Proto.bytes(18, list), store: MemoryEventStore())
        #expect(error?.code == .invalidArgument)
        #expect(error?.violations.map(\.field) == ["orderBy"])
    }

    static let badUTF8: [(String, [UInt8])] = [
        ("lone continuation byte", [0x61, 0x80, 0x62]),
        ("overlong encoding of '/'", [0xC0, 0xAF]),
        ("UTF-16 surrogate", [0xED, 0xA0, 0x80]),
        ("cut-off sequence", [0x61, 0xE2, 0x82]),
        ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
    ]

    @Test("invalid UTF-8 in a string field: INVALID_ARGUMENT naming the field", arguments: 0..<badUTF8.count)
    func utf8(index: Int) async throws {
        let (name, bytes) = Self.badUTF8[index]
        let create = try await attack(Proto.create(callID: 42, event: Proto.event(extra: Proto.bytes(3, bytes))), store: MemoryEventStore())
        #expect(create?.code == .invalidArgument, "\(name)")
        #expect(create?.violations.contains { $0.field == "userPrincipalName" && $0.description.contains("UTF-8") } == true, "\(name): \(String(describing: create))")
        let get = try await attack(Proto.tag(1, 0) + Proto.varint(42) + Proto.bytes(17, Proto.bytes(1, bytes)), store: MemoryEventStore())
        #expect(get?.code == .invalidArgument)
        #expect(get?.violations.map(\.field) == ["id"], "\(name)")
        let list = try await attack(Proto.tag(1, 0) + Proto.varint(42) + Proto.bytes(18, Proto.bytes(1, bytes)), store: MemoryEventStore())
        #expect(list?.code == .invalidArgument)
        #expect(list?.violations.map(\.field) == ["filter"], "\(name)")
    }

    @Test("a NUL byte inside a string: INVALID_ARGUMENT naming the field (protobuf-c would have cut the string there)")
    func nul() async throws {
        let create = try await attack(Proto.create(callID: 42, event: Proto.event(extra: Proto.bytes(10, Array("user\0admin".utf8)))), store: MemoryEventStore())
        #expect(create?.code == .invalidArgument)
        #expect(create?.violations.contains { $0.field == "userId" && $0.description.contains("NUL") } == true, "\(String(describing: create))")
        let get = try await attack(Proto.tag(1, 0) + Proto.varint(42) + Proto.bytes(17, Proto.bytes(1, [0x61, 0x00])), store: MemoryEventStore())
        #expect(get?.violations.map(\.field) == ["id"])
    }

    static let hugeStrings: [(field: UInt64, name: String, bytes: Int, limit: Int)] = [
        (1, "id", 129, 128), (2, "userDisplayName", 257, 256), (3, "userPrincipalName", 257, 256),
        (5, "riskEventType", 129, 128), (10, "userId", 129, 128), (3, "userPrincipalName", 60_000, 256),
    ]

    @Test("strings over the Core limits: INVALID_ARGUMENT naming the field and its limit", arguments: 0..<hugeStrings.count)
    func hugeString(index: Int) async throws {
        let (field, name, length, limit) = Self.hugeStrings[index]
        let value = Array(repeating: UInt8(ascii: "a"), count: length)
        let error = try await attack(Proto.create(callID: 42, event: Proto.event(extra: Proto.bytes(field, value))), store: MemoryEventStore())
        #expect(error?.code == .invalidArgument)
        let violation = error?.violations.first { $0.field == name }
        #expect(violation != nil, "\(name): \(String(describing: error))")
        #expect(violation?.description.contains(String(limit)) == true, "\(name): \(String(describing: violation))")
    }

    @Test("unknown methods (new oneof members) get UNIMPLEMENTED; the connection stays usable", arguments: [UInt64(24), 63, 65, 127, 536_870_911])
    func unknownMethod(field: UInt64) async throws {
        let error = try await attack(Proto.tag(1, 0) + Proto.varint(42) + Proto.bytes(field, []), store: MemoryEventStore())
        #expect(error?.code == .unimplemented)
    }

    @Test("a call id already in flight: INVALID_ARGUMENT target call_id; the first call still completes once")
    func duplicateCallID() async throws {
        let gated = GatedStore()
        try await withTestServer(store: gated) { server in
            let raw = try await openRaw(server)
            raw.send(RawRequest.create(callID: 7, seedDraft(id: "first")))
            try await gated.waitUntilEntered(1)
            raw.send(RawRequest.create(callID: 7, seedDraft(id: "second")))
            let duplicate = try await raw.readResponse()
            #expect(duplicate?.callID == 7)
            let error = failure(duplicate)
            #expect(error?.code == .invalidArgument)
            #expect(error?.target == "call_id")
            #expect(error?.innerCode == "DuplicateCallID", "so a client can tell it from the first call's own answer")
            gated.release()
            let first = try await raw.readResponse()
            #expect(first?.callID == 7)
            if let outcome = first?.created { #expect(outcome.event.id == "first") } else { Issue.record("first call: \(String(describing: first))") }
            raw.send(RawRequest.health(callID: 7))
            #expect(try await raw.readResponse()?.callID == 7, "once answered, the id may be reused")
            #expect(gated.inner.count == 1, "only the first create was stored")
        }
    }
    @Test("more calls in flight than maxCallsInFlightPerConnection: the extra call gets RESOURCE_EXHAUSTED with its call id; the others complete; the connection stays usable")
    func tooManyCallsInFlight() async throws {
        let gated = GatedStore()
        try await withTestServer(store: gated, configure: { $0.maxCallsInFlightPerConnection = 3 }) { server in
            let raw = try await openRaw(server)
            for id in UInt64(1)...3 {
                raw.send(RawRequest.create(callID: id, seedDraft(id: "held-\(id)")))
            }
            try await gated.waitUntilEntered(3)
            raw.send(RawRequest.create(callID: 4, seedDraft(id: "one-too-many")))
            let refused = try await raw.readResponse()
            #expect(refused?.callID == 4)
            let error = failure(refused)
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.contains("more than 3 calls in flight") == true, "\(String(describing: error?.message))")
            #expect(error?.retryAfterMilliseconds != nil)
            gated.release()
            var answered: Set<UInt64> = []
            for _ in 0..<3 {
                let response = try #require(try await raw.readResponse())
                if response.created != nil { answered.insert(response.callID) } else { Issue.record("\(response)") }
            }
            #expect(answered == [1, 2, 3])
            raw.send(RawRequest.create(callID: 4, seedDraft(id: "now-fits")))
            if let outcome = try await raw.readResponse()?.created { #expect(outcome.event.id == "now-fits") } else { Issue.record("the retried call must be served") }
            #expect(gated.inner.count == 4, "the refused create was not stored; the others and the retry were")
        }
    }
}
