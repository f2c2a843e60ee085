/// One JSON string escaper for everything that writes JSON or JSON-quoted
/// text: Graph JSON (``GraphJSON``) and iriskd's log lines (logfmt values
/// that need quotes, and `--log-format json`).
///
/// `"` and `\` are escaped, `\n` `\r` `\t` by name, other control characters
/// (U+0000 ... U+001F, U+007F) as `\u00XX`; everything else is kept as is
/// (the output is UTF-8, as RFC 8259 allows).
public enum JSONString {
    /// `text` between double quotes, escaped.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
