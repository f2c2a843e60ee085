@testable import IdentityRiskCore
import Testing

/// A refused filter: the description must start with `prefix` (which names the
/// position, counted by hand) and contain every string of `mentions`.
struct FilterErrorCase: Sendable, CustomTestStringConvertible {
    var text: String
    var prefix: String
    var mentions: [String] = []
    var testDescription: String { "\"" + escapedForDisplay(text) + "\"" }
}

@Suite("ODataFilter: errors")
struct ODataFilterErrorTests {
    static let operators = "(eq, ne, gt, ge, lt, le)"

    @Test("syntax errors name the position and what was expected", arguments: [
        FilterErrorCase(text: "riskLevel equals 'high'",
                        prefix: "syntax error at position 11: expected an operator (eq, ne, gt, ge, lt, le) after 'riskLevel', found 'equals'"),
        FilterErrorCase(text: "riskLevel EQ 'high'",
                        prefix: "syntax error at position 11: expected an operator \(operators) after 'riskLevel', found 'EQ'",
                        mentions: ["lowercase"]),
        FilterErrorCase(text: "userId eq 'abc", prefix: "syntax error at position 11: ", mentions: ["not terminated", "''"]),
        FilterErrorCase(text: "riskLevel eq microsoft.graph.riskLevel'high", prefix: "syntax error at position 39: ",
                        mentions: ["not terminated"]),
        FilterErrorCase(text: "userId eq", prefix: "syntax error at position 10: expected a string in single quotes",
                        mentions: ["found the end of the filter"]),
        FilterErrorCase(text: "userId", prefix: "syntax error at position 7: expected an operator \(operators) after 'userId'",
                        mentions: ["found the end of the filter"]),
        FilterErrorCase(text: "(userId eq 'a'",
                        prefix: "syntax error at position 15: expected 'and', 'or' or ')' to close the '(' at position 1, found the end of the filter"),
        FilterErrorCase(text: "userId eq 'a')",
                        prefix: "syntax error at position 14: expected 'and', 'or' or the end of the filter, found ')'"),
        FilterErrorCase(text: "()", prefix: "syntax error at position 2: expected a property name or '(', found ')'"),
        FilterErrorCase(text: "userId eq 'a' and ()", prefix: "syntax error at position 20: expected a property name or '(', found ')'"),
        FilterErrorCase(text: "userId eq 'a' and",
                        prefix: "syntax error at position 18: expected a property name or '(', found the end of the filter"),
        FilterErrorCase(text: "", prefix: "syntax error at position 1: expected a property name or '(', found the end of the filter"),
        FilterErrorCase(text: "   ", prefix: "syntax error at position 4: expected a property name or '(', found the end of the filter"),
        FilterErrorCase(text: "riskLevel eq 'high' or or userId eq 'a'",
                        prefix: "syntax error at position 24: expected a property name or '(', found 'or'"),
        FilterErrorCase(text: "userId eq 'a' AND riskLevel eq 'high'",
                        prefix: "syntax error at position 15: expected 'and', 'or' or the end of the filter, found 'AND'",
                        mentions: ["lowercase"]),
        FilterErrorCase(text: "userId eq 'a' riskLevel eq 'high'",
                        prefix: "syntax error at position 15: expected 'and', 'or' or the end of the filter, found 'riskLevel'"),
        FilterErrorCase(text: "riskLevel eq 'high' (userId eq 'a')",
                        prefix: "syntax error at position 21: expected 'and', 'or' or the end of the filter, found '('"),
        FilterErrorCase(text: "userId eq 'a'and riskLevel eq 'high'", prefix: "syntax error at position 14: expected a space before 'and'"),
        FilterErrorCase(text: "userId eq'a'", prefix: "syntax error at position 10: expected a space after 'eq'"),
        FilterErrorCase(text: "riskLevel eq high",
                        prefix: "syntax error at position 14: expected a riskLevel member in single quotes", mentions: ["found 'high'"]),
        FilterErrorCase(text: "'a' eq userId", prefix: "syntax error at position 1: expected a property name or '(', found string 'a'"),
        FilterErrorCase(text: "not riskLevel eq 'high'", prefix: "syntax error at position 1: ", mentions: ["'not' is not supported"]),
        FilterErrorCase(text: "userId eq 'a\u{0}b'", prefix: "syntax error at position 13: control character U+0000 is not allowed"),
        FilterErrorCase(text: "userId eq 'a\tb'", prefix: "syntax error at position 13: control character U+0009 is not allowed"),
        FilterErrorCase(text: "userId\neq 'a'", prefix: "syntax error at position 7: control character U+000A is not allowed"),
        FilterErrorCase(text: "userId eq 'a'\r\n", prefix: "syntax error at position 14: control character U+000D is not allowed"),
        FilterErrorCase(text: "userId eq 'a\u{7F}'", prefix: "syntax error at position 13: control character U+007F is not allowed"),
    ])
    func syntaxErrors(_ c: FilterErrorCase) throws {
        let violation = try #require(filterViolation(c.text))
        #expect(violation.description.hasPrefix(c.prefix), "\(violation.description)")
        for mention in c.mentions {
            #expect(violation.description.contains(mention), "\(violation.description) should mention \(mention)")
        }
    }

