/// The get use case (Graph `GET /identityRiskEvents/{id}`).
public struct GetEvent: Sendable {
    public let store: any EventStore

    public init(store: any EventStore) {
        self.store = store
    }

    public func callAsFunction(id: String) async throws -> IdentityRiskEvent {
        if id.isEmpty {
            throw IdentityRiskError.invalid([FieldViolation(field: "id", description: "is required and must not be empty")])
        }
        if let problem = EventValidator.idProblem(id) {
            throw IdentityRiskError.invalid([FieldViolation(field: "id", description: problem)])
        }
        guard let event = try await store.get(id: id) else {
            throw IdentityRiskError(code: .notFound, message: "no identityRiskEvent with id '\(id)'", target: "id")
        }
        return event
    }
}
