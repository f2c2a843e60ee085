public import IdentityRiskCore
import ServiceLifecycle
import Synchronization

/// An in-memory ``EventStore`` for tests and benchmarks. **Not durable**: every
/// record is gone when the process exits. `iriskd --store memory` says so at start.
///
/// Records are spread over 64 shards by a hash of the id, each with its own
/// lock, so concurrent writes rarely contend and a dictionary resize stalls
/// only one shard. A deleted id keeps a tombstone (its last version) in its
/// shard, in the same dictionary slot, so a create checks records and
/// tombstones with one lookup. Bounded: refuses creates beyond `capacity` ids
/// (records and tombstones) with `resourceExhausted`.
///
/// Lifecycle: ``run()`` returns at graceful shutdown (or cancellation) and
/// closes the store; every later call throws `unavailable`.
///
/// The change log: one global log (a Mutex-protected ring) of the last
/// ``changeRetention`` changes (default 100,000 and 7 days; pruned as changes
/// are appended and read). A write appends its change while it still holds
/// the lock of its record's shard (lock order: shard, then log, then the
/// feed's; never the reverse), so cursor order is the order in which the
/// changes were applied, and publishes it to ``changeFeed`` under the log's
/// lock, so the feed sees cursor order too.
///
/// ``list(_:)`` cannot read every shard at one instant: its
/// ``ListPage/cursor`` is the latest cursor read *before* the scan. A watch
/// after it misses nothing, but a change made during the scan may be both in
/// the page and delivered again by that watch (a duplicate, never a gap).
public final class MemoryEventStore: EventStore {
    public let kind = "memory"
    public let capacity: Int
    /// How much of the change log is kept.
    public let changeRetention: ChangeRetention
    public let changeFeed = ChangeFeed()
    private static let shardCount = 64
    private let shards: [Shard]
    /// Ids held (records and tombstones), checked against `capacity`.
    private let stored = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// What one id holds.
    private enum Entry: Sendable {
        case record(IdentityRiskEvent)
        /// Deleted at this version.
        case tombstone(UInt64)
    }

    private struct ShardState: Sendable {
        var entries: [String: Entry] = [:]
        /// Entries that are records (not tombstones), for ``count``.
        var records = 0
    }

    private final class Shard: Sendable {
        let state = Mutex(ShardState())
    }

    /// One change and when it was appended (age retention).
    private struct LogEntry: Sendable {
        let change: Change
        let appended: ContinuousClock.Instant?
    }

    /// The retained changes, oldest first, with contiguous cursors (the
    /// oldest is `latest - count + 1`), in a ring: `storage` grows up to
    /// `capacity` (`nil`: without bound), then a new change overwrites the
    /// oldest. Age pruning frees slots at the old end, which later changes
    /// reuse. No append moves the retained changes (except a rare rotation
    /// when an unbounded or not yet full ring grows while wrapped).
    private struct LogState: Sendable {
        let capacity: Int?
        var storage: [LogEntry] = []
        var start = 0
        var count = 0
        var latest: UInt64 = 0

        var bounds: ChangeLogBounds {
            ChangeLogBounds(earliestResumable: ChangeCursor(latest - UInt64(count)), latest: ChangeCursor(latest))
        }

        /// The `index`-th retained change, 0 the oldest.
        func entry(_ index: Int) -> LogEntry {
            storage[(start + index) % storage.count]
        }

        mutating func append(_ entry: LogEntry) {
            if count < storage.count {
                storage[(start + count) % storage.count] = entry
                count += 1
            } else if capacity.map({ storage.count < $0 }) ?? true {
                if start != 0 {
                    storage = Array(storage[start...] + storage[..<start])
                    start = 0
                }
                storage.append(entry)
                count += 1
            } else {
                storage[start] = entry
                start = (start + 1) % storage.count
            }
        }

        mutating func dropOldest(_ n: Int) {
            guard n > 0 else { return }
            start = (start + n) % storage.count
            count -= n
        }
    }

    private let changeLog: Mutex<LogState>

    /// Default retention of the memory store's change log: 7 days, 100,000 changes.
    public static let defaultChangeRetention = ChangeRetention(maxAge: .seconds(7 * 24 * 3600), maxCount: 100_000)

