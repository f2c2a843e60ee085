import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskCore
import IdentityRiskStore
import Logging
import Synchronization

@main
struct IriskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "irisk-bench",
        abstract: "Drive creates (or a --mix of methods) at an IdentityRisk server and report calls/s, latency percentiles, errors and server figures.",
        discussion: """
            Targets: --socket PATH (a running server; without any target, the one at iriskd's default \
            socket: /run/identityrisk/iriskd.sock as root, else $XDG_RUNTIME_DIR/identityrisk/iriskd.sock), --spawn (IdentityRiskServer in this process), \
            --spawn-process PATH (the iriskd binary as a child, measured on its own), --floor (a C epoll \
            echo server: what the socket itself allows). --compare runs the server and the floor back to \
            back with the same shape and prints the ratio.

            With --mix create=1,get=8,list=1,update=1 (any of create, get, list, update, delete, health), each \
            connection sends those methods in that ratio, interleaved; --seed records are created first (not \
            measured) for the gets and updates to read, and every method is reported on a row of its own.

            Each connection keeps --in-flight creates outstanding, each a real CreateRequest frame with \
            a unique id. Latency is from writing a request to reading its answer. A run ends after \
            --warmup + --duration (or --requests answered), and never later than that plus 30 s.
            """,
        version: IdentityRiskVersion.current)

    @Option(help: "Unix socket of a running server (default, when no other target is given: iriskd's default socket).")
    var socket: String?
    @Flag(help: "Start IdentityRiskServer in-process on a scratch socket.")
    var spawn = false
    @Option(help: ArgumentHelp("Start this iriskd binary as a child process on a scratch socket.", valueName: "path"))
    var spawnProcess: String?
    @Option(help: "With --spawn/--spawn-process: memory, sqlite (a scratch file), sqlite:PATH, or a postgresql:// URL (README, Running a fleet).")
    var store = "memory"
    @Option(help: "With --socket: the server's pid, to report its memory and CPU.")
    var serverPid: Int32?
    @Flag(help: "Run against the C echo floor (alone, or after the server when one is given).")
    var floor = false
    @Flag(help: "Run the server, then the floor, same shape; print both and the ratio.")
    var compare = false
    @Option(help: "Connections.")
    var connections = 4
    @Option(help: "Calls in flight per connection (1 ... 65535).")
    var inFlight = 64
    @Option(help: "Measured seconds (default: 10; with --requests it is the time limit, default 60).")
    var duration: Double?
    @Option(help: "Seconds of unrecorded traffic before measuring.")
    var warmup = 2.0
    @Option(help: "Measure this many calls (over all connections) instead of a duration.")
    var requests: UInt64?
    @Option(help: "Load threads (default: one per connection).")
    var clientThreads: Int?
    @Option(help: "Threads of the floor server (default: the CPU count, as NIO's event loops).")
    var floorThreads: Int?
    @Option(help: "Distinct request bodies per connection.")
    var templates = 1024
    @Flag(name: .customLong("server-ids"), help: "Send creates without an id, so that the server assigns one (a time-ordered UUID), as for a client that sends none.")
    var serverIDs = false
    @Option(help: "Decode every Nth OK answer in full and check its id (0: never).")
    var verifyEvery: UInt64 = 4096
    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Option(help: ArgumentHelp(
        "Send a mix of methods in these ratios instead of creates only, e.g. create=1,get=8,list=1,update=1 (methods: create, get, list, update, delete, health; weights 0 ... 1000). Gets and updates read records created first (--seed); each method's rate and latency are reported on a row of its own.",
        valueName: "method=weight,..."))
    var mix: String?

    @Option(help: "With a --mix that gets, lists or updates: records to create before the warmup, for them to read (default 10000; 1 ... 100000000).")
    var seed: UInt64 = 10_000

    /// `--mix`, parsed.
    var parsedMix: Mix? {
        get throws {
            guard let mix else { return nil }
            do {
                return try Mix(parsing: mix)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    @Option(help: ArgumentHelp(
        "Watch streams open during the load, e.g. 16, or a list such as 0,16,256: one run per count, each on a fresh server (or the same --socket), side by side.",
        valueName: "counts"))
    var watchers: String?

    @Option(help: "With --watchers: each watcher's $filter (default: every change); {user} is replaced by watcher i's own user id (user i of the payload mix), e.g. \"userId eq '{user}'\".")
    var watchFilter: String = ""

    /// `--watchers` as counts.
    var watcherCounts: [Int] {
        get throws {
            guard let watchers else { return [] }
            return try watchers.split(separator: ",").map { text in
                guard let count = Int(text.filter { $0 != " " }), (0...4096).contains(count) else {
                    throw ValidationError("--watchers '\(watchers)': each count must be 0 ... 4096")
                }
                return count
            }
        }
    }

    @Option(name: .customLong("server-arg"), help: ArgumentHelp(
        "With --spawn-process: one more argument for iriskd (repeatable, in order); {scratch} becomes the run's scratch directory.",
        valueName: "arg"))
    var serverArguments: [String] = []

    @Option(name: .customLong("variant"), help: ArgumentHelp(
        "With --spawn-process: a named set of extra iriskd arguments, 'LABEL: ARG ARG ...' (split at spaces; {scratch} as for --server-arg). Repeatable: each round runs every variant once, in order, each on a fresh server, e.g. --variant 'plain:' --variant 'metrics: --metrics-socket {scratch}/m.sock' --rounds 3.",
        valueName: "label: args"))
    var variantTexts: [String] = []

    @Option(help: "With --variant: how many times to run the variants, alternating (1 ... 20).")
    var rounds: Int = 1

    /// `--variant` as (label, arguments).
    var variants: [(label: String, arguments: [String])] {
        get throws {
            try variantTexts.map { text in
                guard let colon = text.firstIndex(of: ":"), !text[..<colon].trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw ValidationError("--variant '\(text)' is not 'LABEL: ARGS' (e.g. 'metrics: --metrics-socket {scratch}/m.sock')")
                }
                let label = text[..<colon].trimmingCharacters(in: .whitespaces)
                return (label, text[text.index(after: colon)...].split(separator: " ").map(String.init))
            }
        }
    }

    var cpuCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The running server to drive: --socket, or with no target at all (or
    /// --compare alone) the one at the default socket, where irisk looks too.
    var externalSocket: String? {
        if let socket { return socket }
        if spawn || spawnProcess != nil || (floor && !compare) { return nil }
        return try? DefaultSocketPath.current()
    }

    func validate() throws {
        let sources = [socket != nil, spawn, spawnProcess != nil].filter { $0 }.count
        guard sources <= 1 else { throw ValidationError("give only one of --socket, --spawn, --spawn-process") }
        if sources == 0, !floor || compare {
            do {
                _ = try DefaultSocketPath.current()
            } catch {
                throw ValidationError("\(error.message) (or --spawn, --spawn-process PATH, --floor)")
            }
        }
        do {
            _ = try StoreSpec(benchArgument: store, scratch: nil)
        } catch {
            throw ValidationError("--store: \(error)")
        }
        guard store == "memory" || spawn || spawnProcess != nil else { throw ValidationError("--store applies to --spawn and --spawn-process only") }
        guard (1...1024).contains(connections) else { throw ValidationError("--connections must be 1 ... 1024") }
        guard (1..<FramePool.maxSlots).contains(inFlight) else { throw ValidationError("--in-flight must be 1 ... \(FramePool.maxSlots - 1)") }
        guard (duration ?? 1) > 0, warmup >= 0 else { throw ValidationError("--duration must be > 0 and --warmup >= 0") }
        guard (requests ?? 1) > 0 else { throw ValidationError("--requests must be at least 1") }
        if try !watcherCounts.isEmpty, !(externalSocket != nil || spawn || spawnProcess != nil) {
            throw ValidationError("--watchers needs a server: --socket, --spawn or --spawn-process")
        }
        if !serverArguments.isEmpty || !variantTexts.isEmpty {
            guard spawnProcess != nil else { throw ValidationError("--server-arg and --variant need --spawn-process") }
        }
        let labels = try variants.map(\.label)
        guard Set(labels).count == labels.count else { throw ValidationError("--variant labels must differ") }
        guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be 1 ... 20") }
        guard rounds == 1 || !variantTexts.isEmpty else { throw ValidationError("--rounds needs --variant") }
        guard variantTexts.isEmpty || watchers == nil else { throw ValidationError("--variant and --watchers cannot be combined") }
        if let mix = try parsedMix {
            guard !(mix.deletes && serverIDs) else {
                throw ValidationError("--mix '\(self.mix!)': delete removes records by the ids the bench chose; it cannot be combined with --server-ids")
            }
        }
        guard (1...100_000_000).contains(seed) else { throw ValidationError("--seed must be 1 ... 100000000 (it is \(seed))") }
        guard (clientThreads ?? 1) >= 1, (floorThreads ?? 1) >= 1, templates >= 1 else {
            throw ValidationError("--client-threads, --floor-threads and --templates must be at least 1")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        signal(SIGPIPE, SIG_IGN)
        let shape = LoadShape(
            connections: connections, depth: inFlight, warmupSeconds: warmup,
            durationSeconds: duration ?? (requests == nil ? 10 : 60), requests: requests,
            clientThreads: clientThreads ?? connections, templates: templates, serverIDs: serverIDs, verifyEvery: verifyEvery,
            liveStatus: isatty(STDOUT_FILENO) == 1, mix: try parsedMix, seed: seed)
        let hasServer = externalSocket != nil || spawn || spawnProcess != nil
        let runFloor = floor || compare
        let counts = try watcherCounts
        let variants = try self.variants
        let runCount = (hasServer ? max(1, counts.count, variants.count * rounds) : 0) + (runFloor ? 1 : 0)
        let seedingSeconds = shape.seeds ? shape.seeding.hardStopSeconds : 0
        try Watchdog.arm(seconds: Double(runCount) * (shape.hardStopSeconds + seedingSeconds + 30) + 10)
        let host = ReportPrinter.Host(cpus: cpuCount, loadAverageBefore: Self.loadAverage())
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let runTag = String(UInt64.random(in: 0..<(1 << 40)), radix: 36)

        var reports: [RunReport] = []
        do {
            if hasServer, !variants.isEmpty {
                for round in 1...rounds {
                    for variant in variants {
                        let target = try await makeServerTarget(depth: shape.depth, scratch: scratch, extraArguments: variant.arguments)
                        var report = try await Self.run(target, shape: shape, runTag: runTag + "r\(round)\(variant.label)")
                        report.target += " [\(variant.label) #\(round)]"
                        reports.append(report)
                    }
                }
            } else if hasServer, counts.isEmpty {
                let target = try await makeServerTarget(depth: shape.depth, scratch: scratch)
                reports.append(try await Self.run(target, shape: shape, runTag: runTag))
            }
            for count in counts where hasServer {
                let target = try await makeServerTarget(depth: shape.depth, scratch: scratch)
                reports.append(try await Self.run(target, shape: shape, runTag: runTag + "w\(count)", watchers: count, filter: watchFilter))
            }
            if runFloor {
                let target = try FloorServer(threads: floorThreads ?? cpuCount, scratch: scratch)
                reports.append(try await Self.run(target, shape: shape, runTag: runTag))
            }
        } catch let error as BenchError {
            printError("irisk-bench: error: \(error)")
            throw ExitCode(1)
        }
        let printer = ReportPrinter(runs: reports, host: host)
        print(json ? try printer.json() : printer.text())
        if !variants.isEmpty, !json {
            print(Self.variantSummary(reports, labels: variants.map(\.label)))
        }
        let failed = reports.contains { $0.hitHardStop || $0.calls == 0 }
        if failed { throw ExitCode(2) }
    }

    /// Per variant: each round's creates/s, the median, and the median against the first variant's.
    static func variantSummary(_ reports: [RunReport], labels: [String]) -> String {
        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        var lines = ["variants (OK answers/s per round, median, median vs \(labels[0])):"]
        var baseline: Double?
        for label in labels {
            let rates = reports.filter { $0.target.contains("[\(label) #") }.map(\.okPerSecond)
            let m = median(rates)
            if baseline == nil { baseline = m }
            let relative = baseline.map { $0 > 0 ? String(format: "%+.1f%%", (m / $0 - 1) * 100) : "-" } ?? "-"
            lines.append("  \(label): " + rates.map { String(format: "%.0f", $0) }.joined(separator: ", ") + String(format: "; median %.0f; %@", m, relative))
        }
        return lines.joined(separator: "\n")
    }

    private func makeServerTarget(depth: Int, scratch: TemporaryDirectory, extraArguments: [String] = []) async throws -> any BenchTarget {
        let spec = try StoreSpec(benchArgument: store, scratch: scratch)
        if spawn {
            let server = try InProcessServer(store: spec, depth: depth, scratch: scratch)
            try await server.start()
            return server
        }
        if let executable = spawnProcess {
            let server = try ChildProcessServer(
                executable: executable, store: spec, storeArgument: store, depth: depth, scratch: scratch, extraArguments: serverArguments + extraArguments)
            Watchdog.childPID.store(server.pid, ordering: .relaxed)
            do {
                try await server.waitUntilListening()
            } catch {
                await server.stop()
                throw error
            }
            return server
        }
        return ExternalServer(socketPath: externalSocket!, pid: serverPid)
    }

    /// One run against `target`, which is stopped afterwards whatever happens.
    /// With `watchers` (a count, possibly 0): that many watch streams are open
    /// during the load, and the report says what they received.
    private static func run(
        _ target: any BenchTarget, shape: LoadShape, runTag: String, watchers: Int? = nil, filter: String = ""
    ) async throws -> RunReport {
        var pool: WatcherPool?
        do {
            let seedTag = runTag + "s"
            var seeded: (records: UInt64, seconds: Double)?
            if shape.seeds, target.speaksIdentityRisk {
                seeded = try await seed(target, shape: shape, seedTag: seedTag)
            }
            var window = target.window
            if let watchers, watchers > 0 {
                let opened = try WatcherPool(socketPath: target.socketPath, count: watchers, filter: filter)
                try opened.start()
                pool = opened
                window = WatchingWindow(inner: window, pool: opened)
            }
            let load = LoadRun(shape: shape, label: target.name, runTag: runTag + (target.name == "floor" ? "f" : ""), seedTag: seedTag)
            let result = try await load.run(socketPath: target.socketPath, verify: target.speaksIdentityRisk, window: window)
            var report = RunReport(target: target, shape: shape, result: result)
            report.seededRecords = seeded?.records
            report.seedSeconds = seeded?.seconds
            if let watchers {
                report.watchers = pool?.stop() ?? WatcherPool.Figures(
                    watchers: 0, filter: filter, delivered: 0, bookmarks: 0, ended: [:], latencyP50: 0, latencyP99: 0, latencyMax: 0, readerCPUSeconds: 0)
                report.target += " +\(watchers)w"
                _ = watchers
            }
            await target.stop()
            return report
        } catch {
            _ = pool?.stop()
            await target.stop()
            throw error
        }
    }

    /// Creates the records a mix reads (`shape.seed` over the run's
    /// connections, ids under `seedTag`); every one must be a new record.
    private static func seed(_ target: any BenchTarget, shape: LoadShape, seedTag: String) async throws -> (records: UInt64, seconds: Double) {
        let seeding = LoadRun(shape: shape.seeding, label: "seed", runTag: seedTag)
        let result = try await seeding.run(socketPath: target.socketPath, verify: true, window: NoWindow())
        let t = result.tally
        guard t.byCode[0] == shape.seed, t.alreadyExisted == 0, t.verifyFailures == 0, !result.incomplete, !result.hitHardStop else {
            var why = "seeding \(shape.seed) records for --mix: \(t.byCode[0]) created"
            if t.alreadyExisted > 0 { why += ", \(t.alreadyExisted) already existed" }
            if result.incomplete || result.hitHardStop { why += ", not done within \(Int(LoadShape.seedTimeLimitSeconds)) s" }
            let problems = t.sampleErrors + t.connectionFailures
            if !problems.isEmpty { why += "; " + problems.joined(separator: "; ") }
            throw BenchError(why)
        }
        return (shape.seed, result.measuredSeconds)
    }

    private static func loadAverage() -> Double? {
        var loads = [Double](repeating: 0, count: 3)
        return getloadavg(&loads, 3) >= 1 ? loads[0] : nil
    }

    private func printError(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }
}
