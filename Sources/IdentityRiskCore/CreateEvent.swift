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

    public func callAsFunction(_ draft: IdentityRiskEventDraft) async throws(IdentityRiskError) -> CreateOutcome {
        try await store.create(prepare(draft))
    }

    /// The synchronous half: validates `draft` and assigns the id (when absent)
    /// and `createdDateTime`. What is left is `store.create`.
    public func prepare(_ draft: IdentityRiskEventDraft) throws(IdentityRiskError) -> IdentityRiskEvent {
        try validator.validate(draft, assignID: EventIDGenerator.timeOrderedUUID, createdDateTime: clock.now())
    }

    /// ``prepare(_:)`` then the store's completion-handler create: no task when
    /// the store answers inline (memory) or from its own thread (SQLite).
    public func callAsFunction(_ draft: IdentityRiskEventDraft, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        let event: IdentityRiskEvent
        do {
            event = try prepare(draft)
        } catch {
            completion(.failure(error))
            return
        }
        store.create(event, completion: completion)
    }
}