    /// - Parameter changeRetention: a `maxCount` below 1 keeps 1 change; `nil`
    ///   keeps every change (memory grows with every write).
    public init(capacity: Int = 10_000_000, changeRetention: ChangeRetention = MemoryEventStore.defaultChangeRetention) {
        self.capacity = capacity
        self.changeRetention = changeRetention
        self.changeLog = Mutex(LogState(capacity: changeRetention.maxCount.map { max(1, $0) }))
        self.shards = (0..<Self.shardCount).map { _ in Shard() }
        changeFeed.reset(latest: .zero)
    }

    private func shard(for id: String) -> Shard {
        // FNV-1a over the UTF-8 bytes: stable, cheap, and spreads UUIDs and counters evenly.
        var hash: UInt32 = 2_166_136_261
        for byte in id.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return shards[Int(hash % UInt32(Self.shardCount))]
    }

    // MARK: - Lifecycle

    /// Open until graceful shutdown (or cancellation); then closed for good.
    public func run() async throws {
        try? await gracefulShutdown()
        closed.store(true, ordering: .releasing)
        changeFeed.close()
    }

    private func checkOpen() throws(IdentityRiskError) {
        if closed.load(ordering: .acquiring) {
            throw IdentityRiskError(code: .unavailable, message: "the in-memory event store is closed")
        }
    }

    // MARK: - EventStore

