import ArgumentParser
import Foundation
import IdentityRiskCore
import IdentityRiskServer
import IdentityRiskStore
import Logging
import ServiceLifecycle
import UnixSignals

@main
struct Iriskd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iriskd",
        abstract: "The IdentityRisk server: stores identityRiskEvent records and serves them on a Unix socket.",
        discussion: """
            Stops gracefully on SIGTERM or SIGINT: stops accepting, answers in-flight calls, \
            commits the store's last batch, removes the socket file.
            """
    )

    @Option(help: "Unix socket path to listen on.")
    var socket: String = ServerConfiguration.defaultSocketPath

    @Option(help: ArgumentHelp(
        "Where records are kept: 'sqlite:PATH' (durable, the default), 'sqlite' (the default path), or 'memory' (not durable: lost on exit).",
        valueName: "store"))
    var store: String = "sqlite:" + Iriskd.defaultDatabasePath

    @Option(help: "Socket file permission bits, octal (0600: owner only; 0660 with --socket-group).")
    var socketMode: String = "0600"

    @Option(help: "Numeric group id to own the socket file (use with --socket-mode 0660).")
    var socketGroup: UInt32?

    @Option(help: "Largest request frame accepted, in bytes.")
    var maxFrameBytes: Int = 64 * 1024

    @Option(help: "Most open connections at once.")
    var maxConnections: Int = 1024

    @Option(help: "Most open connections from one peer uid.")
    var maxConnectionsPerUid: Int = 256

    @Option(help: "Most calls in flight on one connection.")
    var maxInFlight: Int = 1024

    @Option(help: "A client must send its preface within this many milliseconds.")
    var handshakeTimeoutMs: Int64 = 5000

    @Option(help: "Close a connection with no call in flight that sends nothing for this many milliseconds.")
    var idleTimeoutMs: Int64 = 300_000

    @Option(help: "Once a frame's first byte arrives, the whole frame must arrive within this many milliseconds.")
    var frameReadTimeoutMs: Int64 = 10_000

    @Option(help: "Close a connection whose client does not read its responses for this many milliseconds.")
    var unwritableTimeoutMs: Int64 = 30_000

    @Option(help: "Outbound bytes queued on a connection above which the server stops reading from it.")
    var writeHighWaterMark: Int = 64 * 1024

    @Option(help: "Outbound bytes below which a throttled connection is read again.")
    var writeLowWaterMark: Int = 32 * 1024

    @Option(help: "Memory protobuf-c may use to unpack a request, as a multiple of the frame's length.")
    var decodeMemoryFactor: Int = 16

    @Option(help: "Memory protobuf-c may always use to unpack a request, in bytes.")
    var minDecodeMemoryBytes: Int = 64 * 1024

    @Option(name: .customLong("allow-uid"), help: "Only accept callers with this uid (repeatable). Default: any.")
    var allowUIDs: [UInt32] = []

    @Option(name: .customLong("allow-gid"), help: "Only accept callers with this gid (repeatable). Default: any.")
    var allowGIDs: [UInt32] = []

    @Option(help: "How long shutdown waits for in-flight calls, in milliseconds.")
    var shutdownGraceMs: Int64 = 10_000

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    static var defaultDatabasePath: String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (env["HOME"].map { $0 + "/.local/state" } ?? ".")
        return base + "/identityrisk/events.sqlite"
    }

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) == true else {
            throw ValidationError("--socket-mode '\(socketMode)' is not an octal mode like 0600 or 0660")
        }
        guard store == "memory" || store == "sqlite" || (store.hasPrefix("sqlite:") && store.count > 7) else {
            throw ValidationError("--store '\(store)' is not 'memory', 'sqlite' or 'sqlite:PATH'")
        }
        guard maxFrameBytes >= 256, maxFrameBytes <= 64 * 1024 * 1024 else {
            throw ValidationError("--max-frame-bytes must be 256 ... 67108864")
        }
        guard maxConnections >= 1, maxConnectionsPerUid >= 1, maxInFlight >= 1 else {
            throw ValidationError("--max-connections, --max-connections-per-uid and --max-in-flight must be at least 1")
        }
        if let problem = serverConfiguration.problem {
            throw ValidationError("invalid limits: \(problem)")
        }
    }

    var serverConfiguration: ServerConfiguration {
        ServerConfiguration(
            socketPath: socket,
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
            shutdownGraceMilliseconds: shutdownGraceMs)
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "iriskd")

        let eventStore: any EventStore
        let closeStore: @Sendable () async -> Void
        if store == "memory" {
            let memory = MemoryEventStore()
            eventStore = memory
            closeStore = {}
            logger.warning("store: memory. NOT DURABLE: every record is lost when iriskd exits")
        } else {
            let path = store == "sqlite" ? Self.defaultDatabasePath : String(store.dropFirst("sqlite:".count))
            do {
                let sqlite = try SQLiteEventStore(path: path, logger: Logger(label: "iriskd.store"))
                eventStore = sqlite
                closeStore = { await sqlite.close() }
                logger.info("store: sqlite (WAL, synchronous=FULL, group commit)", metadata: ["path": "\(path)"])
            } catch {
                FileHandle.standardError.write(Data("iriskd: error: cannot open the store: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }

        let server = IdentityRiskServer(
            configuration: serverConfiguration,
            store: eventStore,
            logger: logger)
        let group = ServiceGroup(
            services: [StoreService(close: closeStore), server],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        do {
            try await group.run()
        } catch {
            await closeStore()
            FileHandle.standardError.write(Data("iriskd: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Keeps the store open while the server runs; on shutdown (after the server,
/// which is later in the group and so stops first) commits its last batch and closes it.
struct StoreService: Service {
    let close: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
