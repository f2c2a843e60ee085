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
public final class ChangeFeed: Sendable {
    public let capacity: Int

    private struct Waiter {
        let after: ChangeCursor
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        /// The window, oldest first, in cursor order; a ring of `capacity` slots.
        var ring: [Change] = []
        var head = 0
        /// The window covers every change after `floor` (up to `latest`).
        var floor = ChangeCursor.zero
        var latest = ChangeCursor.zero
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
        var closed = false

        func element(_ index: Int, capacity: Int) -> Change {
            ring[(head + index) % capacity]
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
        let woken = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.ring.removeAll(keepingCapacity: true)
            state.head = 0
            state.floor = latest
            state.latest = latest
            var woken: [CheckedContinuation<Bool, Never>] = []
            for (id, waiter) in state.waiters where waiter.after < latest {
                woken.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return woken
        }
        for continuation in woken { continuation.resume(returning: true) }
    }

    /// The cursor of the last published change.
    public var latest: ChangeCursor { state.withLock { $0.latest } }

    /// Committed changes, in cursor order, each later than every one before.
    public func publish(_ changes: some Collection<Change>) {
        guard !changes.isEmpty else { return }
        let woken = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            for change in changes {
                precondition(change.cursor > state.latest, "changes are published in cursor order")
                if state.ring.count < capacity {
                    state.ring.append(change)
                } else {
                    state.floor = state.ring[state.head].cursor
                    state.ring[state.head] = change
                    state.head = (state.head + 1) % capacity
                }
                state.latest = change.cursor
            }
            var woken: [CheckedContinuation<Bool, Never>] = []
            for (id, waiter) in state.waiters where waiter.after < state.latest {
                woken.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return woken
        }
        for continuation in woken { continuation.resume(returning: true) }
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

    /// Waits until a change later than `cursor` is published (`true`), or
    /// `timeout` passes, the task is cancelled or the feed closes (`false`).
    public func waitForChange(after cursor: ChangeCursor, timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForChange(after: cursor) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func waitForChange(after cursor: ChangeCursor) async -> Bool {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let resumeNow: Bool? = state.withLock { state in
                    if state.closed || Task.isCancelled { return false }
                    if state.latest > cursor { return true }
                    state.waiters[id] = Waiter(after: cursor, continuation: continuation)
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: false)
        }
    }

    /// The store closed: wakes every waiter (`false`) and refuses new waits.
    public func close() {
        let waiters = state.withLock { state -> [Waiter] in
            state.closed = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(returning: false) }
    }

    /// Whether ``close()`` was called (the store closed).
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Watchers waiting for a change right now.
    public var waiting: Int { state.withLock { $0.waiters.count } }
}
