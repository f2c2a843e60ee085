import ArgumentParser
import Foundation
import Prometheus
import IdentityRiskCore
import IdentityRiskServer
import IdentityRiskService
import IdentityRiskStore
import Logging
import ServiceLifecycle
import UnixSignals

/// Every flag's default comes from here (README "Limits and security" lists the same values).
private let Defaults = ServerConfiguration.defaults

@main
struct Iriskd: AsyncParsableCommand {
    /// Parses the configuration file, the environment and the command line
    /// (``ConfigurationSources``), then runs.
    static func main() async {
        let commandLine = Array(CommandLine.arguments.dropFirst())
        let resolved: ConfigurationSources.Resolved
        do {
            resolved = try ConfigurationSources.resolve(
                commandLine: commandLine, environment: ProcessInfo.processInfo.environment, knownFlags: knownFlags)
        } catch {
            FileHandle.standardError.write(Data("iriskd: error: \(error)\n".utf8))
            Foundation.exit(64)
        }
        do {
            var command = try parseAsRoot(resolved.arguments)
            if let iriskd = command as? Iriskd, iriskd.printConfig {
                // Before anything is opened: no store, no socket, no log handler.
                print(iriskd.configurationReport(resolved), terminator: "")
                return
            }
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// Every long flag's name, for the configuration file and the environment.
    static var knownFlags: Set<String> {
        Set(helpMessage(columns: 400).split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "--") else { return nil }
            let name = line[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            return name.isEmpty || ["help", "version", "config", "print-config"].contains(name) ? nil : String(name)
        })
    }

    static let configuration = CommandConfiguration(
        commandName: "iriskd",
        abstract: "The IdentityRisk server: stores identityRiskEvent records and serves them on a Unix socket.",
        discussion: """
            Settings also come from a configuration file (--config FILE or IRISKD_CONFIG: one \
            "name = value" per line, named as the long flags without --) and from IRISKD_* \
            environment variables (IRISKD_STORE for --store, ...); flags win over the environment, \
            which wins over the file.
            Stops gracefully on SIGTERM or SIGINT: stops accepting, answers in-flight calls, \
            commits the store's last batch, removes the socket file.
            """,
        version: IdentityRiskVersion.current
    )

    @Option(help: ArgumentHelp(
        "Unix socket path to listen on. Default: /run/identityrisk/iriskd.sock as root, else $XDG_RUNTIME_DIR/identityrisk/iriskd.sock (its directory is created 0700 if missing). A directory others may write without the sticky bit, or owned by another non-root user, is refused.",
        valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp(
        "Where records are kept: 'sqlite:PATH' (durable, the default), 'sqlite' (the default path), or 'memory' (not durable: lost on exit).",
        valueName: "store"))
    var store: String = "sqlite:" + Iriskd.defaultDatabasePath

    @Option(help: "Socket file permission bits, octal (0600: owner only; 0660 with --socket-group).")
    var socketMode: String = "0" + String(Defaults.socketMode, radix: 8)

    @Option(help: "Numeric group id to own the socket file (use with --socket-mode 0660).")
    var socketGroup: UInt32?

    @Option(help: "Largest request frame accepted, in bytes (\(ServerConfiguration.maxFrameBytesRange.lowerBound) ... \(ServerConfiguration.maxFrameBytesRange.upperBound)).")
    var maxFrameBytes: Int = Defaults.maxFrameBytes

    @Option(help: "Most open connections at once.")
    var maxConnections: Int = Defaults.maxConnections

    @Option(help: "Most open connections from one peer uid.")
    var maxConnectionsPerUid: Int = Defaults.maxConnectionsPerUID

    @Option(help: "Most calls in flight on one connection.")
    var maxInFlight: Int = Defaults.maxCallsInFlightPerConnection

    @Option(help: "A client must send its preface within this many milliseconds.")
    var handshakeTimeoutMs: Int64 = Defaults.handshakeTimeoutMilliseconds

    @Option(help: "Close a connection with no call in flight that sends nothing for this many milliseconds.")
    var idleTimeoutMs: Int64 = Defaults.idleTimeoutMilliseconds

    @Option(help: "Once a frame's first byte arrives, the whole frame must arrive within this many milliseconds.")
    var frameReadTimeoutMs: Int64 = Defaults.frameReadTimeoutMilliseconds

    @Option(help: "Close a connection whose client does not read its responses for this many milliseconds.")
    var unwritableTimeoutMs: Int64 = Defaults.unwritableTimeoutMilliseconds

    @Option(help: "Outbound bytes queued on a connection above which the server stops reading from it.")
    var writeHighWaterMark: Int = Defaults.writeBufferHighWaterMark

    @Option(help: "Outbound bytes below which a throttled connection is read again.")
    var writeLowWaterMark: Int = Defaults.writeBufferLowWaterMark

    @Option(help: "Memory protobuf-c may use to unpack a request, as a multiple of the frame's length.")
    var decodeMemoryFactor: Int = Defaults.decodeMemoryFactor

    @Option(help: "Memory protobuf-c may always use to unpack a request, in bytes.")
    var minDecodeMemoryBytes: Int = Defaults.minDecodeMemoryBytes

    @Option(name: .customLong("allow-uid"), help: "Only accept callers with this uid (repeatable). Default: any.")
    var allowUIDs: [UInt32] = []

    @Option(name: .customLong("allow-gid"), help: "Only accept callers with this gid (repeatable). Default: any.")
    var allowGIDs: [UInt32] = []

    @Option(name: .customLong("grant"), help: ArgumentHelp(
        "Give a peer a permission (repeatable): read (get, list, health) or readWrite (also create, update, delete), by uid or primary gid, e.g. --grant read:gid=1001 --grant readWrite:uid=1000. With any grant, iriskd's own uid keeps readWrite and everyone else gets only what is granted; without one, everyone who can open the socket may do everything.",
        valueName: "permission:uid=N|gid=N"))
    var grantTexts: [String] = []

    @Option(help: "Most watch streams open at once, over all connections.")
    var maxStreams: Int = Defaults.maxStreams

    @Option(help: "Bytes one watch stream may have waiting to be sent; past it the stream ends (RESOURCE_EXHAUSTED, with its cursor).")
    var streamBufferBytes: Int = Defaults.streamBufferBytes

    @Option(help: "A watcher that no change matched for this many milliseconds gets a bookmark.")
    var watchBookmarkIntervalMs: Int64 = Defaults.watchBookmarkIntervalMilliseconds

    @Option(help: "After a wake-up a watcher lets commits gather this many milliseconds before it reads (0 ... 1000): fewer wake-ups under load, that much more latency.")
    var watchLingerMs: Int64 = Defaults.watchLingerMilliseconds

    @Option(help: "Keep changes for watchers this long: a number with s, m, h or d (e.g. 36h, 7d), or none. Default: 7d.")
    var changeRetentionAge: String?

    @Option(help: "Keep at most this many changes for watchers (the newest), or none. Default: 1000000 (memory store: 100000).")
    var changeRetentionCount: String?

    /// `--change-retention-age` and `--change-retention-count` over the store's
    /// defaults, checked; `nil` when neither is given.
    var changeRetention: ChangeRetention? {
        get throws {
            guard changeRetentionAge != nil || changeRetentionCount != nil else { return nil }
            var retention = (try? storeSpec).map { $0.isDurable ? ChangeRetention.default : MemoryEventStore.defaultChangeRetention } ?? .default
            if let text = changeRetentionAge {
                if text == "none" {
                    retention.maxAge = nil
                } else {
                    let units: [(String, Int64)] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
                    guard let unit = units.first(where: { text.hasSuffix($0.0) }),
                        let number = Int64(text.dropLast()), number >= 1, number <= 36_500 * 86_400 / unit.1
                    else {
                        throw ValidationError("--change-retention-age '\(text)' is not a duration like 90s, 30m, 36h or 7d (at least 1 s), or none")
                    }
                    retention.maxAge = .seconds(number * unit.1)
                }
            }
            if let text = changeRetentionCount {
                if text == "none" {
                    guard (try? storeSpec)?.isDurable != false else {
                        throw ValidationError("--change-retention-count none is not allowed with --store memory: the log would grow without bound in memory")
                    }
                    retention.maxCount = nil
                } else {
                    guard let count = Int(text), count >= 1 else {
                        throw ValidationError("--change-retention-count '\(text)' is not a whole number of at least 1, or none")
                    }
                    retention.maxCount = count
                }
            }
            return retention
        }
    }

    @Option(help: "Most creates one group commit puts in a transaction (at least 1; PostgreSQL at most 1000). Default: SQLite 1024, PostgreSQL 512. 1 commits each create alone.")
    var maxBatchSize: Int?

    @Option(help: "SQLite: while writes come in, copy the write-ahead log into the database on a thread of its own, at most once per this many milliseconds (1 ... 60000). 0: leave it to SQLite inside the writer's commits, where each copy delays the writes queued behind it.")
    var sqliteCheckpointMs: Int = 20

    @Option(help: "How long shutdown waits for in-flight calls, in milliseconds.")
    var shutdownGraceMs: Int64 = Defaults.shutdownGraceMilliseconds

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(help: "Log line format on stderr: logfmt (time level label: message key=value ...) or json (one object per line).")
    var logFormat: String = "logfmt"

    @Flag(help: "Print every setting's effective value and where it came from (default, config file, environment, flag), then exit without opening the store or the socket.")
    var printConfig = false

    /// `--socket`, or the default for this uid (``DefaultSocketPath``).
    var socketPath: String {
        get throws(IdentityRiskError) {
            if let socket { return socket }
            return try DefaultSocketPath.current()
        }
    }

    @Option(help: ArgumentHelp(
        "Serve Prometheus metrics over HTTP on this Unix socket (curl --unix-socket PATH http://localhost/metrics). Off by default.",
        valueName: "path"))
    var metricsSocket: String?

    @Option(help: "The metrics socket's permission bits, octal.")
    var metricsSocketMode: String = "0600"

    @Option(help: ArgumentHelp(
        "Serve Prometheus metrics over HTTP on this loopback TCP address, e.g. 127.0.0.1:9464 or [::1]:9464. Only loopback addresses are accepted (metrics are not authenticated). Off by default.",
        valueName: "host:port"))
    var metricsListen: String?

    @Option(help: "Every this many seconds with traffic, log one info line with rates, errors by status and queue depth (0: never).")
    var summaryInterval: Int = 60

    /// swift-prometheus with buckets that suit this server: calls of tens of
    /// microseconds to seconds, commits of 100 µs (memory of a fast disk) to
    /// seconds, batches of 1 to the 1,024 writes a transaction takes at most.
    static func prometheusFactory() -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
        let micros: [Int64] = [25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000]
        factory.durationHistogramBuckets[ServerMetrics.Name.commitDuration] = micros.dropFirst(2).map { .microseconds($0) }
        factory.valueHistogramBuckets[ServerMetrics.Name.commitBatchSize] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        return factory
    }

    var storeSpec: StoreSpec {
        get throws(IdentityRiskError) { try StoreSpec(parsing: store, defaultSQLitePath: Self.defaultDatabasePath) }
    }

    static var defaultDatabasePath: String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (env["HOME"].map { $0 + "/.local/state" } ?? ".")
        return base + "/identityrisk/events.sqlite"
    }

