/// Number formatting for the report, without Foundation's locale machinery.
enum Format {
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (abs(value) * scale).rounded()
        let whole = Int(rounded / scale)
        let fraction = Int(rounded - Double(whole) * scale)
        let sign = value < 0 && rounded > 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        let f = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: digits - f.count) + f
    }

    /// 1234567 -> "1,234,567".
    static func grouped(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// Nanoseconds as "38.2 µs", "1.25 ms", "2.10 s".
    static func latency(_ nanoseconds: UInt64) -> String {
        let ns = Double(nanoseconds)
        if ns < 1_000 { return "\(nanoseconds) ns" }
        if ns < 100_000 { return fixed(ns / 1e3, 1) + " µs" }
        if ns < 1_000_000 { return fixed(ns / 1e3, 0) + " µs" }
        if ns < 1_000_000_000 { return fixed(ns / 1e6, 2) + " ms" }
        return fixed(ns / 1e9, 2) + " s"
    }

    static func mebibytes(_ bytes: Int) -> String {
        fixed(Double(bytes) / 1_048_576, 1) + " MiB"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
