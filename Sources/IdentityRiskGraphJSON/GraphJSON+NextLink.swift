public import IdentityRiskCore

extension GraphJSON {
    /// The collection a next link is relative to.
    public static let collectionPath = "identityRiskEvents"

    /// Graph's `@odata.nextLink` for the page after one answered for `request`:
    /// `identityRiskEvents?$filter=…&$orderby=…&$top=N&$skiptoken=TOKEN`, each
    /// value percent-encoded. It carries what the server needs to continue (the
    /// token is bound to the filter and order), so a client can follow it
    /// alone: `irisk list --next LINK`. Relative, as there is no host: the
    /// socket is the authority. `$filter` is left out when empty, `$orderby`
    /// when it is the default, `$top` when it is 0 (the server's default).
    public static func nextLink(token: String, request: ListEvents.Request) -> String {
        var query: [(String, String)] = []
        if !request.filter.allSatisfy(\.isWhitespace) { query.append(("$filter", request.filter)) }
        if request.order != .createdAscending { query.append(("$orderby", request.order.rawValue)) }
        if request.top != 0 { query.append(("$top", String(request.top))) }
        query.append(("$skiptoken", token))
        return collectionPath + "?" + query.map { "\($0.0)=\(percentEncoded($0.1))" }.joined(separator: "&")
    }

    /// The list request a next link continues: its filter, order, top and
    /// token. Throws `invalidArgument` (target `nextLink`) saying what is wrong.
    public static func request(continuing link: String) throws(IdentityRiskError) -> ListEvents.Request {
        func bad(_ why: String) -> IdentityRiskError {
            IdentityRiskError(code: .invalidArgument, message: "'\(link.prefix(200))' is not an @odata.nextLink: \(why)", target: "nextLink")
        }
        guard let mark = link.firstIndex(of: "?") else { throw bad("no '?'") }
        let path = link[..<mark]
        guard path == collectionPath || path.hasSuffix("/" + collectionPath) else {
            throw bad("it is not a link to \(collectionPath)")
        }
        var request = ListEvents.Request()
        var sawToken = false
        for pair in link[link.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let value = percentDecoded(parts[1]) else { throw bad("'\(pair.prefix(100))' is not name=value") }
            switch parts[0] {
            case "$filter": request.filter = value
            case "$orderby":
                guard let order = ListOrder(rawValue: value) else {
                    throw bad("$orderby '\(value)' is not one of: \(ListOrder.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                request.order = order
            case "$top":
                guard let top = Int(value), top >= 0 else { throw bad("$top '\(value)' is not a whole number") }
                request.top = top
            case "$skiptoken":
                request.pageToken = value
                sawToken = true
            default:
                throw bad("unknown query option '\(parts[0].prefix(50))'")
            }
        }
        guard sawToken, !request.pageToken.isEmpty else { throw bad("no $skiptoken") }
        return request
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters,
    /// so a link is safe in a URL, in JSON and between single quotes in a shell.
    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF")
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    /// The text of a percent-encoded value (`+` is a plus, as in RFC 3986);
    /// `nil` for a bad escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = utf8.next().flatMap(hexValue), let low = utf8.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
