import Foundation
import IdentityRiskTestSupport
import IdentityRiskCore
import IdentityRiskWire
import Testing

extension CLITests {
    @Test("--version on irisk, iriskd and irisk-bench prints the build's version and exits 0")
    func versionFlags() async throws {
        for binary in ["irisk", "iriskd", "irisk-bench"] {
            let run = try await blocking { try CLITests.runProcess(productPath(binary), ["--version"]) }
            #expect(run.status == 0, "\(binary) --version: \(run.stderr)")
            #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == IdentityRiskVersion.current, "\(binary): \(run.stdout)")
        }
    }

    @Test("irisk version prints the client's and the server's version and protocol version; without a server it exits 5 after the client's line")
    func versionCommand() async throws {
        try await withTestServer { server in
            let run = try await CLITests.runIriskAsync(["version", "--socket", server.socketPath])
            #expect(run.status == 0, "\(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "client: irisk \(IdentityRiskVersion.current), protocol version \(WireProtocol.version)")
            #expect(lines.last?.hasPrefix("server: iriskd \(IdentityRiskVersion.current), protocol version \(WireProtocol.version), store memory") == true, "\(run.stdout)")
        }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let absent = try await CLITests.runIriskAsync(["version", "--socket", directory + "/none.sock"])
        #expect(absent.status == 5)
        #expect(absent.stdout.hasPrefix("client: irisk \(IdentityRiskVersion.current)"))
        #expect(absent.stderr.contains("serviceNotAvailable"))
    }
}
