#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Binding the socket, and what happens to each accepted connection before it
/// is served: credentials, access control, connection limits, the pipeline.
extension IdentityRiskServer {
    struct AcceptedConnection: Sendable {
        let channel: any Channel
        let peer: PeerCredentials?
        let calls: CallTable
        let logger: Logger
        /// Refused at accept: the channel only says why and closes (not served).
        var refused = false
    }

    func bind() async throws -> NIOAsyncChannel<AcceptedConnection, Never> {
        let staging = try SocketStaging(finalPath: configuration.socketPath)
        // Bound in a private directory, the socket is unreachable until it has its
        // final mode. Only a path too long to stage is bound in place, under a umask.
        let previousMask: mode_t? = staging.inPlace
            ? umask(mode_t(0o777 & ~configuration.socketMode) | 0o022 & ~mode_t(configuration.socketMode))
            : nil
        defer { if let previousMask { umask(previousMask) } }
        let waterMark = ChannelOptions.Types.WriteBufferWaterMark(
            low: configuration.writeBufferLowWaterMark, high: configuration.writeBufferHighWaterMark)
        let channel: NIOAsyncChannel<AcceptedConnection, Never>
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.writeBufferWaterMark, value: waterMark)
                .bind(unixDomainSocketPath: staging.bindPath, cleanupExistingSocketFile: false) { channel in
                    self.initialize(channel)
                }
        } catch {
            staging.abandon()
            throw error
        }
        do {
            try staging.finish(mode: configuration.socketMode, groupID: configuration.socketGroupID)
        } catch {
            try? await channel.channel.close()
            throw error
        }
        return channel
    }

    /// Accepts on a listening socket handed over by systemd (socket activation).
    func bind(inherited fd: Int32) async throws -> NIOAsyncChannel<AcceptedConnection, Never> {
        let waterMark = ChannelOptions.Types.WriteBufferWaterMark(
            low: configuration.writeBufferLowWaterMark, high: configuration.writeBufferHighWaterMark)
        return try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: waterMark)
            .bind(fd) { channel in
                self.initialize(channel)
            }
    }

    /// Runs on the connection's event loop before it is served.
    ///
    /// ```
    /// head ── ServerPrefaceHandler ── InboundDeadlineHandler ── OutboundBackpressureHandler
    ///      ── FrameDecoder ── ServerCallHandler ── tail
    /// ```
    private func initialize(_ channel: any Channel) -> EventLoopFuture<AcceptedConnection> {
        let initialized = PeerCredentials.read(from: channel).flatMapThrowing { peer in
            let c = self.configuration
            if let refusal = self.admit(peer, channel: channel) {
                // Say why, unless too many refused connections are saying it already.
                guard lingeringRefusals.add(1, ordering: .relaxed).newValue <= maxLingeringRefusals else {
                    lingeringRefusals.subtract(1, ordering: .relaxed)
                    throw ServerError(refusal.message)
                }
                try channel.pipeline.syncOperations.addHandler(
                    ConnectionRefusalHandler(refusal, lingerMilliseconds: min(c.handshakeTimeoutMilliseconds, 1000)))
                return AcceptedConnection(channel: channel, peer: peer, calls: CallTable(limit: 1), logger: self.logger, refused: true)
            }
            var logger = self.logger
            logger[metadataKey: "peer"] = "\(peer.map(\.description) ?? "unknown")"
            let grants = PermissionGrants(c.grants, serverUID: c.ownerUID ?? getuid())
            let calls = CallTable(limit: c.maxCallsInFlightPerConnection)
            let counters = self.counters
            let onClose: (ConnectionClosure) -> Void = { [logger] closure in
                counters.count(closure)
                logger.notice("closing connection: \(closure)")
            }
            try channel.pipeline.syncOperations.addHandlers(
                ServerPrefaceHandler(timeoutMilliseconds: c.handshakeTimeoutMilliseconds) { [logger] why in
                    logger.notice("refused connection", metadata: ["reason": "\(why)"])
                },
                InboundDeadlineHandler(
                    frameReadTimeout: .milliseconds(c.frameReadTimeoutMilliseconds),
                    idleTimeout: .milliseconds(c.idleTimeoutMilliseconds),
                    calls: calls,
                    onClose: onClose),
                OutboundBackpressureHandler(unwritableTimeout: .milliseconds(c.unwritableTimeoutMilliseconds), onClose: onClose),
                ByteToMessageHandler(FrameDecoder(maxFrameBytes: c.maxFrameBytes)),
                ServerCallHandler(
                    calls: calls,
                    methods: self.methods,
                    peer: peer,
                    grants: grants,
                    logger: logger,
                    decodingLimits: RequestDecodingLimits(allocationFactor: c.decodeMemoryFactor, minimumAllocationBytes: c.minDecodeMemoryBytes),
                    isDraining: { [state = self.state] in state.withLock { $0.phase == .draining } },
                    counters: counters,
                    callCounts: self.callCounters.shard(for: channel.eventLoop),
                    metrics: self.metrics,
                    maxStreams: c.maxStreams,
                    streamBufferBytes: c.streamBufferBytes,
                    onConnectionError: { [logger] error in
                        let final = Self.finalError(for: error)
                        if final != nil { logger.notice("closing connection: \(error)") }
                        return final
                    })
            )
            return AcceptedConnection(channel: channel, peer: peer, calls: calls, logger: logger)
        }
        // NIO drops a child channel whose initializer failed without closing it:
        // close it here, or every refused connection would keep its descriptor.
        initialized.whenFailure { _ in channel.close(promise: nil) }
        return initialized
    }

    /// Access control and the connection limits, before the connection is
    /// used: the refusal to send, or `nil` to serve it. A refused connection
    /// is told why in one connection-level Response (call id 0) after the
    /// server preface, and logged with the peer's pid, uid and gid.
    private func admit(_ peer: PeerCredentials?, channel: any Channel) -> IdentityRiskError? {
        let peerText = peer.map(\.description) ?? "unknown"
        func refuse(_ why: String, _ error: IdentityRiskError, _ metadata: Logger.Metadata = [:]) -> IdentityRiskError {
            counters.refusedConnections.add(1, ordering: .relaxed)
            logger.notice("refused connection: \(why)", metadata: metadata.merging(["peer": "\(peerText)"]) { $1 })
            return error
        }
        if !configuration.allowedUIDs.isEmpty || !configuration.allowedGIDs.isEmpty {
            guard let peer,
                configuration.allowedUIDs.isEmpty || configuration.allowedUIDs.contains(peer.uid),
                configuration.allowedGIDs.isEmpty || configuration.allowedGIDs.contains(peer.gid)
            else {
                let who = peer.map { "your uid \($0.uid), gid \($0.gid)" } ?? "your credentials could not be read"
                return refuse("peer not in the uid/gid allow-list", IdentityRiskError(
                    code: .permissionDenied,
                    message: "refused by the server's allow-list (\(who)): iriskd --allow-uid/--allow-gid does not name you; ask the server's operator to add you",
                    innerCode: "NotInAllowList"))
            }
        }
        if state.withLock({ $0.phase == .draining }) {
            return refuse("shutting down", IdentityRiskError(
                code: .unavailable, message: "refused: the server is shutting down", innerCode: "ShuttingDown", retryAfterMilliseconds: 1000))
        }
        switch limiter.admit(uid: peer?.uid) {
        case nil:
            break
        case .total(let limit):
            return refuse("connection limit reached", IdentityRiskError(
                code: .resourceExhausted, message: "refused: the server has \(limit) connections open, its --max-connections; retry later",
                innerCode: "ConnectionLimit", retryAfterMilliseconds: 1000), ["maxConnections": "\(limit)"])
        case .perUID(let uid, let limit):
            return refuse("per-uid connection limit reached for uid \(uid)", IdentityRiskError(
                code: .resourceExhausted,
                message: "refused: uid \(uid) has \(limit) connections open, the server's --max-connections-per-uid; close some or retry later",
                innerCode: "ConnectionLimit", retryAfterMilliseconds: 1000), ["maxConnectionsPerUID": "\(limit)"])
        }
        let limiter = self.limiter
        channel.closeFuture.whenComplete { _ in limiter.release(uid: peer?.uid) }
        return nil
    }
}
