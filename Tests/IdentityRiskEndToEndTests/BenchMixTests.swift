import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

/// `irisk-bench --mix` against a real server on a real SQLite file: the
/// ratios, the seeding, every answer decoded and checked, and what the store
/// holds afterwards.
@Suite("irisk-bench --mix")
struct BenchMixTests {
    static func runBench(_ arguments: [String]) async throws -> CLITests.Run {
        try await blocking { try CLITests.runProcess(productPath("irisk-bench"), arguments) }
    }

    static func json(_ run: CLITests.Run) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(run.stdout)")
    }

    @Test("a mix sends each method in its ratio, reads and updates the seeded records, deletes its own acknowledged creates, and reports each method")
    func mixAgainstSQLite() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/events.sqlite")
        defer { Task { await store.close() } }
        try await withTestServer(store: store) { server in
            // 2 connections x 1,500 calls = 100 cycles of the 15-call schedule each.
            let run = try await Self.runBench([
                "--socket", server.socketPath, "--mix", "create=2,get=8,list=1,update=2,delete=1,health=1", "--seed", "300",
                "--requests", "3000", "--connections", "2", "--in-flight", "8", "--warmup", "0", "--verify-every", "1", "--json",
            ])
            #expect(run.status == 0, "\(run.stderr)\n\(run.stdout)")
            let report = try #require((try Self.json(run)["runs"] as? [[String: Any]])?.first)
            #expect(report["mix"] as? String == "create=2,get=8,list=1,update=2,delete=1,health=1")
            #expect(report["seededRecords"] as? Int == 300)
            #expect(report["calls"] as? Int == 3000)
            #expect(report["errors"] as? Int == 0, "\(report["sampleErrors"] ?? "")")
            #expect(report["verified"] as? Int == 3000, "every answer decoded and checked")
            #expect(report["verifyFailures"] as? Int == 0, "\(report["sampleErrors"] ?? "")")
            #expect(report["alreadyExisted"] as? Int == 0)
            let methods = try #require(report["methods"] as? [[String: Any]])
            var calls: [String: Int] = [:]
            for m in methods {
                let name = try #require(m["method"] as? String)
                calls[name] = m["calls"] as? Int
                #expect(m["errors"] as? Int == 0, "\(name)")
                let latency = try #require(m["latency"] as? [String: Any])
                #expect((latency["p50"] as? Double ?? 0) > 0, "\(name) has latencies")
                #expect((m["okPerSecond"] as? Double ?? 0) > 0, "\(name) has a rate")
            }
            #expect(Set(calls.keys) == ["create", "get", "list", "update", "delete", "health"])
            #expect(calls["get"] == 1600 && calls["update"] == 400 && calls["list"] == 200 && calls["health"] == 200, "\(calls)")
            // A delete turn with nothing acknowledged to delete yet creates instead.
            let creates = try #require(calls["create"]), deletes = try #require(calls["delete"])
            #expect(creates + deletes == 600 && deletes > 150 && deletes <= 200, "\(calls)")

            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                let health = try await client.health()
                #expect(health.storeStatus.records == UInt64(300 + creates - deletes), "seeded + created - deleted")
                // Oldest first: the 300 seeded records, then the run's creates.
                // Updates moved seeded records past version 1, and only those.
                var events: [IdentityRiskEvent] = []
                var token = ""
                repeat {
                    let page = try await client.list(ListEvents.Request(filter: "", top: 1000, pageToken: token))
                    events += page.events
                    token = page.nextPageToken
                } while !token.isEmpty
                let seeded = events.prefix(300), created = events.dropFirst(300)
                #expect(Set(seeded.map { $0.id.split(separator: "-").dropLast(2) }).count == 1, "one seeding prefix")
                #expect(seeded.filter { $0.version > 1 }.count > 100, "400 updates over 300 records")
                #expect(created.allSatisfy { $0.version == 1 }, "updates read seeded records only")
            }
        }
    }

    @Test("the floor echoes a mix's frames and reports each method")
    func mixAgainstTheFloor() async throws {
        let run = try await Self.runBench(["--floor", "--mix", "create=1,get=3", "--requests", "2000", "--connections", "1", "--in-flight", "4", "--warmup", "0", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require((try Self.json(run)["runs"] as? [[String: Any]])?.first)
        #expect(report["target"] as? String == "floor")
        #expect(report["seededRecords"] == nil, "nothing is seeded on the floor")
        let methods = try #require(report["methods"] as? [[String: Any]])
        #expect(methods.map { $0["method"] as? String } == ["create", "get"])
        #expect(methods.map { $0["calls"] as? Int } == [500, 1500])
    }

    @Test("a bad --mix names the item, what was wrong and what is allowed, and exits non-zero", arguments: [
        ("get=x", "the weight of get is 'x'; allowed: a whole number 0 ... 1000"),
        ("read=1", "'read' is not a method it can send; allowed: create, get, list, update, delete, health"),
        ("get", "'get' is not METHOD=WEIGHT"),
        ("get=1,get=2", "get is named twice"),
        ("get=0", "every weight is 0"),
        ("list=1,delete=1", "delete removes records the run created and needs create in the mix too"),
        ("get=1001", "allowed: a whole number 0 ... 1000"),
    ])
    func badMix(_ mix: String, _ message: String) async throws {
        let run = try await Self.runBench(["--socket", "/nonexistent/iriskd.sock", "--mix", mix])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--mix '\(mix)'"), "\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    @Test("--mix with delete and --server-ids is refused: the bench could not name what to delete")
    func deleteNeedsChosenIDs() async throws {
        let run = try await Self.runBench(["--socket", "/nonexistent/iriskd.sock", "--mix", "create=1,delete=1", "--server-ids"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("cannot be combined with --server-ids"), "\(run.stderr)")
    }
}
