public import IdentityRiskCore

/// The seed document's example body (Graph's "Create identityRiskEvent"
/// request), with valid enum members.
public func seedDraft(id: String? = nil, userId: String = "User Id value") -> IdentityRiskEventDraft {
    IdentityRiskEventDraft(
        id: id,
        userDisplayName: "User Display Name value",
        userPrincipalName: "User Principal Name value",
        riskEventDateTime: dt("2017-01-01T00:01:00.7804275+03:00"),
        riskEventType: "Risk Event Type value",
        riskLevel: .high,
        riskEventStatus: .active,
        closedDateTime: dt("2017-01-01T00:01:30.8768135+03:00"),
        userId: userId)
}

/// ``seedDraft(id:userId:)`` as a store holds it: every property set, created
/// at `createdDateTime`, at `version`.
public func seedEvent(id: String, createdDateTime: DateTimeOffset, version: UInt64 = 1) -> IdentityRiskEvent {
    let draft = seedDraft(id: id)
    return IdentityRiskEvent(
        id: id, userDisplayName: draft.userDisplayName, userPrincipalName: draft.userPrincipalName!,
        riskEventDateTime: draft.riskEventDateTime!, riskEventType: draft.riskEventType!, riskLevel: draft.riskLevel!,
        riskEventStatus: draft.riskEventStatus!, closedDateTime: draft.closedDateTime, createdDateTime: createdDateTime,
        userId: draft.userId!, version: version)
}
