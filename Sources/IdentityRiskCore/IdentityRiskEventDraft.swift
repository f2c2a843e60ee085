/// What a client asks to create: every property optional, not yet validated.
///
/// Decoders (Graph JSON, the wire) fill what they could read and report what
/// they could not (an unknown enum member, malformed date text) as
/// ``FieldViolation``s in `decodingViolations`, so that one error lists every
/// problem of the request.
public struct IdentityRiskEventDraft: Sendable, Hashable {
    public var id: String?
    public var userDisplayName: String?
    public var userPrincipalName: String?
    public var riskEventDateTime: DateTimeOffset?
    public var riskEventType: String?
    public var riskLevel: RiskLevel?
    public var riskEventStatus: RiskEventStatus?
    public var closedDateTime: DateTimeOffset?
    /// Read-only. Any value here is refused with inner code `ReadOnlyProperty`.
    public var createdDateTime: DateTimeOffset?
    public var userId: String?
    /// Problems found while decoding; ``EventValidator`` reports them with its own.
    public var decodingViolations: [FieldViolation]

    public init(
        id: String? = nil,
        userDisplayName: String? = nil,
        userPrincipalName: String? = nil,
        riskEventDateTime: DateTimeOffset? = nil,
        riskEventType: String? = nil,
        riskLevel: RiskLevel? = nil,
        riskEventStatus: RiskEventStatus? = nil,
        closedDateTime: DateTimeOffset? = nil,
        createdDateTime: DateTimeOffset? = nil,
        userId: String? = nil,
        decodingViolations: [FieldViolation] = []
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
        self.decodingViolations = decodingViolations
    }

    /// A draft holding exactly the client-supplied properties of `event`
    /// (no `createdDateTime`, no version), e.g. to retry a create or to merge an update into.
    public init(_ event: IdentityRiskEvent) {
        self.init()
        for property in EventProperty.allCases where property != .createdDateTime {
            self[property] = event[property]
        }
    }
}
