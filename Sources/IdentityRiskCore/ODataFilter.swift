/// Parser for the OData v4 `$filter` subset IdentityRisk accepts:
///
/// ```
/// filter     = or-expr
/// or-expr    = and-expr *( RWS "or" RWS and-expr )      ; and binds tighter than or
/// and-expr   = primary  *( RWS "and" RWS primary )
/// primary    = "(" or-expr ")" / comparison
/// comparison = property RWS ( "eq" / "ne" / "gt" / "ge" / "lt" / "le" ) RWS literal
/// literal    = 'string' / microsoft.graph.riskLevel'high' / 2017-01-01T00:00:00Z / null
/// ```
///
/// Names, operators and keywords are case-sensitive, as in OData. `and` / `or`
/// group to the left. Whitespace (spaces, tabs) is optional around parentheses
/// and required elsewhere. The text comes from untrusted clients, so it is
/// limited in length, nesting and number of comparisons, and parsed in one pass.
///
/// Errors are `invalidArgument` with one ``FieldViolation`` for `filter` whose
/// description gives the 1-based character position (counting `Character`s, so
/// `é` or an emoji is one) and what was expected.
public enum ODataFilter {
    /// The longest filter accepted, in UTF-8 bytes.
    public static let maxLength = 4096
    /// The deepest nesting of parentheses accepted.
    public static let maxDepth = 32
    /// The most comparisons one filter may hold.
    public static let maxComparisons = 64

    public static func parse(_ text: String) throws(IdentityRiskError) -> FilterExpression {
        let length = text.utf8.count
        guard length <= maxLength else {
            throw IdentityRiskError.invalid([FieldViolation(
                field: "filter", description: "is \(length) bytes of UTF-8; at most \(maxLength) are allowed")])
        }
        var parser = try ODataFilterParser(Array(text.utf8))
        return try parser.parseFilter()
    }

    /// Canonical filter text for `expression`: single spaces, enum members as
    /// plain quoted strings, parentheses only where grouping needs them. For any
    /// expression `parse` returns, `parse(describe(e)) == e`; hand-built ones that
    /// `parse` could not return (a literal of the wrong kind, beyond the limits)
    /// still print, but need not parse back.
    public static func describe(_ expression: FilterExpression) -> String {
        enum Item { case node(FilterExpression), text(String) }
        var out = ""
        var stack: [Item] = [.node(expression)]  // iterative: no recursion on deep trees
        func push(_ e: FilterExpression, parenthesized: Bool, into stack: inout [Item]) {
            if parenthesized {
                stack.append(contentsOf: [.text(")"), .node(e), .text("(")])
            } else {
                stack.append(.node(e))
            }
        }
        while let item = stack.popLast() {
            switch item {
            case .text(let text):
                out += text
            case .node(.comparison(let c)):
                out += "\(c.property.rawValue) \(c.op.rawValue) \(literal(c.value))"
            case .node(.or(let l, let r)):
                // `or` groups to the left, so only a right-hand `or` needs parentheses.
                if case .or = r { push(r, parenthesized: true, into: &stack) } else { push(r, parenthesized: false, into: &stack) }
                stack.append(.text(" or "))
                push(l, parenthesized: false, into: &stack)
            case .node(.and(let l, let r)):
                let rightGroups: Bool
                switch r {
                case .comparison: rightGroups = false
                case .and, .or: rightGroups = true
                }
                push(r, parenthesized: rightGroups, into: &stack)
                stack.append(.text(" and "))
                if case .or = l { push(l, parenthesized: true, into: &stack) } else { push(l, parenthesized: false, into: &stack) }
            }
        }
        return out
    }

    static func literal(_ value: FilterValue) -> String {
        switch value {
        case .string(let s): quoted(s)
        case .riskLevel(let level): quoted(level.rawValue)
        case .riskEventStatus(let status): quoted(status.rawValue)
        case .dateTime(let d): d.description
        case .null: "null"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "'"
        for c in s.unicodeScalars {
            if c == "'" { out += "''" } else { out.unicodeScalars.append(c) }
        }
        return out + "'"
    }

    /// The error for a problem at UTF-8 byte `offset` of the filter; `describe`
    /// receives the 1-based character position.
    static func failure(_ bytes: [UInt8], at offset: Int, _ describe: (Int) -> String) -> IdentityRiskError {
        let position = String(decoding: bytes[..<offset], as: UTF8.self).count + 1
        return IdentityRiskError.invalid([FieldViolation(field: "filter", description: describe(position))])
    }
}

/// What kind of literal a property compares with.
extension FilterProperty {
    enum LiteralKind { case string, riskLevel, riskEventStatus, dateTime }

