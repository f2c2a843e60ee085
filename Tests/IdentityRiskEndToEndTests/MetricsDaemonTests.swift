#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import Testing

/// Prometheus metrics from the real iriskd binary, scraped over its metrics
/// socket; bad metrics flags; the periodic summary line.
@Suite("iriskd metrics and summary", .serialized)
struct MetricsDaemonTests {
    /// A connected Unix socket with a receive timeout of `timeoutSeconds`.
    static func connectUnix(_ path: String, timeoutSeconds: Int = 10) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw IdentityRiskError(code: .unavailable, message: "socket: \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw IdentityRiskError(code: .unavailable, message: "connect \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Waits for the peer to close `fd` (recv returns 0, or ECONNRESET); false if data or the timeout came first.
    static func closedByPeer(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    /// One HTTP/1.1 request over the Unix socket at `path`; the whole answer (the server closes).
    static func http(_ path: String, request: String) async throws -> String {
        try await blocking {
            let fd = try connectUnix(path)
            defer { close(fd) }
            let out = Array(request.utf8)
            _ = out.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            var answer: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while answer.count < 16 << 20 {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                answer += buffer[0..<n]
            }
            return String(decoding: answer, as: UTF8.self)
        }
    }

    static func scrape(_ path: String) async throws -> String {
        try await http(path, request: "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
    }

    /// `name{labels} value` lines of an exposition: the value of the series whose
    /// name and labels are exactly these (labels as written, e.g. `method="create",code="ok"`).
    static func value(_ exposition: String, _ name: String, _ labels: String = "") -> Double? {
        let series = labels.isEmpty ? name : "\(name){\(labels)}"
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == series { return Double(parts[1]) }
        }
        return nil
    }

    /// The sum of every series of `name` whose labels include each of `labels`
    /// (e.g. the request histograms of all event loops: `loop="0"`, `loop="1"`, ...).
    static func sum(_ exposition: String, _ name: String, _ labels: [String]) -> Double? {
        var total: Double?
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, parts[0].hasPrefix(name + "{"), let value = Double(parts[1]) else { continue }
            let labelText = parts[0].dropFirst(name.count + 1).dropLast()
            let present = Set(labelText.split(separator: ",").map(String.init))
            if labels.allSatisfy(present.contains) { total = (total ?? 0) + value }
        }
        return total
    }

    @Test("a scrape over --metrics-socket: requests_total counts each call by method and code, the duration and commit histograms have _bucket, _sum and _count, the gauges follow the store; the socket is 0600 and removed at exit")
    func scrapeOverUnixSocket() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let metrics = directory + "/m.sock"
        let daemon = try HardeningDaemon(
            socketPath: socket, arguments: ["--store", "sqlite:\(directory)/m.sqlite", "--metrics-socket", metrics, "--log-level", "info"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        var info = stat()
        #expect(stat(metrics, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o777 == 0o600, "created like the main socket: owner only")

        let creates = 7
        try await withIdentityRiskClient(socketPath: socket) { client in
            for i in 0..<creates { _ = try await client.create(seedDraft(id: "metric-\(i)")) }
            for _ in 0..<3 { _ = try? await client.get(id: "missing") }
        }
        let text = try await Self.scrape(metrics)
        #expect(text.hasPrefix("HTTP/1.1 200 OK"), "\(text.prefix(200))")
        #expect(text.contains("Content-Type: text/plain; version=0.0.4"))
        let body = String(text[(text.range(of: "\r\n\r\n")?.upperBound ?? text.startIndex)...])
        #expect(Self.value(body, "irisk_requests_total", #"method="create",code="ok""#) == Double(creates), "\(body)")
        #expect(Self.value(body, "irisk_requests_total", #"method="get",code="notFound""#) == 3)
        #expect(Self.sum(body, "irisk_request_duration_seconds_count", [#"method="create""#]) == Double(creates))
        #expect(Self.sum(body, "irisk_request_duration_seconds_bucket", [#"method="create""#, #"le="+Inf""#]) == Double(creates))
        #expect((Self.sum(body, "irisk_request_duration_seconds_sum", [#"method="create""#]) ?? 0) > 0)
        #expect(body.components(separatedBy: "# TYPE irisk_request_duration_seconds histogram").count == 2, "one TYPE line")
        let commits = try #require(Self.value(body, "irisk_store_commit_batch_size_count"))
        #expect(commits >= 1 && commits <= Double(creates), "one observation per transaction")
        #expect(Self.value(body, "irisk_store_commit_batch_size_sum") == Double(creates), "every create was in some batch")
        #expect(Self.value(body, "irisk_store_commit_duration_seconds_count") == commits)
        #expect(body.contains(#"irisk_store_commit_duration_seconds_bucket{le="+Inf"}"#))
        #expect(Self.value(body, "irisk_store_records") == Double(creates))
        #expect((Self.value(body, "irisk_store_size_bytes") ?? 0) > 0)
        #expect(Self.value(body, "irisk_store_queue_depth") == 0)
        #expect(Self.value(body, "irisk_watchers_open") == 0)
        #expect(Self.value(body, "irisk_slow_watchers_ended_total") == 0)
        #expect(Self.value(body, "irisk_connections_open") != nil)
        // Counters only grow: a second scrape after more calls adds exactly those.
        try await withIdentityRiskClient(socketPath: socket) { client in _ = try await client.create(seedDraft(id: "metric-last")) }
        let second = try await Self.scrape(metrics)
        #expect(Self.value(second, "irisk_requests_total", #"method="create",code="ok""#) == Double(creates + 1))

        let notFound = try await Self.http(metrics, request: "GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(notFound.hasPrefix("HTTP/1.1 404"))
        let post = try await Self.http(metrics, request: "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405"))
        let garbage = try await Self.http(metrics, request: "\u{16}\u{03}\u{01} not http\r\n\r\n")
        #expect(!garbage.contains("200 OK"), "a non-HTTP request gets no metrics: \(garbage.prefix(80))")
        // The server still answers after them.
        #expect(try await Self.scrape(metrics).hasPrefix("HTTP/1.1 200 OK"))

        #expect(try await daemon.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: metrics), "the metrics socket is removed at exit")
        #expect(!FileManager.default.fileExists(atPath: metrics + ".lock"))
    }

    @Test("the HTTP side is bounded: a request that never completes is closed after the read timeout; past 16 connections a new one is closed at once")
    func boundedHTTP() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let metrics = directory + "/m.sock"
        let daemon = try HardeningDaemon(socketPath: directory + "/d.sock", arguments: ["--store", "memory", "--metrics-socket", metrics])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        let timeout = Int(scaled(5000) / 1000) + 10
        let started = ContinuousClock.now
        let slowClosed = try await blocking {
            let fd = try Self.connectUnix(metrics, timeoutSeconds: timeout)
            defer { close(fd) }
            _ = "GET /metrics HTTP/1.1\r\nHost: loc".withCString { send(fd, $0, strlen($0), 0) }
            return Self.closedByPeer(fd)
        }
        #expect(slowClosed, "a request head that never ends is closed")
        #expect(ContinuousClock.now - started >= .seconds(4), "after the 5 s read timeout, not before")

        let (held, extraClosed, waited) = try await blocking { () -> ([Int32], Bool, Duration) in
            var held: [Int32] = []
            for _ in 0..<16 { held.append(try Self.connectUnix(metrics)) }
            // Let the server accept all 16 before the 17th.
            usleep(300_000)
            let extra = try Self.connectUnix(metrics, timeoutSeconds: timeout)
            defer { close(extra) }
            let before = ContinuousClock.now
            let closed = Self.closedByPeer(extra)
            return (held, closed, ContinuousClock.now - before)
        }
        #expect(extraClosed, "the 17th connection is closed at accept")
        #expect(waited < scaledDuration(2000), "at once, not by the read timeout: \(waited)")
        for fd in held { close(fd) }
        // Once they are gone, scrapes are served again.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await Self.scrape(metrics).hasPrefix("HTTP/1.1 200 OK"))
        #expect(try await daemon.terminate() == 0)
    }

    @Test("without --metrics-* there is no metrics socket and the log says nothing of metrics")
    func offByDefault() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try HardeningDaemon(socketPath: directory + "/d.sock", arguments: ["--store", "memory", "--log-level", "info"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sock") } == ["d.sock"])
        #expect(try await daemon.terminate() == 0)
        #expect(!daemon.log().contains("metrics"))
    }

    /// Runs iriskd with `arguments` to its exit; status and stderr.
    static func run(_ arguments: [String]) async throws -> (status: Int32, stderr: String) {
        try await blocking {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: productPath("iriskd"))
            process.arguments = arguments
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }

    @Test("bad metrics and summary flags exit 64 with a message that names the flag and what is allowed")
    func badFlags() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let cases: [([String], String)] = [
            (["--metrics-listen", "0.0.0.0:9464"], "'0.0.0.0' is not a loopback address"),
            (["--metrics-listen", "192.168.1.5:9464"], "only 127.0.0.1 (127.0.0.0/8), [::1] or localhost are accepted"),
            (["--metrics-listen", "127.0.0.1"], "is not HOST:PORT"),
            (["--metrics-listen", "127.0.0.1:0"], "the port must be 1 ... 65535"),
            (["--metrics-listen", "[::1]9464"], "has no port"),
            (["--metrics-socket", socket], "is the server's own --socket"),
            (["--metrics-socket", ""], "--metrics-socket needs a path"),
            (["--metrics-socket", directory + "/m.sock", "--metrics-socket-mode", "999"], "--metrics-socket-mode '999' is not an octal mode"),
            (["--metrics-socket-mode", "0660"], "--metrics-socket-mode needs --metrics-socket"),
            (["--summary-interval=-1"], "--summary-interval -1 is not 0 (off) ... 86400 seconds"),
            (["--sqlite-checkpoint-ms=-1"], "--sqlite-checkpoint-ms -1 is not 0 (inside the writer's commits) ... 60000 milliseconds"),
            (["--sqlite-checkpoint-ms", "60001"], "--sqlite-checkpoint-ms 60001 is not 0"),
        ]
        for (flags, message) in cases {
            let (status, stderr) = try await Self.run(["--socket", socket, "--store", "memory"] + flags)
            #expect(status == 64, "\(flags): \(stderr)")
            #expect(stderr.contains(message), "\(flags): \(stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: socket), "refused before anything was created")
    }

    /// `key=value` pairs of a logfmt line after its message (values bare or double-quoted).
    static func logfmt(_ text: Substring) -> [String: String]? {
        var pairs: [String: String] = [:]
        var rest = text[...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " }
            guard let equals = rest.firstIndex(of: "=") else { return rest.isEmpty ? pairs : nil }
            let key = String(rest[..<equals])
            guard !key.isEmpty, !key.contains(" ") else { return nil }
            rest = rest[rest.index(after: equals)...]
            if rest.first == "\"" {
                var value = ""
                var index = rest.index(after: rest.startIndex)
                var closed = false
                while index < rest.endIndex {
                    let c = rest[index]
                    if c == "\\" {
                        index = rest.index(after: index)
                        guard index < rest.endIndex else { return nil }
                        value.append(rest[index])
                    } else if c == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(c)
                    }
                    index = rest.index(after: index)
                }
                guard closed else { return nil }
                pairs[key] = value
                rest = rest[rest.index(after: index)...]
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                pairs[key] = String(rest[..<end])
                rest = rest[end...]
            }
        }
        return pairs
    }

    @Test("--summary-interval 1: under traffic one info summary line per interval, logfmt, with rates, errors by status and queue depth; none while idle")
    func summaryLine() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let daemon = try HardeningDaemon(socketPath: socket, arguments: ["--store", "memory", "--log-level", "info", "--summary-interval", "1"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        try await withIdentityRiskClient(socketPath: socket) { client in
            for i in 0..<20 { _ = try await client.create(seedDraft(id: "sum-\(i)")) }
            for _ in 0..<2 { _ = try? await client.get(id: "missing") }
        }
        func summaries() -> [Substring] { daemon.log().split(separator: "\n").filter { $0.contains(" info iriskd: summary ") } }
        // Wait for the interval that holds the two misses too (under a sanitizer
        // the traffic can spread over several intervals).
        func notFound(_ lines: [Substring]) -> Int {
            lines.compactMap { Self.logfmt($0[$0.range(of: " summary ")!.upperBound...]) }.compactMap { Int($0["errors_notFound"] ?? "") }.reduce(0, +)
        }
        let deadline = ContinuousClock.now + scaledDuration(10_000)
        while notFound(summaries()) < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let lines = summaries()
        let line = try #require(lines.first, "\(daemon.log())")
        #expect(line.contains(try Regex(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info iriskd: summary "#)))
        let fields = try #require(Self.logfmt(line[line.range(of: " summary ")!.upperBound...]), "parses as logfmt: \(line)")
        for key in ["calls", "calls_per_s", "creates_per_s", "updates_per_s", "deletes_per_s", "errors", "queue_depth", "interval_s"] {
            #expect(fields[key] != nil, "\(key) in \(line)")
        }
        // The traffic may straddle two intervals: add the lines up.
        let all = lines.compactMap { Self.logfmt($0[$0.range(of: " summary ")!.upperBound...]) }
        let creates = all.compactMap { Double($0["creates_per_s"] ?? "") }.reduce(0, +)
        #expect(creates > 0)
        #expect(all.compactMap { Int($0["errors_notFound"] ?? "") }.reduce(0, +) == 2)
        #expect(fields["queue_depth"] == "0")
        // Idle now: after two more intervals no new line appears.
        try await Task.sleep(for: scaledDuration(1200))
        let settled = summaries().count
        try await Task.sleep(for: .milliseconds(2500))
        #expect(summaries().count == settled, "no line while idle")
        #expect(try await daemon.terminate() == 0)
    }
}
