import Synchronization

/// A store's committed changes, as they commit: a bounded window of the most
/// recent ones in memory, and a wake-up for watchers that are caught up.
///
/// The store calls ``reset(latest:)`` once when it opens, then ``publish(_:)``
/// after each commit (from its writer, in cursor order). Watchers read the
/// window with ``recent(after:limit:)``; a watcher behind the window (`nil`)
/// reads the store's log instead (``EventStore/changes(after:limit:)``), so a
/// change missing here is only slower to arrive, never lost. Memory: at most
/// ``capacity`` changes.
///
/// A watcher whose filter requires one property to equal one value (`userId eq
/// 'u1'`, also inside an `and`: ``FilterExpression/requiredEquality``) waits
/// with that ``Key``: the feed indexes such waiters by key and wakes one only
/// for a change that has its value, so a publish costs one lookup per change
/// and keyed property instead of a wake-up per watcher. Its wake-up (or its
/// timeout) says how far the watcher may skip: every change up to
/// ``Wake/through`` lacks the value, so it cannot match. Such a watcher also
/// holds a ``Subscription``: a bounded mailbox into which each publish copies
/// the changes with its value, so reading costs what it sends, not a scan of
/// every change (nor a fall behind the window while other users' changes pass).
public final class ChangeFeed: Sendable {
    public let capacity: Int

    /// A property and the value a watcher's every matching change has.
    /// Hashed as Swift values: strings compare by canonical equivalence, a
    /// superset of the filter's byte equality, so the index can wake a watcher
    /// for a change its filter then rejects, but never misses one.
    public struct Key: Sendable, Hashable {
        public let property: EventProperty
        public let value: PropertyValue

        /// `property eq value` for a text or enum property; `nil` otherwise
        /// (date-times compare by instant, not by the value's spelling).
        public init?(_ comparison: FilterComparison) {
            guard comparison.op == .eq else { return nil }
            switch (comparison.property.kind, comparison.value) {
            case (.text, .string(let text)): value = .text(text)
            case (.riskLevel, .riskLevel(let level)): value = .riskLevel(level)
            case (.riskEventStatus, .riskEventStatus(let status)): value = .riskEventStatus(status)
            default: return nil
            }
            property = comparison.property
        }

        /// `event`'s key for `property`; `nil` when it has no value there or it is a date-time.
        init?(_ property: EventProperty, of event: IdentityRiskEvent) {
            switch event[property] {
            case .text(let text)?: value = .text(text)
            case .riskLevel(let level)?: value = .riskLevel(level)
            case .riskEventStatus(let status)?: value = .riskEventStatus(status)
            case .dateTime?, nil: return nil
            }
            self.property = property
        }
    }

    /// How a wait ended.
    public struct Wake: Sendable, Hashable {
        /// A change the watcher may want was published (or the feed reset).
        public var changed: Bool
        /// No change after the wait's cursor up to this one can match the
        /// watcher's key: resume reading after it (the wait's own cursor
        /// when the watcher had no key).
        public var through: ChangeCursor

        public init(changed: Bool, through: ChangeCursor) {
            self.changed = changed
            self.through = through
        }
    }

    /// A keyed watcher's mailbox (``subscribe(_:capacity:)``): every change
    /// published after ``from`` that has the key's value, until it overflows.
    public struct Subscription: Sendable, Hashable {
        let id: UInt64
        /// The latest cursor when it began: changes up to it were not delivered.
        public let from: ChangeCursor
    }

    private struct Mailbox {
        let key: Key
        let capacity: Int
        var changes: [Change] = []
        /// More arrived than it holds, or the feed reset: it no longer has every one.
        var incomplete = false

        mutating func deliver(_ change: Change) {
            guard !incomplete else { return }
            guard changes.count < capacity else {
                incomplete = true
                changes = []
                return
            }
            changes.append(change)
        }

        /// Removes and returns its changes after `cursor` (dropping those up to
        /// it, read elsewhere), at most `limit`; `drained`: none is left.
        mutating func take(after cursor: ChangeCursor, limit: Int) -> (matches: [Change], drained: Bool) {
            let skip = changes.firstIndex { $0.cursor > cursor } ?? changes.count
            let end = min(changes.count, skip + max(0, limit))
            let matches = Array(changes[skip..<end])
            changes.removeFirst(end)
            return (matches, changes.isEmpty)
        }
    }

