/// The watch use case: the store's changes that match a `$filter`, in cursor
/// order, from a starting point, for as long as the caller keeps reading.
///
/// ```
///  begin(request) ── filter parsed, start resolved against the log's bounds
///  run(plan) ─┬─ bookmark(start)                      (where the stream stands)
///             ├─ caught up:  the feed's window ──▶ change, change, ...
///             ├─ behind it:  the store's log   ──▶ change, change, ...  (catch-up by query)
///             └─ idle:       bookmark(cursor) every `bookmarkInterval`
/// ```
///
/// A watcher whose filter requires an equality (``FilterExpression/requiredEquality``)
/// reads from its own mailbox on the feed (``ChangeFeed/Subscription``), which
/// holds only the changes with that value, and waits under that key: it is
/// woken only by such a change and skips the others unread. Its mailbox
/// overflowing (it fell behind) sends it back to the window or the log, until
/// it catches up with a new one.
///
/// A change is only ever read from the feed or the log, both of which hold
/// committed changes only: a watcher never sees a change that is later lost.
public struct WatchChanges: Sendable {
    public let store: any EventStore
    /// When no matching change was sent for this long, a bookmark is.
    public var bookmarkInterval: Duration
    /// Changes read per step (from the feed or the log).
    public var batchSize: Int
    /// After a wake-up, how long a watcher lets further commits gather before
    /// it reads: bounds wake-ups to one per linger per watcher under load (at
    /// the price of that much delivery latency).
    public var lingerInterval: Duration

    public static let defaultBookmarkInterval = Duration.seconds(2)
    public static let defaultLingerInterval = Duration.milliseconds(5)

    public init(
        store: any EventStore, bookmarkInterval: Duration = WatchChanges.defaultBookmarkInterval, batchSize: Int = 64,
        lingerInterval: Duration = WatchChanges.defaultLingerInterval
    ) {
        precondition(bookmarkInterval > .zero && batchSize > 0 && lingerInterval >= .zero)
        self.store = store
        self.bookmarkInterval = bookmarkInterval
        self.batchSize = batchSize
        self.lingerInterval = lingerInterval
    }

    /// Where a watch starts.
    public enum Start: Sendable, Hashable {
        /// Changes committed after the watch starts.
        case now
        /// From the oldest retained change.
        case oldest
        /// The changes after this cursor (``ChangeCursor/zero``: the whole history, if retained).
        case after(ChangeCursor)
    }

    public struct Request: Sendable, Hashable {
        /// `$filter` text, as for list; empty: every change.
        public var filter: String
        public var start: Start

        public init(filter: String = "", start: Start = .now) {
            self.filter = filter
            self.start = start
        }
    }

    /// One message of the stream.
    public enum Message: Sendable, Hashable {
        case change(Change)
        /// No change: the stream has reached this cursor (resume after it).
        case bookmark(ChangeCursor)

        public var cursor: ChangeCursor {
            switch self {
            case .change(let change): change.cursor
            case .bookmark(let cursor): cursor
            }
        }
    }

    /// A checked request: what to match, and the cursor to start after.
    public struct Plan: Sendable, Hashable {
        public var filter: FilterExpression?
        public var after: ChangeCursor
    }

    /// Parses the filter and resolves the start against the log: an expired or
    /// unknown cursor is refused here, before anything is streamed.
    public func begin(_ request: Request) async throws(IdentityRiskError) -> Plan {
        let filter = request.filter.allSatisfy(\.isWhitespace) ? nil : try ODataFilter.parse(request.filter)
        let bounds = try await store.changeLogBounds()
        let after: ChangeCursor
        switch request.start {
        case .now: after = bounds.latest
        case .oldest: after = bounds.earliestResumable
        case .after(let cursor):
            if cursor > bounds.latest { throw .cursorAhead(cursor, bounds: bounds) }
            if cursor < bounds.earliestResumable { throw .cursorExpired(cursor, bounds: bounds) }
            after = cursor
        }
        return Plan(filter: filter, after: after)
    }

