#if canImport(Glibc)
import Glibc
#endif
public import IdentityRiskCore
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
public final class IdentityRiskServer: Service, Sendable {
    public let configuration: ServerConfiguration
    let store: any EventStore
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let dispatcher: CallDispatcher
    let startedAt = NIODeadline.now()
    private let state = LockedState()
    private let listening: EventLoopPromise<Void>

    private final class LockedState: Sendable {
        private let mutex = Mutex(State())
        func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
            try mutex.withLock { try body(&$0) }
        }
    }

    private struct State {
        var phase: Phase = .idle
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: (channel: any Channel, calls: CallTable)] = [:]
        var openConnections = 0
        enum Phase { case idle, running, draining }
    }

    public init(
        configuration: ServerConfiguration,
        store: any EventStore,
        logger: Logger,
        clock: any EventClock = SystemEventClock(),
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton
    ) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.group = eventLoopGroup
        self.listening = eventLoopGroup.any().makePromise()
        let state = self.state
        let startedAt = self.startedAt
        self.dispatcher = CallDispatcher(
            createEvent: CreateEvent(store: store, clock: clock),
            getEvent: GetEvent(store: store),
            listEvents: ListEvents(store: store),
            health: {
                let (draining, open) = state.withLock { ($0.phase == .draining, $0.openConnections) }
                return HealthStatus(
                    serving: draining ? .draining : .serving,
                    serverVersion: configuration.serverVersion,
                    protocolVersion: UInt32(WireProtocol.version),
                    store: store.kind,
                    uptimeMilliseconds: UInt64((NIODeadline.now() - startedAt).nanoseconds / 1_000_000),
                    openConnections: UInt32(clamping: open))
            },
            logger: logger)
    }

    /// Returns once the socket accepts connections; throws if `run()` failed to bind.
    public func waitUntilListening() async throws {
        try await listening.futureResult.get()
    }

    public func run() async throws {
        let socketGuard: SocketFileGuard
        let serverChannel: NIOAsyncChannel<AcceptedConnection, Never>
        do {
            socketGuard = try SocketFileGuard(socketPath: configuration.socketPath)
            serverChannel = try await bind()
        } catch {
            listening.fail(error)
            throw error
        }
        defer { socketGuard.release() }
        state.withLock {
            $0.phase = .running
            $0.serverChannel = serverChannel.channel
        }
        logger.info("listening", metadata: [
            "socket": "\(configuration.socketPath)",
            "mode": "\(String(configuration.socketMode, radix: 8))",
            "store": "\(store.kind)",
            "maxFrameBytes": "\(configuration.maxFrameBytes)",
        ])
        listening.succeed()

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.handle(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        logger.info("stopped", metadata: ["socket": "\(configuration.socketPath)"])
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
            Task {
                await connection.calls.drain(until: deadline)
                try? await connection.channel.close()
            }
        }
    }

    // MARK: accepting

    struct AcceptedConnection: Sendable {
        let channel: NIOAsyncChannel<WireRequest, WireResponse>
        let peer: PeerCredentials?
    }

    private func bind() async throws -> NIOAsyncChannel<AcceptedConnection, Never> {
        let path = configuration.socketPath
        // The socket file is created by bind(2): a umask makes it owner-only from
        // its first instant, before anything can connect.
        let previousMask = umask(mode_t(0o777 & ~configuration.socketMode) | 0o022 & ~mode_t(configuration.socketMode))
        defer { umask(previousMask) }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false) { channel in
                self.initialize(channel)
            }
        umask(previousMask)
        if let gid = configuration.socketGroupID, chown(path, uid_t.max, gid) != 0 {
            throw ServerError("cannot give \(path) to group \(gid): \(String(cString: strerror(errno)))")
        }
        if chmod(path, mode_t(configuration.socketMode)) != 0 {
            throw ServerError("cannot set mode \(String(configuration.socketMode, radix: 8)) on \(path): \(String(cString: strerror(errno)))")
        }
        return channel
    }

    private func initialize(_ channel: any Channel) -> EventLoopFuture<AcceptedConnection> {
        PeerCredentials.read(from: channel).flatMapThrowing { peer in
            try self.admit(peer)
            let logger = self.logger
            try channel.pipeline.syncOperations.addHandlers(
                ServerPrefaceHandler(timeoutMilliseconds: self.configuration.handshakeTimeoutMilliseconds) { why in
                    logger.notice("refused connection", metadata: ["reason": "\(why)", "peer": "\(peer.map(\.description) ?? "unknown")"])
                },
                ByteToMessageHandler(RequestFrameDecoder(maxFrameBytes: self.configuration.maxFrameBytes)),
                MessageToByteHandler(ResponseFrameEncoder())
            )
            let wrapped = try NIOAsyncChannel<WireRequest, WireResponse>(wrappingChannelSynchronously: channel)
            return AcceptedConnection(channel: wrapped, peer: peer)
        }
    }

    /// Access control and the connection limit, before the connection is used.
    private func admit(_ peer: PeerCredentials?) throws {
        let peerText = peer.map(\.description) ?? "unknown"
        if !configuration.allowedUIDs.isEmpty || !configuration.allowedGIDs.isEmpty {
            guard let peer,
                configuration.allowedUIDs.isEmpty || configuration.allowedUIDs.contains(peer.uid),
                configuration.allowedGIDs.isEmpty || configuration.allowedGIDs.contains(peer.gid)
            else {
                logger.notice("refused connection: peer not in the uid/gid allow-list", metadata: ["peer": "\(peerText)"])
                throw ServerError("peer not allowed")
            }
        }
        let admitted = state.withLock { state -> Bool in
            guard state.phase != .draining, state.openConnections < configuration.maxConnections else { return false }
            state.openConnections += 1
            return true
        }
        guard admitted else {
            logger.notice("refused connection: connection limit reached or shutting down", metadata: [
                "peer": "\(peerText)", "maxConnections": "\(configuration.maxConnections)",
            ])
            throw ServerError("connection limit")
        }
    }

    // MARK: serving one connection

    private func handle(_ connection: AcceptedConnection) async {
        let calls = CallTable(limit: configuration.maxCallsInFlightPerConnection)
        let key = ObjectIdentifier(connection.channel.channel)
        let lateJoiner = state.withLock { state -> Bool in
            state.connections[key] = (connection.channel.channel, calls)
            return state.phase == .draining
        }
        defer {
            state.withLock {
                $0.connections.removeValue(forKey: key)
                $0.openConnections -= 1
            }
        }
        if lateJoiner {
            try? await connection.channel.channel.close()
        }
        let peer = connection.peer
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(peer.map(\.description) ?? "unknown")"
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                do {
                    for try await request in inbound {
                        try await self.dispatch(request, calls: calls, outbound: outbound, peer: peer, logger: logger)
                    }
                } catch let error as WireError {
                    logger.notice("closing connection: \(error)")
                    let code: IdentityRiskError.Code = if case .frameTooLarge = error { .resourceExhausted } else { .invalidArgument }
                    // Written on the channel and awaited, so it is flushed before the close.
                    try? await connection.channel.channel.writeAndFlush(WireResponse(callID: 0, result: .failure(IdentityRiskError(
                        code: code, message: "\(error); closing the connection", innerCode: "ProtocolViolation"))))
                }
                await calls.drain(until: .now() + .milliseconds(self.configuration.shutdownGraceMilliseconds))
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func dispatch(
        _ request: WireRequest,
        calls: CallTable,
        outbound: NIOAsyncChannelOutboundWriter<WireResponse>,
        peer: PeerCredentials?,
        logger: Logger
    ) async throws {
        let callID = request.callID
        func refuse(_ error: IdentityRiskError) async throws {
            logger.debug("call refused", metadata: ["call": "\(callID)", "code": "\(error.code)", "message": "\(error.message)"])
            try await outbound.write(WireResponse(callID: callID, result: .failure(error)))
        }
        if case .cancel(let target) = request.method {
            let found = calls.cancel(target)
            logger.debug("cancel", metadata: ["target": "\(target)", "found": "\(found)"])
            return
        }
        guard callID != 0 else {
            return try await refuse(IdentityRiskError(code: .invalidArgument, message: "call_id must not be 0 (0 is reserved for connection-level errors)", target: "call_id"))
        }
        if state.withLock({ $0.phase == .draining }) {
            return try await refuse(IdentityRiskError(code: .unavailable, message: "the server is shutting down; retry on a new connection", retryAfterMilliseconds: 1000))
        }
        switch calls.begin(callID) {
        case .duplicate:
            return try await refuse(IdentityRiskError(code: .invalidArgument, message: "call_id \(callID) is already in flight on this connection; call ids must be unique among calls in flight", target: "call_id"))
        case .full:
            return try await refuse(IdentityRiskError(
                code: .resourceExhausted,
                message: "more than \(calls.limit) calls in flight on this connection; wait for answers before sending more",
                retryAfterMilliseconds: 10))
        case .started:
            break
        }
        let deadline: NIODeadline? = request.timeoutMilliseconds == 0 ? nil : .now() + .milliseconds(Int64(request.timeoutMilliseconds))
        let dispatcher = self.dispatcher
        let task = Task {
            let result = await dispatcher.execute(request.method, deadline: deadline, peer: peer)
            logger.debug("call", metadata: ["call": "\(callID)", "ok": "\(!result.isFailure)"])
            try? await outbound.write(WireResponse(callID: callID, result: result))
            calls.finish(callID)
        }
        calls.attach(callID, task: task)
    }
}

extension WireResponse.Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
