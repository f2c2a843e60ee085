import Foundation
import IdentityRiskCore
@testable import IdentityRiskStore
import Testing

/// One store under test, opened fresh for each test: the conformance suite
/// (`StoreConformanceTests`) and the use-case tests run against every entry of
/// ``all``. A new store (e.g. one over a networked database) is added here and
/// runs the same tests unchanged.
struct StoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    /// Opens an empty store; `close` releases it (and its files) afterwards.
    let open: @Sendable () async throws -> OpenedStore

    var testDescription: String { name }

    static let memory = StoreFactory(name: "memory") {
        OpenedStore(store: MemoryEventStore(), close: {})
    }

    static let sqlite = StoreFactory(name: "sqlite") {
        let directory = try TemporaryDirectory()
        do {
            let store = try SQLiteEventStore(path: directory.path + "/events.sqlite")
            return OpenedStore(store: store) {
                await store.close()
                directory.remove()
            }
        } catch {
            directory.remove()
            throw error
        }
    }

    /// A fresh database on the server of `IRISK_TEST_POSTGRES_URL`, dropped
    /// afterwards (so tests run in parallel, each in its own database).
    static let postgres = StoreFactory(name: "postgresql") {
        let location = try await PostgresTestServer.createDatabase()
        do {
            let store = try PostgresEventStore(location: location)
            return OpenedStore(store: store) {
                await store.close()
                await PostgresTestServer.releaseDatabase(location.database)
            }
        } catch {
            await PostgresTestServer.releaseDatabase(location.database)
            throw error
        }
    }

    /// The PostgreSQL store runs whenever a server is given (dev/test.sh and
    /// CI start one: dev/with-postgres.sh); on CI without one,
    /// `PostgresEnvironmentTests` fails.
    static let all: [StoreFactory] = [.memory, .sqlite] + (PostgresTestServer.url == nil ? [] : [.postgres])
}

/// A store and how to release it.
struct OpenedStore: Sendable {
    let store: any EventStore
    /// Idempotent; called once the test is done, whatever happened.
    let close: @Sendable () async -> Void
}

extension StoreFactory {
    /// Runs `body` with a fresh store, closed afterwards whatever happens.
    func withStore(_ body: (any EventStore) async throws -> Void) async throws {
        let opened = try await open()
        do {
            try await body(opened.store)
        } catch {
            await opened.close()
            throw error
        }
        await opened.close()
    }
}

/// A fresh directory under the system's temporary directory.
struct TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("irisk-store-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh directory, removed afterwards whatever happens.
func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    try await body(directory.path)
}

/// The outcome of `body` as a typed result; any error other than
/// IdentityRiskError is a test failure (stores throw IdentityRiskError only).
func attempt<T>(_ body: () async throws -> T) async -> Result<T, IdentityRiskError> {
    do {
        return .success(try await body())
    } catch let error as IdentityRiskError {
        return .failure(error)
    } catch {
        Issue.record(error, "stores throw IdentityRiskError only")
        return .failure(IdentityRiskError(code: .unknown, message: "\(error)"))
    }
}

extension Result {
    /// The error of a failure, `nil` for a success.
    var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
