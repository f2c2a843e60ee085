extension DateTimeOffset {
    /// The accepted text form, for error messages.
    public static let formatDescription =
        "YYYY-MM-DDThh:mm:ss[.fffffff](Z|+hh:mm|-hh:mm), e.g. 2017-01-01T00:01:00.7804275+03:00"

    /// Parses RFC 3339 / ISO 8601 extended format with 0 to 7 fractional digits
    /// and a `Z` or `±hh:mm` offset. The result prints back as the same text.
    public init(parsing text: some StringProtocol) throws(DateTimeOffsetError) {
        var utf8 = Array(text.utf8)
        try self.init(parsingUTF8: &utf8)
    }

    private init(parsingUTF8 b: inout [UInt8]) throws(DateTimeOffsetError) {
        var i = 0
        func fail(_ what: String) -> DateTimeOffsetError {
            DateTimeOffsetError("\(what); expected \(DateTimeOffset.formatDescription)")
        }
        func number(_ width: Int, _ name: String) throws(DateTimeOffsetError) -> Int64 {
            guard i + width <= b.count else { throw fail("text ends before the \(name)") }
            var v: Int64 = 0
            for k in i..<(i + width) {
                let c = b[k]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else {
                    throw fail("the \(name) must be \(width) digits")
                }
                v = v * 10 + Int64(c - UInt8(ascii: "0"))
            }
            i += width
            return v
        }
        func expect(_ c: Character, _ after: String) throws(DateTimeOffsetError) {
            guard i < b.count, b[i] == c.asciiValue! else { throw fail("expected '\(c)' after the \(after)") }
            i += 1
        }
        let year = try number(4, "year"); try expect("-", "year")
        let month = try number(2, "month"); try expect("-", "month")
        let day = try number(2, "day")
        try expect("T", "date")
        let hour = try number(2, "hour"); try expect(":", "hour")
        let minute = try number(2, "minute"); try expect(":", "minute")
        let second = try number(2, "second")
        var ticks: Int64 = 0
        var digits: UInt8 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                guard digits < 7 else {
                    throw DateTimeOffsetError("at most 7 fractional digits (100 ns) are allowed")
                }
                ticks = ticks * 10 + Int64(b[i] - UInt8(ascii: "0"))
                digits += 1
                i += 1
            }
            guard digits > 0 else { throw fail("a '.' must be followed by 1 to 7 digits") }
            ticks *= DateTimeOffset.pow10[7 - Int(digits)]
        }
        var offset: Int64 = 0
        var zulu = false
        guard i < b.count else { throw fail("the UTC offset is missing") }
        switch b[i] {
        case UInt8(ascii: "Z"):
            zulu = true
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let negative = b[i] == UInt8(ascii: "-")
            i += 1
            let oh = try number(2, "offset hours"); try expect(":", "offset hours")
            let om = try number(2, "offset minutes")
            guard om < 60 else { throw DateTimeOffsetError("offset minutes must be 00 ... 59, got \(om)") }
            offset = oh * 60 + om
            guard offset <= Int64(DateTimeOffset.maxOffsetMinutes) else {
                throw DateTimeOffsetError("UTC offset must be within -14:00 ... +14:00")
            }
            if negative {
                guard offset != 0 else {
                    throw DateTimeOffsetError("offset -00:00 means \"local offset unknown\" (RFC 3339) and cannot be kept; write Z or +00:00")
                }
                offset = -offset
            }
        default:
            throw fail("the UTC offset is missing")
        }
        guard i == b.count else { throw fail("unexpected text after the UTC offset") }

        guard year >= 1 else { throw DateTimeOffsetError("year 0000 does not exist; years are 0001 ... 9999") }
        guard (1...12).contains(month) else { throw DateTimeOffsetError("month must be 01 ... 12, got \(month)") }
        let monthDays = CivilDate.daysInMonth(year: year, month: month)
        guard day >= 1, day <= monthDays else {
            throw DateTimeOffsetError("day \(day) does not exist in \(year)-\(month < 10 ? "0" : "")\(month) (1 ... \(monthDays))")
        }
        guard hour <= 23 else { throw DateTimeOffsetError("hour must be 00 ... 23, got \(hour)") }
        guard minute <= 59 else { throw DateTimeOffsetError("minute must be 00 ... 59, got \(minute)") }
        guard second <= 59 else { throw DateTimeOffsetError("second must be 00 ... 59, got \(second) (leap seconds are not representable)") }

        let days = CivilDate.toDays(year: year, month: month, day: day)
        let local = days * 86_400 + hour * 3600 + minute * 60 + second
        try self.init(
            unixSeconds: local - offset * 60,
            ticks: UInt32(ticks),
            offsetMinutes: Int16(offset),
            fractionDigits: digits,
            utcDesignator: zulu
        )
    }
}
