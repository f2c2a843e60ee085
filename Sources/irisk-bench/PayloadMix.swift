import IdentityRiskCore

/// The bodies irisk-bench creates: the seed's example record
/// (`riskEventDateTime` "2017-01-01T00:01:00.7804275+03:00", a signed-in user
/// of contoso.com) varied over users, event types, levels, statuses, offsets
/// and fractional digits, so that frame sizes and index keys are realistic
/// rather than one repeated row.
enum PayloadMix {
    static let firstNames = ["Adele", "Alex", "Diego", "Grady", "Isaiah", "Johanna", "Joni", "Lee", "Lidia", "Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Zoë"]
    static let lastNames = ["Vance", "Wilber", "Siciliani", "Archie", "Langer", "Lorenz", "Sherman", "Gu", "Holloway", "Robbins", "Bowen", "Graham", "Wilke", "Fernandez", "Gupta", "Øster"]
    static let eventTypes = [
        "unfamiliarFeatures", "unlikelyTravel", "anonymizedIPAddress", "maliciousIPAddress",
        "leakedCredentials", "investigationsThreatIntelligence", "suspiciousIPAddress", "malwareInfectedIPAddress",
    ]
    /// Offsets (minutes) and fractional digits the writer used, as Graph clients vary them.
    static let offsets: [(minutes: Int16, utc: Bool)] = [(180, false), (0, true), (-480, false), (330, false), (0, false), (60, false)]
    static let fractionDigits: [UInt8] = [7, 0, 3, 7, 1, 7]

    /// The seed example's instant: 2017-01-01T00:01:00.7804275+03:00.
    static let exampleUnixSeconds: Int64 = 1_483_218_060
    static let exampleTicks: UInt32 = 7_804_275

    /// Draft number `index` of the mix, with `id` (the placeholder the pool patches).
    static func draft(index: Int, id: String?) -> IdentityRiskEventDraft {
        let first = firstNames[index % firstNames.count]
        let last = lastNames[(index / firstNames.count) % lastNames.count]
        let user = index % 4096
        let offset = offsets[index % offsets.count]
        let digits = fractionDigits[index % fractionDigits.count]
        let unit = UInt32(pow10(7 - Int(digits)))
        let seconds = exampleUnixSeconds + Int64(index % 10_000) * 3_607
        let ticks = exampleTicks / unit * unit
        // The values are in range by construction; `try!` documents that.
        let riskTime = try! DateTimeOffset(
            unixSeconds: seconds, ticks: ticks, offsetMinutes: offset.minutes,
            fractionDigits: digits, utcDesignator: offset.utc)
        let closed = index % 5 == 0
        let status: RiskEventStatus = closed ? [.remediated, .dismissedAsFixed, .closedMfaAuto][index % 3] : .active
        let closedTime = closed
            ? try! DateTimeOffset(unixSeconds: seconds + 86_400, ticks: 0, offsetMinutes: 0, fractionDigits: 0, utcDesignator: true)
            : nil
        return IdentityRiskEventDraft(
            id: id,
            userDisplayName: index % 7 == 3 ? nil : "\(first) \(last)",
            userPrincipalName: "\(first.lowercased()).\(last.lowercased())\(user)@contoso.com",
            riskEventDateTime: riskTime,
            riskEventType: eventTypes[index % eventTypes.count],
            riskLevel: [RiskLevel.low, .medium, .high][index % 3],
            riskEventStatus: status,
            closedDateTime: closedTime,
            userId: userID(user))
    }

    /// A GUID-shaped user id, stable per user number.
    static func userID(_ user: Int) -> String {
        var x = UInt64(user) &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1B5_4A32_D192_ED03
        x ^= x >> 29
        let hex = String(x, radix: 16)
        let h = String(repeating: "0", count: 16 - hex.count) + hex
        let y = String(UInt32(truncatingIfNeeded: UInt64(user) &* 2_654_435_761), radix: 16)
        let t = String(repeating: "0", count: 8 - y.count) + y
        let c = Array(h)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-a\(t.prefix(3))-\(t)\(String(c[0..<4]))"
    }

    private static func pow10(_ n: Int) -> Int {
        (0..<n).reduce(1) { acc, _ in acc * 10 }
    }
}
