/// The error every layer speaks: a code with fixed Graph and HTTP meanings, a
/// message for people, the property it is about and the per-field violations.
///
/// `Code` is a struct over a private enum (as `RPCError.Code` in grpc-swift), so
/// that adding codes never breaks a caller's `switch`.
public struct IdentityRiskError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists
            case permissionDenied, resourceExhausted, failedPrecondition, unimplemented
            case `internal`, unavailable
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let cancelled = Code(.cancelled)
        public static let unknown = Code(.unknown)
        public static let invalidArgument = Code(.invalidArgument)
        public static let deadlineExceeded = Code(.deadlineExceeded)
        public static let notFound = Code(.notFound)
        public static let alreadyExists = Code(.alreadyExists)
        public static let permissionDenied = Code(.permissionDenied)
        public static let resourceExhausted = Code(.resourceExhausted)
        public static let failedPrecondition = Code(.failedPrecondition)
        public static let unimplemented = Code(.unimplemented)
        public static let `internal` = Code(.internal)
        public static let unavailable = Code(.unavailable)

        /// Graph's `error.code` for this code.
        public var graphCode: String {
            switch value {
            case .invalidArgument: "invalidRequest"
            case .failedPrecondition: "preconditionFailed"
            case .notFound: "itemNotFound"
            case .alreadyExists: "nameAlreadyExists"
            case .resourceExhausted: "activityLimitReached"
            case .unavailable: "serviceNotAvailable"
            case .deadlineExceeded: "timeout"
            case .cancelled: "requestCancelled"
            case .permissionDenied: "accessDenied"
            case .unimplemented: "notSupported"
            case .internal, .unknown: "generalException"
            }
        }

        /// The HTTP status Graph would answer with.
        public var httpStatus: Int {
            switch value {
            case .invalidArgument: 400
            case .failedPrecondition: 412
            case .notFound: 404
            case .alreadyExists: 409
            case .resourceExhausted: 429
            case .unavailable: 503
            case .deadlineExceeded: 504
            case .cancelled: 499
            case .permissionDenied: 403
            case .unimplemented: 501
            case .internal, .unknown: 500
            }
        }

        /// Every code, in the order of ``ordinal``.
        public static let all: [Code] = [
            .cancelled, .unknown, .invalidArgument, .deadlineExceeded, .notFound, .alreadyExists,
            .permissionDenied, .resourceExhausted, .failedPrecondition, .unimplemented, .internal, .unavailable,
        ]

        /// 1 ... 12, this code's place in ``all`` plus one (0 is left for "ok"):
        /// an index for counters kept per code, with no lookup on the hot path.
        public var ordinal: Int {
            switch value {
            case .cancelled: 1
            case .unknown: 2
            case .invalidArgument: 3
            case .deadlineExceeded: 4
            case .notFound: 5
            case .alreadyExists: 6
            case .permissionDenied: 7
            case .resourceExhausted: 8
            case .failedPrecondition: 9
            case .unimplemented: 10
            case .internal: 11
            case .unavailable: 12
            }
        }

        public var description: String {
            switch value {
            case .cancelled: "cancelled"
            case .unknown: "unknown"
            case .invalidArgument: "invalidArgument"
            case .deadlineExceeded: "deadlineExceeded"
            case .notFound: "notFound"
            case .alreadyExists: "alreadyExists"
            case .permissionDenied: "permissionDenied"
            case .resourceExhausted: "resourceExhausted"
            case .failedPrecondition: "failedPrecondition"
            case .unimplemented: "unimplemented"
            case .internal: "internal"
            case .unavailable: "unavailable"
            }
        }
    }

    public var code: Code
    public var message: String
    /// The property or parameter the error is about (Graph `error.target`).
    public var target: String?
    public var violations: [FieldViolation]
    /// Graph `innerError.code`, e.g. `ReadOnlyProperty`.
    public var innerCode: String?
    /// With `resourceExhausted` / `unavailable`: when a retry may succeed.
    public var retryAfterMilliseconds: UInt32?
    /// A stream's final error: the last cursor the stream delivered, to resume after.
    public var resumeCursor: ChangeCursor?

    public init(
        code: Code,
        message: String,
        target: String? = nil,
        violations: [FieldViolation] = [],
        innerCode: String? = nil,
        retryAfterMilliseconds: UInt32? = nil,
        resumeCursor: ChangeCursor? = nil
    ) {
        self.code = code
        self.message = message
        self.target = target
        self.violations = violations
        self.innerCode = innerCode
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.resumeCursor = resumeCursor
    }

    /// This error, as a stream's final status after `cursor`.
    public func resuming(after cursor: ChangeCursor?) -> IdentityRiskError {
        var copy = self
        copy.resumeCursor = cursor
        return copy
    }

    /// An invalid-argument error listing `violations`; the message and target come
    /// from the first one, so a single bad field reads naturally.
    public static func invalid(_ violations: [FieldViolation]) -> IdentityRiskError {
        precondition(!violations.isEmpty)
        let first = violations[0]
        let message = violations.count == 1
            ? "\(first.field): \(first.description)"
            : "\(violations.count) properties are invalid; first, \(first.field): \(first.description)"
        return IdentityRiskError(
            code: .invalidArgument,
            message: message,
            target: first.field,
            violations: violations,
            innerCode: first.innerCode
        )
    }

    public var description: String {
        var text = "\(code) (\(code.graphCode), HTTP \(code.httpStatus)): \(message)"
        if violations.count > 1 {
            for v in violations { text += "\n  \(v.field): \(v.description)" }
        }
        return text
    }
}
