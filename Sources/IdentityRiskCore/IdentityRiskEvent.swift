/// A stored microsoft.graph.identityRiskEvent: validated, with its id and
/// `createdDateTime` assigned. Build one through ``CreateEvent``.
///
/// `version` is the record's optimistic-concurrency version (Graph's
/// `@odata.etag`): 1 when created, one more for every update that changes
/// something. It is not a Graph property (not in ``EventProperty``).
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
    /// 1 at create; +1 per update that changed something. Set by the store.
    public var version: UInt64

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
        userId: String,
        version: UInt64 = 1
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
        self.version = version
    }

    /// Whether `other` carries the same client-supplied content: every property
    /// but the server-assigned `createdDateTime` and `version`, with datetimes
    /// compared as written (offset and digits too, not only the instant).
    /// Decides idempotent retries, and whether an update changed anything.
    public func hasSameContent(as other: IdentityRiskEvent) -> Bool {
        var mine = self
        mine.createdDateTime = other.createdDateTime
        mine.version = other.version
        return mine == other
    }

    /// The etag of this version, as Graph prints `@odata.etag`: `W/"3"`.
    public var etag: String { ETag(version: version).description }
}
