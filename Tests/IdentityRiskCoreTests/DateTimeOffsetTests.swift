@testable import IdentityRiskCore
import IdentityRiskTestSupport
import Testing

/// Calendar arithmetic written independently of `CivilDate` (which uses Howard
/// Hinnant's era algorithm): count whole years from 0001-01-01, then months.
enum ReferenceCalendar {
    static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][Int(m - 1)]
    }

    /// Days from 0001-01-01 to 1970-01-01: 365 * 1969 + 492 - 19 + 4.
    static let epochDays: Int64 = 719_162

    static func unixSeconds(_ y: Int64, _ mo: Int64, _ d: Int64, _ h: Int64, _ mi: Int64, _ s: Int64, offsetMinutes: Int64) -> Int64 {
        let p = y - 1
        var days = 365 * p + p / 4 - p / 100 + p / 400
        for m in 1..<mo { days += daysInMonth(y, m) }
        days += d - 1 - epochDays
        return days * 86_400 + h * 3600 + mi * 60 + s - offsetMinutes * 60
    }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}

@Suite("DateTimeOffset")
struct DateTimeOffsetTests {
    @Test("text round-trips exactly", arguments: [
        "2017-01-01T00:01:00.7804275+03:00",
        "2017-01-01T00:01:30.8768135+03:00",
        "2017-01-01T00:00:00Z",
        "2017-01-01T00:00:00+00:00",
        "2017-01-01T00:00:00-05:30",
        "2017-06-15T08:30:00+05:45",
        "2017-01-01T00:00:00.1Z",
        "2017-01-01T00:00:00.12Z",
        "2017-01-01T00:00:00.123+01:00",
        "2017-01-01T00:00:00.1234-01:00",
        "2017-01-01T00:00:00.12345Z",
        "2017-01-01T00:00:00.123456Z",
        "2017-01-01T00:00:00.1234567Z",
        "2017-01-01T00:00:00.0Z",
        "2017-01-01T00:00:00.10Z",
        "2017-01-01T00:00:00.0000000Z",
        "2017-01-01T00:00:00.1000000+00:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T14:00:00+14:00",
        "9999-12-31T23:59:59.9999999Z",
        "9999-12-31T09:59:59-14:00",
        "2024-02-29T00:00:00Z",
        "2000-02-29T23:59:59.999-14:00",
        "1969-12-31T23:59:59.9999999Z",
        "1900-03-01T00:00:00+14:00",
        "2017-01-01T00:00:00-14:00",
    ])
    func roundTrip(text: String) throws {
        let value = try DateTimeOffset(parsing: text)
        #expect(value.description == text)
        #expect(try DateTimeOffset(parsing: value.description) == value)
    }

    /// Instants worked out by hand: 2017-01-01T00:00:00Z is 1483228800,
    /// 2000-01-01T00:00:00Z is 946684800, 2024-03-01T00:00:00Z is 1709251200,
    /// .NET's DateTime.MinValue is 62135596800 s before the epoch.
    @Test("components", arguments: [
        ("2017-01-01T00:01:00.7804275+03:00", Int64(1_483_218_060), UInt32(7_804_275), Int16(180), UInt8(7), false),
        ("2017-01-01T00:00:00Z", 1_483_228_800, 0, 0, 0, true),
        ("2017-01-01T00:00:00+00:00", 1_483_228_800, 0, 0, 0, false),
        ("2017-01-01T00:00:00-05:30", 1_483_248_600, 0, -330, 0, false),
        ("2000-01-01T00:00:00.5+01:00", 946_681_200, 5_000_000, 60, 1, false),
        ("2024-02-29T00:00:00Z", 1_709_164_800, 0, 0, 0, true),
        ("1970-01-01T00:00:00Z", 0, 0, 0, 0, true),
        ("1969-12-31T23:59:59.05Z", -1, 500_000, 0, 2, true),
        ("0001-01-01T00:00:00Z", -62_135_596_800, 0, 0, 0, true),
        ("9999-12-31T23:59:59.9999999Z", 253_402_300_799, 9_999_999, 0, 7, true),
    ])
    func components(text: String, unixSeconds: Int64, ticks: UInt32, offset: Int16, digits: UInt8, zulu: Bool) throws {
        let value = try DateTimeOffset(parsing: text)
        #expect(value.unixSeconds == unixSeconds)
        #expect(value.ticks == ticks)
        #expect(value.offsetMinutes == offset)
        #expect(value.fractionDigits == digits)
        #expect(value.utcDesignator == zulu)
        #expect(value.instantTicks == unixSeconds * 10_000_000 + Int64(ticks))
        #expect(value == (try DateTimeOffset(unixSeconds: unixSeconds, ticks: ticks, offsetMinutes: offset, fractionDigits: digits, utcDesignator: zulu)))
    }

