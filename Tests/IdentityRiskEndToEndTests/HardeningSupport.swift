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
import Logging
import Testing

// Helpers shared by the Hardening*Tests suites.

/// How many times slower than a plain debug build this test process runs:
/// under ThreadSanitizer (CI runs the suite with it) or AddressSanitizer every
/// timeout and time bound of the hardening tests is stretched by this factor.
let timeScale: Int64 = {
    if dlsym(nil, "__tsan_init") != nil { return 8 }
    if dlsym(nil, "__asan_init") != nil { return 3 }
    return 1
}()

/// `milliseconds`, stretched by ``timeScale``.
func scaled(_ milliseconds: Int64) -> Int64 { milliseconds * timeScale }

/// A `Duration` of `milliseconds`, stretched by ``timeScale``.
func scaledDuration(_ milliseconds: Int64) -> Duration { .milliseconds(scaled(milliseconds)) }

/// After an attack: another client still creates and reads back quickly, and
/// the attack stored nothing (`store.count` goes from `expectedCount` to +1).
///
/// "Quickly" is 4 s: below the server's handshake (5 s) and frame-read (10 s)
/// deadlines, so a server that an attack stalls until one of them fires still
/// fails it, with room for the test load (a 2 s bound saw 2.05–2.19 s on a
/// fresh CI machine while the whole pass started at once).
func expectStillServing(_ server: TestServer, store: MemoryEventStore, expectedCount: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    #expect(store.count == expectedCount, "the attack stored nothing", sourceLocation: sourceLocation)
    let started = ContinuousClock.now
    try await withIdentityRiskClient(socketPath: server.socketPath) { client in
        let created = try await client.create(seedDraft())
        #expect(try await client.get(id: created.event.id) == created.event, sourceLocation: sourceLocation)
    }
    #expect(ContinuousClock.now - started < scaledDuration(4000), "another client is served promptly", sourceLocation: sourceLocation)
    #expect(store.count == expectedCount + 1, sourceLocation: sourceLocation)
}

/// The error of a failed response, recording an issue if it is not one.
func failure(_ response: RawResponse?, sourceLocation: SourceLocation = #_sourceLocation) -> IdentityRiskError? {
    guard let response else {
        Issue.record("no response (connection closed or timed out)", sourceLocation: sourceLocation)
        return nil
    }
    guard let error = response.failure else {
        Issue.record("expected a failure, got \(response)", sourceLocation: sourceLocation)
        return nil
    }
    return error
}

/// A raw connection that has exchanged prefaces.
func openRaw(_ server: TestServer, receiveTimeoutMilliseconds: Int = Int(scaled(3000))) async throws -> RawConnection {
    let raw = try RawConnection(path: server.socketPath, receiveTimeoutMilliseconds: receiveTimeoutMilliseconds)
    raw.sendPreface()
    #expect(try await raw.expectServerPreface())
    return raw
}

/// Whether something accepts connections on `path` (connects and closes at once).
/// Use this, not `RawConnection`, where the connect is expected to fail:
/// `RawConnection.init` closes its descriptor when connect fails and its
/// `deinit` closes it again, which can close a descriptor another thread has
/// since been given (NIO then reads a foreign descriptor and traps).
func connects(to path: String) -> Bool {
    let fd = makeUnixSocket()
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return withUnixAddress(path) { connect(fd, $0, $1) } == 0
}

// MARK: processes and the machine

/// The server process's resident set (VmRSS), in KiB: the tests run the server in-process.
func residentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return -1 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
}

/// Runs a command to completion; returns its exit status and combined output.
func runCommand(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await blocking {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// `irisk health` as another uid/gid (setpriv), through the real client.
func healthAs(uid: UInt32, gid: UInt32, socketPath: String) async throws -> (status: Int32, output: String) {
    try await runCommand("/usr/bin/setpriv", [
        "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", productPath("irisk"), "health", "--socket", socketPath,
    ])
}

/// ``withTestServer(store:configure:_:)`` with a logger of the caller's choosing
/// (to assert on what the server logs) and a socket path it may have prepared.
func withLoggingTestServer<R: Sendable>(
    store: any EventStore = MemoryEventStore(),
    logger: Logger,
    socketPath: String? = nil,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: @Sendable (TestServer) async throws -> R
) async throws -> R {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = ServerConfiguration(socketPath: socketPath ?? directory + "/irisk.sock")
    configuration.shutdownGraceMilliseconds = 5000
    configure(&configuration)
    let server = IdentityRiskServer(configuration: configuration, store: store, logger: logger)
    return try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await server.run()
            return nil
        }
        try await server.waitUntilListening()
        let handle = TestServer(server: server, socketPath: configuration.socketPath, directory: directory)
        do {
            let result = try await body(handle)
            server.beginShutdown()
            while let next = try await group.next() { _ = next }
            return result
        } catch {
            server.beginShutdown()
            group.cancelAll()
            throw error
        }
    }
}
