/// The get use case (Graph `GET /identityRiskEvents/{id}`).
public struct GetEvent: Sendable {
    public let store: any EventStore

    public init(store: any EventStore) {
        self.store = store
    }

    public func callAsFunction(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent {
        try Self.checkID(id)
        guard let event = try await store.get(id: id) else { throw .notFound(id: id) }
        return event
    }

    /// The same, answered through `completion` (exactly once, on any thread):
    /// the server's form, with no task per get.
    public func callAsFunction(id: String, completion: @escaping @Sendable (Result<IdentityRiskEvent, IdentityRiskError>) -> Void) {
        do throws(IdentityRiskError) {
            try Self.checkID(id)
        } catch {
            return completion(.failure(error))
        }
        store.get(id: id) { result in
            switch result {
            case .success(let event?): completion(.success(event))
            case .success(nil): completion(.failure(.notFound(id: id)))
            case .failure(let error): completion(.failure(error))
            }
        }
    }

    /// The checks every call naming a record by id makes first.
    static func checkID(_ id: String) throws(IdentityRiskError) {
        if id.isEmpty {
            throw .invalid([FieldViolation(field: "id", description: "is required and must not be empty")])
        }
        if let problem = EventValidator.idProblem(id) {
            throw .invalid([FieldViolation(field: "id", description: problem)])
        }
    }
}