    @Test func orderingIsByInstantAcrossOffsets() throws {
        // 00:00 at +03:00 is 21:00Z the day before, so it precedes 22:00Z.
        let early = try DateTimeOffset(parsing: "2017-01-01T00:00:00+03:00")
        let late = try DateTimeOffset(parsing: "2016-12-31T22:00:00Z")
        #expect(early < late)
        #expect(!(late < early))
        #expect(early.instantTicks < late.instantTicks)

        // The same instant written three ways: equal instants, different values.
        let z = try DateTimeOffset(parsing: "2017-01-01T00:00:00Z")
        let plus3 = try DateTimeOffset(parsing: "2017-01-01T03:00:00+03:00")
        let minus530 = try DateTimeOffset(parsing: "2016-12-31T18:30:00-05:30")
        #expect(z.instantTicks == plus3.instantTicks)
        #expect(z.instantTicks == minus530.instantTicks)
        #expect(z != plus3)
        #expect(z != (try DateTimeOffset(parsing: "2017-01-01T00:00:00+00:00")))
        for (x, y) in [(z, plus3), (z, minus530), (plus3, minus530)] {
            #expect((x < y) != (y < x), "< must be a strict total order: \(x) vs \(y)")
        }

        let texts = ["2017-01-01T05:00:00+05:00", "2017-01-01T00:00:00.0000001Z", "2016-12-31T23:59:59.9999999Z",
                     "2016-12-31T13:00:00-11:00", "2017-01-01T13:59:59+14:00", "2016-12-31T10:00:00-14:00"]
        let sorted = try texts.map { try DateTimeOffset(parsing: $0) }.sorted().map(\.description)
        // In UTC: 23:59:59 (+14:00), then 23:59:59.9999999, then three values at
        // exactly 2017-01-01T00:00:00Z (their relative order is a tie-break), then 00:00:00.0000001.
        #expect(sorted.count == 6)
        #expect(sorted.first == "2017-01-01T13:59:59+14:00")
        #expect(sorted.dropFirst().first == "2016-12-31T23:59:59.9999999Z")
        #expect(Set(sorted.dropFirst(2).prefix(3)) == ["2017-01-01T05:00:00+05:00", "2016-12-31T13:00:00-11:00", "2016-12-31T10:00:00-14:00"])
        #expect(sorted.last == "2017-01-01T00:00:00.0000001Z")
    }

