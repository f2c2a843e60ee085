import Foundation
import IdentityRiskCore
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

/// `sslmode` as libpq spells it, against a real PostgreSQL with `ssl=on` and a
/// certificate for `localhost` from a CA of the test's own (ThrowawayPostgres).
@Suite("PostgreSQL over TLS: sslmode", .serialized, .enabled(if: ThrowawayPostgres.enabled))
struct PostgresTLSTests {
    /// A create and a get through a store at `url`: nil, or the error.
    func roundTrip(_ url: String, id: String) async throws -> IdentityRiskError? {
        let location = try PostgresLocation(parsing: url, environment: [:])
        let store = try PostgresEventStore(location: location, configuration: .init(connectTimeout: scaledDuration(5000), operationTimeout: scaledDuration(30_000)))
        defer { Task { await store.close() } }
        do {
            let event = seedEvent(id: id, createdDateTime: try DateTimeOffset(parsing: "2026-12-02T00:00:00Z"))
            _ = try await store.create(event)
            #expect(try await store.get(id: id)?.id == id)
            return nil
        } catch let error as IdentityRiskError {
            return error
        }
    }

    @Test("require, verify-ca and verify-full with the CA connect over TLS; verify-full refuses a name the certificate lacks and a CA it does not trust, naming the server")
    func sslModes() async throws {
        let postgres = try await ThrowawayPostgres(tls: true)
        let port = try #require(postgres.tcpPort)
        let user = postgres.osUser
        do {
            let ca = postgres.caFile
            #expect(try await roundTrip("postgresql://\(user)@localhost:\(port)/irisk?sslmode=verify-full&sslrootcert=\(ca)", id: "tls-full") == nil)
            #expect(try await roundTrip("postgresql://\(user)@127.0.0.1:\(port)/irisk?sslmode=require", id: "tls-require") == nil)
            #expect(try await roundTrip("postgresql://\(user)@127.0.0.1:\(port)/irisk?sslmode=verify-ca&sslrootcert=\(ca)", id: "tls-ca") == nil,
                    "verify-ca checks the chain, not the name")

            let wrongName = try await roundTrip("postgresql://\(user)@127.0.0.1:\(port)/irisk?sslmode=verify-full&sslrootcert=\(ca)", id: "tls-name")
            #expect(wrongName?.code == .unavailable, "the certificate names localhost, not 127.0.0.1: \(String(describing: wrongName))")
            #expect(wrongName?.message.contains("127.0.0.1:\(port)") == true, "\(wrongName?.message ?? "")")
            let untrusted = try await roundTrip("postgresql://\(user)@localhost:\(port)/irisk?sslmode=verify-full", id: "tls-roots")
            #expect(untrusted?.code == .unavailable, "the system's roots do not hold the test's CA: \(String(describing: untrusted))")

            // The server saw TLS connections (log_connections names the protocol).
            #expect(postgres.log().contains("SSL enabled"), "\(postgres.log().suffix(2000))")
        } catch {
            await postgres.destroy()
            throw error
        }
        await postgres.destroy()
    }
}
