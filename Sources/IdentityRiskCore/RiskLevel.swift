/// microsoft.graph riskLevel, spelled as Graph spells it.
public enum RiskLevel: String, Sendable, Hashable, CaseIterable {
    case low
    case medium
    case high
    case hidden
    case none
    case unknownFutureValue

    /// `low, medium, high, hidden, none, unknownFutureValue`, for error messages.
    public static let allowedValues = allCases.map(\.rawValue).joined(separator: ", ")
}

/// microsoft.graph riskEventStatus, spelled as Graph spells it.
public enum RiskEventStatus: String, Sendable, Hashable, CaseIterable {
    case active
    case remediated
    case dismissedAsFixed
    case dismissedAsFalsePositive
    case dismissedAsIgnore
    case loginBlocked
    case closedMfaAuto
    case closedMultipleReasons

    public static let allowedValues = allCases.map(\.rawValue).joined(separator: ", ")
}