    func validate() throws {
        _ = try changeRetention
        guard LineLogHandler.Format(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format '\(logFormat)' is not logfmt or json")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) == true else {
            throw ValidationError("--socket-mode '\(socketMode)' is not an octal mode like 0600 or 0660")
        }
        do {
            _ = try storeSpec
        } catch {
            throw ValidationError("--store: \(error.message)")
        }
        for text in grantTexts where PermissionGrant(parsing: text) == nil {
            throw ValidationError("--grant '\(text)' is not \(PermissionGrant.format)")
        }
        guard (0...86_400).contains(summaryInterval) else {
            throw ValidationError("--summary-interval \(summaryInterval) is not 0 (off) ... 86400 seconds")
        }
        guard (0 ... 60_000).contains(sqliteCheckpointMs) else {
            throw ValidationError("--sqlite-checkpoint-ms \(sqliteCheckpointMs) is not 0 (inside the writer's commits) ... 60000 milliseconds")
        }
        if let problem = serverConfiguration.problem {
            throw ValidationError("invalid limits: \(problem)")
        }
        _ = try metricsConfiguration
    }

    /// The metrics endpoint asked for, checked; `nil` without `--metrics-socket` and `--metrics-listen`.
    var metricsConfiguration: MetricsEndpoint.Configuration? {
        get throws {
            guard metricsSocket != nil || metricsListen != nil else {
                guard metricsSocketMode == "0600" else { throw ValidationError("--metrics-socket-mode needs --metrics-socket") }
                return nil
            }
            var configuration = MetricsEndpoint.Configuration()
            if let path = metricsSocket {
                guard !path.isEmpty else { throw ValidationError("--metrics-socket needs a path") }
                guard path != socket else {
                    throw ValidationError("--metrics-socket '\(path)' is the server's own --socket; give the metrics a socket of their own")
                }
                guard path.utf8.count <= 100 else {
                    throw ValidationError("--metrics-socket '\(path)' is \(path.utf8.count) bytes; a Unix socket path is at most 100 here")
                }
                guard let mode = UInt32(metricsSocketMode, radix: 8), mode <= 0o777 else {
                    throw ValidationError("--metrics-socket-mode '\(metricsSocketMode)' is not an octal mode like 0600 or 0660")
                }
                configuration.socketPath = path
                configuration.socketMode = mode
                configuration.socketGroupID = socketGroup
            }
            if let text = metricsListen {
                let (host, port) = try Self.parseLoopback(text)
                configuration.listenHost = host
                configuration.listenPort = port
            }
            return configuration
        }
    }

