/// A record version as an HTTP entity tag: `W/"3"` (weak: the same version may
/// be printed with other whitespace or property order).
///
/// Parsing accepts what people paste: `W/"3"`, `"3"` or `3`.
public struct ETag: Sendable, Hashable, CustomStringConvertible {
    public var version: UInt64

    public init(version: UInt64) {
        self.version = version
    }

    public var description: String { "W/\"\(version)\"" }

    /// Parses `W/"N"`, `"N"` or `N` with N ≥ 1; `nil` otherwise.
    public init?(parsing text: String) {
        var rest = Substring(text)
        if rest.hasPrefix("W/") { rest = rest.dropFirst(2) }
        if rest.hasPrefix("\""), rest.hasSuffix("\""), rest.count >= 2 { rest = rest.dropFirst().dropLast() }
        guard !rest.isEmpty, rest.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let version = UInt64(rest), version >= 1
        else { return nil }
        self.version = version
    }

    /// What an unparseable `if-match` is told.
    public static let format = "an etag as printed in @odata.etag, e.g. W/\"3\" (or just the number 3)"
}
