import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskTestSupport
import IdentityRiskServer
import IdentityRiskStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `irisk watch` as a user runs it: NDJSON lines as changes commit, the last
/// cursor on stderr at Ctrl-C (exit 0), resuming with --from.
@Suite("irisk watch against a real server", .serialized)
struct CLIWatchTests {
    /// `irisk watch …` in the background, its stdout and stderr going to files.
    final class Watcher: Sendable {
        let process: Process
        let out: String
        let err: String

        init(_ arguments: [String], directory: String) throws {
            let tag = UUID().uuidString.prefix(6)
            out = directory + "/watch-\(tag).out"
            err = directory + "/watch-\(tag).err"
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            _ = FileManager.default.createFile(atPath: err, contents: nil)
            process = Process()
            process.executableURL = URL(fileURLWithPath: productPath("irisk"))
            process.arguments = ["watch"] + arguments
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
            try process.run()
        }

        var lines: [String] {
            ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        var stderr: String { (try? String(contentsOfFile: err, encoding: .utf8)) ?? "" }

        func objects() throws -> [[String: Any]] {
            try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        }

        /// Waits until `count` change lines (not bookmarks) were printed.
        func waitForChanges(_ count: Int, timeout: Duration = .seconds(30)) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            func changes() -> Int { lines.filter { !$0.contains("\"kind\":\"bookmark\"") }.count }
            while ContinuousClock.now < deadline {
                if changes() >= count { return true }
                if !process.isRunning { return changes() >= count }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return false
        }

        func waitForLines(_ count: Int, timeout: Duration = .seconds(20)) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if lines.count >= count { return true }
                if !process.isRunning { return lines.count >= count }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return false
        }

        func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            return process.isRunning ? nil : process.terminationStatus
        }

        func signal(_ number: Int32) { if process.isRunning { kill(process.processIdentifier, number) } }
    }

    @Test("changes print as NDJSON lines as they commit; Ctrl-C prints the last cursor and exits 0; --from it resumes with the rest exactly once")
    func followInterruptResume() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/events.sqlite")
        try await withTestServer(store: store, configure: { $0.watchBookmarkIntervalMilliseconds = 200 }) { server in
            let socket = ["--socket", server.socketPath]
            let watcher = try Watcher(socket + ["--risk-level", "high", "--bookmarks"], directory: directory)
            defer { watcher.signal(SIGKILL) }
            #expect(await watcher.waitForLines(1), "the opening bookmark: \(watcher.stderr)")
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for n in 0..<6 {
                    var draft = seedDraft(id: "cli-\(n)")
                    draft.riskLevel = n % 2 == 0 ? .high : .low
                    _ = try await client.create(draft)
                }
                var patch = EventPatch()
                patch.set(.riskEventStatus, .riskEventStatus(.remediated))
                _ = try await client.update(id: "cli-0", patch)
                try await client.delete(id: "cli-2")
            }
            #expect(await watcher.waitForChanges(5), "the five high changes: \(watcher.lines)")
            let changes = try watcher.objects().filter { $0["kind"] as? String != "bookmark" }
            #expect(changes.map { $0["kind"] as? String } == ["created", "created", "created", "updated", "deleted"])
            #expect(changes.compactMap { ($0["event"] as? [String: Any])?["id"] as? String } == ["cli-0", "cli-2", "cli-4", "cli-0", "cli-2"])
            #expect(changes.allSatisfy { ($0["event"] as? [String: Any])?["riskLevel"] as? String == "high" }, "only the filter's matches")
            #expect((changes[3]["event"] as? [String: Any])?["@odata.etag"] as? String == "W/\"2\"")
            let cursors = changes.compactMap { ($0["cursor"] as? String).flatMap(UInt64.init) }
            #expect(cursors.count == 5 && cursors == cursors.sorted() && Set(cursors).count == 5, "string cursors, increasing: \(cursors)")
            try await Task.sleep(for: .milliseconds(500))
            let last = try #require(try watcher.objects().last?["cursor"] as? String)

            watcher.signal(SIGINT)
            #expect(await watcher.waitForExit() == 0, "Ctrl-C exits 0")
            #expect(watcher.stderr.contains("last cursor \(last)"), "stderr names the last cursor: \(watcher.stderr)")

            // More changes while nobody watches; --from the cursor gets exactly those.
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                for n in 6..<9 {
                    var draft = seedDraft(id: "cli-\(n)")
                    draft.riskLevel = .high
                    _ = try await client.create(draft)
                }
            }
            let resumed = try Watcher(socket + ["--risk-level", "high", "--from", last, "--count", "3"], directory: directory)
            defer { resumed.signal(SIGKILL) }
            #expect(await resumed.waitForExit(timeout: .seconds(20)) == 0, "--count 3 exits 0 after 3 changes: \(resumed.stderr)")
            #expect(try resumed.objects().compactMap { ($0["event"] as? [String: Any])?["id"] as? String } == ["cli-6", "cli-7", "cli-8"])
        }
    }

    @Test("bad input exits with a clear message: --from that is no cursor (64), a bad filter (2), no server (5)")
    func badInput() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notACursor = try await blocking { try CLITests.runIrisk(["watch", "--socket", directory + "/none.sock", "--from", "yesterday"]) }
        #expect(notACursor.status == 64)
        #expect(notACursor.stderr.contains("--from 'yesterday' is not now, beginning, or a cursor"), "\(notACursor.stderr)")
        try await withTestServer { server in
            let badFilter = try await blocking { try CLITests.runIrisk(["watch", "--socket", server.socketPath, "--filter", "riskLevel eq"]) }
            #expect(badFilter.status == 2, "\(badFilter.stderr)")
            #expect(badFilter.stderr.contains("invalidRequest"))
        }
        let noServer = try await blocking { try CLITests.runIrisk(["watch", "--socket", directory + "/none.sock", "--no-resume"]) }
        #expect(noServer.status == 5, "\(noServer.stderr)")
    }
}
