import Foundation
import IdentityRiskTestSupport
import NIOCore
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskWire
import Testing

@Suite("Bad input on one connection does not disturb the server")
struct HostileInputTests {
    /// After each attack: another client still creates and reads, and the attack stored nothing.
    func expectStillServing(_ server: TestServer, store: MemoryEventStore, expectedCount: Int) async throws {
        try await withIdentityRiskClient(socketPath: server.socketPath) { client in
            let created = try await client.create(seedDraft())
            #expect(try await client.get(id: created.event.id) == created.event)
        }
        #expect(store.count == expectedCount + 1)
    }

    @Test("garbage bytes instead of a preface: the connection is closed")
    func garbage() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try RawConnection(path: server.socketPath)
            raw.send(Array("\u{00}\u{01}garbage garbage garbage".utf8))
            #expect(try await raw.readToEOF() == [])
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("an HTTP request gets an HTTP 400 that explains the protocol, then a close")
    func http() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try RawConnection(path: server.socketPath)
            raw.send(Array("GET /identityRiskEvents HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
            let reply = String(decoding: try #require(try await raw.readToEOF()), as: UTF8.self)
            #expect(reply.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
            #expect(reply.contains("PROTOCOL.md"))
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("a future protocol version gets the server's preface (version 1) and a close")
    func futureVersion() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try RawConnection(path: server.socketPath)
            raw.send(WireProtocol.magic + [0x00, 0x02, 0x00, 0x00])
            let reply = try #require(try await raw.readToEOF())
            #expect(reply.count == 8)
            #expect(WireProtocol.parsePreface(reply) == 1)
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("a truncated frame followed by EOF: nothing stored, server fine")
    func truncatedFrame() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            var frame = ByteBuffer()
            frame.writeBytes(RawRequest.create(callID: 1, seedDraft()).frame)
            let bytes = Array(frame.readableBytesView)
            let raw = try RawConnection(path: server.socketPath)
            raw.sendPreface()
            #expect(try await raw.expectServerPreface())
            raw.send(Array(bytes.prefix(bytes.count - 5)))
            shutdown(raw.fd, Int32(SHUT_WR))
            let rest = try #require(try await raw.readToEOF(), "the server must close the connection")
            // Either nothing, or one connection-level error frame (call id 0).
            if !rest.isEmpty {
                let response = try RawResponse(payload: ByteBuffer(bytes: rest.dropFirst(4)))
                #expect(response.callID == 0)
            }
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("an oversized length prefix is refused at once with a final error frame", arguments: [UInt32(64 * 1024 + 1), UInt32.max])
    func oversizedLength(length: UInt32) async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try RawConnection(path: server.socketPath)
            raw.sendPreface()
            #expect(try await raw.expectServerPreface())
            raw.send([UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)])
            let response = try #require(try await raw.readResponse(), "expected an error frame before the close")
            #expect(response.callID == 0)
            guard let error = response.failure else {
                Issue.record("expected a failure")
                return
            }
            #expect(error.code == .resourceExhausted)
            #expect(error.message.contains("exceeds the maximum"))
            #expect(try await raw.readToEOF() != nil, "then the connection is closed")
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("a frame that is not a protobuf Request gets invalidArgument with its call id; the connection stays usable")
    func malformedProtobuf() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let raw = try RawConnection(path: server.socketPath)
            raw.sendPreface()
            #expect(try await raw.expectServerPreface())
            // field 1 (call_id) = 42, then a field with wire type 7 (invalid).
            let payload: [UInt8] = [0x08, 42, 0x0F, 0xFF, 0xFF]
            raw.send([0, 0, 0, UInt8(payload.count)] + payload)
            let response = try #require(try await raw.readResponse())
            #expect(response.callID == 42)
            guard let error = response.failure else {
                Issue.record("expected a failure")
                return
            }
            #expect(error.code == .invalidArgument)
            raw.send(RawRequest.health(callID: 43))
            let health = try #require(try await raw.readResponse())
            #expect(health.callID == 43)
            if health.isHealth {} else { Issue.record("expected health, got \(health)") }
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("call id 0, a reused call id and an unknown method each get their own error")
    func envelopeErrors() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store, configure: { _ in }) { server in
            let raw = try RawConnection(path: server.socketPath)
            raw.sendPreface()
            #expect(try await raw.expectServerPreface())
            raw.send(RawRequest.health(callID: 0))
            let zero = try #require(try await raw.readResponse())
            if let e = zero.failure { #expect(e.code == .invalidArgument && e.target == "call_id") } else { Issue.record("call id 0 accepted") }
            raw.send(RawRequest.withoutMethod(callID: 5))
            let unknown = try #require(try await raw.readResponse())
            #expect(unknown.callID == 5)
            if let e = unknown.failure { #expect(e.code == .unimplemented) } else { Issue.record("unknown method accepted") }
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }
}