    @Test("unknown names and values list what is allowed", arguments: [
        FilterErrorCase(text: "risklevel eq 'high'",
                        prefix: "unknown property 'risklevel' at position 1; filterable properties: id, userDisplayName, userPrincipalName, riskEventDateTime, riskEventType, riskLevel, riskEventStatus, closedDateTime, createdDateTime, userId",
                        mentions: ["did you mean 'riskLevel'?"]),
        FilterErrorCase(text: "userId eq 'a' or severity gt 'low'",
                        prefix: "unknown property 'severity' at position 18; filterable properties: \(FilterProperty.allowedNames)"),
        FilterErrorCase(text: "startswith(userId,'a')", prefix: "unknown property 'startswith' at position 1;",
                        mentions: ["functions are not supported"]),
        FilterErrorCase(text: "riskLevel eq 'extreme'",
                        prefix: "unknown riskLevel value 'extreme' at position 14; allowed values: low, medium, high, hidden, none, unknownFutureValue"),
        FilterErrorCase(text: "riskLevel eq microsoft.graph.riskLevel'HIGH'",
                        prefix: "unknown riskLevel value 'HIGH' at position 14; allowed values: \(RiskLevel.allowedValues)",
                        mentions: ["did you mean 'high'?"]),
        FilterErrorCase(text: "riskEventStatus eq 'Active'",
                        prefix: "unknown riskEventStatus value 'Active' at position 20; allowed values: \(RiskEventStatus.allowedValues)",
                        mentions: ["did you mean 'active'?"]),
        FilterErrorCase(text: "riskLevel eq 'it''s'", prefix: "unknown riskLevel value 'it''s' at position 14;"),
        // Character positions, not bytes: ë is 2 bytes, 😀 4, 👍🏽 (two scalars) 8.
        FilterErrorCase(text: "userDisplayName eq 'Zoë' and x eq 'y'", prefix: "unknown property 'x' at position 30;"),
        FilterErrorCase(text: "userDisplayName eq '😀👍🏽' and Risklevel eq 'high'", prefix: "unknown property 'Risklevel' at position 29;"),
    ])
    func unknownNames(_ c: FilterErrorCase) throws {
        let violation = try #require(filterViolation(c.text))
        #expect(violation.description.hasPrefix(c.prefix), "\(violation.description)")
        for mention in c.mentions {
            #expect(violation.description.contains(mention), "\(violation.description) should mention \(mention)")
        }
    }

