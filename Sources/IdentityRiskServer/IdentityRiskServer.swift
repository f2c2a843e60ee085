#if canImport(Glibc)
import Glibc
#endif
public import IdentityRiskCore
public import IdentityRiskService
import IdentityRiskWire
public import Logging
import NIOCore
public import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The IdentityRisk server: listens on a Unix socket, speaks PROTOCOL.md,
/// dispatches into the Core use cases.
///
/// A swift-service-lifecycle `Service`: put it in a `ServiceGroup` after the
/// store, so that on SIGTERM it stops first: it stops accepting, answers new
/// calls with `unavailable`, lets in-flight calls finish (within the grace
/// period), closes connections and removes its socket file.
///
/// Accepting (access control, connection limits, the pipeline) is in
/// `IdentityRiskServer+Accepting.swift`; serving one connection in
/// `IdentityRiskServer+Serving.swift`. README "Limits and security" lists
/// every limit.
public final class IdentityRiskServer: Service, Sendable {
    public let configuration: ServerConfiguration
    let store: any EventStore
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let methods: ServerMethodTable
    let startedAt = NIODeadline.now()
    let state = LockedState()
    let limiter: ConnectionLimiter
    let counters = ServerCounters()
    /// What the shutdown drain did, over all connections (logged with "stopped").
    let drainTotals = Mutex(CallTable.DrainOutcome())
    private let drainTasks = Mutex([Task<Void, Never>]())
    /// Calls answered, by method and status, per event loop (Stats, the summary, metrics).
    let callCounters: CallCounters
    /// Totals once a second, for Stats' recent rates.
    let samples = Mutex(RateSamples())
    /// `nil` unless metrics were asked for.
    let metrics: ServerMetrics?
    private let listening: EventLoopPromise<Void>

