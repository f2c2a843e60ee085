public import IdentityRiskCore

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
    /// The store's kind: `"sqlite"`, `"memory"`, ... (``StoreStatus/kind``).
    public var store: String
    public var uptimeMilliseconds: UInt64
    public var openConnections: UInt32
    /// The store's own report: path, size, records, queue depth, availability.
    /// A server older than this field sends none of it: it reads as the kind
    /// alone, available.
    public var storeStatus: StoreStatus

    public init(
        serving: Serving, serverVersion: String, protocolVersion: UInt32, store: String, uptimeMilliseconds: UInt64, openConnections: UInt32,
        storeStatus: StoreStatus? = nil
    ) {
        self.serving = serving
        self.serverVersion = serverVersion
        self.protocolVersion = protocolVersion
        self.store = store
        self.uptimeMilliseconds = uptimeMilliseconds
        self.openConnections = openConnections
        self.storeStatus = storeStatus ?? StoreStatus(kind: store)
    }
}
