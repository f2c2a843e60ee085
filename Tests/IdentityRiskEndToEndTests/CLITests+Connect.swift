import Foundation
import IdentityRiskServer
import IdentityRiskTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension CLITests {
    @Test("irisk says which connection problem it is and what to do: no socket, nothing listening, permission (uids, owner, mode), the allow-list")
    func connectionErrorsInWords() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let missing = try await CLITests.runIriskAsync(["health", "--socket", directory + "/none.sock"])
        #expect(missing.status == 5)
        #expect(missing.stderr.contains("there is no socket at \(directory)/none.sock: is iriskd running, with this --socket?"), "\(missing.stderr)")

        let stale = directory + "/stale.sock"
        let fd = makeUnixSocket()
        defer { close(fd) }
        try #require(withUnixAddress(stale) { bind(fd, $0, $1) } == 0)
        let nobodyListens = try await CLITests.runIriskAsync(["health", "--socket", stale])
        #expect(nobodyListens.status == 5)
        #expect(nobodyListens.stderr.contains("nothing accepts connections at \(stale)"), "\(nobodyListens.stderr)")

        try await withTestServer { server in
            let other = try await healthAs(uid: HardeningAccessTests.nobody, gid: HardeningAccessTests.nobody, socketPath: server.socketPath)
            #expect(other.status == 5)
            #expect(other.output.contains("permission denied on \(server.socketPath) for uid 65534: you are uid 65534 gid 65534; the socket is owned by uid \(getuid()) gid \(getgid()) with mode 0600"), "\(other.output)")
        }

        try await withTestServer(configure: { $0.allowedUIDs = [12345] }) { server in
            let refused = try await CLITests.runIriskAsync(["health", "--socket", server.socketPath])
            #expect(refused.status == 8, "\(refused.stderr)")
            #expect(refused.stderr.contains("refused by the server's allow-list (your uid \(getuid()), gid \(getgid()))"), "\(refused.stderr)")
            #expect(refused.stderr.contains("NotInAllowList"))
            #expect(server.server.statistics.refusedConnections == 1, "told once, not retried")
        }
    }

    @Test("irisk creat suggests create (exit 64); irisk completion bash|zsh|fish prints a script that completes commands and enum values")
    func suggestionAndCompletion() async throws {
        let typo = try await CLITests.runIriskAsync(["creat", "--json", "x"])
        #expect(typo.status == 64)
        #expect(typo.stderr.contains("irisk: 'creat' is not an irisk command. Did you mean 'create'?"), "\(typo.stderr)")
        let far = try await CLITests.runIriskAsync(["frobnicate"])
        #expect(far.status == 64)
        #expect(!far.stderr.contains("Did you mean"), "no suggestion for a word close to nothing: \(far.stderr)")
        for shell in ["bash", "zsh", "fish"] {
            let script = try await CLITests.runIriskAsync(["completion", shell])
            #expect(script.status == 0)
            for word in ["create", "import", "unknownFutureValue", "dismissedAsFalsePositive", "closedMultipleReasons", "riskEventDateTime desc", "ndjson", "table", "userDisplayName"] {
                #expect(script.stdout.contains(word), "\(shell) completion lacks \(word)")
            }
        }
        let badShell = try await CLITests.runIriskAsync(["completion", "tcsh"])
        #expect(badShell.status == 64)
    }
}
