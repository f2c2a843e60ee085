import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import IdentityRiskTestSupport
import PostgresNIO
import Synchronization
import Testing

/// The trap of a plain SERIAL/IDENTITY change log, played step by step on a
/// real server: transaction 1 takes cursor 1, transaction 2 takes cursor 2 and
/// commits first; a follower that reads "after the last cursor I saw" passes 2
/// and never sees 1 once it commits. The same steps with the store's own
/// cursor statement (`PostgresSchema.takeCursorsSQL`, a locked counter row)
/// make transaction 2 wait for transaction 1's commit, and the follower misses
/// nothing. The naive half shows the check can fail; the second half is the
/// store's promise.
@Suite("PostgreSQL cursors in commit order", .enabled(if: PostgresTestServer.enabled))
struct PostgresCommitOrderTests {
    /// How a transaction takes its cursor, on a database with the store's schema.
    enum Allocation: String, CaseIterable, Sendable {
        case naiveSequence
        case storeCounterRow

        func take(_ connection: PostgresConnection) async throws -> Int64 {
            let query: PostgresQuery = switch self {
            case .naiveSequence: "SELECT nextval('probe_cursor')"
            case .storeCounterRow: PostgresQuery(unsafeSQL: PostgresSchema.takeCursorsSQL, binds: PostgresEventStore.binds(Int64(1)))
            }
            return try await lastValue(connection, query, Int64.self, "\(self) answered no cursor")
        }
    }

    struct Outcome {
        var committed: [Int64]
        var followed: [Int64]
        /// Whether transaction 2 got its cursor while transaction 1 was still open.
        var secondTookCursorEarly: Bool
    }

    /// Transaction 1 takes a cursor and stays open; transaction 2 takes one,
    /// writes and commits; a follower reads; transaction 1 commits; the
    /// follower reads after the last cursor it saw.
    func play(_ allocation: Allocation) async throws -> Outcome {
        try await PostgresTestServer.withDatabase { location, open in
            let store = try open.open(location)
            _ = try await store.changeLogBounds()  // migrated
            await store.close()
            return try await play(allocation, on: location)
        }
    }

    func play(_ allocation: Allocation, on location: PostgresLocation) async throws -> Outcome {
        try await PostgresTestServer.withClient(location) { client in
            let logger = PostgresTestServer.logger
            try await client.withConnection { setup in
                _ = try await setup.query("CREATE TABLE probe_log (cursor bigint PRIMARY KEY)", logger: logger)
                _ = try await setup.query("CREATE SEQUENCE probe_cursor", logger: logger)
            }
            func read(_ connection: PostgresConnection, after: Int64) async throws -> [Int64] {
                var cursors: [Int64] = []
                let rows = try await connection.query("SELECT cursor FROM probe_log WHERE cursor > \(after) ORDER BY cursor", logger: logger)
                for try await cursor in rows.decode(Int64.self) { cursors.append(cursor) }
                return cursors
            }
            return try await client.withConnection { first in
                try await client.withConnection { follower in
                    // Transaction 2's connection is open before transaction 1
                    // begins, so a slow connection set-up cannot pass for the lock.
                    try await client.withConnection { secondConnection in
                        let secondPID = try await backendPID(secondConnection)
                        _ = try await first.query("BEGIN", logger: logger)
                        let one = try await allocation.take(first)
                        _ = try await first.query("INSERT INTO probe_log VALUES (\(one))", logger: logger)

                        let tookCursor = Atomic<Bool>(false)
                        let second = Task { () throws -> Int64 in
                            _ = try await secondConnection.query("BEGIN", logger: logger)
                            let two = try await allocation.take(secondConnection)
                            tookCursor.store(true, ordering: .sequentiallyConsistent)
                            _ = try await secondConnection.query("INSERT INTO probe_log VALUES (\(two))", logger: logger)
                            _ = try await secondConnection.query("COMMIT", logger: logger)
                            return two
                        }
                        // Wait for what transaction 2 does: either it has its
                        // cursor, or the server shows it waiting on a lock.
                        // No timing guess decides the outcome; the bound only
                        // stops a test that would otherwise hang.
                        let deadline = ContinuousClock.now + .seconds(60)
                        var blocked = false
                        while !tookCursor.load(ordering: .sequentiallyConsistent), ContinuousClock.now < deadline {
                            if try await waitsOnLock(follower, pid: secondPID) { blocked = true; break }
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        let early = tookCursor.load(ordering: .sequentiallyConsistent)
                        guard early || blocked else { throw PostgresTestServer.Failure("transaction 2 neither took a cursor nor waited on a lock within 60 s") }
                        if early {
                            // Its insert and commit follow the cursor; wait for the commit.
                            while try await read(follower, after: 0).isEmpty, ContinuousClock.now < deadline {
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                        var followed = try await read(follower, after: 0)
                        _ = try await first.query("COMMIT", logger: logger)
                        let two = try await second.value
                        // The follower reads again once both commits are
                        // visible to a new statement (the wait is bounded).
                        while try await read(follower, after: 0).count < 2, ContinuousClock.now < deadline {
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        followed += try await read(follower, after: followed.last ?? 0)
                        return Outcome(committed: [one, two].sorted(), followed: followed, secondTookCursorEarly: early)
                    }
                }
            }
        }
    }

    func backendPID(_ connection: PostgresConnection) async throws -> Int32 {
        try await lastValue(connection, "SELECT pg_backend_pid()", Int32.self, "no backend pid")
    }

    /// Whether the backend `pid` is waiting for a lock, as the server sees it.
    func waitsOnLock(_ connection: PostgresConnection, pid: Int32) async throws -> Bool {
        try await lastValue(connection, "SELECT count(*) FROM pg_locks WHERE pid = \(pid) AND NOT granted", Int64.self, "no lock count") > 0
    }

    @Test("a plain sequence: transaction 2 commits cursor 2 while 1 is open, and a follower passes 1 and never sees it (the trap)")
    func naiveSequenceLosesAChange() async throws {
        let outcome = try await play(.naiveSequence)
        #expect(outcome.secondTookCursorEarly)
        #expect(outcome.committed == [1, 2])
        #expect(outcome.followed == [2], "the follower saw 2 before 1 committed, then read after 2: 1 is lost to it")
    }

    @Test("the store's counter row: transaction 2 waits for 1's commit for its cursor, and the follower sees 1 and 2")
    func storeCursorsFollowCommitOrder() async throws {
        let outcome = try await play(.storeCounterRow)
        #expect(!outcome.secondTookCursorEarly, "the counter row's lock holds transaction 2 until transaction 1 ends")
        #expect(outcome.committed == [1, 2])
        #expect(outcome.followed == [1, 2], "no change passed over")
    }
}

/// The last value of a one-column query, read to the end as the store reads
/// its statements (a row stream left early is drained behind the next ones).
private func lastValue<Value: PostgresDecodable & Sendable>(
    _ connection: PostgresConnection, _ query: PostgresQuery, _: Value.Type, _ missing: String
) async throws -> Value {
    var last: Value?
    for try await value in try await connection.query(query, logger: PostgresTestServer.logger).decode(Value.self) { last = value }
    guard let last else { throw PostgresTestServer.Failure(missing) }
    return last
}