    private struct Waiter {
        let after: ChangeCursor
        let key: Key?
        let continuation: CheckedContinuation<Wake, Never>
    }

    private struct State {
        /// The window, oldest first, in cursor order; a ring of `capacity` slots.
        var ring: [Change] = []
        var head = 0
        /// The window covers every change after `floor` (up to `latest`).
        var floor = ChangeCursor.zero
        var latest = ChangeCursor.zero
        /// Every waiter, by id; those with a key are also in `byKey`.
        var waiters: [UInt64: Waiter] = [:]
        var unkeyed: Set<UInt64> = []
        var byKey: [Key: Set<UInt64>] = [:]
        /// Subscriptions' mailboxes by id, and their ids by key.
        var mailboxes: [UInt64: Mailbox] = [:]
        var subscribed: [Key: Set<UInt64>] = [:]
        /// The properties of the keys in `byKey` and `subscribed`, with how
        /// many waiters and subscriptions use each.
        var keyedProperties: [EventProperty: Int] = [:]
        var nextWaiter: UInt64 = 0
        var closed = false

        func element(_ index: Int, capacity: Int) -> Change {
            ring[(head + index) % capacity]
        }

        mutating func use(_ property: EventProperty, by change: Int) {
            let uses = keyedProperties[property, default: 0] + change
            keyedProperties[property] = uses == 0 ? nil : uses
        }

        mutating func add(_ id: UInt64, _ waiter: Waiter) {
            waiters[id] = waiter
            if let key = waiter.key {
                byKey[key, default: []].insert(id)
                use(key.property, by: 1)
            } else {
                unkeyed.insert(id)
            }
        }

        mutating func remove(_ id: UInt64) -> Waiter? {
            guard let waiter = waiters.removeValue(forKey: id) else { return nil }
            if let key = waiter.key {
                byKey[key]?.remove(id)
                if byKey[key]?.isEmpty == true { byKey[key] = nil }
                use(key.property, by: -1)
            } else {
                unkeyed.remove(id)
            }
            return waiter
        }

        /// Appends `change` to the window and its mailboxes, and takes the
        /// keyed waiters whose value it has (each may skip the changes before
        /// it, which lacked its value).
        mutating func append(_ change: Change, capacity: Int, waking woken: inout [(CheckedContinuation<Wake, Never>, Wake)]) {
            precondition(change.cursor > latest, "changes are published in cursor order")
            for property in keyedProperties.keys {
                guard let key = Key(property, of: change.event) else { continue }
                for id in subscribed[key] ?? [] {
                    mailboxes[id]!.deliver(change)
                }
                for id in byKey[key] ?? [] {
                    guard let waiter = remove(id) else { continue }
                    woken.append((waiter.continuation, Wake(changed: true, through: max(waiter.after, latest))))
                }
            }
            if ring.count < capacity {
                ring.append(change)
            } else {
                floor = ring[head].cursor
                ring[head] = change
                head = (head + 1) % capacity
            }
            latest = change.cursor
        }

        /// Takes the unkeyed waiters the published changes are news to.
        mutating func wakeUnkeyed(into woken: inout [(CheckedContinuation<Wake, Never>, Wake)]) {
            for id in unkeyed {
                guard let waiter = waiters[id], waiter.after < latest else { continue }
                _ = remove(id)
                woken.append((waiter.continuation, Wake(changed: true, through: waiter.after)))
            }
        }

        /// Removes every waiter; their continuations, each with its own cursor.
        mutating func removeAll(where wake: (Waiter) -> Bool) -> [(CheckedContinuation<Wake, Never>, ChangeCursor)] {
            var woken: [(CheckedContinuation<Wake, Never>, ChangeCursor)] = []
            for (id, waiter) in waiters where wake(waiter) {
                _ = remove(id)
                woken.append((waiter.continuation, waiter.after))
            }
            return woken
        }
    }

    private let state: Mutex<State>

    public init(capacity: Int = 16_384) {
        precondition(capacity > 0, "a change feed holds at least one change")
        self.capacity = capacity
        self.state = Mutex(State())
    }

