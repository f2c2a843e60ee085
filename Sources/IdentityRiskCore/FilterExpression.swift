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

    /// An equality every event that matches must satisfy: the expression's
    /// own `property eq value` on a text or enum property, or one of an `and`
    /// (a text one before an enum one, which more changes share; else the left
    /// one); `nil` when there is none (an `or` at the top, or only ranges,
    /// `ne`, `null` or date-times). Watchers wait on it (``ChangeFeed/Key``).
    public var requiredEquality: ChangeFeed.Key? {
        switch self {
        case .comparison(let c): return ChangeFeed.Key(c)
        case .and(let l, let r):
            let (left, right) = (l.requiredEquality, r.requiredEquality)
            if let left, let right, left.property.kind != .text, right.property.kind == .text { return right }
            return left ?? right
        case .or: return nil
        }
    }
}

/// Every property of the record is filterable (``EventProperty``).
public typealias FilterProperty = EventProperty

public enum FilterOperator: String, Sendable, Hashable, CaseIterable {
    case eq, ne, gt, ge, lt, le

    /// Whether `lhs op rhs` holds: the one place that reads an operator (the
    /// in-memory filter and the SQL translator's enum ranks both use it).
    public func holds<T: Comparable>(_ lhs: T, _ rhs: T) -> Bool {
        switch self {
        case .eq: lhs == rhs
        case .ne: lhs != rhs
        case .gt: lhs > rhs
        case .ge: lhs >= rhs
        case .lt: lhs < rhs
        case .le: lhs <= rhs
        }
    }
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
    /// An absent optional property matches only `ne` a value, and `eq null`.
    public func matches(_ event: IdentityRiskEvent) -> Bool {
        let actual = event[property]
        switch (actual, value) {
        case (_, .null): return op == .eq ? actual == nil : actual != nil
        case (nil, _): return op == .ne
        case (.text(let a)?, .string(let b)): return compareBytes(a, b)
        case (.riskLevel(let a)?, .riskLevel(let b)): return compare(a.wireNumber, b.wireNumber)
        case (.riskEventStatus(let a)?, .riskEventStatus(let b)): return compare(a.wireNumber, b.wireNumber)
        case (.dateTime(let a)?, .dateTime(let b)): return compare(a.instantTicks, b.instantTicks)
        default: return false  // a literal of another kind: the parser never builds one
        }
    }

    /// Enum members order by their wire number, as in OData (declaration order in Graph).
    static func rank(_ level: RiskLevel) -> Int { Int(level.wireNumber) }
    static func rank(_ status: RiskEventStatus) -> Int { Int(status.wireNumber) }

    private func compareBytes(_ lhs: String, _ rhs: String) -> Bool {
        // Lengths first: O(1) for native strings, and most unequal ids differ in it or early.
        let equal = lhs.utf8.count == rhs.utf8.count && lhs.utf8.elementsEqual(rhs.utf8)
        switch op {
        case .eq: return equal
        case .ne: return !equal
        case .gt: return !equal && !lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
        case .ge: return !lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
        case .lt: return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
        case .le: return equal || lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
        }
    }

    private func compare<T: Comparable>(_ lhs: T, _ rhs: T) -> Bool { op.holds(lhs, rhs) }
}
