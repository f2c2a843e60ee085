public import IdentityRiskCore

/// A method: its descriptor and the Swift types of its request and response.
/// Transports bind a codec to it (IdentityRiskWire's `WireMethod`), the
/// service binds a handler (``RPCRouter``).
public protocol RPCMethod: Sendable {
    associatedtype Request: Sendable & Hashable
    associatedtype Response: Sendable & Hashable
    static var descriptor: MethodDescriptor { get }

    /// Whether a client may send `request` again when its connection broke
    /// before the answer came (the first attempt may or may not have run).
    /// Default: reads are, writes are not.
    static func isSafeToRetry(_ request: Request) -> Bool

    /// A server-streaming method whose messages carry a resume point: the
    /// position `message` leaves the stream at. The transport puts the last
    /// one in a stream's final status when it ends the stream itself (deadline,
    /// slow reader, shutdown). Default: `nil`.
    static func streamPosition(of message: Response) -> ChangeCursor?
}

extension RPCMethod {
    public static func isSafeToRetry(_ request: Request) -> Bool { descriptor.permission == .read }
    public static func streamPosition(of message: Response) -> ChangeCursor? { nil }
}

/// The methods of `identityrisk.v1` (PROTOCOL.md §5). Cancel is not a method:
/// it is part of the envelope and never answered.
public enum IdentityRiskMethods {
    /// Graph `POST /identityRiskEvents` → 201.
    public enum Create: RPCMethod {
        public typealias Request = IdentityRiskEventDraft
        public typealias Response = CreateOutcome
        public static let descriptor = MethodDescriptor(number: 16, name: "create", shape: .unary, permission: .readWrite)

        /// With an id, a repeated create is idempotent (the Swift client always sets one).
        public static func isSafeToRetry(_ request: IdentityRiskEventDraft) -> Bool { request.id?.isEmpty == false }
    }

    /// Graph `GET /identityRiskEvents/{id}`.
    public enum Get: RPCMethod {
        public typealias Request = String
        public typealias Response = IdentityRiskEvent
        public static let descriptor = MethodDescriptor(number: 17, name: "get", shape: .unary, permission: .read)
    }

    /// Graph `GET /identityRiskEvents?$filter&$orderby&$top`.
    public enum List: RPCMethod {
        public typealias Request = ListEvents.Request
        public typealias Response = ListEvents.Response
        public static let descriptor = MethodDescriptor(number: 18, name: "list", shape: .unary, permission: .read)
    }

    public enum Health: RPCMethod {
        public typealias Request = HealthRequest
        public typealias Response = HealthStatus
        public static let descriptor = MethodDescriptor(number: 19, name: "health", shape: .unary, permission: .read)
    }

    /// Graph `PATCH /identityRiskEvents/{id}` → 200 with the updated record.
    public enum Update: RPCMethod {
        public typealias Request = UpdateEvent.Request
        public typealias Response = IdentityRiskEvent
        public static let descriptor = MethodDescriptor(number: 21, name: "update", shape: .unary, permission: .readWrite)

        /// Setting the same values twice is harmless; with `ifMatch`, a retry after a
        /// first attempt that succeeded would be refused as stale, so it is not retried.
        public static func isSafeToRetry(_ request: UpdateEvent.Request) -> Bool { request.ifMatch == nil }
    }

    /// Graph `DELETE /identityRiskEvents/{id}` → 204. The response is the version the record had.
    /// Not retried automatically: a retry after a first attempt that succeeded would answer notFound.
    public enum Delete: RPCMethod {
        public typealias Request = DeleteEvent.Request
        public typealias Response = UInt64
        public static let descriptor = MethodDescriptor(number: 22, name: "delete", shape: .unary, permission: .readWrite)
    }

    /// Counts, rates and the group commit since the server started (no Graph equivalent).
    public enum Stats: RPCMethod {
        public typealias Request = StatsRequest
        public typealias Response = StatsReport
        public static let descriptor = MethodDescriptor(number: 23, name: "stats", shape: .unary, permission: .read)
    }

    /// The change stream (no Graph equivalent; compare etcd's and Kubernetes' watch):
    /// server-streaming, the first of its shape. Messages: changes and bookmarks.
    public enum Watch: RPCMethod {
        public typealias Request = WatchChanges.Request
        public typealias Response = WatchChanges.Message
        public static let descriptor = MethodDescriptor(number: 64, name: "watch", shape: .serverStreaming, permission: .read)

        public static func streamPosition(of message: WatchChanges.Message) -> ChangeCursor? { message.cursor }
    }

    /// Every method, in field-number order: the one table.
    public static let all: [any RPCMethod.Type] = [Create.self, Get.self, List.self, Health.self, Update.self, Delete.self, Stats.self, Watch.self]

    public static let descriptors: [MethodDescriptor] = all.map { $0.descriptor }

    /// `create, get, list, health, update, delete, stats, watch`, for error messages.
    public static let names = descriptors.map(\.name).joined(separator: ", ")

    /// The descriptor with wire number `number`.
    public static func descriptor(number: UInt32) -> MethodDescriptor? {
        descriptors.first { $0.number == number }
    }

    /// The descriptor named `name`.
    public static func descriptor(named name: String) -> MethodDescriptor? {
        descriptors.first { $0.name == name }
    }
}
