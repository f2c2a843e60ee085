/// What an update changes (Graph `PATCH /identityRiskEvents/{id}`): the
/// properties named in ``fields``, each set to its value in ``values`` or,
/// when that is `nil`, cleared. Properties not named stay as they are.
///
/// Decoders fill ``values`` like a create draft and record their problems in
/// `values.decodingViolations`; ``UpdateEvent`` validates the merged record
/// exactly as a create is validated.
public struct EventPatch: Sendable, Hashable {
    public var fields: [EventProperty]
    public var values: IdentityRiskEventDraft

    public init(fields: [EventProperty] = [], values: IdentityRiskEventDraft = IdentityRiskEventDraft()) {
        self.fields = fields
        self.values = values
    }

    /// Sets `property` to `value` (`nil` clears it).
    public mutating func set(_ property: EventProperty, _ value: PropertyValue?) {
        if !fields.contains(property) { fields.append(property) }
        values[property] = value
    }
}
