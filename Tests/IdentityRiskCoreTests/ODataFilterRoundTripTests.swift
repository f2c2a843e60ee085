@testable import IdentityRiskCore
import IdentityRiskTestSupport
import Testing

private let A = cmp(.riskLevel, .eq, .riskLevel(.high))
private let B = cmp(.userId, .eq, .string("u1"))
private let C = cmp(.riskEventStatus, .ne, .riskEventStatus(.active))
private let D = cmp(.closedDateTime, .eq, .null)
private let a = "riskLevel eq 'high'", b = "userId eq 'u1'", c = "riskEventStatus ne 'active'", d = "closedDateTime eq null"

@Suite("ODataFilter: describe and round trip")
struct ODataFilterRoundTripTests {
    /// Expected texts follow from the grammar: `and` binds tighter than `or` and
    /// both group to the left, so parentheses are needed exactly for an `or`
    /// under an `and`, and for a right operand of the same operator.
    @Test("canonical text uses parentheses only where needed", arguments: [
        (FilterExpression.or(.or(A, B), C), "\(a) or \(b) or \(c)"),
        (.or(A, .or(B, C)), "\(a) or (\(b) or \(c))"),
        (.and(.and(A, B), C), "\(a) and \(b) and \(c)"),
        (.and(A, .and(B, C)), "\(a) and (\(b) and \(c))"),
        (.and(.or(A, B), C), "(\(a) or \(b)) and \(c)"),
        (.and(A, .or(B, C)), "\(a) and (\(b) or \(c))"),
        (.or(A, .and(B, C)), "\(a) or \(b) and \(c)"),
        (.or(.and(A, B), .and(C, D)), "\(a) and \(b) or \(c) and \(d)"),
        (.and(.or(A, B), .or(C, D)), "(\(a) or \(b)) and (\(c) or \(d))"),
    ])
    func canonicalText(expression: FilterExpression, text: String) throws {
        #expect(ODataFilter.describe(expression) == text)
        #expect(try ODataFilter.parse(text) == expression)
    }

    @Test("literals print in their canonical form", arguments: [
        (cmp(.userId, .eq, .string("O'Brien")), "userId eq 'O''Brien'"),
        (cmp(.userId, .eq, .string("")), "userId eq ''"),
        (cmp(.userId, .eq, .string("''")), "userId eq ''''''"),
        (cmp(.userDisplayName, .ne, .string("Zoë 😀")), "userDisplayName ne 'Zoë 😀'"),
        (cmp(.riskLevel, .ge, .riskLevel(.unknownFutureValue)), "riskLevel ge 'unknownFutureValue'"),
        (cmp(.riskEventStatus, .lt, .riskEventStatus(.closedMfaAuto)), "riskEventStatus lt 'closedMfaAuto'"),
        (cmp(.closedDateTime, .ne, .null), "closedDateTime ne null"),
        (cmp(.createdDateTime, .gt, .dateTime(dt("2017-01-01T00:01:00.7804275+03:00"))), "createdDateTime gt 2017-01-01T00:01:00.7804275+03:00"),
        (cmp(.riskEventDateTime, .le, .dateTime(dt("2017-01-01T00:00:00+00:00"))), "riskEventDateTime le 2017-01-01T00:00:00+00:00"),
    ])
    func literalText(expression: FilterExpression, text: String) throws {
        #expect(ODataFilter.describe(expression) == text)
        #expect(try ODataFilter.parse(text) == expression)
    }

    @Test("parsing normalizes spacing, redundant parentheses and qualified members", arguments: [
        ("  (riskLevel  eq\tmicrosoft.graph.riskLevel'high')and(userId eq 'u1')  ", "\(a) and \(b)"),
        ("((\(a)))", a),
        ("(\(a) and \(b)) or \(c)", "\(a) and \(b) or \(c)"),
        ("\(a) or (\(b) and \(c))", "\(a) or \(b) and \(c)"),
        ("(\(a) or \(b)) or \(c)", "\(a) or \(b) or \(c)"),
    ])
    func normalization(input: String, canonical: String) throws {
        #expect(ODataFilter.describe(try ODataFilter.parse(input)) == canonical)
    }

