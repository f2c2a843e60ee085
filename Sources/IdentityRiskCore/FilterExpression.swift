/// A parsed `$filter`: comparisons of one property with one literal, joined by
/// `and` / `or`. Stores translate it (SQL) or evaluate it (``matches(_:)``).
public indirect enum FilterExpression: Sendable, Hashable {
    case comparison(FilterComparison)
    case and(FilterExpression, FilterExpression)
    case or(FilterExpression, FilterExpression)

    /// Whether `event` satisfies the expression.
    public func matches(_ event: IdentityRiskEvent) -> Bool {
        switch self {
        case .comparison(let c): c.matches(event)
        case .and(let l, let r): l.matches(event) && r.matches(event)
        case .or(let l, let r): l.matches(event) || r.matches(event)
        }
    }
}

/// A filterable property and the kind of literal it compares with.
public enum FilterProperty: String, Sendable, Hashable, CaseIterable {
    case id
    case userId
    case userPrincipalName
    case userDisplayName
    case riskEventType
    case riskLevel
    case riskEventStatus
    case createdDateTime
    case riskEventDateTime
    case closedDateTime

    public static let allowedNames = allCases.map(\.rawValue).joined(separator: ", ")
}

public enum FilterOperator: String, Sendable, Hashable, CaseIterable {
    case eq, ne, gt, ge, lt, le
}

public enum FilterValue: Sendable, Hashable {
    case string(String)
    case riskLevel(RiskLevel)
    case riskEventStatus(RiskEventStatus)
    case dateTime(DateTimeOffset)
    /// `null`: only with eq / ne, and only for optional properties.
    case null
}

public struct FilterComparison: Sendable, Hashable {
    public var property: FilterProperty
    public var op: FilterOperator
    public var value: FilterValue

    public init(property: FilterProperty, op: FilterOperator, value: FilterValue) {
        self.property = property
        self.op = op
        self.value = value
    }

    /// Strings compare by their UTF-8 bytes (no Unicode normalisation), as
    /// SQLite's BINARY and PostgreSQL's `COLLATE "C"` do, so every store agrees.
    public func matches(_ event: IdentityRiskEvent) -> Bool {
        switch (property, value) {
        case (.id, .string(let s)): return compareBytes(event.id, s)
        case (.userId, .string(let s)): return compareBytes(event.userId, s)
        case (.userPrincipalName, .string(let s)): return compareBytes(event.userPrincipalName, s)
        case (.riskEventType, .string(let s)): return compareBytes(event.riskEventType, s)
        case (.userDisplayName, .string(let s)):
            guard let name = event.userDisplayName else { return op == .ne }
            return compareBytes(name, s)
        case (.userDisplayName, .null): return nullCompare(event.userDisplayName == nil)
        case (.riskLevel, .riskLevel(let l)): return compare(Self.rank(event.riskLevel), Self.rank(l))
        case (.riskEventStatus, .riskEventStatus(let s)): return compare(Self.rank(event.riskEventStatus), Self.rank(s))
        case (.createdDateTime, .dateTime(let d)): return compare(event.createdDateTime.instantTicks, d.instantTicks)
        case (.riskEventDateTime, .dateTime(let d)): return compare(event.riskEventDateTime.instantTicks, d.instantTicks)
        case (.closedDateTime, .dateTime(let d)):
            guard let closed = event.closedDateTime else { return op == .ne }
            return compare(closed.instantTicks, d.instantTicks)
        case (.closedDateTime, .null): return nullCompare(event.closedDateTime == nil)
        default: return false
        }
    }

    private func nullCompare(_ isNull: Bool) -> Bool {
        op == .eq ? isNull : !isNull
    }

    /// Enum members order by their declaration (and wire number), as in OData.
    static func rank(_ level: RiskLevel) -> Int { RiskLevel.allCases.firstIndex(of: level)! }
    static func rank(_ status: RiskEventStatus) -> Int { RiskEventStatus.allCases.firstIndex(of: status)! }

    private func compareBytes(_ lhs: String, _ rhs: String) -> Bool {
        let equal = lhs.utf8.elementsEqual(rhs.utf8)
        switch op {
        case .eq: return equal
        case .ne: return !equal
        case .gt: return !equal && !lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
        case .ge: return !lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
        case .lt: return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
        case .le: return equal || lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
        }
    }

    private func compare<T: Comparable>(_ lhs: T, _ rhs: T) -> Bool {
        switch op {
        case .eq: lhs == rhs
        case .ne: lhs != rhs
        case .gt: lhs > rhs
        case .ge: lhs >= rhs
        case .lt: lhs < rhs
        case .le: lhs <= rhs
        }
    }
}
