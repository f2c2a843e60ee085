/// The update use case (Graph `PATCH /identityRiskEvents/{id}` → 200 with the
/// updated record), with optimistic concurrency.
///
/// 1. The patch is checked: `id` and `createdDateTime` are read-only
///    (`ReadOnlyProperty`), a required property cannot be cleared.
/// 2. The stored record is read, `ifMatch` compared with its version
///    (stale: `failedPrecondition`, HTTP 412, nothing changed).
/// 3. The patch is applied and the merged record validated exactly as a create
///    (lengths, enums, closedDateTime not before riskEventDateTime), every
///    violation listed.
/// 4. Unchanged: the stored record is returned as it is (same version).
///    Changed: the store replaces it if it is still at the version read
///    (compare-and-swap, durable before it returns), with version + 1.
///    Without `ifMatch`, a concurrent update between read and write is retried
///    on the newer record; with it, that is a stale etag (412).
public struct UpdateEvent: Sendable {
    public let store: any EventStore
    public let validator: EventValidator

    /// Attempts of the read-merge-swap loop when updates of one id race.
    public static let maxAttempts = 16

    public init(store: any EventStore, validator: EventValidator = EventValidator()) {
        self.store = store
        self.validator = validator
    }

    public struct Request: Sendable, Hashable {
        public var id: String
        public var patch: EventPatch
        /// The version the caller last saw (from `@odata.etag`); `nil`: any.
        public var ifMatch: UInt64?

        public init(id: String, patch: EventPatch, ifMatch: UInt64? = nil) {
            self.id = id
            self.patch = patch
            self.ifMatch = ifMatch
        }
    }

    public func callAsFunction(_ request: Request) async throws(IdentityRiskError) -> IdentityRiskEvent {
        try GetEvent.checkID(request.id)
        try check(request.patch)
        for _ in 0..<Self.maxAttempts {
            guard let current = try await store.get(id: request.id) else { throw .notFound(id: request.id) }
            if let ifMatch = request.ifMatch, ifMatch != current.version {
                throw .versionMismatch(id: current.id, expected: ifMatch, stored: current.version)
            }
            var merged = try merge(request.patch, into: current)
            if merged.hasSameContent(as: current) { return current }
            merged.version = current.version + 1
            do {
                return try await store.replace(merged, expectedVersion: current.version)
            } catch where error.isVersionMismatch && request.ifMatch == nil {
                continue  // another update won the race: apply the patch to its result
            }
        }
        throw IdentityRiskError(
            code: .unavailable,
            message: "identityRiskEvent '\(request.id)' changed \(Self.maxAttempts) times while this update was applied; retry",
            retryAfterMilliseconds: 100)
    }

    /// Problems of the patch itself, before any record is read.
    func check(_ patch: EventPatch) throws(IdentityRiskError) {
        var violations: [FieldViolation] = []
        var seen = Set<EventProperty>()
        for property in patch.fields {
            if !seen.insert(property).inserted {
                violations.append(FieldViolation(field: property.graphName, description: "is named more than once in the update"))
            } else if !property.isUpdatable {
                violations.append(FieldViolation(
                    field: property.graphName,
                    description: "is read-only: \(property == .id ? "the id names the record and never changes" : "set by the server when the event was created"); leave it out of the update",
                    innerCode: "ReadOnlyProperty"))
            } else if patch.values[property] == nil, !property.isNullable,
                !patch.values.decodingViolations.contains(where: { $0.field == property.graphName })
            {
                violations.append(FieldViolation(
                    field: property.graphName,
                    description: "cannot be cleared: it is required; give a new value (\(property.expectedValue)) or leave it out of the update"))
            }
        }
        violations += patch.values.decodingViolations
        if !violations.isEmpty { throw .invalid(violations) }
    }

    /// `current` with the patch applied, validated as a create would be.
    func merge(_ patch: EventPatch, into current: IdentityRiskEvent) throws(IdentityRiskError) -> IdentityRiskEvent {
        var draft = IdentityRiskEventDraft(current)
        for property in patch.fields {
            draft[property] = patch.values[property]
        }
        var merged = try validator.validate(draft, assignID: { current.id }, createdDateTime: current.createdDateTime)
        merged.version = current.version
        return merged
    }
}