    @Test("type mismatches", arguments: [
        FilterErrorCase(text: "createdDateTime eq '2017-01-01T00:00:00Z'",
                        prefix: "type mismatch at position 20: createdDateTime takes an unquoted datetime",
                        mentions: ["found string '2017-01-01T00:00:00Z'"]),
        FilterErrorCase(text: "userId eq 2017-01-01T00:00:00Z",
                        prefix: "type mismatch at position 11: userId takes a string in single quotes", mentions: ["found '2017-01-01T00:00:00Z'"]),
        FilterErrorCase(text: "userId eq 42", prefix: "type mismatch at position 11: userId takes a string"),
        FilterErrorCase(text: "closedDateTime gt null",
                        prefix: "type mismatch at position 19: null can only be compared with eq or ne, not 'gt'"),
        FilterErrorCase(text: "userDisplayName le null", prefix: "type mismatch at position 20: null can only be compared with eq or ne"),
        FilterErrorCase(text: "riskLevel eq null", prefix: "type mismatch at position 14: riskLevel is never null",
                        mentions: ["userDisplayName and closedDateTime"]),
        FilterErrorCase(text: "userId eq null", prefix: "type mismatch at position 11: userId is never null"),
        FilterErrorCase(text: "createdDateTime eq null", prefix: "type mismatch at position 20: createdDateTime is never null"),
        FilterErrorCase(text: "riskLevel eq microsoft.graph.riskEventStatus'active'",
                        prefix: "type mismatch at position 14: riskLevel takes a riskLevel member",
                        mentions: ["found microsoft.graph.riskEventStatus'active'"]),
        FilterErrorCase(text: "riskLevel eq graph.riskLevel'high'", prefix: "type mismatch at position 14: riskLevel takes a riskLevel member"),
        FilterErrorCase(text: "userId eq microsoft.graph.riskLevel'high'", prefix: "type mismatch at position 11: userId takes a string"),
        FilterErrorCase(text: "riskLevel gt 2017-01-01T00:00:00Z", prefix: "type mismatch at position 14: riskLevel takes a riskLevel member"),
    ])
    func typeMismatches(_ c: FilterErrorCase) throws {
        let violation = try #require(filterViolation(c.text))
        #expect(violation.description.hasPrefix(c.prefix), "\(violation.description)")
        for mention in c.mentions {
            #expect(violation.description.contains(mention), "\(violation.description) should mention \(mention)")
        }
    }

    @Test("invalid datetimes carry the parser's reason", arguments: [
        ("createdDateTime gt 2017-13-01T00:00:00Z", "month must be 01 ... 12, got 13"),
        ("riskEventDateTime ge 2017-01-01T00:00:00.12345678Z", "at most 7 fractional digits"),
        ("closedDateTime lt 2017-02-29T00:00:00Z", "day 29 does not exist"),
        ("createdDateTime gt 2017-01-01", "expected 'T'"),
        ("createdDateTime gt 2017-01-01T00:00:00", "offset is missing"),
        ("createdDateTime gt now", "text ends before the year"),
        ("createdDateTime gt tomorrow", "the year must be 4 digits"),
    ])
    func invalidDateTimes(text: String, reason: String) throws {
        let violation = try #require(filterViolation(text))
        let literal = String(text.split(separator: " ")[2])
        let position = text.count - literal.count + 1
        #expect(violation.description.hasPrefix("invalid datetime '\(literal)' at position \(position) for "), "\(violation.description)")
        #expect(violation.description.contains(reason), "\(violation.description)")
    }

