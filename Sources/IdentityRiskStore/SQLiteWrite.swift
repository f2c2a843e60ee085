import IdentityRiskCore

/// One write waiting in ``GroupCommitWriter``'s queue: what to do and whom to
/// answer. Every kind goes through the same queue and the same transactions,
/// so each is answered only after the batch that applied it is on disk (``WALSyncer``), and
/// each sees the effects of the writes queued before it.
enum SQLiteWrite: Sendable {
    typealias Completion<T> = @Sendable (Result<T, IdentityRiskError>) -> Void

    /// Insert `event` as version 1 (idempotent, refused for a tombstoned id).
    case create(IdentityRiskEvent, Completion<CreateOutcome>)
    /// Compare-and-swap: store `event` if the stored version is `expectedVersion`.
    case replace(IdentityRiskEvent, expectedVersion: UInt64, Completion<IdentityRiskEvent>)
    /// Delete `id` (if at `expectedVersion`, when given) and leave a tombstone.
    case delete(id: String, expectedVersion: UInt64?, Completion<UInt64>)

    var isCreate: Bool {
        if case .create = self { true } else { false }
    }

    /// Answers with `error`, for a write that was not applied.
    func fail(_ error: IdentityRiskError) {
        switch self {
        case .create(_, let completion): completion(.failure(error))
        case .replace(_, _, let completion): completion(.failure(error))
        case .delete(_, _, let completion): completion(.failure(error))
        }
    }
}

/// The outcome of one write inside a transaction, with the completion it goes
/// to. Delivered only once the transaction has committed; a failed transaction
/// discards them and answers every write with ``SQLiteWrite/fail(_:)``.
enum SQLiteWriteAnswer: Sendable {
    case created(SQLiteWrite.Completion<CreateOutcome>, Result<CreateOutcome, IdentityRiskError>)
    case replaced(SQLiteWrite.Completion<IdentityRiskEvent>, Result<IdentityRiskEvent, IdentityRiskError>)
    case deleted(SQLiteWrite.Completion<UInt64>, Result<UInt64, IdentityRiskError>)

    func deliver() {
        switch self {
        case .created(let completion, let result): completion(result)
        case .replaced(let completion, let result): completion(result)
        case .deleted(let completion, let result): completion(result)
        }
    }

    /// Answers with `error` instead of the outcome: the transaction committed
    /// but could not be made durable (``WALSyncer``).
    func fail(_ error: IdentityRiskError) {
        switch self {
        case .created(let completion, _): completion(.failure(error))
        case .replaced(let completion, _): completion(.failure(error))
        case .deleted(let completion, _): completion(.failure(error))
        }
    }
}
