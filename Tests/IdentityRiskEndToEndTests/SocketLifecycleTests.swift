import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import Testing

/// The socket path's files over a server's life, with the real iriskd.
@Suite("The socket file and its lock over iriskd's life", .serialized)
struct SocketLifecycleTests {
    @Test("a stopped iriskd leaves neither its socket nor its .lock file; a second one on a live socket creates nothing, not even its --store file; a restart serves")
    func lifecycle() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let first = try HardeningDaemon(socketPath: socket, arguments: ["--store", "sqlite:" + directory + "/a.sqlite"])
        defer { first.kill() }
        try await first.waitUntilServing()
        #expect(FileManager.default.fileExists(atPath: socket + ".lock"), "held while serving")

        let second = try HardeningDaemon(socketPath: socket, arguments: ["--store", "sqlite:" + directory + "/b.sqlite"])
        defer { second.kill() }
        #expect(try await second.waitForExit(timeout: .seconds(20)) == 1)
        #expect(second.log().contains("a server is already answering on \(socket)"), "\(second.log())")
        #expect(!FileManager.default.fileExists(atPath: directory + "/b.sqlite"), "refused before its store was created")

        #expect(try await first.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket file is removed")
        #expect(!FileManager.default.fileExists(atPath: socket + ".lock"), "and so is its lock file")

        let again = try HardeningDaemon(socketPath: socket, arguments: ["--store", "sqlite:" + directory + "/a.sqlite"])
        defer { again.kill() }
        try await again.waitUntilServing()
        #expect(try await withIdentityRiskClient(socketPath: socket) { try await $0.health() }.serving == .serving)
        #expect(try await again.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: socket + ".lock"))
    }
}
