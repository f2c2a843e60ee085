import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import Testing

/// iriskd's log lines, as an operator reads and greps them.
@Suite("iriskd's log lines", .serialized)
struct DaemonLogTests {
    @Test("one line per event: UTC timestamp to the millisecond, level, label, message, sorted key=value with values quoted when they need it; a debug call line has method, status and duration")
    func lineFormat() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let daemon = try HardeningDaemon(socketPath: socket, arguments: ["--store", "memory", "--log-level", "debug"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        try await withIdentityRiskClient(socketPath: socket) { client in
            _ = try await client.create(seedDraft(id: "log-1"))
            _ = try? await client.get(id: "no-such-id")
        }
        #expect(try await daemon.terminate() == 0)
        let lines = daemon.log().split(separator: "\n").map(String.init)
        let stamp = try Regex(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info|notice|warning|error|critical) [a-z.]+: "#)
        let callLine = try Regex(#" debug iriskd: call call=\d+ method=create ms=[0-9.]+ peer="pid=\d+ uid=\d+ gid=\d+" status=ok$"#)
        #expect(!lines.isEmpty)
        for line in lines { #expect(line.contains(stamp), "every line starts with its time, level and label: \(line)") }
        #expect(lines.contains { $0.contains(callLine) },
                "\(lines.filter { $0.contains("method=create") })")
        #expect(lines.contains { $0.contains(#"message="no identityRiskEvent with id 'no-such-id'""#) && $0.contains("status=notFound") },
                "a value with spaces is quoted")
        #expect(lines.filter { $0.contains("NOT DURABLE") }.count == 1, "the memory store's warning, once")
    }
}
