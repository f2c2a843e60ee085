/// Per-property limits that validation enforces. Lengths are in UTF-8 bytes,
/// so they mean the same in every language and bound storage exactly.
public struct EventLimits: Sendable, Hashable {
    public var maxIDBytes: Int = 128
    public var maxUserDisplayNameBytes: Int = 256
    public var maxUserPrincipalNameBytes: Int = 256
    public var maxRiskEventTypeBytes: Int = 128
    public var maxUserIDBytes: Int = 128

    public init() {}

    public static let `default` = EventLimits()
}
