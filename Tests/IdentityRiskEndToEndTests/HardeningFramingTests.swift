#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import IdentityRiskWire
import NIOCore
import Testing

/// Attacks on the framing and the protobuf wire format, over the real socket.
/// Each checks the status received, that the same connection (where it should
/// survive) and another client are still served, and that nothing was stored.
@Suite("Hardening: framing and protobuf wire-format attacks")
struct HardeningFramingTests {
    @Test("a frame cut off by EOF (in the length prefix or the payload) is not processed; a final error frame, then close",
          arguments: [1, 3, 4, 20, 60])
    func truncatedFrame(cutAfter: Int) async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try await openRaw(server)
            let frame = Proto.frame(RawRequest.create(callID: 9, seedDraft()).payload)
            raw.send(Array(frame.prefix(cutAfter)))
            shutdown(raw.fd, Int32(SHUT_WR))
            let response = try await raw.readResponse()
            let error = failure(response)
            #expect(response?.callID == 0)
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("in the middle of a frame (\(cutAfter) bytes buffered)") == true, "\(String(describing: error))")
            #expect(try await raw.readToEOF() == [], "then the connection is closed")
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("length prefix 0 is an empty Request: call_id 0 is refused by name; the connection stays usable")
    func zeroLength() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try await openRaw(server)
            raw.send([0, 0, 0, 0])
            let response = try await raw.readResponse()
            let error = failure(response)
            #expect(response?.callID == 0)
            #expect(error?.code == .invalidArgument)
            #expect(error?.target == "call_id")
            raw.send(RawRequest.health(callID: 2))
            #expect(try await raw.readResponse()?.callID == 2, "same connection still served")
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("length prefix 2^32-1 is refused from the prefix alone: RESOURCE_EXHAUSTED, call_id 0, close")
    func maxLength() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try await openRaw(server)
            raw.send([0xFF, 0xFF, 0xFF, 0xFF])
            let response = try await raw.readResponse()
            let error = failure(response)
            #expect(response?.callID == 0)
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.contains("frame length 4294967295 exceeds the maximum of 65536 bytes") == true)
            #expect(try await raw.readToEOF() == [])
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("garbage after the preface: each frame gets INVALID_ARGUMENT MalformedMessage; the connection stays usable")
    func garbageFrames() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try await openRaw(server)
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<20 {
                // 0xFF first: field 31 with wire type 7, which no message can have.
                let payload = [UInt8(0xFF)] + (0..<Int.random(in: 1...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                raw.send(Proto.frame(payload))
                let error = failure(try await raw.readResponse())
                #expect(error?.code == .invalidArgument)
                #expect(error?.innerCode == "MalformedMessage")
            }
            raw.send(RawRequest.health(callID: 77))
            #expect(try await raw.readResponse()?.callID == 77)
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    /// Each payload starts with call_id 42, then breaks the wire format.
    static let malformations: [(String, [UInt8])] = [
        ("varint longer than 10 bytes", [0x08, 42, 0x10] + Array(repeating: 0xFF, count: 10) + [0x01]),
        ("varint cut off by the end of the frame", [0x08, 42, 0x10, 0xFF]),
        ("length-delimited field running past the end", [0x08, 42, 0x8A, 0x01, 0x10, 0x0A]),
        ("length past the end inside the nested event", [0x08, 42, 0x82, 0x01, 0x03, 0x0A, 0x05, 0x0A]),
        ("known varint field (timeout_ms) sent as fixed32", [0x08, 42, 0x15, 0, 0, 0, 0]),
        ("known varint field (call_id) sent length-delimited", [0x08, 42, 0x0A, 0x01, 0x00]),
        ("known message field (create) sent as a varint", [0x08, 42, 0x80, 0x01, 0x05]),
        ("group start/end (wire types 3, 4) on an unknown field", [0x08, 42, 0x1B, 0x1C]),
        ("group wire type on a known message field", [0x08, 42, 0x83, 0x01, 0x84, 0x01]),
        ("field number 0", [0x08, 42, 0x00, 0x00]),
        ("wire type 6", [0x08, 42, 0x1E]),
    ]

    @Test("protobuf wire-level malformations get INVALID_ARGUMENT MalformedMessage with the call id; the connection stays usable",
          arguments: 0..<malformations.count)
    func wireFormat(index: Int) async throws {
        let (name, payload) = Self.malformations[index]
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try await openRaw(server)
            raw.send(Proto.frame(payload))
            let response = try await raw.readResponse()
            let error = failure(response)
            #expect(response?.callID == 42, "\(name)")
            #expect(error?.code == .invalidArgument, "\(name)")
            #expect(error?.innerCode == "MalformedMessage", "\(name)")
            raw.send(RawRequest.health(callID: 43))
            let next = try await raw.readResponse()
            #expect(next?.callID == 43, "\(name): the same connection still serves")
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }
}
