@testable import IdentityRiskCore
import IdentityRiskTestSupport
import Testing

/// Comparisons used as leaves in structure tests.
private let A = cmp(.riskLevel, .eq, .riskLevel(.high))
private let B = cmp(.userId, .eq, .string("u1"))
private let C = cmp(.riskEventStatus, .ne, .riskEventStatus(.active))
private let D = cmp(.closedDateTime, .eq, .null)
private let a = "riskLevel eq 'high'", b = "userId eq 'u1'", c = "riskEventStatus ne 'active'", d = "closedDateTime eq null"

@Suite("ODataFilter: parsing")
struct ODataFilterParsingTests {
    @Test("and binds tighter than or; both group to the left", arguments: [
        ("\(a) or \(b) and \(c)", FilterExpression.or(A, .and(B, C))),
        ("\(a) and \(b) or \(c)", .or(.and(A, B), C)),
        ("\(a) and \(b) or \(c) and \(d)", .or(.and(A, B), .and(C, D))),
        ("\(a) or \(b) or \(c)", .or(.or(A, B), C)),
        ("\(a) and \(b) and \(c)", .and(.and(A, B), C)),
        ("\(a) or \(b) and \(c) or \(d)", .or(.or(A, .and(B, C)), D)),
    ])
    func precedence(text: String, expected: FilterExpression) throws {
        #expect(try ODataFilter.parse(text) == expected)
    }

    @Test("parentheses group and are otherwise transparent", arguments: [
        ("(\(a) or \(b)) and \(c)", FilterExpression.and(.or(A, B), C)),
        ("\(a) and (\(b) or \(c))", .and(A, .or(B, C))),
        ("\(a) or (\(b) or \(c))", .or(A, .or(B, C))),
        ("(\(a))", A),
        ("((((\(a)))))", A),
        ("(\(a)) and ((\(b)))", .and(A, B)),
        ("((\(a) or \(b)) and (\(c) or \(d)))", .and(.or(A, B), .or(C, D))),
    ])
    func parentheses(text: String, expected: FilterExpression) throws {
        #expect(try ODataFilter.parse(text) == expected)
    }

    @Test("whitespace: spaces and tabs, optional only around parentheses", arguments: [
        "riskLevel\teq\t'high'",
        "  riskLevel   eq \t 'high'  ",
        "\triskLevel eq 'high'\t",
        "(riskLevel eq 'high')",
        "( riskLevel eq 'high' )",
    ])
    func whitespace(text: String) throws {
        #expect(try ODataFilter.parse(text) == A)
    }

    @Test func noSpaceNeededNextToParentheses() throws {
        #expect(try ODataFilter.parse("(\(a))and(\(b))or(\(c))") == .or(.and(A, B), C))
    }

    /// Each operator, checked on an event whose riskLevel (high) is above the
    /// literal (medium) in Graph's enum order: low, medium, high, ...
    @Test("every operator", arguments: [
        (FilterOperator.eq, false), (.ne, true), (.gt, true), (.ge, true), (.lt, false), (.le, false),
    ])
    func everyOperator(op: FilterOperator, matchesHighAgainstMedium: Bool) throws {
        let parsed = try ODataFilter.parse("riskLevel \(op.rawValue) 'medium'")
        #expect(parsed == cmp(.riskLevel, op, .riskLevel(.medium)))
        #expect(parsed.matches(event(id: "e", riskLevel: .high)) == matchesHighAgainstMedium)
    }

    @Test("every property with its kind of literal", arguments: [
        ("id eq 'abc-123'", cmp(.id, .eq, .string("abc-123"))),
        ("userId ne 'u'", cmp(.userId, .ne, .string("u"))),
        ("userPrincipalName ge 'a@contoso.com'", cmp(.userPrincipalName, .ge, .string("a@contoso.com"))),
        ("userDisplayName lt 'M'", cmp(.userDisplayName, .lt, .string("M"))),
        ("userDisplayName eq null", cmp(.userDisplayName, .eq, .null)),
        ("userDisplayName ne null", cmp(.userDisplayName, .ne, .null)),
        ("riskEventType eq 'leakedCredentials'", cmp(.riskEventType, .eq, .string("leakedCredentials"))),
        ("riskLevel eq 'none'", cmp(.riskLevel, .eq, .riskLevel(RiskLevel.none))),
        ("riskEventStatus le 'dismissedAsIgnore'", cmp(.riskEventStatus, .le, .riskEventStatus(.dismissedAsIgnore))),
        ("createdDateTime gt 2017-01-01T00:00:00Z", cmp(.createdDateTime, .gt, .dateTime(dt("2017-01-01T00:00:00Z")))),
        ("riskEventDateTime le 2017-01-01T00:01:00.7804275+03:00",
         cmp(.riskEventDateTime, .le, .dateTime(dt("2017-01-01T00:01:00.7804275+03:00")))),
        ("closedDateTime lt 2024-02-29T23:59:59.9-05:30", cmp(.closedDateTime, .lt, .dateTime(dt("2024-02-29T23:59:59.9-05:30")))),
        ("closedDateTime eq null", cmp(.closedDateTime, .eq, .null)),
        ("closedDateTime ne null", cmp(.closedDateTime, .ne, .null)),
    ])
    func everyProperty(text: String, expected: FilterExpression) throws {
        #expect(try ODataFilter.parse(text) == expected)
    }

