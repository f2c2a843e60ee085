/// An `Edm.DateTimeOffset` that round-trips exactly: the UTC instant to 100 ns,
/// the UTC offset its writer used, and the number of fractional digits written.
///
/// ```
///   2017-01-01T00:01:00.7804275+03:00
///   └──── local date/time ───┘└frac┘└offset┘
///   instant  = 2016-12-31T21:01:00.7804275Z  (unixSeconds 1483218060, ticks 7804275)
///   offset   = +180 minutes, fractionDigits = 7, utcDesignator = false
/// ```
///
/// Two values are `==` only when they would print the same text; use
/// ``instantTicks`` (or `<`) to compare instants.
public struct DateTimeOffset: Sendable, Hashable, CustomStringConvertible {
    /// Whole seconds of the UTC instant since 1970-01-01T00:00:00Z.
    public let unixSeconds: Int64
    /// 100-nanosecond units past `unixSeconds`, `0 ..< 10_000_000`.
    public let ticks: UInt32
    /// Offset from UTC in minutes, `-840 ... 840`.
    public let offsetMinutes: Int16
    /// Fractional-second digits to print, `0 ... 7`.
    public let fractionDigits: UInt8
    /// The offset is zero and was written `Z` rather than `+00:00`.
    public let utcDesignator: Bool

    public static let ticksPerSecond: Int64 = 10_000_000
    /// 0001-01-01T00:00:00Z
    public static let minUnixSeconds: Int64 = -62_135_596_800
    /// 9999-12-31T23:59:59Z
    public static let maxUnixSeconds: Int64 = 253_402_300_799
    public static let maxOffsetMinutes: Int16 = 14 * 60

    /// Creates a value after checking every component; throws a
    /// ``DateTimeOffsetError`` naming what is out of range.
    public init(
        unixSeconds: Int64,
        ticks: UInt32,
        offsetMinutes: Int16,
        fractionDigits: UInt8,
        utcDesignator: Bool
    ) throws(DateTimeOffsetError) {
        guard unixSeconds >= Self.minUnixSeconds, unixSeconds <= Self.maxUnixSeconds else {
            throw DateTimeOffsetError("instant is outside 0001-01-01T00:00:00Z ... 9999-12-31T23:59:59Z")
        }
        guard ticks < UInt32(Self.ticksPerSecond) else {
            throw DateTimeOffsetError("ticks must be 0 ... 9999999 (100 ns units), got \(ticks)")
        }
        guard abs(Int(offsetMinutes)) <= Int(Self.maxOffsetMinutes) else {
            throw DateTimeOffsetError("UTC offset must be within -14:00 ... +14:00, got \(offsetMinutes) minutes")
        }
        guard fractionDigits <= 7 else {
            throw DateTimeOffsetError("at most 7 fractional digits (100 ns) are allowed, got \(fractionDigits)")
        }
        if fractionDigits < 7 {
            let unit = UInt32(Self.pow10[7 - Int(fractionDigits)])
            guard ticks % unit == 0 else {
                throw DateTimeOffsetError("ticks \(ticks) need more than \(fractionDigits) fractional digits")
            }
        }
        if utcDesignator, offsetMinutes != 0 {
            throw DateTimeOffsetError("the Z designator needs a zero offset, got \(offsetMinutes) minutes")
        }
        let local = unixSeconds + Int64(offsetMinutes) * 60
        guard local >= Self.minUnixSeconds, local <= Self.maxUnixSeconds else {
            throw DateTimeOffsetError("local time is outside years 0001 ... 9999")
        }
        self.unixSeconds = unixSeconds
        self.ticks = ticks
        self.offsetMinutes = offsetMinutes
        self.fractionDigits = fractionDigits
        self.utcDesignator = utcDesignator
    }

    /// The instant as 100 ns ticks since the Unix epoch: a total order across offsets.
    public var instantTicks: Int64 { unixSeconds * Self.ticksPerSecond + Int64(ticks) }

    /// A UTC value with 7 fractional digits and `Z`, as the server writes `createdDateTime`.
    public init(utcInstantTicks value: Int64) throws(DateTimeOffsetError) {
        let (q, r) = value.quotientAndRemainder(dividingBy: Self.ticksPerSecond)
        let seconds = r < 0 ? q - 1 : q
        let ticks = r < 0 ? r + Self.ticksPerSecond : r
        try self.init(unixSeconds: seconds, ticks: UInt32(ticks), offsetMinutes: 0, fractionDigits: 7, utcDesignator: true)
    }

    static let pow10: [Int64] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000]

    /// ISO 8601 / RFC 3339 text, exactly as it was parsed.
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(33)
        let local = unixSeconds + Int64(offsetMinutes) * 60
        let (days, secondOfDay) = Self.floorDivide(local, 86_400)
        let (year, month, day) = CivilDate.fromDays(days)
        func put(_ value: Int64, width: Int) {
            var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            var v = value
            for i in stride(from: width - 1, through: 0, by: -1) {
                digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            bytes.append(contentsOf: digits)
        }
        put(year, width: 4); bytes.append(UInt8(ascii: "-"))
        put(month, width: 2); bytes.append(UInt8(ascii: "-"))
        put(day, width: 2); bytes.append(UInt8(ascii: "T"))
        put(secondOfDay / 3600, width: 2); bytes.append(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, width: 2); bytes.append(UInt8(ascii: ":"))
        put(secondOfDay % 60, width: 2)
        if fractionDigits > 0 {
            bytes.append(UInt8(ascii: "."))
            put(Int64(ticks) / Self.pow10[7 - Int(fractionDigits)], width: Int(fractionDigits))
        }
        if utcDesignator {
            bytes.append(UInt8(ascii: "Z"))
        } else {
            let magnitude = Int64(abs(Int(offsetMinutes)))
            bytes.append(offsetMinutes < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            put(magnitude / 60, width: 2); bytes.append(UInt8(ascii: ":"))
            put(magnitude % 60, width: 2)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? (q - 1, r + b) : (q, r)
    }
}

extension DateTimeOffset: Comparable {
    /// Orders by instant, then by representation so that `<` is a strict total order.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        if lhs.instantTicks != rhs.instantTicks { return lhs.instantTicks < rhs.instantTicks }
        return (lhs.offsetMinutes, lhs.fractionDigits, lhs.utcDesignator ? 1 : 0)
            < (rhs.offsetMinutes, rhs.fractionDigits, rhs.utcDesignator ? 1 : 0)
    }
}

/// Why a DateTimeOffset could not be parsed or built.
public struct DateTimeOffsetError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Proleptic Gregorian calendar arithmetic (Howard Hinnant's days-from-civil).
enum CivilDate {
    static func toDays(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func fromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
