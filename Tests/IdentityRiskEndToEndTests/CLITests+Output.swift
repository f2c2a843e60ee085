import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskTestSupport
import Testing

extension CLITests {
    /// `irisk ARGS` under a pseudo-terminal (util-linux `script`), as a person
    /// runs it: stdout and stderr both go to the terminal, merged.
    static func runIriskOnTerminal(_ arguments: [String]) async throws -> Run {
        let command = ([productPath("irisk")] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try await blocking { try runProcess("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"]) }
    }

    func createRecords(_ server: TestServer, _ count: Int, prefix: String) async throws {
        try await withIdentityRiskClient(socketPath: server.socketPath) { client in
            for n in 0..<count { _ = try await client.create(seedDraft(id: "\(prefix)-\(n)", userId: "u\(n % 2)")) }
        }
    }

    @Test("on a terminal, list and get print a table by default (the footer with the next link under it); piped, the same commands print Graph JSON")
    func tableOnTerminal() async throws {
        try await withTestServer { server in
            try await createRecords(server, 3, prefix: "tty")
            let list = try await Self.runIriskOnTerminal(["list", "--socket", server.socketPath, "--top", "2"])
            #expect(list.status == 0, "\(list.stdout)")
            let lines = list.stdout.split(whereSeparator: \.isNewline).map(String.init)
            #expect(lines.first?.hasPrefix("ID ") == true && lines.first?.hasSuffix("ETAG") == true, "a header: \(list.stdout)")
            #expect(lines.dropFirst().prefix(2).map { $0.split(separator: " ").first.map(String.init) } == ["tty-0", "tty-1"], "\(list.stdout)")
            #expect(lines.contains { $0.hasPrefix("2 records; cursor 3; more: irisk list --next 'identityRiskEvents?$top=2&$skiptoken=") }, "\(list.stdout)")
            #expect(!list.stdout.contains("{"), "no JSON on a terminal: \(list.stdout)")

            let get = try await Self.runIriskOnTerminal(["get", "--socket", server.socketPath, "tty-2", "--columns", "id,userId,riskLevel"])
            #expect(get.status == 0)
            let rows = get.stdout.split(whereSeparator: \.isNewline).map { $0.split(separator: " ").map(String.init) }
            #expect(rows == [["ID", "USER", "ID", "RISK"], ["tty-2", "u0", "high"]], "the chosen columns, in order: \(get.stdout)")

            let piped = try await CLITests.runIriskAsync(["get", "--socket", server.socketPath, "tty-2"])
            #expect(try object(piped.stdout)["id"] as? String == "tty-2", "piped: Graph JSON")
        }
    }

    @Test("--output ndjson: list prints one record per line and the next link on stderr; get one line; --columns refuses an unknown column listing the allowed ones")
    func ndjsonAndColumns() async throws {
        try await withTestServer { server in
            try await createRecords(server, 3, prefix: "nd")
            let list = try await CLITests.runIriskAsync(["list", "--socket", server.socketPath, "--top", "2", "--output", "ndjson"])
            #expect(list.status == 0, "\(list.stderr)")
            let records = try list.stdout.split(separator: "\n").map { try object(String($0)) }
            #expect(records.map { $0["id"] as? String } == ["nd-0", "nd-1"])
            let trailer = try object(list.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect((trailer["@odata.nextLink"] as? String)?.hasPrefix("identityRiskEvents?$top=2&$skiptoken=") == true, "\(list.stderr)")
            #expect(trailer["@identityRisk.cursor"] as? String == "3")

            let get = try await CLITests.runIriskAsync(["get", "--socket", server.socketPath, "nd-0", "--output", "ndjson"])
            #expect(get.stdout.split(separator: "\n").count == 1)
            #expect(try object(get.stdout)["id"] as? String == "nd-0")

            let bad = try await CLITests.runIriskAsync(["list", "--socket", server.socketPath, "--columns", "id,severity"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("--columns: 'severity' is not a column; allowed: id, userDisplayName, userPrincipalName, riskEventDateTime, riskEventType, riskLevel, riskEventStatus, closedDateTime, createdDateTime, userId, etag"), "\(bad.stderr)")
            let format = try await CLITests.runIriskAsync(["get", "--socket", server.socketPath, "nd-0", "--output", "yaml"])
            #expect(format.status == 64)
            #expect(format.stderr.contains("'auto', 'table', 'json'") && format.stderr.contains("'ndjson'"), "\(format.stderr)")

            let created = try await CLITests.runIriskAsync(["create", "--socket", server.socketPath, "--json", "-", "--output", "table", "--columns", "riskLevel"], stdin: CLITests.seedBody)
            #expect(created.stdout.split(separator: "\n") == ["RISK", "high"], "create prints a table when asked: \(created.stdout)")
        }
    }

    @Test("@odata.nextLink is a Graph link (identityRiskEvents?$filter=…&$top=…&$skiptoken=…); list --next LINK alone walks every page once; --page-token takes the bare token too")
    func nextLinkRoundTrip() async throws {
        try await withTestServer { server in
            try await createRecords(server, 7, prefix: "pg")
            var seen: [String] = []
            var arguments = ["list", "--socket", server.socketPath, "--user-id", "u0", "--top", "2", "--orderby", "createdDateTime desc"]
            var pages = 0
            while pages < 10 {
                let run = try await CLITests.runIriskAsync(arguments)
                #expect(run.status == 0, "\(run.stderr)")
                let page = try object(run.stdout)
                seen += (page["value"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                pages += 1
                guard let link = page["@odata.nextLink"] as? String else { break }
                #expect(link.hasPrefix("identityRiskEvents?$filter=userId%20eq%20%27u0%27&$orderby=createdDateTime%20desc&$top=2&$skiptoken="), "\(link)")
                arguments = ["list", "--socket", server.socketPath, "--next", link]
            }
            #expect(seen == ["pg-6", "pg-4", "pg-2", "pg-0"], "each matching record once, in order, from the link alone")
            #expect(pages == 2)

            let first = try object(try await CLITests.runIriskAsync(["list", "--socket", server.socketPath, "--top", "3"]).stdout)
            let link = try #require(first["@odata.nextLink"] as? String)
            let token = String(try #require(link.split(separator: "=").last))
            let bare = try await CLITests.runIriskAsync(["list", "--socket", server.socketPath, "--top", "3", "--page-token", token])
            #expect((try object(bare.stdout)["value"] as? [[String: Any]])?.first?["id"] as? String == "pg-3", "a bare token with the same flags: \(bare.stderr)")
            let other = try await CLITests.runIriskAsync(["list", "--socket", server.socketPath, "--next", link, "--risk-level", "low"])
            #expect(other.status == 2)
            #expect(other.stderr.contains("differs from the link's"), "\(other.stderr)")
            let notALink = try await CLITests.runIriskAsync(["list", "--socket", server.socketPath, "--next", "users?$skiptoken=x"])
            #expect(notALink.status == 2)
            #expect(notALink.stderr.contains("is not an @odata.nextLink"), "\(notALink.stderr)")

            let all = try await CLITests.runIriskAsync(["list", "--socket", server.socketPath, "--all", "--top", "2", "--output", "json"])
            #expect((try object(all.stdout)["value"] as? [Any])?.count == 7, "--all --output json: one envelope with every record: \(all.stdout.prefix(300))")
        }
    }
}
