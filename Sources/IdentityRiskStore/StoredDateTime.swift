import IdentityRiskCore

/// The stored form of a DateTimeOffset in both SQL stores: four integers
/// (the instant in ticks, the offset in minutes, the fraction digits, the `Z`
/// flag), rebuilt here into the exact value that was written.
enum StoredDateTime {
    /// Whether the four integers are in range; `nil` with the reason when not.
    static func decode(ticks: Int64, offset: Int64, digits: Int64, z: Int64) -> Result<DateTimeOffset, StoredDateTimeProblem> {
        guard let offsetMinutes = Int16(exactly: offset), let fractionDigits = UInt8(exactly: digits), z == 0 || z == 1 else {
            return .failure(StoredDateTimeProblem(description: "has an out-of-range representation (offset \(offset), digits \(digits), z \(z))"))
        }
        let (seconds, remainder) = ticks.quotientAndRemainder(dividingBy: DateTimeOffset.ticksPerSecond)
        let unixSeconds = remainder < 0 ? seconds - 1 : seconds
        let subTicks = remainder < 0 ? remainder + DateTimeOffset.ticksPerSecond : remainder
        do {
            return .success(try DateTimeOffset(
                unixSeconds: unixSeconds, ticks: UInt32(subTicks), offsetMinutes: offsetMinutes,
                fractionDigits: fractionDigits, utcDesignator: z == 1))
        } catch {
            return .failure(StoredDateTimeProblem(description: "is not a valid DateTimeOffset: \(error)"))
        }
    }
}

/// Why four stored integers are not a DateTimeOffset (completes "column X ...").
struct StoredDateTimeProblem: Error {
    var description: String
}
