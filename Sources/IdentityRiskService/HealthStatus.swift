/// The health method takes no parameters.
public struct HealthRequest: Sendable, Hashable {
    public init() {}
}

/// A server's health report (the `health` method).
public struct HealthStatus: Sendable, Hashable {
    public enum Serving: Sendable, Hashable { case serving, draining }
    public var serving: Serving
    public var serverVersion: String
    public var protocolVersion: UInt32
    public var store: String
    public var uptimeMilliseconds: UInt64
    public var openConnections: UInt32

    public init(serving: Serving, serverVersion: String, protocolVersion: UInt32, store: String, uptimeMilliseconds: UInt64, openConnections: UInt32) {
        self.serving = serving
        self.serverVersion = serverVersion
        self.protocolVersion = protocolVersion
        self.store = store
        self.uptimeMilliseconds = uptimeMilliseconds
        self.openConnections = openConnections
    }
}
