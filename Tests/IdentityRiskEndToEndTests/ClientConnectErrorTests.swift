import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskServer
import IdentityRiskWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A client that cannot get in is told why, in words, each cause with its own hint.
@Suite("Client: why a connection failed")
struct ClientConnectErrorTests {
    func error(connecting path: String) async -> (any Error)? {
        do {
            _ = try await withIdentityRiskClient(socketPath: path, configuration: ClientConfiguration(maxRetries: 2)) { try await $0.health() }
            return nil
        } catch {
            return error
        }
    }

    @Test("no socket file: says there is no socket and how to name one")
    func missing() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = try #require(await error(connecting: directory + "/none.sock") as? IdentityRiskError)
        #expect(error.code == .unavailable)
        #expect(error.message.contains("there is no socket at \(directory)/none.sock"), "\(error.message)")
        #expect(!error.message.contains("descriptor:addr"), "no Swift internals: \(error.message)")
    }

    @Test("a socket file nobody listens on: says it was left by a server that stopped")
    func refused() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/stale.sock"
        let fd = makeUnixSocket()
        defer { close(fd) }
        let bound = withUnixAddress(path) { bind(fd, $0, $1) }
        try #require(bound == 0, "bind: \(errno)")
        let error = try #require(await error(connecting: path) as? IdentityRiskError)
        #expect(error.message.contains("nothing accepts connections at \(path)"), "\(error.message)")
    }

    @Test("a server that refuses this uid at accept: PERMISSION_DENIED naming the allow-list and our uid, at once and not retried (a refusal is final)")
    func refusedByAllowList() async throws {
        try await withTestServer(configure: { $0.allowedUIDs = [12345] }) { server in
            let started = ContinuousClock.now
            let error = try #require(await error(connecting: server.socketPath) as? IdentityRiskError)
            #expect(error.code == .permissionDenied)
            #expect(error.innerCode == "NotInAllowList")
            #expect(error.message.contains("refused by the server's allow-list (your uid \(getuid())"), "\(error.message)")
            #expect(server.server.statistics.refusedConnections == 1, "told why, the client does not try again")
            #expect(ContinuousClock.now - started < scaledDuration(5000))
        }
    }

    @Test("a server at its connection limit: RESOURCE_EXHAUSTED saying which limit, with a retry-after")
    func refusedByLimit() async throws {
        try await withTestServer(configure: { $0.maxConnections = 1 }) { server in
            let held = try await openRaw(server)
            let error = try #require(await error(connecting: server.socketPath) as? IdentityRiskError)
            #expect(error.code == .resourceExhausted)
            #expect(error.innerCode == "ConnectionLimit")
            #expect(error.message.contains("--max-connections"), "\(error.message)")
            #expect(error.retryAfterMilliseconds == 1000)
            _ = held
        }
    }
}