    @Test("rejections explain what is wrong", arguments: [
        ("2017-01-01T00:00:00.12345678Z", "at most 7 fractional digits"),
        ("2017-02-29T00:00:00Z", "day 29 does not exist in 2017-02"),
        ("1900-02-29T00:00:00Z", "day 29 does not exist in 1900-02"),
        ("2017-04-31T00:00:00Z", "day 31 does not exist in 2017-04"),
        ("2017-01-00T00:00:00Z", "day 0 does not exist"),
        ("2017-13-01T00:00:00Z", "month must be 01 ... 12, got 13"),
        ("2017-00-01T00:00:00Z", "month must be 01 ... 12, got 0"),
        ("0000-01-01T00:00:00Z", "year 0000 does not exist"),
        ("2017-01-01T24:00:00Z", "hour must be 00 ... 23, got 24"),
        ("2017-01-01T00:60:00Z", "minute must be 00 ... 59, got 60"),
        ("2017-01-01T00:00:60Z", "second must be 00 ... 59, got 60"),
        ("2017-01-01T00:00:00+15:00", "-14:00 ... +14:00"),
        ("2017-01-01T00:00:00+14:01", "-14:00 ... +14:00"),
        ("2017-01-01T00:00:00-14:30", "-14:00 ... +14:00"),
        ("2017-01-01T00:00:00+03:60", "offset minutes must be 00 ... 59"),
        ("2017-01-01T00:00:00", "the UTC offset is missing"),
        ("2017-01-01T00:00:00.5", "the UTC offset is missing"),
        ("2017-01-01T00:00:00z", "the UTC offset is missing"),
        ("2017-01-01t00:00:00Z", "expected 'T' after the date"),
        ("2017-01-01 00:00:00Z", "expected 'T' after the date"),
        ("2017-01-01T00:00:00Zjunk", "unexpected text after the UTC offset"),
        ("2017-01-01T00:00:00+03:00 ", "unexpected text after the UTC offset"),
        ("2017-01-01T00:00:00.Z", "'.' must be followed by 1 to 7 digits"),
        ("2017-1-01T00:00:00Z", "the month must be 2 digits"),
        ("2017-01-01T00:00:00+3:00", "the offset hours must be 2 digits"),
        ("2017-01-01T00:00:00+03", "expected ':' after the offset hours"),
        (" 2017-01-01T00:00:00Z", "the year must be 4 digits"),
        ("2017-01-01", "expected 'T' after the date"),
        ("", "text ends before the year"),
        // Local time in range, but the UTC instant is not.
        ("0001-01-01T00:00:00+00:01", "instant is outside"),
        ("9999-12-31T23:59:59-00:01", "instant is outside"),
    ])
    func rejections(text: String, reason: String) {
        do {
            let value = try DateTimeOffset(parsing: text)
            Issue.record("\(text.debugDescription) parsed as \(value)")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    @Test func negativeZeroOffsetMustNotChangeItsText() {
        // RFC 3339's "-00:00" (offset unknown) cannot be kept, so it is refused rather than rewritten.
        #expect(throws: DateTimeOffsetError.self) { try DateTimeOffset(parsing: "2017-01-01T00:00:00-00:00") }
    }

    @Test("the memberwise initializer checks every component", arguments: [
        (Int64(0), UInt32(10_000_000), Int16(0), UInt8(7), false, "ticks must be"),
        (0, 0, 841, 0, false, "-14:00 ... +14:00"),
        (0, 0, -841, 0, false, "-14:00 ... +14:00"),
        (0, 0, 0, 8, false, "at most 7"),
        (0, 1, 0, 6, false, "need more than 6"),
        (0, 5_000_000, 0, 0, false, "need more than 0"),
        (0, 0, 60, 0, true, "Z designator"),
        (-62_135_596_801, 0, 0, 0, true, "instant is outside"),
        (253_402_300_800, 0, 0, 0, true, "instant is outside"),
        (-62_135_596_800, 0, -1, 0, false, "local time"),
        (253_402_300_799, 0, 1, 0, false, "local time"),
    ])
    func memberwiseRejections(seconds: Int64, ticks: UInt32, offset: Int16, digits: UInt8, zulu: Bool, reason: String) {
        do {
            let value = try DateTimeOffset(unixSeconds: seconds, ticks: ticks, offsetMinutes: offset, fractionDigits: digits, utcDesignator: zulu)
            Issue.record("accepted \(value)")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    @Test("init(utcInstantTicks:)", arguments: [
        (Int64(0), "1970-01-01T00:00:00.0000000Z"),
        (-1, "1969-12-31T23:59:59.9999999Z"),
        (-10_000_000, "1969-12-31T23:59:59.0000000Z"),
        (-10_000_001, "1969-12-31T23:59:58.9999999Z"),
        (14_832_180_607_804_275, "2016-12-31T21:01:00.7804275Z"),
        (-621_355_968_000_000_000, "0001-01-01T00:00:00.0000000Z"),
        (2_534_023_007_999_999_999, "9999-12-31T23:59:59.9999999Z"),
        (-864_000_000_000, "1969-12-31T00:00:00.0000000Z"),
    ])
    func utcInstantTicks(value: Int64, text: String) throws {
        let d = try DateTimeOffset(utcInstantTicks: value)
        #expect(d.description == text)
        #expect(d.instantTicks == value)
        #expect(d.utcDesignator && d.offsetMinutes == 0 && d.fractionDigits == 7)
        #expect(try DateTimeOffset(parsing: text) == d)
    }

    @Test func utcInstantTicksOutsideTheRangeIsRefused() {
        #expect(throws: DateTimeOffsetError.self) { try DateTimeOffset(utcInstantTicks: -621_355_968_000_000_001) }
        #expect(throws: DateTimeOffsetError.self) { try DateTimeOffset(utcInstantTicks: 2_534_023_008_000_000_000) }
        #expect(throws: DateTimeOffsetError.self) { try DateTimeOffset(utcInstantTicks: .min) }
        #expect(throws: DateTimeOffsetError.self) { try DateTimeOffset(utcInstantTicks: .max) }
    }

    @Test func utcInstantTicksRoundTripsRandomInstants() throws {
        var rng = SplitMix64(seed: 42)
        let low: Int64 = -621_355_968_000_000_000, high: Int64 = 2_534_023_007_999_999_999
        for _ in 0..<3000 {
            let value = Int64.random(in: low...high, using: &rng)
            let d = try DateTimeOffset(utcInstantTicks: value)
            #expect(d.instantTicks == value)
            #expect(d.ticks == UInt32((value % 10_000_000 + 10_000_000) % 10_000_000))
            #expect(try DateTimeOffset(parsing: d.description) == d)
        }
    }

    /// Property-style: random valid component tuples, formatted by hand, parse
    /// to the value computed with ``ReferenceCalendar`` and print back unchanged.
    @Test func randomComponentTuplesRoundTrip() throws {
        var rng = SplitMix64(seed: 0xDA7E_7135)
        var refused = 0
        for round in 0..<4000 {
            // Every tenth tuple is on the first or last day of the range, where
            // an offset can push the UTC instant outside it.
            let edge = round % 10 == 0
            let year: Int64 = edge ? [1, 9999].randomElement(using: &rng)! : Int64.random(in: 1...9999, using: &rng)
            let month = edge ? (year == 1 ? 1 : 12) : Int64.random(in: 1...12, using: &rng)
            let day = edge ? (year == 1 ? 1 : 31) : Int64.random(in: 1...ReferenceCalendar.daysInMonth(year, month), using: &rng)
            let hour = Int64.random(in: 0...23, using: &rng), minute = Int64.random(in: 0...59, using: &rng)
            let second = Int64.random(in: 0...59, using: &rng)
            let digits = Int.random(in: 0...7, using: &rng)
            var scale: Int64 = 1
            for _ in 0..<digits { scale *= 10 }
            let fraction = Int64.random(in: 0..<scale, using: &rng)
            let zulu = Int.random(in: 0..<4, using: &rng) == 0
            let offset: Int64 = zulu ? 0 : Int64.random(in: -840...840, using: &rng)

            let p = ReferenceCalendar.pad
            var text = "\(p(year, 4))-\(p(month, 2))-\(p(day, 2))T\(p(hour, 2)):\(p(minute, 2)):\(p(second, 2))"
            if digits > 0 { text += "." + p(fraction, digits) }
            text += zulu ? "Z" : "\(offset < 0 ? "-" : "+")\(p(abs(offset) / 60, 2)):\(p(abs(offset) % 60, 2))"

            let unix = ReferenceCalendar.unixSeconds(year, month, day, hour, minute, second, offsetMinutes: offset)
            let ticks = UInt32(fraction * (10_000_000 / scale))
            guard unix >= -62_135_596_800, unix <= 253_402_300_799 else {
                refused += 1
                #expect(throws: DateTimeOffsetError.self, "\(text): its UTC instant is outside years 1 ... 9999") {
                    try DateTimeOffset(parsing: text)
                }
                continue
            }
            let value = try DateTimeOffset(parsing: text)
            #expect(value.description == text)
            #expect(value.unixSeconds == unix, "\(text)")
            #expect(value.ticks == ticks, "\(text)")
            #expect(value.offsetMinutes == Int16(offset) && value.fractionDigits == UInt8(digits) && value.utcDesignator == zulu)
            #expect(value == (try DateTimeOffset(unixSeconds: unix, ticks: ticks, offsetMinutes: Int16(offset),
                                                  fractionDigits: UInt8(digits), utcDesignator: zulu)))
        }
        #expect(refused > 0, "the edge years should produce some out-of-range instants")
    }
}
