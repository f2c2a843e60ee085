/// One token of a `$filter` text.
struct ODataFilterToken {
    enum Kind: Equatable {
        case open, close
        /// A run of bytes up to whitespace, a parenthesis or a quote: a property,
        /// operator, `and` / `or`, `null` or an unquoted datetime.
        case word
        /// `'text'`, with `''` standing for one quote.
        case string
        /// A qualified literal: a word immediately followed by a string, as in
        /// `microsoft.graph.riskLevel'high'`.
        case typed
        case end
    }

    var kind: Kind
    /// UTF-8 byte offsets of the token in the filter text.
    var start: Int
    var end: Int
    /// Whether spaces or tabs separate this token from the previous one.
    var spaceBefore: Bool
    /// `word`: the word; `string` / `typed`: the value, unescaped.
    var text: String = ""
    /// `typed`: the type name before the quote.
    var prefix: String = ""

    var isParenthesis: Bool { kind == .open || kind == .close }
}

/// Splits a `$filter` into tokens, one at a time, in a single pass over its
/// UTF-8 bytes. Whitespace is spaces and tabs; other control characters are
/// refused wherever they appear.
struct ODataFilterLexer {
    let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let quote = UInt8(ascii: "'")
    private static let openParen = UInt8(ascii: "(")
    private static let closeParen = UInt8(ascii: ")")

    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    /// Bytes that continue a word. Non-ASCII bytes do, so words always start and
    /// end on a character boundary.
    private static func isWordByte(_ byte: UInt8) -> Bool {
        !isControl(byte) && byte != space && byte != quote && byte != openParen && byte != closeParen
    }

    mutating func next() throws(IdentityRiskError) -> ODataFilterToken {
        var spaced = false
        while offset < bytes.count, bytes[offset] == Self.space || bytes[offset] == Self.tab {
            offset += 1
            spaced = true
        }
        let start = offset
        guard offset < bytes.count else {
            return ODataFilterToken(kind: .end, start: start, end: start, spaceBefore: spaced)
        }
        let byte = bytes[offset]
        switch byte {
        case Self.openParen, Self.closeParen:
            offset += 1
            return ODataFilterToken(kind: byte == Self.openParen ? .open : .close, start: start, end: offset, spaceBefore: spaced)
        case Self.quote:
            let value = try string()
            return ODataFilterToken(kind: .string, start: start, end: offset, spaceBefore: spaced, text: value)
        default:
            guard !Self.isControl(byte) else { throw controlCharacter(at: offset, inString: false) }
            while offset < bytes.count, Self.isWordByte(bytes[offset]) {
                offset += 1
            }
            let word = String(decoding: bytes[start..<offset], as: UTF8.self)
            if offset < bytes.count, bytes[offset] == Self.quote {
                let value = try string()
                return ODataFilterToken(kind: .typed, start: start, end: offset, spaceBefore: spaced, text: value, prefix: word)
            }
            return ODataFilterToken(kind: .word, start: start, end: offset, spaceBefore: spaced, text: word)
        }
    }

    /// Reads a quoted string starting at the opening quote; returns its value.
    private mutating func string() throws(IdentityRiskError) -> String {
        let open = offset
        offset += 1
        var value: [UInt8] = []
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == Self.quote {
                if offset + 1 < bytes.count, bytes[offset + 1] == Self.quote {
                    value.append(Self.quote)
                    offset += 2
                    continue
                }
                offset += 1
                return String(decoding: value, as: UTF8.self)
            }
            guard !Self.isControl(byte) else { throw controlCharacter(at: offset, inString: true) }
            value.append(byte)
            offset += 1
        }
        throw ODataFilter.failure(bytes, at: open) {
            "syntax error at position \($0): the string that starts here is not terminated; end it with ' (write '' for a quote inside a string)"
        }
    }

    private func controlCharacter(at offset: Int, inString: Bool) -> IdentityRiskError {
        let code = EventValidator.hex4(UInt32(bytes[offset]))
        let rule = inString
            ? "strings in a filter cannot contain control characters"
            : "separate tokens with spaces or tabs"
        return ODataFilter.failure(bytes, at: offset) {
            "syntax error at position \($0): control character U+\(code) is not allowed; \(rule)"
        }
    }
}
