/// The create use case (Graph `POST /identityRiskEvents`): validate, assign the
/// id and `createdDateTime`, store. Every transport calls this.
public struct CreateEvent: Sendable {
    public let store: any EventStore
    public let validator: EventValidator
    public let clock: any EventClock

    public init(store: any EventStore, validator: EventValidator = EventValidator(), clock: any EventClock = SystemEventClock()) {
        self.store = store
        self.validator = validator
        self.clock = clock
    }

    public func callAsFunction(_ draft: IdentityRiskEventDraft) async throws -> CreateOutcome {
        let event = try validator.validate(draft, assignID: EventIDGenerator.randomUUID, createdDateTime: clock.now())
        return try await store.create(event)
    }
}
