public import IdentityRiskService
public import IdentityRiskCore

/// Everything `iriskd` can tune. Every limit has a default and is documented in
/// the README ("Limits and security").
public struct ServerConfiguration: Sendable {
    /// Where the socket file is created.
    public var socketPath: String
    /// Permission bits of the socket file: 0600 by default, 0660 when a group is set.
    public var socketMode: UInt32
    /// Group that owns the socket file (with mode 0660 lets that group connect).
    public var socketGroupID: UInt32?
    /// Largest request frame accepted, in payload bytes; checked from the length prefix.
    public var maxFrameBytes: Int
    /// Open connections, in total.
    public var maxConnections: Int
    /// Open connections from one peer uid (SO_PEERCRED).
    public var maxConnectionsPerUID: Int
    /// Calls in flight on one connection; more are answered `resourceExhausted`.
    public var maxCallsInFlightPerConnection: Int
    /// The client must send its preface within this time.
    public var handshakeTimeoutMilliseconds: Int64
    /// A connection with no call in flight that receives no byte for this long is closed.
    public var idleTimeoutMilliseconds: Int64
    /// Once the first byte of a frame has arrived, the whole frame must arrive
    /// within this time, or the connection is closed after a final error frame.
    /// Time during which the server itself stopped reading (backpressure) does not count.
    public var frameReadTimeoutMilliseconds: Int64
    /// A connection whose responses cannot be written (the client does not read
    /// them) for this long is closed.
    public var unwritableTimeoutMilliseconds: Int64
    /// Outbound bytes queued on one connection above which it is "unwritable":
    /// the server stops reading from it until the queue drains below the low mark.
    public var writeBufferHighWaterMark: Int
    /// See ``writeBufferHighWaterMark``.
    public var writeBufferLowWaterMark: Int
    /// protobuf-c may allocate at most this many times a request frame's length
    /// to unpack it ...
    public var decodeMemoryFactor: Int
    /// ... but at least this many bytes.
    public var minDecodeMemoryBytes: Int
    /// Callers allowed by uid; empty means any uid (subject to the socket file mode).
    public var allowedUIDs: Set<UInt32>
    /// Callers allowed by gid; empty means any gid.
    public var allowedGIDs: Set<UInt32>
    /// Per-peer permissions (read / readWrite) checked against each method's
    /// descriptor before its handler runs. Empty: everyone who can connect may do everything.
    public var grants: [PermissionGrant]
    /// The uid that always has readWrite when there are grants; `nil`: the uid the server runs as.
    public var ownerUID: UInt32?
    /// Server-streaming calls (watchers) open at once, over all connections;
    /// more are answered `resourceExhausted`.
    public var maxStreams: Int
    /// Encoded stream messages one stream may have waiting to be written to its
    /// socket; past it the stream is ended with `resourceExhausted` and its
    /// last cursor (the watcher reads too slowly). Memory per stream: this,
    /// plus at most 64 messages waiting to be encoded and one batch of at most
    /// 64 changes being filtered; `maxStreams` streams at most.
    public var streamBufferBytes: Int
    /// A watcher that no change matched for this long gets a bookmark.
    public var watchBookmarkIntervalMilliseconds: Int64
    /// After a wake-up, a watcher lets commits gather this long before it reads
    /// (one wake-up per watcher per linger under load; that much more latency).
    public var watchLingerMilliseconds: Int64
    /// A listening Unix socket handed over by systemd socket activation
    /// (`LISTEN_FDS`): the server accepts on it and neither creates nor removes
    /// a socket file (systemd owns it; its `.socket` unit sets mode and group).
    /// `socketPath` is then only reported.
    public var inheritedListenerFD: Int32?
    /// How long shutdown waits for in-flight calls before closing connections.
    public var shutdownGraceMilliseconds: Int64
    /// Reported by Health.
    public var serverVersion: String
    /// Every this many milliseconds with traffic, one info line with the rates,
    /// errors by status and queue depth since the last one (none when idle).
    /// 0: never (the library's default; iriskd's `--summary-interval` is 60 s).
    public var summaryIntervalMilliseconds: Int64 = 0

    /// Most `summaryIntervalMilliseconds`: one day.
    public static let maxSummaryIntervalMilliseconds: Int64 = 86_400_000

    /// ``DefaultSocketPath`` for this process: `/run/identityrisk/iriskd.sock`
    /// as root, else `$XDG_RUNTIME_DIR/identityrisk/iriskd.sock`. Without
    /// XDG_RUNTIME_DIR there is no private default; this then names the system
    /// path, which a non-root server cannot bind (iriskd asks for --socket instead).
    public static var defaultSocketPath: String {
        (try? DefaultSocketPath.current()) ?? DefaultSocketPath.systemPath
    }

    /// Every default, in one place: iriskd's flags, the README and PROTOCOL.md state these.
    public static let defaults = ServerConfiguration()

