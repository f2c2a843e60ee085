import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import Logging
import PostgresNIO
import Synchronization
import Testing

/// The PostgreSQL server the tests use: `IRISK_TEST_POSTGRES_URL` (dev/test.sh
/// and CI start a throwaway cluster and set it: dev/with-postgres.sh). Each
/// test gets a database of its own, created from that URL's and dropped after.
enum PostgresTestServer {
    static let url: String? = {
        let value = ProcessInfo.processInfo.environment["IRISK_TEST_POSTGRES_URL"] ?? ""
        return value.isEmpty ? nil : value
    }()

    /// Whether the PostgreSQL tests run: with a server, or on CI (where they fail without one).
    static let enabled = url != nil || ProcessInfo.processInfo.environment["CI"] != nil

    static let missingMessage: Comment = """
        IRISK_TEST_POSTGRES_URL is not set: the PostgreSQL store's tests need a server. \
        Run the tests through dev/with-postgres.sh (dev/test.sh does), or set \
        IRISK_TEST_POSTGRES_URL=postgresql://USER@HOST/DB (or ?host=/socket/dir).
        """

    /// For the tests' own queries.
    static let logger = Logger(label: "IdentityRiskStoreTests.postgres")

    /// A test's own failure with a message.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The server's location (the database named in the URL).
    static func location() throws -> PostgresLocation {
        let url = try #require(url, missingMessage)
        return try PostgresLocation(parsing: url, environment: ProcessInfo.processInfo.environment)
    }

    /// An empty database of its own for one test; its location. Give it back
    /// with ``releaseDatabase(_:)``.
    ///
    /// The databases are pooled within a test run, not created and dropped per
    /// test: DROP DATABASE forces a checkpoint that fsyncs every file of the
    /// cluster (10 s each in a loaded run, serialized), and CREATE DATABASE
    /// copies a template (2-3 s). A released database is emptied (its schema
    /// dropped and made again) and handed to the next test. Its sessions must
    /// be gone first: those of closed stores can linger for many seconds on a
    /// loaded machine, so after 2 s the server ends them; a database whose
    /// sessions still will not end is dropped instead.
    static func createDatabase() async throws -> PostgresLocation {
        var location = try location()
        location.database = try await DatabasePool.shared.acquire()
        // Tests run in parallel, each with its own store: a small pool keeps
        // them under the cluster's max_connections.
        location.poolSize = 4
        // Generous: under a sanitizer with every test connecting at once, the
        // default 5 s for a connection is not enough (only failures wait longer).
        location.connectTimeout = .seconds(60)
        return location
    }

    /// Gives back a database from ``createDatabase()``, emptied for the next test.
    static func releaseDatabase(_ name: String) async {
        do {
            try await DatabasePool.shared.release(name)
        } catch {
            Issue.record(error, "could not release the test database \(name)")
        }
    }

