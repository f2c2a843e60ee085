import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

extension CLITests {
    @Test("irisk stats prints aligned text for people and one JSON object with --output json; the counts are the server's")
    func stats() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for i in 0..<3 { _ = try await client.create(seedDraft(id: "cli-stats-\(i)")) }
                _ = try? await client.get(id: "missing")
            }
            let json = try await irisk(["stats", "--socket", server.socketPath, "--output", "json"])
            #expect(json.status == 0, "\(json.stderr)")
            let stats = try object(json.stdout)
            #expect(stats["creates"] as? Int == 3)
            #expect(stats["records"] as? Int == 3)
            #expect((stats["errors"] as? [String: Any])?["notFound"] as? Int == 1)
            #expect(stats["commits"] is NSNull, "the memory store has no group commit")
            #expect((stats["recent"] as? [String: Any])?["calls"] is Double)

            let text = try await irisk(["stats", "--socket", server.socketPath])
            #expect(text.status == 0)
            let lines = text.stdout.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("creates ") && $0.hasSuffix("  3 (0 idempotent repeats)") }, "\(text.stdout)")
            #expect(lines.contains { $0.hasPrefix("errors ") && $0.hasSuffix("  1: notFound 1") }, "\(text.stdout)")
            let valueColumns = Set(lines.compactMap { line -> Int? in
                guard !line.hasPrefix(" "), let range = line.range(of: "  ") else { return nil }
                return line[range.lowerBound...].firstIndex { $0 != " " }.map { line.distance(from: line.startIndex, to: $0) }
            })
            #expect(valueColumns.count == 1, "values start in one column: \(text.stdout)")

            let bad = try await irisk(["stats", "--socket", server.socketPath, "--output", "yaml"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("--output 'yaml' is not one of: text, json"))
        }
    }

    @Test("irisk health prints the store's status: SQLite path, size and records")
    func healthStore() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/h.sqlite")
        try await withTestServer(store: store) { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                _ = try await client.create(seedDraft(id: "cli-health"))
            }
            let run = try await irisk(["health", "--socket", server.socketPath])
            #expect(run.status == 0, "\(run.stderr)")
            let health = try object(run.stdout)
            #expect(health["storeLocation"] as? String == directory + "/h.sqlite")
            #expect(health["records"] as? Int == 1)
            #expect((health["storeSizeBytes"] as? Int ?? 0) > 0)
            #expect(health["storeAvailable"] as? Bool == true)
            #expect(health["queueDepth"] as? Int == 0)
        }
        await store.close()
    }
}
