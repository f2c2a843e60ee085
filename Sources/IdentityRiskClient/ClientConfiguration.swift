/// How a client connects and behaves.
public struct ClientConfiguration: Sendable {
    /// Default deadline for each call; `nil` waits indefinitely.
    public var defaultTimeoutMilliseconds: UInt32?
    /// Largest response frame accepted.
    public var maxResponseFrameBytes: Int
    /// How often an idempotent call is retried on a new connection after the
    /// old one broke before the answer came. Creates are made idempotent by
    /// giving them an id on the client when the caller did not.
    public var maxRetries: Int
    /// Connection attempt timeout.
    public var connectTimeoutMilliseconds: Int64
    /// The uid the server is expected to run as, besides root and this
    /// process's own uid (which are always accepted). Right after connecting,
    /// the client reads the server's credentials (SO_PEERCRED) and refuses a
    /// server of any other uid, before a call is sent: with a socket in a
    /// directory others can write, another local user could have bound the
    /// name first. `irisk --server-uid N` / `IRISK_SERVER_UID` set this.
    public var expectedServerUID: UInt32?

    public init(
        defaultTimeoutMilliseconds: UInt32? = 30_000,
        maxResponseFrameBytes: Int = 16 * 1024 * 1024,
        maxRetries: Int = 2,
        connectTimeoutMilliseconds: Int64 = 5000,
        expectedServerUID: UInt32? = nil
    ) {
        self.expectedServerUID = expectedServerUID
        self.defaultTimeoutMilliseconds = defaultTimeoutMilliseconds
        self.maxResponseFrameBytes = maxResponseFrameBytes
        self.maxRetries = maxRetries
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    }
}
