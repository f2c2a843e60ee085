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

    public init(
        defaultTimeoutMilliseconds: UInt32? = 30_000,
        maxResponseFrameBytes: Int = 16 * 1024 * 1024,
        maxRetries: Int = 2,
        connectTimeoutMilliseconds: Int64 = 5000
    ) {
        self.defaultTimeoutMilliseconds = defaultTimeoutMilliseconds
        self.maxResponseFrameBytes = maxResponseFrameBytes
        self.maxRetries = maxRetries
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    }
}
