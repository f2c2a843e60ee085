import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskStore
import IdentityRiskServer
import IdentityRiskTestSupport
import Testing

extension CLITests {
    /// The exit status of `irisk ARGS`, or -1 if it could not be run.
    static func exitCode(_ arguments: [String], stdin: String? = nil) async -> Int32 {
        (try? await runIriskAsync(arguments, stdin: stdin).status) ?? -1
    }

    /// The README's "Exit codes", one path each (130 and 143: the import
    /// signal tests; 9: WatchEndToEndTests; 1 has no path a test can provoke).
    @Test("each documented exit code comes from its path: 0, 2, 3, 4, 5, 6, 7, 8, 64")
    func exitCodesByPath() async throws {
        let gated = GatedStore()
        try await withTestServer(store: gated) { server in
            let s = ["--socket", server.socketPath]
            // The gate holds creates: this one's deadline passes first.
            #expect(await Self.exitCode(["create"] + s + ["--json", "-", "--id", "x2", "--timeout-ms", "50"], stdin: CLITests.seedBody) == 6, "deadline exceeded")
            gated.release()
            #expect(await Self.exitCode(["create"] + s + ["--json", "-", "--id", "x1"], stdin: CLITests.seedBody) == 0)
            #expect(await Self.exitCode(["create"] + s + ["--json", "-"], stdin: CLITests.seedBody.replacingOccurrences(of: "\"high\"", with: "\"String\"")) == 2, "invalid input")
            #expect(await Self.exitCode(["get"] + s + ["nope"]) == 3, "not found")
            #expect(await Self.exitCode(["create"] + s + ["--json", "-", "--id", "x1", "--risk-level", "low"], stdin: CLITests.seedBody) == 4, "conflict")
            #expect(await Self.exitCode(["health", "--socket", server.directory + "/none.sock"]) == 5, "unreachable")
            #expect(await Self.exitCode(["update"] + s + ["x1", "--risk-level", "low", "--if-match", "7"]) == 7, "precondition failed")
            #expect(await Self.exitCode(["list"] + s + ["--top", "0"]) == 64, "usage: a flag out of range")
            #expect(await Self.exitCode(["lisst"] + s) == 64, "usage: no such command")
        }
        try await withTestServer(configure: { $0.allowedUIDs = [12345] }) { server in
            #expect(await Self.exitCode(["health", "--socket", server.socketPath]) == 8, "permission: refused by the allow-list")
        }
    }
}