    /// Answers inline: nothing here ever waits (one shard lock).
    public func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        completion(Result { () throws(IdentityRiskError) in try insert(event) })
    }

    private func insert(_ event: IdentityRiskEvent) throws(IdentityRiskError) -> CreateOutcome {
        try checkOpen()
        guard event.version == 1 else {
            var first = event
            first.version = 1
            return try insert(first)
        }
        return try shard(for: event.id).state.withLock { (shard) throws(IdentityRiskError) -> CreateOutcome in
            switch shard.entries[event.id] {
            case .record(let existing)?:
                guard existing.hasSameContent(as: event) else { throw .conflict(id: event.id) }
                return CreateOutcome(event: existing, alreadyExisted: true)
            case .tombstone?:
                throw .deletedID(event.id)
            case nil:
                break
            }
            guard self.stored.wrappingAdd(1, ordering: .relaxed).newValue <= capacity else {
                self.stored.wrappingSubtract(1, ordering: .relaxed)
                throw IdentityRiskError(
                    code: .resourceExhausted,
                    message: "the in-memory store holds its maximum of \(capacity) records",
                    retryAfterMilliseconds: 1000
                )
            }
            shard.entries[event.id] = .record(event)
            shard.records += 1
            appendChange(.created, event)
            return CreateOutcome(event: event, alreadyExisted: false)
        }
    }

    public func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? {
        try lookUp(id)
    }

    public var answersGetsWithoutTask: Bool { true }

    /// Answered inline, on the caller's thread.
    public func get(id: String, completion: @escaping @Sendable (Result<IdentityRiskEvent?, IdentityRiskError>) -> Void) {
        do throws(IdentityRiskError) {
            completion(.success(try lookUp(id)))
        } catch {
            completion(.failure(error))
        }
    }

    private func lookUp(_ id: String) throws(IdentityRiskError) -> IdentityRiskEvent? {
        try checkOpen()
        return shard(for: id).state.withLock { shard in
            guard case .record(let event)? = shard.entries[id] else { return nil }
            return event
        }
    }

    /// Scans every record: fine for tests, not meant for millions.
    ///
    /// The page's cursor is the latest read before the scan (see the type's
    /// documentation: a watch after it misses nothing, may repeat a change).
    public func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage {
        try checkOpen()
        guard (1...ListQuery.maxTop).contains(query.top) else {
            throw IdentityRiskError.invalid([FieldViolation(field: "top", description: "is \(query.top); allowed: 1 ... \(ListQuery.maxTop)")])
        }
        let cursor = changeLog.withLock { ChangeCursor($0.latest) }
        let order = query.order
        var matching: [IdentityRiskEvent] = []
        for shard in shards {
            shard.state.withLock { shard in
                for case .record(let event) in shard.entries.values
                where (query.filter?.matches(event) ?? true) && (query.after?.precedes(event, in: order) ?? true) {
                    matching.append(event)
                }
            }
        }
        matching.sort { a, b in
            let ka = order.sortKey(a), kb = order.sortKey(b)
            if ka != kb { return order.isDescending ? ka > kb : ka < kb }
            return a.id < b.id
        }
        guard matching.count > query.top else { return ListPage(events: matching, next: nil, cursor: cursor) }
        let page = Array(matching.prefix(query.top))
        let last = page[page.count - 1]
        return ListPage(events: page, next: ListCursor(sortKey: order.sortKey(last), id: last.id), cursor: cursor)
    }

    /// Compare-and-swap under the shard lock. Stores `event` with version
    /// `expectedVersion + 1` and the stored `id` and `createdDateTime`.
    public func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent {
        try checkOpen()
        return try shard(for: event.id).state.withLock { (shard) throws(IdentityRiskError) -> IdentityRiskEvent in
            guard case .record(let stored)? = shard.entries[event.id] else { throw .notFound(id: event.id) }
            guard stored.version == expectedVersion else {
                throw .versionMismatch(id: event.id, expected: expectedVersion, stored: stored.version)
            }
            var next = event
            next.createdDateTime = stored.createdDateTime
            next.version = stored.version + 1
            shard.entries[event.id] = .record(next)
            appendChange(.updated, next)
            return next
        }
    }

    /// Replaces the record by its tombstone under the shard lock.
    public func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 {
        try checkOpen()
        return try shard(for: id).state.withLock { (shard) throws(IdentityRiskError) -> UInt64 in
            guard case .record(let stored)? = shard.entries[id] else { throw .notFound(id: id) }
            if let expectedVersion, expectedVersion != stored.version {
                throw .versionMismatch(id: id, expected: expectedVersion, stored: stored.version)
            }
            shard.entries[id] = .tombstone(stored.version)
            shard.records -= 1
            appendChange(.deleted, stored)
            return stored.version
        }
    }

    // MARK: - The change log

    /// Most changes one ``changes(after:limit:)`` returns.
    public static let maxChangesLimit = 10_000

    /// Appends the change of `event` and publishes it. Called with the
    /// record's shard lock held (lock order: shard, log, feed).
    private func appendChange(_ kind: ChangeKind, _ event: IdentityRiskEvent) {
        let appended = changeRetention.maxAge == nil ? nil : ContinuousClock.now
        changeLog.withLock { log in
            log.latest += 1
            let change = Change(cursor: ChangeCursor(log.latest), kind: kind, event: event)
            log.append(LogEntry(change: change, appended: appended))
            if let appended { prune(&log, now: appended) }
            changeFeed.publish(change)
        }
    }

    /// Drops the changes older than `maxAge` (the oldest first: always a prefix).
    private func prune(_ log: inout LogState, now: ContinuousClock.Instant) {
        guard let maxAge = changeRetention.maxAge else { return }
        var old = 0
        while old < log.count, let appended = log.entry(old).appended, now - appended > maxAge { old += 1 }
        if old > 0 { log.dropOldest(old) }
    }

    public func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change] {
        try checkOpen()
        guard (1...Self.maxChangesLimit).contains(limit) else {
            throw IdentityRiskError.invalid([FieldViolation(field: "limit", description: "is \(limit); allowed: 1 ... \(Self.maxChangesLimit)")])
        }
        let now = ContinuousClock.now
        return try changeLog.withLock { (log) throws(IdentityRiskError) -> [Change] in
            prune(&log, now: now)
            let bounds = log.bounds
            if cursor < bounds.earliestResumable { throw .cursorExpired(cursor, bounds: bounds) }
            if cursor > bounds.latest { throw .cursorAhead(cursor, bounds: bounds) }
            let first = Int(cursor.rawValue - bounds.earliestResumable.rawValue)
            return (first..<(first + min(limit, log.count - first))).map { log.entry($0).change }
        }
    }

    public func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds {
        try checkOpen()
        let now = ContinuousClock.now
        return changeLog.withLock { log in
            prune(&log, now: now)
            return log.bounds
        }
    }

    /// The shards' record counters (64 short locks); no size, no queue, no commits.
    public var status: StoreStatus {
        let open = !closed.load(ordering: .relaxed)
        return StoreStatus(
            kind: kind, records: UInt64(max(0, count)), queueDepth: 0,
            available: open, problem: open ? nil : "the in-memory event store is closed")
    }

    /// Records stored now (deleted ones not counted). Takes each shard's lock in turn.
    public var count: Int {
        shards.reduce(0) { total, shard in total + shard.state.withLock { $0.records } }
    }
}