    /// `HOST:PORT` with a loopback host (127.0.0.0/8, ::1, localhost) and a port 1 ... 65535.
    static func parseLoopback(_ text: String) throws -> (String, Int) {
        let host: String
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ValidationError("--metrics-listen '\(text)' has no port; write [::1]:PORT") }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        } else {
            throw ValidationError("--metrics-listen '\(text)' is not HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464")
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ValidationError("--metrics-listen '\(text)': the port must be 1 ... 65535")
        }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        let isIPv4Loopback = octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        guard isIPv4Loopback || host == "::1" || host == "localhost" else {
            throw ValidationError(
                "--metrics-listen '\(text)': \(host.isEmpty ? "no host" : "'\(host)' is not a loopback address"); metrics are served without authentication, "
                    + "so only 127.0.0.1 (127.0.0.0/8), [::1] or localhost are accepted; to publish them further, put a proxy in front, or use --metrics-socket")
        }
        return (host, port)
    }

    var serverConfiguration: ServerConfiguration {
        var configuration = ServerConfiguration(
            socketPath: (try? socketPath) ?? "",
            socketMode: UInt32(socketMode, radix: 8) ?? 0o600,
            socketGroupID: socketGroup,
            maxFrameBytes: maxFrameBytes,
            maxConnections: maxConnections,
            maxConnectionsPerUID: maxConnectionsPerUid,
            maxCallsInFlightPerConnection: maxInFlight,
            handshakeTimeoutMilliseconds: handshakeTimeoutMs,
            idleTimeoutMilliseconds: idleTimeoutMs,
            frameReadTimeoutMilliseconds: frameReadTimeoutMs,
            unwritableTimeoutMilliseconds: unwritableTimeoutMs,
            writeBufferHighWaterMark: writeHighWaterMark,
            writeBufferLowWaterMark: writeLowWaterMark,
            decodeMemoryFactor: decodeMemoryFactor,
            minDecodeMemoryBytes: minDecodeMemoryBytes,
            allowedUIDs: Set(allowUIDs),
            allowedGIDs: Set(allowGIDs),
            grants: grantTexts.compactMap(PermissionGrant.init(parsing:)),
            maxStreams: maxStreams,
            streamBufferBytes: streamBufferBytes,
            watchBookmarkIntervalMilliseconds: watchBookmarkIntervalMs,
            watchLingerMilliseconds: watchLingerMs,
            shutdownGraceMilliseconds: shutdownGraceMs)
        configuration.summaryIntervalMilliseconds = Int64(clamping: summaryInterval).multipliedReportingOverflow(by: 1000).overflow
            ? Int64.max : Int64(clamping: summaryInterval) * 1000
        return configuration
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        let format = LineLogHandler.Format(rawValue: logFormat)!
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, format: format) }
        let logger = Logger(label: "iriskd")
        let notifier: SystemdNotifier?
        do {
            notifier = try SystemdNotifier.fromEnvironment(ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("iriskd: error: sd_notify: \(error)\n".utf8))
            throw ExitCode(1)
        }

        var configuration = serverConfiguration
        let activated: SocketActivation.Listener?
        do {
            activated = try SocketActivation.listener()
        } catch {
            FileHandle.standardError.write(Data("iriskd: error: socket activation: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if let activated {
            configuration.inheritedListenerFD = activated.fd
            configuration.socketPath = activated.path
            logger.info("socket activation: serving the socket systemd passed", metadata: ["socket": "\(activated.path)"])
        } else {
            let path: String
            do {
                path = try socketPath
                // The default's directory is ours to make; a --socket directory must exist.
                try SocketDirectory.prepare(socketPath: path, create: socket == nil, groupID: socketGroup)
            } catch {
                FileHandle.standardError.write(Data("iriskd: error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if IdentityRiskServer.isServing(socketPath: path) {
                // Refused before the store is opened, so a second iriskd on a live socket
                // creates nothing (not even its --store file).
                FileHandle.standardError.write(Data("iriskd: error: a server is already answering on \(path); it was left untouched\n".utf8))
                throw ExitCode(1)
            }
        }
        let spec = try storeSpec
        let eventStore: any EventStore
        do {
            var sqlite = SQLiteEventStore.Configuration()
            sqlite.checkpointInterval = sqliteCheckpointMs == 0 ? nil : .milliseconds(sqliteCheckpointMs)
            eventStore = try spec.open(
                logger: Logger(label: "iriskd.store"), sqliteConfiguration: sqlite, changeRetention: try changeRetention, maxBatchSize: maxBatchSize)
        } catch {
            FileHandle.standardError.write(Data("iriskd: error: cannot open the store: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if case .postgres = spec.kind {
            logger.info("store: \(spec) (PostgreSQL, synchronous_commit=on, group commit)")
        } else if spec.isDurable {
            logger.info("store: \(spec) (WAL, synchronous=FULL, group commit)")
        }

        let metricsConfiguration = try self.metricsConfiguration
        let prometheus = metricsConfiguration.map { _ in Self.prometheusFactory() }
        let serverMetrics = prometheus.map { ServerMetrics(factory: $0) }
        let server = IdentityRiskServer(
            configuration: configuration,
            store: eventStore,
            logger: logger,
            metrics: serverMetrics)
        var services: [any Service] = [eventStore, server]
        if let metricsConfiguration, let prometheus, let serverMetrics {
            let registry = prometheus.registry
            services.append(MetricsEndpoint(configuration: metricsConfiguration, logger: logger) { [server] in
                server.refreshMetrics()
                return registry.emitToBuffer() + Array(serverMetrics.requestDurationExposition().utf8)
            })
        }
        // The store first: on shutdown the server (after it) stops first and drains,
        // then the store commits and answers what is queued, and closes.
        if let notifier {
            // The pinger first (it stops last), the readiness notifier last (it hears of shutdown first).
            if let interval = notifier.watchdogInterval {
                services.insert(WatchdogPinger(notifier: notifier, interval: interval, logger: logger), at: 0)
            }
            services.append(ReadinessNotifier(
                notifier: notifier, server: server,
                status: "serving on \(configuration.socketPath) (store \(eventStore.kind), iriskd \(IdentityRiskVersion.current))",
                logger: logger))
        }
        let group = ServiceGroup(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        do {
            try await group.run()
        } catch {
            FileHandle.standardError.write(Data("iriskd: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