    /// Random trees over a pool of comparisons of every kind (quotes, Unicode,
    /// offsets, fractions, null, every operator), with random shapes, so that
    /// right-nested and mixed groupings all occur.
    @Test func randomExpressionsRoundTrip() throws {
        var rng = SplitMix64(seed: 0x1D_E171_7215)
        let strings = ["", "a", "O'Brien", "''", "x y", "Zoë", "😀", "and", "null", "(", "2017-01-01T00:00:00Z"]
        let dates = ["2017-01-01T00:00:00Z", "2017-01-01T00:01:00.7804275+03:00", "0001-01-01T00:00:00Z",
                     "9999-12-31T23:59:59.9999999Z", "2024-02-29T12:30:00.12-05:30", "1969-12-31T23:59:59+00:00"]
        func leaf() -> FilterExpression {
            let property = FilterProperty.allCases.randomElement(using: &rng)!
            let op = FilterOperator.allCases.randomElement(using: &rng)!
            let value: FilterValue
            switch property {
            case .riskLevel: value = .riskLevel(RiskLevel.allCases.randomElement(using: &rng)!)
            case .riskEventStatus: value = .riskEventStatus(RiskEventStatus.allCases.randomElement(using: &rng)!)
            case .createdDateTime, .riskEventDateTime, .closedDateTime:
                value = .dateTime(dt(dates.randomElement(using: &rng)!))
            default: value = .string(strings.randomElement(using: &rng)!)
            }
            if property.isNullable, op == .eq || op == .ne, Bool.random(using: &rng) {
                return cmp(property, op, .null)
            }
            return cmp(property, op, value)
        }
        func tree(leaves: Int) -> FilterExpression {
            guard leaves > 1 else { return leaf() }
            let left = Int.random(in: 1..<leaves, using: &rng)
            let l = tree(leaves: left), r = tree(leaves: leaves - left)
            return Bool.random(using: &rng) ? .and(l, r) : .or(l, r)
        }
        for _ in 0..<2000 {
            let expression = tree(leaves: Int.random(in: 1...12, using: &rng))
            let text = ODataFilter.describe(expression)
            let parsed = try ODataFilter.parse(text)
            #expect(parsed == expression, "\(text)")
            #expect(ODataFilter.describe(parsed) == text)
            if parsed != expression { break }
        }
    }
}

@Suite("FilterExpression.matches on sample events")
struct FilterMatchingTests {
    // Instants in UTC, worked out by hand:
    //   e1 riskEventDateTime 2016-12-31T21:01:00.78Z, created 2017-01-02T00:00Z
    //   e2 riskEventDateTime 2016-12-31T22:00Z, closed 2017-01-05T15:00Z, created 2017-01-03T00:00Z
    //   e3 riskEventDateTime 2017-01-01T01:00Z, closed 2017-01-01T01:00Z, created 2017-01-01T06:30Z
    //   e4 riskEventDateTime 2017-01-02T00:00Z, created 2017-01-04T00:00Z
    static let events = [
        event(id: "e1", userDisplayName: "Alice", userPrincipalName: "alice@contoso.com",
              riskEventDateTime: "2017-01-01T00:01:00.7804275+03:00", riskEventType: "unfamiliarFeatures",
              riskLevel: .high, riskEventStatus: .active, closedDateTime: nil,
              createdDateTime: "2017-01-02T00:00:00Z", userId: "u1"),
        event(id: "e2", userDisplayName: nil, userPrincipalName: "bob@contoso.com",
              riskEventDateTime: "2016-12-31T22:00:00Z", riskEventType: "leakedCredentials",
              riskLevel: .low, riskEventStatus: .remediated, closedDateTime: "2017-01-05T10:00:00-05:00",
              createdDateTime: "2017-01-03T00:00:00Z", userId: "u2"),
        event(id: "e3", userDisplayName: "O'Brien", userPrincipalName: "obrien@contoso.com",
              riskEventDateTime: "2017-01-01T00:00:00-01:00", riskEventType: "anonymizedIPAddress",
              riskLevel: .hidden, riskEventStatus: .dismissedAsFalsePositive, closedDateTime: "2017-01-01T01:00:00Z",
              createdDateTime: "2017-01-01T12:00:00+05:30", userId: "u3"),
        event(id: "e4", userDisplayName: "Zoë", userPrincipalName: "zoe@contoso.com",
              riskEventDateTime: "2017-01-02T00:00:00Z", riskEventType: "unfamiliarFeatures",
              riskLevel: .medium, riskEventStatus: .active, closedDateTime: nil,
              createdDateTime: "2017-01-04T00:00:00Z", userId: "u1"),
    ]

