/// The delete use case (Graph `DELETE /identityRiskEvents/{id}` → 204).
///
/// Unknown (or already deleted) ids get `notFound`; a stale `ifMatch` gets
/// `failedPrecondition` (412) and deletes nothing. Durable before it returns.
/// The id is never reused: a later create with it is refused
/// (``IdentityRiskError/deletedID(_:)``), so a delayed retry of the original
/// create cannot resurrect the event.
public struct DeleteEvent: Sendable {
    public let store: any EventStore

    public init(store: any EventStore) {
        self.store = store
    }

    public struct Request: Sendable, Hashable {
        public var id: String
        public var ifMatch: UInt64?

        public init(id: String, ifMatch: UInt64? = nil) {
            self.id = id
            self.ifMatch = ifMatch
        }
    }

    /// Returns the version the record had when it was deleted.
    public func callAsFunction(_ request: Request) async throws(IdentityRiskError) -> UInt64 {
        try GetEvent.checkID(request.id)
        return try await store.delete(id: request.id, expectedVersion: request.ifMatch)
    }
}
