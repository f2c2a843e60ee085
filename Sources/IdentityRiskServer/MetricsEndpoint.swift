#if canImport(Glibc)
import Glibc
#endif
public import Logging
import NIOCore
import NIOHTTP1
public import NIOPosix
public import ServiceLifecycle
import Synchronization

/// Serves `GET /metrics` (Prometheus text exposition) over HTTP/1.1 on a Unix
/// socket (`curl --unix-socket PATH http://localhost/metrics`) and/or a
/// loopback TCP address. A `Service`: put it in the group after the server.
///
/// Bounded on every side: one request per connection (answered, then closed);
/// a request with a body, a head over ``maxHeadBytes`` or nothing complete
/// within ``readTimeout`` is closed; at most ``maxConnections`` at once (more
/// are closed at accept). The socket file is made like the main socket's
/// (private staging, then its mode; `.lock`; removed at exit).
public final class MetricsEndpoint: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        public var socketPath: String?
        public var socketMode: UInt32
        public var socketGroupID: UInt32?
        /// A loopback address (`127.0.0.1`, `::1`, `localhost`) and port.
        public var listenHost: String?
        public var listenPort: Int?

        public init(socketPath: String? = nil, socketMode: UInt32 = 0o600, socketGroupID: UInt32? = nil, listenHost: String? = nil, listenPort: Int? = nil) {
            self.socketPath = socketPath
            self.socketMode = socketMode
            self.socketGroupID = socketGroupID
            self.listenHost = listenHost
            self.listenPort = listenPort
        }
    }

    public static let maxConnections = 16
    static let readTimeout = TimeAmount.seconds(5)
    public static let maxHeadBytes = 8 * 1024

    public let configuration: Configuration
    private let render: @Sendable () -> [UInt8]
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let open = Atomic<Int>(0)
    private let listening: EventLoopPromise<Void>

    /// `render` makes the exposition text for each scrape (on an event loop: keep it quick).
    public init(
        configuration: Configuration, logger: Logger, eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        render: @escaping @Sendable () -> [UInt8]
    ) {
        self.configuration = configuration
        self.render = render
        self.logger = logger
        self.group = eventLoopGroup
        self.listening = eventLoopGroup.any().makePromise()
    }

    /// Returns once every configured address accepts; throws if binding failed.
    public func waitUntilListening() async throws {
        try await listening.futureResult.get()
    }

    public func run() async throws {
        var channels: [any Channel] = []
        var socketGuard: SocketFileGuard?
        do {
            if let path = configuration.socketPath {
                let owned = try SocketFileGuard(socketPath: path)
                socketGuard = owned
                let staging = try SocketStaging(finalPath: path)
                let previousMask: mode_t? = staging.inPlace ? umask(mode_t(0o777 & ~configuration.socketMode)) : nil
                defer { if let previousMask { umask(previousMask) } }
                do {
                    channels.append(try await bootstrap().bind(unixDomainSocketPath: staging.bindPath, cleanupExistingSocketFile: false).get())
                    try staging.finish(mode: configuration.socketMode, groupID: configuration.socketGroupID)
                } catch {
                    staging.abandon()
                    throw error
                }
            }
            if let host = configuration.listenHost, let port = configuration.listenPort {
                channels.append(try await bootstrap().bind(host: host, port: port).get())
            }
        } catch {
            for channel in channels { try? await channel.close() }
            socketGuard?.release()
            listening.fail(error)
            throw error
        }
        defer { socketGuard?.release() }
        logger.info("serving metrics", metadata: [
            "metricsSocket": "\(configuration.socketPath ?? "-")",
            "metricsListen": "\(configuration.listenHost.map { "\($0):\(configuration.listenPort ?? 0)" } ?? "-")",
        ])
        listening.succeed()
        try? await gracefulShutdown()
        for channel in channels { try? await channel.close() }
    }

    private func bootstrap() -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .childChannelInitializer { [self] channel in
                let count = open.wrappingAdd(1, ordering: .relaxed).newValue
                channel.closeFuture.whenComplete { [self] _ in _ = open.wrappingSubtract(1, ordering: .relaxed) }
                guard count <= Self.maxConnections else {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.readTimeout))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(render: render))
                }
            }
    }
}

/// Answers one request, then closes: `GET /metrics` (or `/`) 200 with the
/// exposition text; another path 404; another method 405; a body 413.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () -> [UInt8]
    private var head: HTTPRequestHead?
    private var answered = false
    private var headBytes = 0

    init(render: @escaping @Sendable () -> [UInt8]) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(let request):
            headBytes = request.uri.utf8.count + request.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
            if headBytes > MetricsEndpoint.maxHeadBytes { return respond(context, .init(statusCode: 431), "request head too large\n") }
            head = request
        case .body:
            respond(context, .payloadTooLarge, "a metrics request has no body\n")
        case .end:
            guard let head else { return respond(context, .badRequest, "no request\n") }
            guard head.method == .GET || head.method == .HEAD else {
                return respond(context, .methodNotAllowed, "only GET /metrics\n")
            }
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            guard path == "/metrics" || path == "/" else { return respond(context, .notFound, "not found: GET /metrics\n") }
            respond(context, .ok, render(), contentType: "text/plain; version=0.0.4; charset=utf-8", headOnly: head.method == .HEAD)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String) {
        respond(context, status, Array(text.utf8), contentType: "text/plain; charset=utf-8", headOnly: false)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ body: [UInt8], contentType: String, headOnly: Bool) {
        answered = true
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !headOnly {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension MetricsHTTPHandler: Sendable {}