    /// The store opened with `latest` as its last committed change: the
    /// window starts empty there. (A store may also reset after committing
    /// changes it cannot publish: watchers waiting for a change before
    /// `latest` are woken, and read those changes from the log.)
    public func reset(latest: ChangeCursor) {
        let woken = state.withLock { state in
            state.ring.removeAll(keepingCapacity: true)
            state.head = 0
            state.floor = latest
            state.latest = latest
            // Mailboxes miss the changes up to `latest`: their watchers read those elsewhere.
            for id in state.mailboxes.keys {
                state.mailboxes[id]!.incomplete = true
                state.mailboxes[id]!.changes = []
            }
            // Keyed or not: the changes before `latest` were not all seen here.
            return state.removeAll { $0.after < latest }
        }
        for (continuation, after) in woken { continuation.resume(returning: Wake(changed: true, through: after)) }
    }

    /// The cursor of the last published change.
    public var latest: ChangeCursor { state.withLock { $0.latest } }

    /// Committed changes, in cursor order, each later than every one before.
    public func publish(_ changes: some Collection<Change>) {
        guard !changes.isEmpty else { return }
        let woken = state.withLock { state in
            var woken: [(CheckedContinuation<Wake, Never>, Wake)] = []
            for change in changes { state.append(change, capacity: capacity, waking: &woken) }
            state.wakeUnkeyed(into: &woken)
            return woken
        }
        for (continuation, wake) in woken { continuation.resume(returning: wake) }
    }

    /// One committed change (the memory store's form: not generic, so it is
    /// not iterated through a collection's witness table on every create).
    public func publish(_ change: Change) {
        let woken = state.withLock { state in
            var woken: [(CheckedContinuation<Wake, Never>, Wake)] = []
            state.append(change, capacity: capacity, waking: &woken)
            state.wakeUnkeyed(into: &woken)
            return woken
        }
        for (continuation, wake) in woken { continuation.resume(returning: wake) }
    }

    /// Changes after `cursor`, oldest first, at most `limit`; empty when
    /// `cursor` is the latest; `nil` when the window no longer reaches back to
    /// `cursor` (read the store's log).
    public func recent(after cursor: ChangeCursor, limit: Int) -> [Change]? {
        recent(after: cursor, scanning: limit) { _ in true }.map(\.matches)
    }

    /// Scans at most `limit` changes after `cursor` (oldest first) and returns
    /// those `include` accepts, with the cursor of the last one scanned
    /// (`cursor` itself when there was none); `nil` when the window no longer
    /// reaches back to `cursor` (read the store's log).
    ///
    /// `include` runs under the feed's lock on the stored changes, so a
    /// watcher whose filter rejects most changes copies only what it sends:
    /// it must be quick and must not call back into the feed.
    public func recent(
        after cursor: ChangeCursor, scanning limit: Int, where include: (Change) -> Bool
    ) -> (matches: [Change], reached: ChangeCursor)? {
        state.withLock { state -> (matches: [Change], reached: ChangeCursor)? in
            guard cursor >= state.floor else { return nil }
            guard cursor < state.latest, limit > 0 else { return ([], cursor) }
            let count = state.ring.count
            let head = state.head
            // Binary search for the first change later than `cursor`.
            var low = 0
            var high = count
            while low < high {
                let middle = (low + high) / 2
                if state.ring[(head + middle) % capacity].cursor <= cursor { low = middle + 1 } else { high = middle }
            }
            let end = min(count, low + limit)
            guard low < end else { return ([], cursor) }
            var matches: [Change] = []
            for index in low..<end where include(state.ring[(head + index) % capacity]) {
                matches.append(state.ring[(head + index) % capacity])
            }
            return (matches, state.ring[(head + end - 1) % capacity].cursor)
        }
    }

    /// Starts a mailbox for `key`: from now on, each publish copies into it the
    /// changes with `key`'s value, at most `capacity` untaken (then it is
    /// incomplete, and ``take(_:after:limit:)`` says so). `nil` once closed.
    public func subscribe(_ key: Key, capacity: Int) -> Subscription? {
        precondition(capacity > 0, "a mailbox holds at least one change")
        return state.withLock { state -> Subscription? in
            guard !state.closed else { return nil }
            state.nextWaiter += 1
            let id = state.nextWaiter
            state.mailboxes[id] = Mailbox(key: key, capacity: capacity)
            state.subscribed[key, default: []].insert(id)
            state.use(key.property, by: 1)
            return Subscription(id: id, from: state.latest)
        }
    }

