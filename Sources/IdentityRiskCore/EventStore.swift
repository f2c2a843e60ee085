/// Where records live. Implementations: `SQLiteEventStore` (durable, the
/// default), `MemoryEventStore` (tests and benchmarks; not durable); a
/// networked database implements the same contract.
///
/// Contract:
/// - `create` returns only once the record is as durable as the store promises
///   (for SQLite: committed with a full fsync).
/// - Ids are unique. Creating an id that exists with the same content
///   (``IdentityRiskEvent/hasSameContent(as:)``) returns the stored record with
///   `alreadyExisted == true`; with other content it throws `alreadyExists`.
///   A stored record is never overwritten.
/// - Errors are ``IdentityRiskError``: `resourceExhausted` when the store's
///   queue is full, `unavailable` when it is closed or cannot write.
public protocol EventStore: Sendable {
    /// `"memory"`, `"sqlite"`, ...: reported by Health.
    var kind: String { get }

    func create(_ event: IdentityRiskEvent) async throws -> CreateOutcome

    /// The same create, answered through `completion` (exactly once, on any
    /// thread; possibly before this returns). Event-loop callers use it to avoid
    /// a task per call. The default runs ``create(_:)`` in a task; stores that
    /// can answer without suspending, or from their own writer thread, override it.
    func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void)

    /// `true` when the completion-handler create is the store's native form
    /// (it answers inline or from its own thread). Callers then prefer it; for
    /// other stores they run ``create(_:)`` in a task they can cancel.
    var answersCreatesByCompletion: Bool { get }

    func get(id: String) async throws -> IdentityRiskEvent?

    /// One page of records matching `query`, in its order.
    func list(_ query: ListQuery) async throws -> ListPage
}

extension EventStore {
    public var answersCreatesByCompletion: Bool { false }

    public func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        Task {
            do {
                completion(.success(try await create(event)))
            } catch let error as IdentityRiskError {
                completion(.failure(error))
            } catch {
                completion(.failure(IdentityRiskError(code: .internal, message: "the store failed: \(error)")))
            }
        }
    }
}

/// The result of a create.
public struct CreateOutcome: Sendable, Hashable {
    /// The record as stored.
    public var event: IdentityRiskEvent
    /// The id was already stored with the same content (an idempotent retry).
    public var alreadyExisted: Bool

    public init(event: IdentityRiskEvent, alreadyExisted: Bool) {
        self.event = event
        self.alreadyExisted = alreadyExisted
    }
}

extension IdentityRiskError {
    /// The conflict a store reports when `id` exists with different content.
    public static func conflict(id: String) -> IdentityRiskError {
        IdentityRiskError(
            code: .alreadyExists,
            message: "an identityRiskEvent with id '\(id)' already exists with different content; stored records are never overwritten",
            target: "id"
        )
    }
}