    final class LockedState: Sendable {
        private let mutex = Mutex(State())
        func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
            try mutex.withLock { try body(&$0) }
        }
    }

    struct State {
        var phase: Phase = .idle
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: (channel: any Channel, calls: CallTable)] = [:]
        enum Phase { case idle, running, draining }
    }

    /// Serves ``IdentityRiskService``'s handlers over `store`.
    public convenience init(
        configuration: ServerConfiguration,
        store: any EventStore,
        logger: Logger,
        clock: any EventClock = SystemEventClock(),
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        metrics: ServerMetrics? = nil
    ) {
        self.init(configuration: configuration, store: store, logger: logger, eventLoopGroup: eventLoopGroup, metrics: metrics) { reports in
            IdentityRiskService(
                store: store, clock: clock,
                watchBookmarkInterval: .milliseconds(configuration.watchBookmarkIntervalMilliseconds),
                watchLinger: .milliseconds(configuration.watchLingerMilliseconds),
                health: reports.health,
                stats: reports.stats
            ).router
        }
    }

    /// What the server reports about itself, for the health and stats handlers.
    public struct Reports: Sendable {
        public let health: @Sendable () -> HealthStatus
        public let stats: @Sendable () -> StatsReport
    }

    /// Serves the handlers of the router that `makeRouter` builds (given the
    /// server's health and stats reports). `run()` refuses to start if a method of
    /// ``IdentityRiskMethods/all`` has no handler in it.
    public init(
        configuration: ServerConfiguration,
        store: any EventStore,
        logger: Logger,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        metrics: ServerMetrics? = nil,
        makeRouter: (_ reports: Reports) -> RPCRouter
    ) {
        self.callCounters = CallCounters(group: eventLoopGroup)
        self.metrics = metrics
        if let metrics { store.observeCommits { metrics.record($0) } }
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.group = eventLoopGroup
        self.listening = eventLoopGroup.any().makePromise()
        let limiter = ConnectionLimiter(maxTotal: configuration.maxConnections, maxPerUID: configuration.maxConnectionsPerUID)
        self.limiter = limiter
        let state = self.state
        let startedAt = self.startedAt
        // The reports reach the server through this box: the router is built before `self` is whole.
        let box = ServerBox()
        self.methods = ServerMethodTable(router: makeRouter(Reports(
            health: {
                let draining = state.withLock { $0.phase == .draining }
                return HealthStatus(
                    serving: draining ? .draining : .serving,
                    serverVersion: configuration.serverVersion,
                    protocolVersion: UInt32(WireProtocol.version),
                    store: store.kind,
                    uptimeMilliseconds: UInt64((NIODeadline.now() - startedAt).nanoseconds / 1_000_000),
                    openConnections: UInt32(clamping: limiter.open),
                    storeStatus: store.status)
            },
            stats: { box.server?.statsReport() ?? StatsReport() })))
        box.server = self
    }

    /// Whether a server already accepts connections on `socketPath` (a connect
    /// probe): to refuse before opening anything else, such as the store.
    public static func isServing(socketPath: String) -> Bool {
        SocketFileGuard.isLive(socketPath)
    }

    /// Returns once the socket accepts connections; throws if `run()` failed to bind.
    public func waitUntilListening() async throws {
        try await listening.futureResult.get()
    }

    /// Connections, calls in flight, and what the limits refused or closed so far.
    public var statistics: ServerStatistics {
        let callsInFlight = state.withLock { $0.connections.values.reduce(0) { $0 + $1.calls.count } }
        return ServerStatistics(
            openConnections: limiter.open,
            callsInFlight: callsInFlight,
            refusedConnections: counters.refusedConnections.load(ordering: .relaxed),
            frameReadTimeouts: counters.frameReadTimeouts.load(ordering: .relaxed),
            idleTimeouts: counters.idleTimeouts.load(ordering: .relaxed),
            unwritableTimeouts: counters.unwritableTimeouts.load(ordering: .relaxed),
            openStreams: counters.openStreams.load(ordering: .relaxed),
            slowStreamsEnded: counters.slowStreamsEnded.load(ordering: .relaxed))
    }

    public func run() async throws {
        let socketGuard: SocketFileGuard?
        let serverChannel: NIOAsyncChannel<AcceptedConnection, Never>
        do {
            if let problem = configuration.problem {
                throw ServerError("invalid configuration: \(problem)")
            }
            if !methods.missing.isEmpty {
                throw ServerError("no handler for \(methods.missing.map(\.name).joined(separator: ", ")); every method of the table needs one")
            }
            if let inherited = configuration.inheritedListenerFD {
                // Socket activation: systemd owns the socket file.
                socketGuard = nil
                serverChannel = try await bind(inherited: inherited)
            } else {
                let owned = try SocketFileGuard(socketPath: configuration.socketPath)
                socketGuard = owned
                do {
                    serverChannel = try await bind()
                } catch {
                    owned.release()
                    throw error
                }
            }
        } catch {
            listening.fail(error)
            throw error
        }
        defer { socketGuard?.release() }
        state.withLock {
            $0.phase = .running
            $0.serverChannel = serverChannel.channel
        }
        let c = configuration
        logger.info("listening", metadata: [
            "socket": "\(c.socketPath)",
            "version": "\(c.serverVersion)",
            "protocol": "\(WireProtocol.version)",
            "pid": "\(getpid())",
            "mode": "\(c.inheritedListenerFD == nil ? String(c.socketMode, radix: 8) : "set by systemd (socket activation)")",
            "store": "\(store.kind)",
            "maxFrameBytes": "\(c.maxFrameBytes)",
            "maxConnections": "\(c.maxConnections)",
            "maxConnectionsPerUID": "\(c.maxConnectionsPerUID)",
            "maxInFlight": "\(c.maxCallsInFlightPerConnection)",
            "maxStreams": "\(c.maxStreams)",
            "streamBufferBytes": "\(c.streamBufferBytes)",
            "timeoutsMs": "handshake \(c.handshakeTimeoutMilliseconds), frame read \(c.frameReadTimeoutMilliseconds), idle \(c.idleTimeoutMilliseconds), unwritable \(c.unwritableTimeoutMilliseconds)",
        ])
        listening.succeed()
        let timers = startTimers()
        defer { for timer in timers { timer.cancel() } }

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound where !connection.refused {
                        group.addTask { await self.handle(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        // A connection its client closed mid-drain ends before its drain task: wait
        // for them all (each is bounded by the grace period), so the counts are complete.
        for task in drainTasks.withLock({ $0 }) { await task.value }
        let drained = drainTotals.withLock { $0 }
        logger.info("stopped", metadata: [
            "socket": "\(configuration.socketPath)",
            "callsAnswered": "\(drained.answered)", "streamsEnded": "\(drained.streamsEnded)", "callsCancelled": "\(drained.cancelled)",
        ])
    }

    /// Stops accepting, refuses new calls, and closes each connection once its
    /// calls have answered (or the grace period ends). Idempotent.
    public func beginShutdown() {
        let (serverChannel, connections): ((any Channel)?, [(channel: any Channel, calls: CallTable)]) = state.withLock {
            guard $0.phase != .draining else { return (nil, []) }
            $0.phase = .draining
            return ($0.serverChannel, Array($0.connections.values))
        }
        guard let serverChannel else { return }
        logger.info("shutting down: no new connections; draining in-flight calls", metadata: [
            "connections": "\(connections.count)", "graceMs": "\(configuration.shutdownGraceMilliseconds)",
        ])
        serverChannel.close(promise: nil)
        let deadline = NIODeadline.now() + .milliseconds(configuration.shutdownGraceMilliseconds)
        for connection in connections {
            let task = Task {
                let outcome = await connection.calls.drain(until: deadline)
                self.drainTotals.withLock {
                    $0.answered += outcome.answered
                    $0.streamsEnded += outcome.streamsEnded
                    $0.cancelled += outcome.cancelled
                }
                try? await connection.channel.close()
            }
            drainTasks.withLock { $0.append(task) }
        }
    }
}
