import Foundation
import IdentityRiskCore
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

extension CLITests {
    /// `valid` good lines (ids imp-N) with an invalid one after every `every`th.
    static func mixedImport(valid: Int, every: Int) -> String {
        var text = ""
        for n in 0..<valid {
            text += #"{"id":"imp-\#(n)","userPrincipalName":"u@contoso.com","riskEventDateTime":"2017-01-01T00:01:00Z","riskEventType":"t","riskLevel":"high","riskEventStatus":"active","userId":"u"}"# + "\n"
            if (n + 1) % every == 0 { text += #"{"id":"bad-\#(n)","riskLevel":"String"}"# + "\n" }
        }
        return text
    }

    @Test("import --max-errors N stops after N invalid lines with the summary, exit 2")
    func importMaxErrors() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let run = try await CLITests.runIriskAsync(["import", "-", "--socket", server.socketPath, "--max-errors", "2", "--in-flight", "1"],
                                                       stdin: Self.mixedImport(valid: 20, every: 3))
            #expect(run.status == 2, "\(run.stderr)")
            let lines = run.stderr.split(separator: "\n").map(String.init)
            #expect(lines.filter { $0.hasPrefix("line ") }.count == 2, "\(run.stderr)")
            #expect(lines.contains("irisk import: 2 invalid lines reached --max-errors 2"), "\(run.stderr)")
            #expect(lines.last == "stopped at line 8: 6 created, 0 already existed, 2 invalid; fix the invalid lines and run the same command again to continue — ids make it safe", "\(run.stderr)")
            #expect(store.count == 6)
        }
    }

    @Test("import --reject-file: each invalid line verbatim after a '# line N: reason' comment, not on stderr; the file imports again as it is (comments skipped)")
    func importRejectFile() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rejects = directory + "/rejects.ndjson"
        try await withTestServer { server in
            let input = Self.mixedImport(valid: 6, every: 2)
            let run = try await CLITests.runIriskAsync(["import", "-", "--socket", server.socketPath, "--reject-file", rejects], stdin: input)
            #expect(run.status == 2)
            let summary = ": 6 created, 0 already existed, 3 invalid (the invalid lines are in \(rejects))\n"
            #expect(run.stderr.hasPrefix("imported 9 lines in ") && run.stderr.hasSuffix(summary), "one summary line, no per-line errors: \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1)
            let written = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(written.count == 6, "\(written)")
            // Each rejected line follows its comment; the pairs come in the order the
            // answers arrived (creates are pipelined), so compare them by line number.
            let pairs = stride(from: 0, to: written.count - 1, by: 2).map { (comment: written[$0], line: written[$0 + 1]) }
                .sorted { $0.comment.localizedStandardCompare($1.comment) == .orderedAscending }
            #expect(pairs.map { $0.comment.prefix(10) } == ["# line 3: ", "# line 6: ", "# line 9: "], "\(written)")
            #expect(pairs[0].comment.hasPrefix("# line 3: invalidRequest: ") && pairs[0].comment.contains("'String' is not a riskLevel"), "\(pairs[0])")
            #expect(pairs[0].line == #"{"id":"bad-1","riskLevel":"String"}"#, "verbatim")

            let again = try await CLITests.runIriskAsync(["import", rejects, "--socket", server.socketPath])
            #expect(again.status == 2)
            #expect(again.stderr.contains(": 0 created, 0 already existed, 3 invalid"), "the comments are skipped: \(again.stderr)")
        }
    }

    @Test("a JSON array or a pretty-printed document given to import gets a hint with the jq command, exit 2, nothing sent", arguments: [
        ("[\n" + CLITests.seedBody + "\n]\n", "this looks like a JSON array; import reads one JSON object per line: jq -c '.[]' | irisk import -"),
        (CLITests.seedBody + "\n", "this looks like a pretty-printed JSON document; import reads one JSON object per line: jq -c . | irisk import -"),
    ])
    func importShapeHint(_ input: String, _ hint: String) async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let run = try await CLITests.runIriskAsync(["import", "-", "--socket", server.socketPath], stdin: input)
            #expect(run.status == 2)
            #expect(run.stderr.contains(hint), "\(run.stderr)")
            #expect(store.count == 0)
        }
    }
}
