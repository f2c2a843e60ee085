import Foundation
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskServer
import IdentityRiskStore
import IdentityRiskTestSupport
import IdentityRiskWire
import NIOCore
import Testing

/// protobuf-c unpacks within a per-request memory budget (16× the frame, at
/// least 64 KiB, by default): frames that would multiply into many allocations
/// are refused with RESOURCE_EXHAUSTED instead of costing the server memory.
@Suite("Hardening: protobuf-c memory budget")
struct HardeningDecodeBudgetTests {
    /// `count` unknown varint fields (field 15: a 1-byte tag, 2 bytes each).
    static func unknownFields(_ count: Int) -> [UInt8] {
        Array([[UInt8]](repeating: Proto.tag(15, 0) + [0x00], count: count).joined())
    }

    /// Request{call_id 42, health {}} followed by `extra`.
    static func health(extra: [UInt8]) -> [UInt8] {
        Proto.tag(1, 0) + Proto.varint(42) + Proto.bytes(19, []) + extra
    }

    func send(_ payload: [UInt8], configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in }) async throws -> RawResponse? {
        let store = MemoryEventStore()
        return try await withTestServer(store: store, configure: configure) { server in
            let raw = try await openRaw(server)
            raw.send(Proto.frame(payload))
            let response = try await raw.readResponse()
            raw.send(RawRequest.health(callID: 43))
            #expect(try await raw.readResponse()?.callID == 43, "the connection stays usable")
            try await expectStillServing(server, store: store, expectedCount: 0)
            return response
        }
    }

    static let floods: [(String, [UInt8])] = [
        ("32,000 unknown fields at the top level", health(extra: unknownFields(32_000))),
        ("21,000 unknown fields inside the create's event",
         Proto.create(callID: 42, event: Proto.event(extra: unknownFields(21_000)))),
        ("21,000 re-sent occurrences of GetRequest.id (each a string copy)",
         Proto.tag(1, 0) + Proto.varint(42) + Proto.bytes(17, Array([[UInt8]](repeating: Proto.bytes(1, [0x61]), count: 21_000).joined()))),
        ("32,000 empty unknown length-delimited fields",
         health(extra: Array([[UInt8]](repeating: Proto.bytes(14, []), count: 32_000).joined()))),
    ]

    @Test("a frame that would unpack into too many allocations gets RESOURCE_EXHAUSTED DecodeBudgetExceeded with its call id",
          arguments: 0..<floods.count)
    func flood(index: Int) async throws {
        let (name, payload) = Self.floods[index]
        #expect(payload.count <= 64 * 1024, "\(name) fits in one frame")
        let response = try await send(payload)
        #expect(response?.callID == 42, "\(name)")
        let error = failure(response)
        #expect(error?.code == .resourceExhausted, "\(name): \(String(describing: error))")
        #expect(error?.innerCode == "DecodeBudgetExceeded", "\(name)")
        #expect(error?.message.contains("memory budget of \(max(65536, payload.count * 16)) bytes") == true, "\(name): \(String(describing: error?.message))")
    }

    @Test("the budget is configurable: with decodeMemoryFactor 128 the same unknown fields are unpacked and ignored")
    func configurable() async throws {
        let response = try await send(Self.health(extra: Self.unknownFields(32_000))) { $0.decodeMemoryFactor = 128 }
        #expect(response?.callID == 42)
        if response?.isHealth == true {} else { Issue.record("expected health, got \(String(describing: response))") }
    }

    @Test("a few unknown fields (a newer client's) stay well within the budget and are ignored")
    func forwardCompatible() async throws {
        let response = try await send(Self.health(extra: Self.unknownFields(100) + Proto.bytes(14, Array(repeating: 7, count: 5000))))
        if response?.isHealth == true {} else { Issue.record("expected health, got \(String(describing: response))") }
    }

    @Test("RequestCodec.decode(_:limits:) applies the budget it is given, and the seed create needs under 1 KiB")
    func codecLevel() {
        let seed = ByteBuffer(bytes: RawRequest.create(callID: 5, seedDraft()).payload)
        let small = RequestDecodingLimits(allocationFactor: 1, minimumAllocationBytes: 1024)
        let decodesWithin = { (limits: RequestDecodingLimits) in
            RequestCodec.decode(seed, limits: limits) { inbound -> (callID: UInt64, error: IdentityRiskError?) in
                switch inbound.kind {
                case .call: (inbound.callID, nil)
                case .malformed(let error): (inbound.callID, error)
                case .cancel, .noMethod: (inbound.callID, IdentityRiskError(code: .internal, message: "not a create"))
                }
            }
        }
        guard decodesWithin(small).error == nil else {
            Issue.record("the seed create must decode within 1 KiB")
            return
        }
        let tiny = RequestDecodingLimits(allocationFactor: 1, minimumAllocationBytes: 64)
        guard let error = decodesWithin(tiny).error else {
            Issue.record("64 bytes cannot hold the unpacked create")
            return
        }
        #expect(error.code == .resourceExhausted)
        #expect(decodesWithin(tiny).callID == 5, "the call id is still recovered")
    }
}
