import Foundation
import Testing

extension CLITests {
    @Test("a --filter syntax error names the position in the user's own text, also with shorthand flags beside it; list and watch alike", arguments: [
        ["list"], ["list", "--risk-level", "high"], ["watch"], ["watch", "--user-id", "u1"],
    ])
    func filterErrorPosition(_ command: [String]) async throws {
        let run = try await CLITests.runIriskAsync(command + ["--socket", "/tmp/irisk-no-such.sock", "--filter", "riskLevel equals 'high'"])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains("--filter: syntax error at position 11: expected an operator"), "\(run.stderr)")
        #expect(!run.stderr.contains("')'"), "no parenthesis the user never typed")
    }

    @Test("a bad shorthand value is blamed on its flag, with what is allowed", arguments: [
        ("--risk-level", "critical", "--risk-level 'critical' is not a riskLevel; allowed: low, medium, high"),
        ("--risk-event-status", "open", "--risk-event-status 'open' is not a riskEventStatus; allowed: active"),
        ("--created-after", "yesterday", "--created-after 'yesterday' is not a DateTimeOffset"),
    ])
    func shorthandErrors(_ flag: String, _ value: String, _ expected: String) async throws {
        let run = try await CLITests.runIriskAsync(["list", "--socket", "/tmp/irisk-no-such.sock", flag, value])
        #expect(run.status == 2)
        #expect(run.stderr.contains(expected), "\(run.stderr)")
        #expect(run.stderr.contains("\"target\": \"\(flag)\""))
    }
}
