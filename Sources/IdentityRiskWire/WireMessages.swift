public import IdentityRiskCore

/// A decoded `identityrisk.v1.Request`, free of C types.
public struct WireRequest: Sendable, Hashable {
    public enum Method: Sendable, Hashable {
        case create(IdentityRiskEventDraft)
        case get(id: String)
        case list(ListEvents.Request)
        case health
        case cancel(targetCallID: UInt64)
        /// A method this server does not know (a oneof field it has no case for, or none set).
        case unimplemented
        /// The request could not be decoded; answer with this error.
        case invalid(IdentityRiskError)
    }

    public var callID: UInt64
    /// Relative deadline; 0 = none.
    public var timeoutMilliseconds: UInt32
    public var method: Method

    public init(callID: UInt64, timeoutMilliseconds: UInt32 = 0, method: Method) {
        self.callID = callID
        self.timeoutMilliseconds = timeoutMilliseconds
        self.method = method
    }
}

/// A server's health report.
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

/// A decoded `identityrisk.v1.Response`.
public struct WireResponse: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
        case create(CreateOutcome)
        case get(IdentityRiskEvent)
        case list(ListEvents.Response)
        case health(HealthStatus)
        case failure(IdentityRiskError)
    }

    public var callID: UInt64
    public var result: Result

    public init(callID: UInt64, result: Result) {
        self.callID = callID
        self.result = result
    }
}