    var literalKind: LiteralKind {
        switch kind {
        case .text: .string
        case .riskLevel: .riskLevel
        case .riskEventStatus: .riskEventStatus
        case .dateTime: .dateTime
        }
    }

    /// The literal this property takes, for error messages.
    var expectedLiteral: String {
        let base = switch literalKind {
        case .string: "a string in single quotes, e.g. 'value'"
        case .riskLevel: "a riskLevel member in single quotes, e.g. 'high' or microsoft.graph.riskLevel'high'"
        case .riskEventStatus: "a riskEventStatus member in single quotes, e.g. 'active' or microsoft.graph.riskEventStatus'active'"
        case .dateTime: "an unquoted datetime, e.g. 2017-01-01T00:00:00Z"
        }
        return isNullable ? base + ", or null" : base
    }
}

/// Recursive descent over ``ODataFilterLexer`` with one token of lookahead.
/// Recursion happens only at `(`, which is limited to ``ODataFilter/maxDepth``.
struct ODataFilterParser {
    private var lexer: ODataFilterLexer
    private var token: ODataFilterToken
    private var depth = 0
    private var comparisons = 0

    init(_ bytes: [UInt8]) throws(IdentityRiskError) {
        lexer = ODataFilterLexer(bytes)
        token = try lexer.next()
    }

    mutating func parseFilter() throws(IdentityRiskError) -> FilterExpression {
        let expression = try parseOr()
        guard token.kind == .end else {
            throw syntax("expected 'and', 'or' or the end of the filter, found \(found(token))\(lowercaseHint())")
        }
        return expression
    }