    /// Ends a mailbox (a second call does nothing).
    public func unsubscribe(_ subscription: Subscription) {
        state.withLock { state in
            guard let mailbox = state.mailboxes.removeValue(forKey: subscription.id) else { return }
            state.subscribed[mailbox.key]?.remove(subscription.id)
            if state.subscribed[mailbox.key]?.isEmpty == true { state.subscribed[mailbox.key] = nil }
            state.use(mailbox.key.property, by: -1)
        }
    }

    /// The mailbox's changes after `cursor` (at least ``Subscription/from``),
    /// oldest first, at most `limit`, and the cursor they reach: the latest
    /// published one when it had no more, as every change in between lacked
    /// the key's value. `nil` when it is incomplete or ended (read elsewhere,
    /// and subscribe again).
    public func take(_ subscription: Subscription, after cursor: ChangeCursor, limit: Int) -> (matches: [Change], reached: ChangeCursor)? {
        precondition(cursor >= subscription.from, "a mailbox holds only the changes after its start")
        return state.withLock { state -> (matches: [Change], reached: ChangeCursor)? in
            guard state.mailboxes[subscription.id]?.incomplete == false else { return nil }
            let (matches, drained) = state.mailboxes[subscription.id]!.take(after: cursor, limit: limit)
            let reached = drained ? max(cursor, state.latest) : matches.last?.cursor ?? cursor
            return (matches, reached)
        }
    }

    /// Waits until a change later than `cursor` is published (`true`), or
    /// `timeout` passes, the task is cancelled or the feed closes (`false`).
    public func waitForChange(after cursor: ChangeCursor, timeout: Duration) async -> Bool {
        await waitForChange(after: cursor, key: nil, timeout: timeout).changed
    }

    /// Waits until a change later than `cursor` is published that has `key`'s
    /// value (any change, without a key), or `timeout` passes, the task is
    /// cancelled or the feed closes (then ``Wake/changed`` is `false`). Either
    /// way ``Wake/through`` is how far the caller may skip: with a key, past
    /// every change published meanwhile without its value.
    public func waitForChange(after cursor: ChangeCursor, key: Key?, timeout: Duration) async -> Wake {
        await withTaskGroup(of: Wake?.self) { group in
            group.addTask { await self.waitForChange(after: cursor, key: key) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            var wake: Wake?
            while wake == nil, let next = await group.next() {
                // The timer ended first: cancel the wait, which answers how far it got.
                if next == nil { group.cancelAll() }
                wake = next
            }
            group.cancelAll()
            return wake ?? Wake(changed: false, through: cursor)
        }
    }

    private func waitForChange(after cursor: ChangeCursor, key: Key?) async -> Wake {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
                let resumeNow: Wake? = state.withLock { state in
                    if state.closed || Task.isCancelled { return Wake(changed: false, through: cursor) }
                    if state.latest > cursor { return Wake(changed: true, through: cursor) }
                    state.add(id, Waiter(after: cursor, key: key, continuation: continuation))
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let ended = state.withLock { state -> (Waiter, ChangeCursor)? in
                guard let waiter = state.remove(id) else { return nil }
                // Still waiting: no change published since it began had its value
                // (a publish that had one, or a reset, would have removed it).
                return (waiter, waiter.key == nil ? waiter.after : max(waiter.after, state.latest))
            }
            if let (waiter, through) = ended { waiter.continuation.resume(returning: Wake(changed: false, through: through)) }
        }
    }

    /// The store closed: wakes every waiter (`false`) and refuses new waits.
    public func close() {
        let waiters = state.withLock { state in
            state.closed = true
            return state.removeAll { _ in true }
        }
        for (continuation, after) in waiters { continuation.resume(returning: Wake(changed: false, through: after)) }
    }

    /// Whether ``close()`` was called (the store closed).
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Open mailbox subscriptions.
    public var subscriptions: Int { state.withLock { $0.mailboxes.count } }

    /// Watchers waiting for a change right now.
    public var waiting: Int { state.withLock { $0.waiters.count } }
}

