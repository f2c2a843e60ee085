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

    @Test("a server that refuses this uid at accept: closedBeforePreface naming the allow-lists and limits (after the client's retries, each refused the same way)")
    func refusedByAllowList() async throws {
        try await withTestServer(configure: { $0.allowedUIDs = [12345] }) { server in
            let started = ContinuousClock.now
            let error = try #require(await error(connecting: server.socketPath) as? WireError)
            #expect(error.code == .closedBeforePreface)
            #expect(error.message.contains("--allow-uid"), "\(error.message)")
            #expect(server.server.statistics.refusedConnections == 3, "the first attempt and 2 retries, each refused")
            #expect(ContinuousClock.now - started < scaledDuration(5000))
        }
    }
}
