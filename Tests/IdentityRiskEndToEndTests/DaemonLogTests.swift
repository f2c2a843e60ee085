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

    @Test("logfmt quotes values with spaces, quotes, = and backslashes as JSON strings, so each line splits back into its fields")
    func logfmtQuoting() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/q.sock"
        let daemon = try HardeningDaemon(socketPath: socket, arguments: ["--store", "memory", "--log-level", "debug"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        // A filter the server refuses: its message quotes what was sent.
        let client = IdentityRiskClient(socketPath: socket)
        do {
            for try await _ in client.watch(filter: #"riskLevel eq 'a b"c=d\e'"#, options: WatchOptions(resume: false)) {}
            Issue.record("the filter was accepted")
        } catch {}
        await client.close()
        #expect(try await daemon.terminate() == 0)
        let line = try #require(daemon.log().split(separator: "\n").first { $0.contains("method=watch") && $0.contains("status=invalidArgument") }, "\(daemon.log())")
        // Sorted keys: `message="..."` comes right before ` method=watch`.
        let start = try #require(line.firstRange(of: "message=")?.upperBound, "\(line)")
        let end = try #require(line.firstRange(of: " method=watch")?.lowerBound, "\(line)")
        let quoted = String(line[start..<end])
        #expect(quoted.hasPrefix("\"") && quoted.hasSuffix("\""), "quoted: \(line)")
        let decoded = try JSONSerialization.jsonObject(with: Data(("[" + quoted + "]").utf8)) as? [String]
        #expect(decoded?.first?.contains(#"a b"c=d\e"#) == true, "the quoted value reads back as a JSON string: \(line)")
    }

    @Test("--log-format json: every line is one JSON object with ts (ms, UTC), level, label, msg and the metadata; info has start, each connection opened/closed with peer and call count, and shutdown with what was drained")
    func jsonLifecycle() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/j.sock"
        let daemon = try HardeningDaemon(socketPath: socket, arguments: ["--store", "memory", "--log-level", "info", "--log-format", "json"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        try await withIdentityRiskClient(socketPath: socket) { client in
            _ = try await client.create(seedDraft(id: "json-1"))
            _ = try await client.get(id: "json-1")
            _ = try? await client.get(id: "missing")
        }
        // A watcher open at shutdown: ended with its cursor, and counted.
        let watcher = IdentityRiskClient(socketPath: socket)
        let stream = watcher.watch(options: WatchOptions(resume: false))
        let firstMessage = Task {
            for try await _ in stream {}
        }
        // Until the watch is in the server's hands: its stats count one open watcher.
        let deadline = ContinuousClock.now + scaledDuration(30_000)
        var watching = false
        while !watching, ContinuousClock.now < deadline {
            watching = try await withIdentityRiskClient(socketPath: socket) { try await $0.stats().openWatchers } == 1
            if !watching { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(watching, "the server counts the open watcher")
        #expect(try await daemon.terminate() == 0)
        firstMessage.cancel()
        await watcher.close()
        let lines = daemon.log().split(separator: "\n").map(String.init)
        var objects: [[String: Any]] = []
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "parses as a JSON object: \(line)")
            if let object { objects.append(object) }
        }
        let stamp = try Regex(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#)
        for object in objects {
            #expect((object["ts"] as? String)?.contains(stamp) == true && object["level"] is String && object["label"] is String && object["msg"] is String, "\(object)")
        }
        func find(_ message: String) -> [[String: Any]] { objects.filter { $0["msg"] as? String == message } }
        let listening = try #require(find("listening").first, "\(lines)")
        #expect(listening["socket"] as? String == socket && listening["store"] as? String == "memory")
        #expect(listening["version"] as? String == IdentityRiskVersion.current && listening["pid"] as? String == "\(daemon.pid)")
        #expect(listening["maxConnections"] as? String == "1024" && listening["maxFrameBytes"] as? String == "65536")
        let peer = try Regex(#"^pid=\d+ uid=0 gid=0$"#)
        #expect(find("connection opened").count >= 3, "the health probe, the client, the watcher: \(lines)")
        #expect(find("connection opened").allSatisfy { ($0["peer"] as? String)?.contains(peer) == true })
        let closed = find("connection closed")
        #expect(closed.contains { $0["calls"] as? String == "3" && ($0["peer"] as? String)?.contains(peer) == true && Int($0["ms"] as? String ?? "") != nil },
                "the client's connection: 3 calls: \(closed)")
        let stopped = try #require(find("stopped").first, "\(lines)")
        #expect(stopped["streamsEnded"] as? String == "1", "\(stopped)")
        #expect(stopped["callsAnswered"] as? String == "0" && stopped["callsCancelled"] as? String == "0", "\(stopped)")
    }
}
