/// A stored microsoft.graph.identityRiskEvent: validated, with its id and
/// `createdDateTime` assigned. Build one through ``CreateEvent``.
public struct IdentityRiskEvent: Sendable, Hashable {
    public var id: String
    public var userDisplayName: String?
    public var userPrincipalName: String
    public var riskEventDateTime: DateTimeOffset
    public var riskEventType: String
    public var riskLevel: RiskLevel
    public var riskEventStatus: RiskEventStatus
    public var closedDateTime: DateTimeOffset?
    public var createdDateTime: DateTimeOffset
    public var userId: String

    public init(
        id: String,
        userDisplayName: String?,
        userPrincipalName: String,
        riskEventDateTime: DateTimeOffset,
        riskEventType: String,
        riskLevel: RiskLevel,
        riskEventStatus: RiskEventStatus,
        closedDateTime: DateTimeOffset?,
        createdDateTime: DateTimeOffset,
        userId: String
    ) {
        self.id = id
        self.userDisplayName = userDisplayName
        self.userPrincipalName = userPrincipalName
        self.riskEventDateTime = riskEventDateTime
        self.riskEventType = riskEventType
        self.riskLevel = riskLevel
        self.riskEventStatus = riskEventStatus
        self.closedDateTime = closedDateTime
        self.createdDateTime = createdDateTime
        self.userId = userId
    }

    /// Whether `other` carries the same client-supplied content: every property
    /// but the server-assigned `createdDateTime`. Decides idempotent retries.
    public func hasSameContent(as other: IdentityRiskEvent) -> Bool {
        var mine = self
        mine.createdDateTime = other.createdDateTime
        return mine == other
    }
}
