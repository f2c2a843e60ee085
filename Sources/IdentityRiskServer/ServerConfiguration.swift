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
    /// Calls in flight on one connection; more are answered `resourceExhausted`.
    public var maxCallsInFlightPerConnection: Int
    /// The client must send its preface within this time.
    public var handshakeTimeoutMilliseconds: Int64
    /// Callers allowed by uid; empty means any uid (subject to the socket file mode).
    public var allowedUIDs: Set<UInt32>
    /// Callers allowed by gid; empty means any gid.
    public var allowedGIDs: Set<UInt32>
    /// How long shutdown waits for in-flight calls before closing connections.
    public var shutdownGraceMilliseconds: Int64
    /// Reported by Health.
    public var serverVersion: String

    public static let defaultSocketPath = "/tmp/identityrisk.sock"

    public init(
        socketPath: String = ServerConfiguration.defaultSocketPath,
        socketMode: UInt32 = 0o600,
        socketGroupID: UInt32? = nil,
        maxFrameBytes: Int = 64 * 1024,
        maxConnections: Int = 1024,
        maxCallsInFlightPerConnection: Int = 1024,
        handshakeTimeoutMilliseconds: Int64 = 5000,
        allowedUIDs: Set<UInt32> = [],
        allowedGIDs: Set<UInt32> = [],
        shutdownGraceMilliseconds: Int64 = 10_000,
        serverVersion: String = "0.1.0"
    ) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.socketGroupID = socketGroupID
        self.maxFrameBytes = maxFrameBytes
        self.maxConnections = maxConnections
        self.maxCallsInFlightPerConnection = maxCallsInFlightPerConnection
        self.handshakeTimeoutMilliseconds = handshakeTimeoutMilliseconds
        self.allowedUIDs = allowedUIDs
        self.allowedGIDs = allowedGIDs
        self.shutdownGraceMilliseconds = shutdownGraceMilliseconds
        self.serverVersion = serverVersion
    }
}
