public import ServiceLifecycle

/// Where records live. Implementations (IdentityRiskStore): `SQLiteEventStore`
/// (durable, the default), `MemoryEventStore` (tests and benchmarks; not
/// durable); a networked database implements the same contract. One
/// conformance suite (Tests/IdentityRiskStoreTests/StoreConformance*) runs
/// against every store.
///
/// A store is a swift-service-lifecycle `Service`: put it in the
/// `ServiceGroup` before the server. `run()` keeps it open until graceful
/// shutdown, then finishes what is queued (every queued write is committed
/// and answered) and closes it; calls after that throw `unavailable`.
///
/// Contract:
/// - Writes (`create`, `replace`, `delete`) return only once the change is as
///   durable as the store promises (SQLite: committed with a full fsync). A
///   write that failed changed nothing.
/// - Ids are unique. Creating an id that exists with the same content
///   (``IdentityRiskEvent/hasSameContent(as:)``) returns the stored record with
///   `alreadyExisted == true`; with other content it throws ``IdentityRiskError/conflict(id:)``.
///   A stored record is never overwritten by a create. New records have version 1.
/// - A deleted id stays deleted: `get` and `list` no longer see it, `replace`
///   and `delete` throw `notFound`, and `create` with it throws
///   ``IdentityRiskError/deletedID(_:)`` (never the old record, never a new one).
/// - `replace` and `delete` compare versions: a stored version other than the
///   expected one throws ``IdentityRiskError/versionMismatch(id:expected:stored:)``
///   and changes nothing.
/// - Errors are ``IdentityRiskError``: `resourceExhausted` when the store's
///   queue is full, `unavailable` when it is closed or cannot write.
public protocol EventStore: Service {
    /// `"memory"`, `"sqlite"`, ...: reported by Health.
    var kind: String { get }

    /// Kind, location, size, records, queue depth and availability, for Health
    /// and Stats. Must be cheap (no query, no scan; a lock at most): it is read
    /// on every health probe. Default: the kind alone.
    var status: StoreStatus { get }

    /// The group commit's batch sizes and latencies over its recent commits;
    /// `nil` for a store without one (memory). Default: `nil`.
    var commitStatistics: CommitStatistics? { get }

    /// Calls `observer` once per committed transaction, on the store's writer
    /// thread (it must be quick): the metrics' commit histograms. Set it before
    /// writes start; a later call replaces it. Default: never called.
    func observeCommits(_ observer: @escaping @Sendable (CommitSample) -> Void)

    /// Stores `event` (version 1) and answers through `completion`, exactly once,
    /// on any thread, possibly before this returns. This is every store's native
    /// form: event-loop callers need no task per create. Once accepted, a
    /// create is not abandoned; its answer is what was committed.
    func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void)

    func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent?

    /// ``get(id:)`` answered through `completion`, exactly once, on any thread,
    /// possibly before this returns: the form the server calls, with no task
    /// per get, when ``answersGetsWithoutTask``. Default: a task awaiting
    /// ``get(id:)``; the memory store answers inline, SQLite from a reader
    /// thread that reads waiting gets together.
    func get(id: String, completion: @escaping @Sendable (Result<IdentityRiskEvent?, IdentityRiskError>) -> Void)

    /// Whether ``get(id:completion:)`` is native (quick, bounded, needs no
    /// cancellation). When false (the default) the server awaits ``get(id:)``
    /// in a task that the call's cancellation cancels, as PostgreSQL's gets need.
    var answersGetsWithoutTask: Bool { get }

    /// One page of records matching `query`, in its order.
    func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage

    /// Replaces the stored record `event.id` with `event` if its stored version
    /// is `expectedVersion`; `event.version` must be `expectedVersion + 1` and
    /// its `createdDateTime` the stored one. Returns the record as stored.
    func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent

    /// Deletes `id` (if its version is `expectedVersion`, when given) and
    /// returns the version it had. It leaves a tombstone so the id is never reused.
    func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64

    // MARK: The change log (Watch)
    //
    // Every create (a new record: not an idempotent repeat), every update that
    // changed something and every delete appends one ``Change`` with the next
    // ``ChangeCursor``, in the same transaction as the change itself: a change
    // is in the log exactly when it is durable, and cursor order is commit
    // order. Retention (``ChangeRetention``) prunes the oldest in the background.

    /// Committed changes as they commit, for watchers that are caught up.
    var changeFeed: ChangeFeed { get }

    /// The changes after `cursor`, oldest first, at most `limit` (1 ... 10,000).
    /// Throws ``IdentityRiskError/cursorExpired(_:bounds:)`` when changes after
    /// `cursor` were pruned, ``IdentityRiskError/cursorAhead(_:bounds:)`` when
    /// `cursor` is later than the latest change.
    func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change]

    /// What the log can still be resumed from, and its latest cursor.
    func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds
}

extension EventStore {
    public var status: StoreStatus { StoreStatus(kind: kind) }
    public var commitStatistics: CommitStatistics? { nil }
    public func observeCommits(_ observer: @escaping @Sendable (CommitSample) -> Void) {}

    public var answersGetsWithoutTask: Bool { false }

    public func get(id: String, completion: @escaping @Sendable (Result<IdentityRiskEvent?, IdentityRiskError>) -> Void) {
        Task {
            do throws(IdentityRiskError) {
                completion(.success(try await get(id: id)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// The create, awaited.
    public func create(_ event: IdentityRiskEvent) async throws(IdentityRiskError) -> CreateOutcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<CreateOutcome, IdentityRiskError>, Never>) in
            create(event) { continuation.resume(returning: $0) }
        }
        return try result.get()
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

    /// A create of an id whose record was deleted: refused, so that a late retry
    /// of the original create can never bring a deleted event back.
    public static func deletedID(_ id: String) -> IdentityRiskError {
        IdentityRiskError(
            code: .alreadyExists,
            message: "the identityRiskEvent with id '\(id)' was deleted; ids of deleted events are never reused "
                + "(so a retried create cannot bring it back); create it with a new id",
            target: "id",
            innerCode: "DeletedID"
        )
    }

    /// No record with `id` (never created, or deleted).
    public static func notFound(id: String) -> IdentityRiskError {
        IdentityRiskError(code: .notFound, message: "no identityRiskEvent with id '\(id)'", target: "id")
    }

    /// The stored version is not the one the caller expected (HTTP 412).
    public static func versionMismatch(id: String, expected: UInt64, stored: UInt64) -> IdentityRiskError {
        IdentityRiskError(
            code: .failedPrecondition,
            message: "identityRiskEvent '\(id)' is at version \(ETag(version: stored)), not \(ETag(version: expected)); "
                + "it changed since you read it: get it again, then retry with its new etag",
            target: "ifMatch",
            innerCode: "VersionMismatch"
        )
    }

    /// Whether this is ``versionMismatch(id:expected:stored:)``.
    public var isVersionMismatch: Bool { code == .failedPrecondition && innerCode == "VersionMismatch" }
}