    /// The run's test databases, named `irisk_test_RUN_N`. The run holds a
    /// session advisory lock keyed by RUN for as long as its process lives;
    /// the first acquisition drops the databases of runs whose lock is free
    /// (ended runs against a server of your own; dev/with-postgres.sh throws
    /// its whole cluster away anyway).
    actor DatabasePool {
        static let shared = DatabasePool()

        private let run = UInt32.random(in: 1 ... UInt32.max)
        private var free: [String] = []
        private var made = 0
        /// The run's lock and the sweep of ended runs, once.
        private var started: Task<Void, any Error>?
        /// The pool's queries, on the URL's own database, for the whole run.
        private var admin: PostgresClient?

        private static let prefix = "irisk_test_"
        private static func lockKey(_ run: UInt32) -> Int64 { 0x6972_7473 << 32 | Int64(run) }

        func acquire() async throws -> String {
            let admin = try await start()
            if let name = free.popLast() { return name }
            made += 1
            let name = Self.prefix + String(run, radix: 16) + "_\(made)"
            _ = try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            return name
        }

        func release(_ name: String) async throws {
            let admin = try await start()
            // A closed store's sessions end a moment after close() returns, or,
            // on a loaded machine, many seconds later: end them from the server's side.
            if try await !waitUntilUnused(name, admin, within: .seconds(2)) {
                _ = try await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(name)")
            }
            if try await waitUntilUnused(name, admin, within: .seconds(10)) {
                try await withClient(database: name) { client in
                    _ = try await client.query("DROP SCHEMA public CASCADE")
                    _ = try await client.query("CREATE SCHEMA public")
                }
                free.append(name)
            } else {
                try await Self.drop(name, admin)
            }
        }

        /// Whether `name` has no sessions, within `limit`.
        private func waitUntilUnused(_ name: String, _ admin: PostgresClient, within limit: Duration) async throws -> Bool {
            let deadline = ContinuousClock.now + limit
            while true {
                var open: Int64 = 0
                for try await value in try await admin.query("SELECT count(*) FROM pg_stat_activity WHERE datname = \(name)").decode(Int64.self) {
                    open = value
                }
                if open == 0 { return true }
                if ContinuousClock.now >= deadline { return false }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        /// The admin client, once the run holds its lock and ended runs are swept.
        private func start() async throws -> PostgresClient {
            if started == nil {
                let configuration = try PostgresEventStore.clientConfiguration(location(), .init(connectTimeout: .seconds(60)))
                let admin = PostgresClient(configuration: configuration)
                let holder = PostgresClient(configuration: configuration)
                self.admin = admin
                let run = self.run
                started = Task {
                    try await Self.holdLock(Self.lockKey(run), holder)
                    await Self.dropEndedRuns(except: run, admin)
                }
                // Both clients run until the process exits.
                Task { await admin.run() }
            }
            try await started!.value
            return admin!
        }

        /// Drops `name`, ending its sessions (and forcing the checkpoint this pool otherwise avoids).
        private static func drop(_ name: String, _ admin: PostgresClient) async throws {
            _ = try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
        }

        /// Takes the lock `key` on a connection of `holder` kept open until the
        /// process ends (the session, and its lock, end with it).
        private static func holdLock(_ key: Int64, _ holder: PostgresClient) async throws {
            let locked = AsyncStream<Result<Void, any Error>>.makeStream()
            Task {
                await withDiscardingTaskGroup { group in
                    group.addTask { await holder.run() }
                    do {
                        try await holder.withConnection { connection in
                            _ = try await connection.query("SELECT pg_advisory_lock(\(key))", logger: logger)
                            locked.continuation.yield(.success(()))
                            while true { try await Task.sleep(for: .seconds(3600)) }
                        }
                    } catch {
                        locked.continuation.yield(.failure(error))
                    }
                }
            }
            for await outcome in locked.stream {
                return try outcome.get()
            }
        }

        /// Drops the test databases of runs whose lock no session holds.
        private static func dropEndedRuns(except run: UInt32, _ admin: PostgresClient) async {
            do {
                var names: [String] = []
                for try await name in try await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'irisk\\_test\\_%'").decode(String.self) {
                    names.append(name)
                }
                var live: [UInt32: Bool] = [run: true]
                for name in names {
                    let parts = name.dropFirst(prefix.count).split(separator: "_")
                    // Names without a run (irisk_test_<uuid>, from older versions of these tests) are dropped too.
                    if parts.count == 2, let other = UInt32(parts[0], radix: 16) {
                        if live[other] == nil {
                            live[other] = try await admin.withConnection { connection in
                                var taken = false
                                for try await value in try await connection.query("SELECT pg_try_advisory_lock(\(lockKey(other)))", logger: logger).decode(Bool.self) {
                                    taken = value
                                }
                                if taken { _ = try await connection.query("SELECT pg_advisory_unlock(\(lockKey(other)))", logger: logger) }
                                return !taken
                            }
                        }
                        if live[other] == true { continue }
                    }
                    try await drop(name, admin)
                }
            } catch {
                Issue.record(error, "could not drop the test databases of ended runs")
            }
        }
    }

    /// Runs `body` with a fresh database, released afterwards whatever happens;
    /// the stores `body` opens through its ``OpenStores`` are closed first (an
    /// open store would keep retrying its dropped database for the rest of the run).
    static func withDatabase<T>(_ body: (PostgresLocation, OpenStores) async throws -> T) async throws -> T {
        let location = try await createDatabase()
        let stores = OpenStores()
        let value: T
        do {
            value = try await body(location, stores)
        } catch {
            await stores.closeAll()
            await releaseDatabase(location.database)
            throw error
        }
        await stores.closeAll()
        await releaseDatabase(location.database)
        return value
    }

    /// The stores a test opened, to close when it ends.
    final class OpenStores: Sendable {
        private let stores = Mutex<[PostgresEventStore]>([])

        /// A store on `location`, closed by ``closeAll()`` (closing it earlier is fine: `close()` is idempotent).
        func open(_ location: PostgresLocation, configuration: PostgresEventStore.Configuration = .init()) throws -> PostgresEventStore {
            let store = try PostgresEventStore(location: location, configuration: configuration)
            stores.withLock { $0.append(store) }
            return store
        }

        func closeAll() async {
            for store in stores.withLock({ $0 }) { await store.close() }
        }
    }

    /// Runs `body` with a client of another database on the URL's server.
    static func withClient<T: Sendable>(database: String, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        var location = try location()
        location.database = database
        return try await withClient(location, body)
    }

    /// Runs `body` with a client of the URL's own database.
    static func withAdminClient<T: Sendable>(_ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        try await withClient(location(), body)
    }

    /// Runs `body` with a running client of `location`, stopped afterwards
    /// (its `run()` is cancelled, not awaited: the test does not wait for the
    /// client's connections to close).
    static func withClient<T: Sendable>(_ location: PostgresLocation, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try PostgresEventStore.clientConfiguration(location, .init(connectTimeout: .seconds(60))))
        let running = Task { await client.run() }
        defer { running.cancel() }
        return try await body(client)
    }
}
