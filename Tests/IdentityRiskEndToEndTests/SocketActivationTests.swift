import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// iriskd started by systemd socket activation (`systemd-socket-activate`, as a
/// `.socket` unit would): it serves the socket it is handed and leaves the file to systemd.
@Suite("iriskd under socket activation", .serialized)
struct SocketActivationTests {
    @Test("socket-activated iriskd serves the passed socket (create, get, health), exits 0 on SIGTERM and leaves the socket file to systemd")
    func activated() async throws {
        let activate = "/usr/bin/systemd-socket-activate"
        try #require(FileManager.default.isExecutableFile(atPath: activate), "dev/setup.sh --for-tests installs systemd (systemd-socket-activate)")
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/act.sock"
        let log = directory + "/act.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: activate)
        process.arguments = ["-l", socket, productPath("iriskd"), "--store", "sqlite:" + directory + "/events.sqlite", "--log-level", "info"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        var listening = false
        for _ in 0..<200 where !listening {
            listening = FileManager.default.fileExists(atPath: socket)
            if !listening { try await Task.sleep(for: .milliseconds(25)) }
        }
        try #require(listening, "systemd-socket-activate listens on \(socket)")
        try await withIdentityRiskClient(socketPath: socket) { client in
            let created = try await client.create(seedDraft(id: "activated-1"))
            #expect(try await client.get(id: "activated-1") == created.event)
            #expect(try await client.health().serving == .serving)
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("socket activation: serving the socket systemd passed socket=\(socket)"), "\(text)")
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning && process.terminationStatus == 0, "exit 0 on SIGTERM")
        #expect(FileManager.default.fileExists(atPath: socket), "the socket file is systemd's: iriskd does not remove it")
        #expect(!FileManager.default.fileExists(atPath: socket + ".lock"), "and makes no lock file of its own")
    }
}