    @Test func errorMessageAndTargetComeFromTheViolation() throws {
        do {
            _ = try ODataFilter.parse("riskLevel equals 'high'")
            Issue.record("parsed")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.code.httpStatus == 400)
            #expect(error.message.hasPrefix("filter: syntax error at position 11"))
        }
    }

    // MARK: Limits

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let depth = ODataFilter.maxDepth
        #expect(depth == 32)
        let text = String(repeating: "(", count: depth) + "userId eq 'a'" + String(repeating: ")", count: depth)
        #expect(try ODataFilter.parse(text) == cmp(.userId, .eq, .string("a")))
        let mixed = (0..<depth).map { "userId eq '\($0)' and (" }.joined() + "riskLevel eq 'low'" + String(repeating: ")", count: depth)
        #expect(throws: Never.self) { try ODataFilter.parse(mixed) }
    }

    @Test func nestingBeyondTheLimitIsRefusedAtTheOffendingParenthesis() throws {
        let text = String(repeating: "(", count: 33) + "userId eq 'a'" + String(repeating: ")", count: 33)
        let violation = try #require(filterViolation(text))
        #expect(violation.description == "parentheses at position 33 are nested more than 32 deep")
        // Nesting, not the number of parentheses, counts.
        let siblings = Array(repeating: "(userId eq 'a')", count: 40).joined(separator: " or ")
        #expect(throws: Never.self) { try ODataFilter.parse(siblings) }
    }

    @Test func comparisonsUpToTheLimitAreAccepted() throws {
        #expect(ODataFilter.maxComparisons == 64)
        let text = (1...64).map { "userId eq '\($0)'" }.joined(separator: " or ")
        let parsed = try ODataFilter.parse(text)
        #expect(countComparisons(parsed) == 64)
        #expect(parsed.matches(event(id: "x", userId: "64")))
        #expect(!parsed.matches(event(id: "x", userId: "65")))
    }

    @Test func comparisonsBeyondTheLimitAreRefusedAtTheFirstExtraOne() throws {
        // Each "userId eq 'a'" is 13 characters and " or " 4, so comparison k starts at 1 + 17 (k - 1).
        let text = Array(repeating: "userId eq 'a'", count: 65).joined(separator: " or ")
        let violation = try #require(filterViolation(text))
        #expect(violation.description.hasPrefix("too many comparisons: the one at position \(1 + 17 * 64) is number 65; at most 64"),
                "\(violation.description)")
    }

    @Test func lengthLimitIsInUTF8Bytes() throws {
        #expect(ODataFilter.maxLength == 4096)
        let prefix = "userId eq '"  // 11 bytes, plus the closing quote
        let fits = prefix + String(repeating: "x", count: 4096 - 12) + "'"
        #expect(fits.utf8.count == 4096)
        #expect(try ODataFilter.parse(fits) == cmp(.userId, .eq, .string(String(repeating: "x", count: 4084))))

        let violation = try #require(filterViolation(prefix + String(repeating: "x", count: 4096 - 11) + "'"))
        #expect(violation.description == "is 4097 bytes of UTF-8; at most 4096 are allowed")

        // 2043 characters of 2 bytes each: 2055 characters, 4098 bytes.
        let wide = prefix + String(repeating: "é", count: 2043) + "'"
        #expect(wide.count < 4096)
        #expect(try #require(filterViolation(wide)).description.hasPrefix("is 4098 bytes"))
    }

    @Test func longTokensAreShortenedInMessages() throws {
        let violation = try #require(filterViolation(String(repeating: "a", count: 4000)))
        #expect(violation.description.hasPrefix("unknown property '\(String(repeating: "a", count: 40))...' at position 1"))
        #expect(violation.description.count < 400)
    }

    /// Inputs built to make a naive parser recurse deeply, backtrack or build huge
    /// messages: each must be refused with the expected kind of error, and all
    /// of them, many times over, well within a generous time budget.
    @Test func hostileInputIsRefusedQuickly() throws {
        let orChain = String(String(repeating: "userId eq 'a' or ", count: 400).prefix(4096))
        let hostile: [(String, String)] = [
            (String(repeating: "(", count: 4096), "nested more than 32 deep"),
            (String(repeating: "()", count: 2048), "expected a property name"),
            (String(repeating: ")", count: 4096), "expected a property name"),
            (String(repeating: "'", count: 4095), "not terminated"),
            (String(repeating: "'", count: 4096), "expected a property name"),
            (String(repeating: "riskLevel ", count: 409), "expected an operator"),
            (orChain, "too many comparisons"),
            (String(repeating: "(userId eq 'a' and ", count: 215), "nested more than 32 deep"),
            (String(repeating: "a'", count: 2048), "expected a property name"),
            (String(repeating: "userId eq 'a' and (", count: 31) + String(repeating: "x", count: 3000), "unknown property"),
        ]
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for _ in 0..<20 {
                for (text, expected) in hostile {
                    #expect(text.utf8.count <= 4096)
                    let violation = try #require(filterViolation(text))
                    #expect(violation.description.contains(expected), "\(violation.description.prefix(200))")
                    #expect(violation.description.utf8.count < 1000)
                }
            }
        }
        #expect(elapsed < .seconds(10), "200 hostile parses took \(elapsed)")
    }
}

func countComparisons(_ e: FilterExpression) -> Int {
    switch e {
    case .comparison: 1
    case .and(let l, let r), .or(let l, let r): countComparisons(l) + countComparisons(r)
    }
}
