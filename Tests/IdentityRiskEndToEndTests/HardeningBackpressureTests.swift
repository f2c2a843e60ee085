#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskServer
import IdentityRiskStore
import IdentityRiskTestSupport
import IdentityRiskWire
import NIOCore
import Testing

/// A client that pipelines requests and never reads its responses.
@Suite("Hardening: a client that never reads")
struct HardeningBackpressureTests {
    /// `count` create frames (ids assigned by the server), as one byte string.
    static func creates(_ count: Int) -> [UInt8] {
        var buffer = ByteBuffer()
        for i in 1...count {
            buffer.writeBytes(RawRequest.create(callID: UInt64(i), seedDraft(userId: "flood-\(i)")).frame)
        }
        return Array(buffer.readableBytesView)
    }

    /// Sends `bytes` until they are all sent or a send blocks for 300 ms; returns how many were sent.
    static func sendUntilBlocked(_ raw: RawConnection, _ bytes: [UInt8]) async throws -> Int {
        var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(raw.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return try await blocking {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(raw.fd, $0.baseAddress, min($0.count, 4096), Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                offset += n
            }
            return offset
        }
    }

    /// The complete response frames in `bytes`.
    static func responses(in bytes: [UInt8]) -> [RawResponse] {
        var buffer = ByteBuffer(bytes: bytes)
        var out: [RawResponse] = []
        while let frame = try? FrameDecoder.nextFrame(from: &buffer, maxFrameBytes: 1 << 24), let response = try? RawResponse(payload: frame) {
            out.append(response)
        }
        return out
    }

    @Test("in-process: the server stops reading from it, keeps its calls in flight within the limit, serves others, and closes it after the unwritable timeout")
    func neverReads() async throws {
        let store = MemoryEventStore()
        let maxInFlight = 64
        try await withTestServer(store: store, configure: {
            $0.maxCallsInFlightPerConnection = maxInFlight
            $0.unwritableTimeoutMilliseconds = scaled(1500)
        }) { server in
            let raw = try await openRaw(server, receiveTimeoutMilliseconds: Int(scaled(5000)))
            let count = 20_000
            let bytes = Self.creates(count)
            let rssBefore = residentKiB()
            let started = ContinuousClock.now
            let sent = try await Self.sendUntilBlocked(raw, bytes)
            #expect(sent < bytes.count / 4, "the server stopped reading: \(sent) of \(bytes.count) bytes went out")

            // Stalled: once the server has worked through what it already read (a slow
            // machine may take a while), no more progress; calls in flight within the limit.
            var peakInFlight = 0
            var storedAtStall = -1
            var stableSamples = 0
            for _ in 0..<(100 * timeScale) where stableSamples < 5 {
                peakInFlight = max(peakInFlight, server.server.statistics.callsInFlight)
                let stored = store.count
                stableSamples = stored == storedAtStall ? stableSamples + 1 : 0
                storedAtStall = stored
                try await Task.sleep(for: .milliseconds(60))
            }
            #expect(stableSamples >= 5, "the server stopped working for the stuck client")
            #expect(peakInFlight <= maxInFlight)
            #expect(storedAtStall < count / 4, "it stopped long before the client's requests ran out: \(storedAtStall)")
            // This is the whole test process, with the other suites running in
            // parallel: a loose bound (the daemon test below measures iriskd alone).
            // Under a sanitizer it is stretched too: ASan keeps freed memory in
            // quarantine (up to 256 MiB) and maps shadow memory as it goes.
            let growth = residentKiB() - rssBefore
            #expect(growth < 64 * 1024 * Int(timeScale), "resident memory grew by \(growth) KiB")

            // Others see no change.
            try await expectStillServing(server, store: store, expectedCount: storedAtStall)

            // Closed after the unwritable timeout.
            for _ in 0..<(50 * timeScale) where server.server.statistics.unwritableTimeouts == 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            let closedAfter = ContinuousClock.now - started
            #expect(server.server.statistics.unwritableTimeouts == 1)
            #expect(closedAfter < scaledDuration(3000), "\(closedAfter)")
            let received = try await raw.readToEOF() ?? []
            let acknowledged = Self.responses(in: received).filter { $0.created != nil }
            #expect(store.count >= acknowledged.count + 1, "every acknowledged create is stored")
            #expect(store.count <= count + 1)
            for _ in 0..<(20 * timeScale) where server.server.statistics.openConnections > 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(server.server.statistics.openConnections == 0)
            #expect(server.server.statistics.callsInFlight == 0, "the stuck calls ended with the connection")
        }
    }

    @Test("the real iriskd with default limits: resident memory stays flat under a never-reading flood; others are served; the flood is cut off")
    func neverReadsDaemon() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let daemon = try HardeningDaemon(socketPath: socket, arguments: ["--store", "memory", "--unwritable-timeout-ms", "\(scaled(1500))"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        let rssBefore = daemon.residentKiB()
        let raw = try RawConnection(path: socket, receiveTimeoutMilliseconds: Int(scaled(5000)))
        raw.sendPreface()
        #expect(try await raw.expectServerPreface())
        let bytes = Self.creates(40_000)
        let sent = try await Self.sendUntilBlocked(raw, bytes)
        #expect(sent < bytes.count / 4, "throttled: \(sent) of \(bytes.count) bytes")
        try await Task.sleep(for: .milliseconds(200))
        let growth = daemon.residentKiB() - rssBefore
        #expect(growth < 64 * 1024, "iriskd's resident memory grew by \(growth) KiB")
        let started = ContinuousClock.now
        try await withIdentityRiskClient(socketPath: socket, configuration: ClientConfiguration(maxRetries: 0)) { client in
            _ = try await client.create(seedDraft())
            #expect(try await client.health().openConnections == 2)
        }
        #expect(ContinuousClock.now - started < scaledDuration(1000), "another client is served promptly")
        // Closed after the unwritable timeout (1.5 s): only the asking connection is left.
        var open = -1
        for _ in 0..<(40 * timeScale) {
            open = Int(try await withIdentityRiskClient(socketPath: socket) { try await $0.health() }.openConnections)
            if open == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(open == 1, "the flooding connection was closed")
        #expect(ContinuousClock.now - started < scaledDuration(4000))
        #expect(try await raw.readToEOF() != nil, "the flooding client sees the close")
        #expect(daemon.log().contains("closing connection: the client has not read its responses for \(scaled(1500)) ms"))
        #expect(try await daemon.terminate() == 0)
    }
}
