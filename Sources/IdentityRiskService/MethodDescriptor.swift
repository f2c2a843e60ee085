/// How many answers a call gets.
public enum CallShape: Sendable, Hashable, CustomStringConvertible {
    /// Exactly one answer: the result, or an error.
    case unary
    /// Any number of messages, then a final status.
    case serverStreaming

    public var description: String {
        switch self {
        case .unary: "unary"
        case .serverStreaming: "server-streaming"
        }
    }
}

/// What a caller must be granted to call a method (the seed's Permissions
/// table: Graph's `IdentityRiskEvent.Read.All` and `IdentityRiskEvent.ReadWrite.All`).
public enum Permission: String, Sendable, Hashable, CaseIterable {
    case read
    case readWrite

    /// Whether holding `self` allows a call that needs `needed`.
    public func allows(_ needed: Permission) -> Bool {
        self == .readWrite || needed == .read
    }
}

/// Everything that identifies a method, with no transport and no serialization
/// in it (compare grpc-swift's `MethodDescriptor`). The server, the client, the
/// fuzzer and the CLI all find methods through ``IdentityRiskMethods/all``.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// The method's field number in `identityrisk.v1.Request.method` (and
    /// `Response.result`): 16–63 unary, 64–127 server-streaming (PROTOCOL.md §4).
    public let number: UInt32
    /// Lowercase name, as in logs, errors and the CLI: `create`, `get`, ...
    public let name: String
    public let shape: CallShape
    public let permission: Permission

    public init(number: UInt32, name: String, shape: CallShape, permission: Permission) {
        self.number = number
        self.name = name
        self.shape = shape
        self.permission = permission
    }

    /// Field numbers by shape (PROTOCOL.md §4).
    public static let unaryNumbers: ClosedRange<UInt32> = 16...63
    public static let streamingNumbers: ClosedRange<UInt32> = 64...127

    public var description: String { "\(name) (#\(number), \(shape), needs \(permission.rawValue))" }
}
