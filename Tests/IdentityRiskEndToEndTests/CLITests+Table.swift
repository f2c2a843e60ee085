import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskTestSupport
import Testing

extension CLITests {
    @Test("list --output table: a header, one aligned row per record, the cursor and the next page's command on stderr; piped, the default stays Graph JSON")
    func listTable() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for n in 0..<3 { _ = try await client.create(seedDraft(id: "table-\(n)")) }
            }
            let run = try await CLITests.runIriskAsync(["list", "--socket", server.socketPath, "--output", "table", "--top", "2"])
            #expect(run.status == 0, "\(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(run.stdout)")
            #expect(lines.first?.hasPrefix("ID ") == true && lines.first?.contains("RISK") == true && lines.first?.hasSuffix("ETAG") == true)
            #expect(lines.dropFirst().map { $0.split(separator: " ").first.map(String.init) } == ["table-0", "table-1"])
            let column = try #require(lines.first?.range(of: "RISK")?.lowerBound.utf16Offset(in: lines[0]))
            #expect(lines.dropFirst().allSatisfy { $0.count > column && $0.dropFirst(column).hasPrefix("high") }, "aligned:\n\(run.stdout)")
            #expect(run.stderr.contains("2 records; cursor 3; more: irisk list --next 'identityRiskEvents?$top=2&$skiptoken="), "\(run.stderr)")
            let piped = try await CLITests.runIriskAsync(["list", "--socket", server.socketPath])
            #expect(piped.stdout.hasPrefix("{"), "piped output is JSON by default")
        }
    }

    @Test("watch --output table: a header, then one line per change")
    func watchTable() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                _ = try await client.create(seedDraft(id: "wt-0"))
            }
            let run = try await CLITests.runIriskAsync(["watch", "--socket", server.socketPath, "--from", "beginning", "--count", "1", "--output", "table"])
            #expect(run.status == 0, "\(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("CURSOR") == true)
            #expect(lines.dropFirst().first?.split(separator: " ").map(String.init).prefix(3) == ["1", "created", "wt-0"], "\(run.stdout)")
        }
    }
}