    private mutating func parseOr() throws(IdentityRiskError) -> FilterExpression {
        var left = try parseAnd()
        while isKeyword("or") {
            try advance()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(IdentityRiskError) -> FilterExpression {
        var left = try parsePrimary()
        while isKeyword("and") {
            try advance()
            left = .and(left, try parsePrimary())
        }
        return left
    }

    private mutating func parsePrimary() throws(IdentityRiskError) -> FilterExpression {
        guard token.kind == .open else { return .comparison(try parseComparison()) }
        let open = token
        guard depth < ODataFilter.maxDepth else {
            throw fail { "parentheses at position \($0) are nested more than \(ODataFilter.maxDepth) deep" }
        }
        depth += 1
        try advance()
        let inner = try parseOr()
        guard token.kind == .close else {
            let openPosition = position(open.start)
            throw syntax("expected 'and', 'or' or ')' to close the '(' at position \(openPosition), found \(found(token))\(lowercaseHint())")
        }
        depth -= 1
        try advance()
        return inner
    }

    private mutating func parseComparison() throws(IdentityRiskError) -> FilterComparison {
        guard token.kind == .word, let property = FilterProperty(rawValue: token.text) else {
            throw propertyError()
        }
        guard comparisons < ODataFilter.maxComparisons else {
            throw fail { "too many comparisons: the one at position \($0) is number \(ODataFilter.maxComparisons + 1); at most \(ODataFilter.maxComparisons) are allowed" }
        }
        comparisons += 1
        try advance()

        guard token.kind == .word, let op = FilterOperator(rawValue: token.text) else {
            if token.kind == .typed, FilterOperator(rawValue: token.prefix) != nil {
                let op = token.prefix
                throw fail(at: token.start + op.utf8.count) { "syntax error at position \($0): expected a space after '\(op)'" }
            }
            let operators = FilterOperator.allCases.map(\.rawValue).joined(separator: ", ")
            let hint = token.kind == .word && FilterOperator(rawValue: token.text.lowercased()) != nil ? " (operators are lowercase)" : ""
            throw syntax("expected an operator (\(operators)) after '\(property.rawValue)', found \(found(token))\(hint)")
        }
        try advance()

        let value = try literal(for: property, op: op)
        try advance()
        return FilterComparison(property: property, op: op, value: value)
    }

    private func literal(for property: FilterProperty, op: FilterOperator) throws(IdentityRiskError) -> FilterValue {
        let kind = property.literalKind
        switch token.kind {
        case .string:
            switch kind {
            case .string: return .string(token.text)
            case .riskLevel: return .riskLevel(try member(of: property))
            case .riskEventStatus: return .riskEventStatus(try member(of: property))
            case .dateTime: throw mismatch(property)
            }
        case .typed:
            switch kind {
            case .riskLevel where token.prefix == "microsoft.graph.riskLevel":
                return .riskLevel(try member(of: property))
            case .riskEventStatus where token.prefix == "microsoft.graph.riskEventStatus":
                return .riskEventStatus(try member(of: property))
            default:
                throw mismatch(property)
            }
        case .word where token.text == "null":
            guard property.isNullable else {
                throw fail { "type mismatch at position \($0): \(property.rawValue) is never null; null is allowed only for userDisplayName and closedDateTime" }
            }
            guard op == .eq || op == .ne else {
                throw fail { "type mismatch at position \($0): null can only be compared with eq or ne, not '\(op.rawValue)'" }
            }
            return .null
        case .word where kind == .dateTime && token.text != "and" && token.text != "or":
            do {
                return .dateTime(try DateTimeOffset(parsing: token.text))
            } catch {
                let text = excerpt(token)
                throw fail { "invalid datetime '\(text)' at position \($0) for \(property.rawValue): \(error.description)" }
            }
        case .word where token.text.utf8.first.map({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) == true:
            throw mismatch(property)
        case .word, .open, .close, .end:
            throw syntax("expected \(property.expectedLiteral) after '\(op.rawValue)', found \(found(token))")
        }
    }

    private func member<Member: RawRepresentable<String> & CaseIterable>(of property: FilterProperty) throws(IdentityRiskError) -> Member {
        if let member = Member(rawValue: token.text) { return member }
        let names = Member.allCases.map(\.rawValue)
        let value = ODataFilter.quoted(token.text)
        let close = names.first { $0.lowercased() == token.text.lowercased() }
        let hint = close.map { "; did you mean '\($0)'? values are case-sensitive" } ?? ""
        throw fail { "unknown \(property.rawValue) value \(value) at position \($0); allowed values: \(names.joined(separator: ", "))\(hint)" }
    }

    private func mismatch(_ property: FilterProperty) -> IdentityRiskError {
        syntax("\(property.rawValue) takes \(property.expectedLiteral), found \(found(token))", kind: "type mismatch")
    }

    private func propertyError() -> IdentityRiskError {
        let expected = "expected a property name or '(', found \(found(token))"
        guard token.kind == .word else { return syntax(expected) }
        let word = token.text
        let reserved = ["and", "or", "null"] + FilterOperator.allCases.map(\.rawValue)
        if reserved.contains(word) || word.utf8.first.map({ $0 < UInt8(ascii: "A") }) == true {
            return syntax(expected)
        }
        if word == "not" {
            return syntax(expected + "; 'not' is not supported")
        }
        var hint = ""
        if let close = FilterProperty.allCases.first(where: { $0.rawValue.lowercased() == word.lowercased() }) {
            hint = "; did you mean '\(close.rawValue)'? property names are case-sensitive"
        } else if token.end < lexer.bytes.count, lexer.bytes[token.end] == UInt8(ascii: "(") {
            hint = "; functions are not supported"
        }
        let name = excerpt(token)
        return fail { "unknown property '\(name)' at position \($0); filterable properties: \(FilterProperty.allowedNames)\(hint)" }
    }

    private func lowercaseHint() -> String {
        guard token.kind == .word else { return "" }
        let lower = token.text.lowercased()
        return lower != token.text && (lower == "and" || lower == "or") ? " (keywords are lowercase)" : ""
    }

    // MARK: Tokens and errors

    private func isKeyword(_ keyword: String) -> Bool {
        token.kind == .word && token.text == keyword
    }

    /// Moves to the next token. Two tokens need whitespace between them unless
    /// one is a parenthesis (`'a'and` is refused; `(a)and(b)` is not).
    private mutating func advance() throws(IdentityRiskError) {
        let previous = token
        token = try lexer.next()
        if !previous.isParenthesis, !token.isParenthesis, token.kind != .end, !token.spaceBefore {
            throw syntax("expected a space before \(found(token))")
        }
    }

    private func position(_ offset: Int) -> Int {
        String(decoding: lexer.bytes[..<offset], as: UTF8.self).count + 1
    }

    private func fail(at offset: Int? = nil, _ describe: (Int) -> String) -> IdentityRiskError {
        ODataFilter.failure(lexer.bytes, at: offset ?? token.start, describe)
    }

    private func syntax(_ message: String, kind: String = "syntax error") -> IdentityRiskError {
        fail { "\(kind) at position \($0): \(message)" }
    }

    /// The token's source text, shortened for messages.
    private func excerpt(_ token: ODataFilterToken) -> String {
        let text = String(decoding: lexer.bytes[token.start..<token.end], as: UTF8.self)
        return text.count <= 40 ? text : String(text.prefix(40)) + "..."
    }

    private func found(_ token: ODataFilterToken) -> String {
        switch token.kind {
        case .end: "the end of the filter"
        case .open: "'('"
        case .close: "')'"
        case .word: "'\(excerpt(token))'"
        case .string: "string \(excerpt(token))"
        case .typed: excerpt(token)
        }
    }
}
