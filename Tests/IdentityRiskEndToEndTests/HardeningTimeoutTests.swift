#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskServer
import IdentityRiskStore
import IdentityRiskTestSupport
import IdentityRiskWire
import Testing

/// Slow and silent clients: the handshake timeout, the per-frame read
/// deadline and the idle timeout, shortened so that each test takes < 2 s.
@Suite("Hardening: slow and silent clients")
struct HardeningTimeoutTests {
    /// The shortened timeouts (500 ms, stretched under sanitizers): short enough
    /// for quick tests, long enough for a 2-core machine running the whole suite.
    static let timeout = scaled(500)

    /// One timeout shortened at a time, so that a loaded machine cannot make
    /// another one fire first.
    static let shortHandshake: @Sendable (inout ServerConfiguration) -> Void = { $0.handshakeTimeoutMilliseconds = timeout }
    static let shortFrameRead: @Sendable (inout ServerConfiguration) -> Void = { $0.frameReadTimeoutMilliseconds = timeout }
    static let shortIdle: @Sendable (inout ServerConfiguration) -> Void = { $0.idleTimeoutMilliseconds = timeout }

    /// Whether `elapsed` is what a timeout of ``timeout`` allows: not before it, not much after.
    static func afterTimeout(_ elapsed: Duration) -> Bool {
        elapsed >= .milliseconds(timeout * 8 / 10) && elapsed < .milliseconds(timeout) + scaledDuration(2000)
    }

    @Test("no preface, or half of one, within the handshake timeout: closed without a byte sent",
          arguments: [[UInt8](), Array("IRS".utf8), WireProtocol.magic + [0x00]])
    func handshakeTimeout(sent: [UInt8]) async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store, configure: Self.shortHandshake) { server in
            let started = ContinuousClock.now  // the server's clock starts at accept
            let raw = try RawConnection(path: server.socketPath, receiveTimeoutMilliseconds: Int(scaled(3000)))
            raw.send(sent)
            #expect(try await raw.readToEOF() == [])
            let elapsed = ContinuousClock.now - started
            #expect(Self.afterTimeout(elapsed), "closed after the handshake timeout: \(elapsed)")
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    /// The bytes a dribbling client manages to send before the deadline.
    static let partialFrames: [(String, [UInt8])] = [
        ("2 of the 4 length bytes", [0x00, 0x00]),
        ("the length and 10 of its payload bytes", Array(Proto.frame(RawRequest.create(callID: 3, seedDraft()).payload)).prefix(14).map { $0 }),
    ]

    @Test("a frame that starts but does not finish within the frame read deadline: final DEADLINE_EXCEEDED frame, close, nothing processed",
          arguments: 0..<partialFrames.count)
    func frameReadDeadline(index: Int) async throws {
        let (name, bytes) = Self.partialFrames[index]
        let store = MemoryEventStore()
        try await withTestServer(store: store, configure: Self.shortFrameRead) { server in
            let raw = try await openRaw(server)
            let started = ContinuousClock.now
            raw.send(bytes)
            let response = try await raw.readResponse()
            let elapsed = ContinuousClock.now - started
            #expect(response?.callID == 0, "\(name)")
            let error = failure(response)
            #expect(error?.code == .deadlineExceeded, "\(name)")
            #expect(error?.innerCode == "FrameReadTimeout", "\(name)")
            #expect(error?.message.contains("not complete within \(Self.timeout) ms (\(bytes.count)") == true, "\(name): \(String(describing: error?.message))")
            #expect(Self.afterTimeout(elapsed), "\(name): \(elapsed)")
            #expect(try await raw.readToEOF() == [], "then closed")
            #expect(server.server.statistics.frameReadTimeouts == 1)
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("a client dribbling one byte every 100 ms is cut off at the frame read deadline; the frame is not processed")
    func dribble() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store, configure: Self.shortFrameRead) { server in
            let raw = try await openRaw(server)
            let frame = Proto.frame(RawRequest.create(callID: 3, seedDraft()).payload)
            async let dribbled: Int = blocking {
                var sent = 0
                for byte in frame {
                    guard send(raw.fd, [byte], 1, Int32(MSG_NOSIGNAL)) == 1 else { break }
                    sent += 1
                    usleep(UInt32(scaled(100) * 1000))
                }
                return sent
            }
            let response = try await raw.readResponse()
            #expect(response?.callID == 0)
            #expect(failure(response)?.innerCode == "FrameReadTimeout")
            #expect(try await raw.readToEOF() == [])
            let sent = try await dribbled
            #expect(sent < frame.count, "the server hung up before the frame was complete")
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("a frame arriving in pieces within the deadline is served normally")
    func piecesWithinDeadline() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store, configure: { $0.frameReadTimeoutMilliseconds = scaled(3000) }) { server in
            let raw = try await openRaw(server)
            let frame = Proto.frame(RawRequest.create(callID: 3, seedDraft(id: "slow-but-ok")).payload)
            for piece in stride(from: 0, to: frame.count, by: frame.count / 4 + 1) {
                raw.send(Array(frame[piece..<min(piece + frame.count / 4 + 1, frame.count)]))
                try await Task.sleep(for: scaledDuration(100))
            }
            let response = try await raw.readResponse()
            #expect(response?.callID == 3)
            if let outcome = response?.created { #expect(outcome.event.id == "slow-but-ok") } else { Issue.record("\(String(describing: response))") }
            #expect(store.count == 1)
        }
    }

    @Test("a connection with no call in flight and nothing received for the idle timeout is closed, without a frame")
    func idle() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store, configure: Self.shortIdle) { server in
            // The call goes out with the preface, so that the connection is busy
            // from the start however late this task runs on a loaded machine.
            let started = ContinuousClock.now
            let raw = try RawConnection(path: server.socketPath, receiveTimeoutMilliseconds: Int(scaled(3000)))
            raw.sendPreface()
            raw.send(RawRequest.health(callID: 1))
            #expect(try await raw.expectServerPreface())
            #expect(try await raw.readResponse()?.callID == 1)
            #expect(try await raw.readToEOF() == [], "a clean end of stream, no final frame")
            let elapsed = ContinuousClock.now - started
            #expect(Self.afterTimeout(elapsed), "\(elapsed)")
            #expect(server.server.statistics.idleTimeouts == 1)
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("a call in flight longer than the idle timeout keeps its connection open until it is answered")
    func notIdleWhileCallsInFlight() async throws {
        let gated = GatedStore()
        try await withTestServer(store: gated, configure: Self.shortIdle) { server in
            // The create goes out with the preface, so that it is in flight from the
            // start however late this task runs on a loaded machine.
            let raw = try RawConnection(path: server.socketPath, receiveTimeoutMilliseconds: Int(scaled(3000)))
            raw.sendPreface()
            raw.send(RawRequest.create(callID: 1, seedDraft(id: "long-call")))
            #expect(try await raw.expectServerPreface())
            try await gated.waitUntilEntered(1)
            try await Task.sleep(for: .milliseconds(Self.timeout * 2))
            #expect(server.server.statistics.idleTimeouts == 0)
            gated.release()
            let response = try await raw.readResponse()
            if response?.created != nil {} else { Issue.record("the call must be answered: \(String(describing: response))") }
            #expect(try await raw.readToEOF() == [], "idle once the call is answered")
            #expect(server.server.statistics.idleTimeouts == 1)
        }
    }
}