    /// Allowed `maxFrameBytes`: 256 bytes to 64 MiB. (A create with every string
    /// at its byte limit needs about 1 KiB.)
    public static let maxFrameBytesRange = 256...(64 * 1024 * 1024)

    public init(
        socketPath: String = ServerConfiguration.defaultSocketPath,
        socketMode: UInt32 = 0o600,
        socketGroupID: UInt32? = nil,
        maxFrameBytes: Int = 64 * 1024,
        maxConnections: Int = 1024,
        maxConnectionsPerUID: Int = 256,
        maxCallsInFlightPerConnection: Int = 1024,
        handshakeTimeoutMilliseconds: Int64 = 5000,
        idleTimeoutMilliseconds: Int64 = 300_000,
        frameReadTimeoutMilliseconds: Int64 = 10_000,
        unwritableTimeoutMilliseconds: Int64 = 30_000,
        writeBufferHighWaterMark: Int = 64 * 1024,
        writeBufferLowWaterMark: Int = 32 * 1024,
        decodeMemoryFactor: Int = 16,
        minDecodeMemoryBytes: Int = 64 * 1024,
        allowedUIDs: Set<UInt32> = [],
        allowedGIDs: Set<UInt32> = [],
        grants: [PermissionGrant] = [],
        maxStreams: Int = 1024,
        streamBufferBytes: Int = 256 * 1024,
        watchBookmarkIntervalMilliseconds: Int64 = 2000,
        watchLingerMilliseconds: Int64 = 5,
        shutdownGraceMilliseconds: Int64 = 10_000,
        serverVersion: String = IdentityRiskVersion.current
    ) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.socketGroupID = socketGroupID
        self.maxFrameBytes = maxFrameBytes
        self.maxConnections = maxConnections
        self.maxConnectionsPerUID = maxConnectionsPerUID
        self.maxCallsInFlightPerConnection = maxCallsInFlightPerConnection
        self.handshakeTimeoutMilliseconds = handshakeTimeoutMilliseconds
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
        self.frameReadTimeoutMilliseconds = frameReadTimeoutMilliseconds
        self.unwritableTimeoutMilliseconds = unwritableTimeoutMilliseconds
        self.writeBufferHighWaterMark = writeBufferHighWaterMark
        self.writeBufferLowWaterMark = writeBufferLowWaterMark
        self.decodeMemoryFactor = decodeMemoryFactor
        self.minDecodeMemoryBytes = minDecodeMemoryBytes
        self.allowedUIDs = allowedUIDs
        self.allowedGIDs = allowedGIDs
        self.grants = grants
        self.ownerUID = nil
        self.inheritedListenerFD = nil
        self.maxStreams = maxStreams
        self.streamBufferBytes = streamBufferBytes
        self.watchBookmarkIntervalMilliseconds = watchBookmarkIntervalMilliseconds
        self.watchLingerMilliseconds = watchLingerMilliseconds
        self.shutdownGraceMilliseconds = shutdownGraceMilliseconds
        self.serverVersion = serverVersion
    }

    /// Why this configuration cannot run, or `nil`.
    public var problem: String? {
        if !Self.maxFrameBytesRange.contains(maxFrameBytes) {
            return "maxFrameBytes must be \(Self.maxFrameBytesRange.lowerBound) ... \(Self.maxFrameBytesRange.upperBound), got \(maxFrameBytes)"
        }
        if maxConnections < 1 || maxConnectionsPerUID < 1 || maxCallsInFlightPerConnection < 1 {
            return "maxConnections, maxConnectionsPerUID and maxCallsInFlightPerConnection must be at least 1"
        }
        let timeouts = [handshakeTimeoutMilliseconds, idleTimeoutMilliseconds, frameReadTimeoutMilliseconds, unwritableTimeoutMilliseconds]
        if timeouts.contains(where: { $0 < 1 }) || shutdownGraceMilliseconds < 0 {
            return "timeouts must be at least 1 ms (the shutdown grace at least 0)"
        }
        if writeBufferLowWaterMark < 1 || writeBufferHighWaterMark < writeBufferLowWaterMark {
            return "write buffer water marks need 1 <= low <= high"
        }
        if maxStreams < 0 || streamBufferBytes < 1024 || watchBookmarkIntervalMilliseconds < 10 || !(0...1000).contains(watchLingerMilliseconds) {
            return "maxStreams must be at least 0, streamBufferBytes at least 1024, the bookmark interval at least 10 ms, the watch linger 0 ... 1000 ms"
        }
        if decodeMemoryFactor < 1 || minDecodeMemoryBytes < 0 { return "decodeMemoryFactor must be at least 1, minDecodeMemoryBytes at least 0" }
        if !(0...Self.maxSummaryIntervalMilliseconds).contains(summaryIntervalMilliseconds) {
            return "summaryIntervalMilliseconds must be 0 (off) ... \(Self.maxSummaryIntervalMilliseconds) (a day), got \(summaryIntervalMilliseconds)"
        }
        return nil
    }
}