    /// Streams `plan` into `emit` until `emit` returns `false` (the call is
    /// over) or the task is cancelled; then returns. `emit` may suspend: that
    /// is the transport's backpressure, and the watcher waits for it. Throws when the log
    /// cannot be read: `cursorExpired` if retention pruned changes this
    /// watcher had not read yet (it fell behind by more than the retention),
    /// `unavailable` when the store closed.
    public func run(_ plan: Plan, emit: (Message) async -> Bool) async throws(IdentityRiskError) {
        let clock = ContinuousClock()
        let feed = store.changeFeed
        var cursor = plan.after
        let key = plan.filter?.requiredEquality
        var subscription: ChangeFeed.Subscription?
        defer { if let subscription { feed.unsubscribe(subscription) } }
        guard await emit(.bookmark(cursor)) else { return }
        var lastSent = clock.now
        while !Task.isCancelled {
            if let key, subscription == nil { subscription = feed.subscribe(key, capacity: 2 * batchSize) }
            let (matches, reached, full) = try await next(after: cursor, plan: plan, feed: feed, subscription: &subscription)
            if matches.isEmpty, !full {
                // Caught up: nothing to send up to `reached`; wait for more.
                cursor = reached
                let quiet = clock.now - lastSent
                if quiet >= bookmarkInterval {
                    guard await emit(.bookmark(cursor)) else { return }
                    lastSent = clock.now
                    continue
                }
                if feed.isClosed { throw .storeClosedDuringWatch }
                let wake = await feed.waitForChange(after: cursor, key: key, timeout: bookmarkInterval - quiet)
                // The feed saw every change up to `through`: none has the value the filter requires.
                cursor = max(cursor, wake.through)
                if wake.changed, lingerInterval > .zero {
                    // Let the changes of the next few moments join this read: one
                    // wake-up per linger, not one per commit.
                    try? await Task.sleep(for: lingerInterval)
                }
                continue
            }
            for change in matches {
                guard await emit(.change(change)) else { return }
                lastSent = clock.now
            }
            cursor = reached
            if clock.now - lastSent >= bookmarkInterval {
                guard await emit(.bookmark(cursor)) else { return }
                lastSent = clock.now
            }
            if !full, lingerInterval > .zero, !Task.isCancelled {
                try? await Task.sleep(for: lingerInterval)
            }
        }
    }

    /// The matching changes after `cursor` and the cursor they reach: from the
    /// subscription's mailbox once `cursor` has caught up with its start, else
    /// from the feed's window when it reaches back that far (filtered in
    /// place), else from the store's log. `full`: a whole batch was read (more
    /// may wait). An incomplete mailbox is ended here (`subscription` = `nil`).
    private func next(
        after cursor: ChangeCursor, plan: Plan, feed: ChangeFeed, subscription: inout ChangeFeed.Subscription?
    ) async throws(IdentityRiskError) -> (matches: [Change], reached: ChangeCursor, full: Bool) {
        let filter = plan.filter
        if let mailbox = subscription, cursor >= mailbox.from {
            if let taken = feed.take(mailbox, after: cursor, limit: batchSize) {
                let matches = filter.map { filter in taken.matches.filter { filter.matches($0.event) } } ?? taken.matches
                return (matches, taken.reached, taken.matches.count == batchSize)
            }
            feed.unsubscribe(mailbox)
            subscription = nil
        }
        if let recent = feed.recent(after: cursor, scanning: batchSize, where: { filter?.matches($0.event) ?? true }) {
            return (recent.matches, recent.reached, recent.reached < feed.latest)
        }
        let changes = try await store.changes(after: cursor, limit: batchSize)
        let matches = filter.map { filter in changes.filter { filter.matches($0.event) } } ?? changes
        return (matches, changes.last?.cursor ?? cursor, changes.count == batchSize)
    }
}

extension IdentityRiskError {
    static let storeClosedDuringWatch = IdentityRiskError(
        code: .unavailable, message: "the store closed (the server is shutting down); resume on a new connection", retryAfterMilliseconds: 1000)
}