    @Test func everyPropertyIsFilterable() throws {
        let covered: Set<FilterProperty> = [
            .id, .userId, .userPrincipalName, .userDisplayName, .riskEventType,
            .riskLevel, .riskEventStatus, .createdDateTime, .riskEventDateTime, .closedDateTime,
        ]
        #expect(Set(FilterProperty.allCases) == covered)
        // FilterProperty is EventProperty: the names are listed in Graph's order.
        #expect(FilterProperty.allowedNames
            == "id, userDisplayName, userPrincipalName, riskEventDateTime, riskEventType, riskLevel, riskEventStatus, closedDateTime, createdDateTime, userId")
    }

    @Test("datetime literals keep their exact text", arguments: [
        "2017-01-01T00:00:00Z", "2017-01-01T00:00:00+00:00", "2017-01-01T00:01:00.7804275+03:00",
        "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z", "2024-02-29T12:00:00.5-14:00",
    ])
    func dateTimeLiteral(text: String) throws {
        let parsed = try ODataFilter.parse("createdDateTime ge \(text)")
        guard case .comparison(let c) = parsed, case .dateTime(let value) = c.value else {
            Issue.record("not a datetime comparison: \(parsed)")
            return
        }
        #expect(value.description == text)
    }

    @Test("quotes are escaped by doubling", arguments: [
        ("'O''Brien'", "O'Brien"),
        ("''''", "'"),
        ("''", ""),
        ("''''''", "''"),
        ("'a''''b'", "a''b"),
        ("'a b  c'", "a b  c"),
        ("'(and) or ''x'' eq'", "(and) or 'x' eq"),
        ("'Zoë 😀 👍🏽 日本'", "Zoë 😀 👍🏽 日本"),
    ])
    func escaping(literal: String, value: String) throws {
        #expect(try ODataFilter.parse("userDisplayName eq \(literal)") == cmp(.userDisplayName, .eq, .string(value)))
    }

    @Test("every riskLevel member, plain and qualified", arguments: RiskLevel.allCases)
    func riskLevelMembers(level: RiskLevel) throws {
        let expected = cmp(.riskLevel, .eq, .riskLevel(level))
        #expect(try ODataFilter.parse("riskLevel eq '\(level.rawValue)'") == expected)
        #expect(try ODataFilter.parse("riskLevel eq microsoft.graph.riskLevel'\(level.rawValue)'") == expected)
    }

    @Test("every riskEventStatus member, plain and qualified", arguments: RiskEventStatus.allCases)
    func riskEventStatusMembers(status: RiskEventStatus) throws {
        let expected = cmp(.riskEventStatus, .ne, .riskEventStatus(status))
        #expect(try ODataFilter.parse("riskEventStatus ne '\(status.rawValue)'") == expected)
        #expect(try ODataFilter.parse("riskEventStatus ne microsoft.graph.riskEventStatus'\(status.rawValue)'") == expected)
    }

    @Test func qualifiedLiteralInsideParenthesesAndCombinations() throws {
        let text = "(riskLevel ge microsoft.graph.riskLevel'medium')and riskEventStatus eq microsoft.graph.riskEventStatus'active'"
        #expect(try ODataFilter.parse(text) == .and(
            cmp(.riskLevel, .ge, .riskLevel(.medium)),
            cmp(.riskEventStatus, .eq, .riskEventStatus(.active))))
    }

    @Test func stringsMayLookLikeSyntax() throws {
        #expect(try ODataFilter.parse("userId eq 'null'") == cmp(.userId, .eq, .string("null")))
        #expect(try ODataFilter.parse("userId eq 'and'") == cmp(.userId, .eq, .string("and")))
        #expect(try ODataFilter.parse("userId eq '2017-01-01T00:00:00Z'") == cmp(.userId, .eq, .string("2017-01-01T00:00:00Z")))
        #expect(try ODataFilter.parse("userId eq ')'") == cmp(.userId, .eq, .string(")")))
    }
}
