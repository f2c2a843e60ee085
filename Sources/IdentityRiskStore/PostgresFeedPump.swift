import IdentityRiskCore

/// Feeds a ``PostgresEventStore``'s ``ChangeFeed`` in cursor order with no
/// gap, from two sources: this host's commits (``committed(_:)``, before the
/// writer is answered) and the log itself (``catchUp(through:)``: what other
/// hosts committed, read every poll interval or when this host's commit is
/// not next).
///
/// The feed's window claims every change after its floor, so a change is
/// published only when it is the next cursor. Cursors are handed out in commit
/// order (see ``PostgresEventStore``): once a change at cursor N has
/// committed, every change before N has committed too, so reading the log
/// after the feed's latest always fills the gap. A read that fails leaves the
/// feed behind until the next poll: a change is late, never lost (watchers
/// behind the window read the log).
actor PostgresFeedPump {
    private let feed: ChangeFeed
    /// Reads at most `limit` changes after a cursor, oldest first.
    private let read: @Sendable (ChangeCursor, Int) async throws(IdentityRiskError) -> [Change]
    static let readLimit = 1000

    init(feed: ChangeFeed, read: @escaping @Sendable (ChangeCursor, Int) async throws(IdentityRiskError) -> [Change]) {
        self.feed = feed
        self.read = read
    }

    /// The changes of one committed transaction of this host, in cursor order.
    func committed(_ changes: [Change]) async {
        guard let last = changes.last else { return }
        if publishIfNext(changes) { return }
        await catchUp(through: last.cursor)
    }

    /// Publishes what is later than the feed's latest if it follows it with
    /// no gap; whether nothing of `changes` remains unpublished.
    private func publishIfNext(_ changes: [Change]) -> Bool {
        let latest = feed.latest
        let fresh = changes.drop { $0.cursor <= latest }
        guard let first = fresh.first else { return true }
        guard first.cursor.rawValue == latest.rawValue + 1 else { return false }
        feed.publish(fresh)
        return true
    }

    /// Reads the log after the feed's latest and publishes it, until `target`
    /// is published (`nil`: until the log is exhausted).
    func catchUp(through target: ChangeCursor?) async {
        while !Task.isCancelled {
            let after = feed.latest
            if let target, after >= target { return }
            let changes: [Change]
            do {
                changes = try await read(after, Self.readLimit)
            } catch {
                return  // the next poll retries
            }
            let latest = feed.latest
            let fresh = changes.drop { $0.cursor <= latest }
            guard let first = fresh.first else { return }
            if first.cursor.rawValue != latest.rawValue + 1 {
                // Retention pruned the changes in between: the window restarts
                // just before them (watchers before it read the log and learn
                // their cursor expired).
                feed.reset(latest: ChangeCursor(first.cursor.rawValue - 1))
            }
            feed.publish(fresh)
            if changes.count < Self.readLimit, target == nil { return }
        }
    }
}
