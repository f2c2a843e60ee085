/// An enum whose members travel on the wire as explicit numbers (never their
/// declaration order); 0 means "not set" there.
public protocol WireNumberedEnum: CaseIterable, RawRepresentable<String>, Sendable, Hashable {
    var wireNumber: UInt32 { get }
    init?(wireNumber: UInt32)
}

extension WireNumberedEnum {
    /// `1 (low), 2 (medium), ...`: every member with its number, for error messages.
    public static var allowedWireNumbers: String {
        allCases.map { "\($0.wireNumber) (\($0.rawValue))" }.joined(separator: ", ")
    }
}

/// microsoft.graph riskLevel, spelled as Graph spells it.
///
/// ``wireNumber`` is the explicit `identityrisk.v1.RiskLevel` number (checked
/// against the generated protobuf-c constants by the Wire tests). Ordering in
/// `$filter` (`riskLevel gt 'low'`) follows the wire number, never the Swift
/// declaration order; a Core test pins ``allCases`` so a reorder fails.
public enum RiskLevel: String, WireNumberedEnum {
    case low
    case medium
    case high
    case hidden
    case none
    case unknownFutureValue

    public var wireNumber: UInt32 {
        switch self {
        case .low: 1
        case .medium: 2
        case .high: 3
        case .hidden: 4
        case .none: 5
        case .unknownFutureValue: 6
        }
    }

    /// The member with wire number `number`, or `nil` (0 = unspecified, or unknown).
    public init?(wireNumber number: UInt32) {
        guard let found = Self.allCases.first(where: { $0.wireNumber == number }) else { return nil }
        self = found
    }

    /// `low, medium, high, hidden, none, unknownFutureValue`, for error messages.
    public static let allowedValues = allCases.map(\.rawValue).joined(separator: ", ")
}

/// microsoft.graph riskEventStatus, spelled as Graph spells it. Wire numbers and
/// ordering as for ``RiskLevel``.
public enum RiskEventStatus: String, WireNumberedEnum {
    case active
    case remediated
    case dismissedAsFixed
    case dismissedAsFalsePositive
    case dismissedAsIgnore
    case loginBlocked
    case closedMfaAuto
    case closedMultipleReasons

    public var wireNumber: UInt32 {
        switch self {
        case .active: 1
        case .remediated: 2
        case .dismissedAsFixed: 3
        case .dismissedAsFalsePositive: 4
        case .dismissedAsIgnore: 5
        case .loginBlocked: 6
        case .closedMfaAuto: 7
        case .closedMultipleReasons: 8
        }
    }

    public init?(wireNumber number: UInt32) {
        guard let found = Self.allCases.first(where: { $0.wireNumber == number }) else { return nil }
        self = found
    }

    public static let allowedValues = allCases.map(\.rawValue).joined(separator: ", ")
}