    /// Enum members compare by their wire numbers, which follow Graph's order
    /// (riskLevel: low 1, medium 2, high 3, hidden 4, ...; riskEventStatus:
    /// active 1, remediated 2, dismissedAsFixed 3, dismissedAsFalsePositive 4,
    /// ...). A null property is `ne` any value and fails every other comparison
    /// with a value, as in OData.
    @Test(arguments: [
        ("riskLevel eq 'high'", ["e1"]),
        ("riskLevel ne 'high'", ["e2", "e3", "e4"]),
        ("riskLevel ge 'high'", ["e1", "e3"]),
        ("riskLevel lt 'medium'", ["e2"]),
        ("riskLevel le microsoft.graph.riskLevel'medium'", ["e2", "e4"]),
        ("riskEventStatus eq microsoft.graph.riskEventStatus'active'", ["e1", "e4"]),
        ("riskEventStatus gt 'remediated'", ["e3"]),
        ("userDisplayName eq null", ["e2"]),
        ("userDisplayName ne null", ["e1", "e3", "e4"]),
        ("userDisplayName ne 'Alice'", ["e2", "e3", "e4"]),
        ("userDisplayName eq 'O''Brien'", ["e3"]),
        ("userDisplayName gt 'Alice'", ["e3", "e4"]),
        ("userDisplayName eq 'Zoë'", ["e4"]),
        ("closedDateTime eq null", ["e1", "e4"]),
        ("closedDateTime lt 2017-01-02T00:00:00Z", ["e3"]),
        ("closedDateTime ne 2017-01-01T01:00:00Z", ["e1", "e2", "e4"]),
        ("closedDateTime eq 2017-01-01T02:00:00+01:00", ["e3"]),
        ("closedDateTime ge 2017-01-05T15:00:00Z", ["e2"]),
        ("closedDateTime gt 2017-01-05T15:00:00Z", []),
        ("riskEventDateTime lt 2017-01-01T00:00:00Z", ["e1", "e2"]),
        ("riskEventDateTime eq 2016-12-31T21:01:00.7804275Z", ["e1"]),
        ("riskEventDateTime eq 2016-12-31T21:01:00.78Z", []),
        ("createdDateTime ge 2017-01-01T06:30:00Z and createdDateTime lt 2017-01-03T00:00:00Z", ["e1", "e3"]),
        ("userId eq 'u1' and riskLevel eq 'medium' or id eq 'e2'", ["e2", "e4"]),
        ("userId eq 'u1' and (riskLevel eq 'medium' or id eq 'e2')", ["e4"]),
        ("userPrincipalName ge 'b' and userPrincipalName lt 'p'", ["e2", "e3"]),
        ("riskEventType eq 'leakedCredentials' or riskEventType eq 'anonymizedIPAddress'", ["e2", "e3"]),
        ("id eq 'E1'", []),
        ("(id eq 'e1' or id eq 'e2') and (id eq 'e2' or id eq 'e3')", ["e2"]),
    ])
    func matches(filter: String, expected: [String]) throws {
        let expression = try ODataFilter.parse(filter)
        let matched = Self.events.filter { expression.matches($0) }.map(\.id)
        #expect(matched == expected)
    }
}

@Suite("FilterExpression.matches: enum members order by wire number")
struct FilterEnumOrderTests {
    /// The members, in declaration order, whose event `filter` matches.
    static func matchingLevels(_ filter: String) throws -> [RiskLevel] {
        let expression = try ODataFilter.parse(filter)
        return RiskLevel.allCases.filter { expression.matches(event(id: "e", riskLevel: $0)) }
    }

    static func matchingStatuses(_ filter: String) throws -> [RiskEventStatus] {
        let expression = try ODataFilter.parse(filter)
        return RiskEventStatus.allCases.filter { expression.matches(event(id: "e", riskEventStatus: $0)) }
    }

    /// Written out by hand, so that a reorder or renumbering of the members fails.
    @Test(arguments: [
        ("riskLevel gt 'medium'", [RiskLevel.high, .hidden, RiskLevel.none, .unknownFutureValue]),
        ("riskLevel ge 'medium'", [.medium, .high, .hidden, RiskLevel.none, .unknownFutureValue]),
        ("riskLevel lt 'high'", [.low, .medium]),
        ("riskLevel le 'low'", [.low]),
        ("riskLevel lt 'low'", []),
        ("riskLevel gt 'unknownFutureValue'", []),
        ("riskLevel gt 'hidden' and riskLevel lt 'unknownFutureValue'", [RiskLevel.none]),
        ("riskLevel ne 'none'", [.low, .medium, .high, .hidden, .unknownFutureValue]),
    ])
    func riskLevelOrder(_ filter: String, _ expected: [RiskLevel]) throws {
        #expect(try Self.matchingLevels(filter) == expected)
    }

    @Test(arguments: [
        ("riskEventStatus gt 'dismissedAsFixed'",
         [RiskEventStatus.dismissedAsFalsePositive, .dismissedAsIgnore, .loginBlocked, .closedMfaAuto, .closedMultipleReasons]),
        ("riskEventStatus le 'remediated'", [.active, .remediated]),
        ("riskEventStatus ge 'closedMfaAuto'", [.closedMfaAuto, .closedMultipleReasons]),
        ("riskEventStatus lt 'active'", []),
    ])
    func riskEventStatusOrder(_ filter: String, _ expected: [RiskEventStatus]) throws {
        #expect(try Self.matchingStatuses(filter) == expected)
    }

    /// Every operator on every pair agrees with comparing wire numbers.
    @Test(arguments: FilterOperator.allCases)
    func everyPairComparesWireNumbers(_ op: FilterOperator) throws {
        func holds(_ a: UInt32, _ b: UInt32) -> Bool {
            switch op {
            case .eq: a == b
            case .ne: a != b
            case .gt: a > b
            case .ge: a >= b
            case .lt: a < b
            case .le: a <= b
            }
        }
        for literal in RiskLevel.allCases {
            let expected = RiskLevel.allCases.filter { holds($0.wireNumber, literal.wireNumber) }
            #expect(try Self.matchingLevels("riskLevel \(op.rawValue) '\(literal.rawValue)'") == expected)
        }
        for literal in RiskEventStatus.allCases {
            let expected = RiskEventStatus.allCases.filter { holds($0.wireNumber, literal.wireNumber) }
            #expect(try Self.matchingStatuses("riskEventStatus \(op.rawValue) '\(literal.rawValue)'") == expected)
        }
    }
}
