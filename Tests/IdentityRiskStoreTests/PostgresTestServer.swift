import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import Logging
import PostgresNIO
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

    /// Creates a fresh, empty database; its location.
    static func createDatabase() async throws -> PostgresLocation {
        var location = try location()
        let name = "irisk_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await withAdminClient { client in
            _ = try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        }
        location.database = name
        // Tests run in parallel, each with its own store: a small pool keeps
        // them under the cluster's max_connections.
        location.poolSize = 4
        // Generous: under a sanitizer with every test connecting at once, the
        // default 5 s for a connection is not enough (only failures wait longer).
        location.connectTimeout = .seconds(60)
        return location
    }

    /// Drops a database made by ``createDatabase()`` (closing its connections).
    static func dropDatabase(_ name: String) async {
        do {
            try await withAdminClient { client in
                _ = try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            }
        } catch {
            Issue.record(error, "could not drop the test database \(name)")
        }
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
