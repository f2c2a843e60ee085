@testable import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskWire
import NIOPosix
import Synchronization
import Testing

/// A call must end, with an error, whatever state its connection is in. These
/// once hung forever: a call written to a connection that had closed after it
/// was picked never reached the call handler, so nothing ever failed it, not
/// even its deadline (seen as a stuck CI run in the kill -9 crash test).
@Suite("Client calls on a connection that breaks")
struct ClientBrokenConnectionTests {
    typealias Outcome = Result<HealthStatus, any Error>

    /// Resumes a continuation once, from whichever side gets there first.
    final class FirstOutcome: Sendable {
        let continuation: Mutex<CheckedContinuation<Outcome?, Never>?>
        init(_ continuation: CheckedContinuation<Outcome?, Never>) { self.continuation = Mutex(continuation) }
        func finish(_ outcome: Outcome?) -> Bool {
            guard let continuation = continuation.withLock({ c in defer { c = nil }; return c }) else { return false }
            continuation.resume(returning: outcome)
            return true
        }
    }

    /// Runs `call`; records an issue if it has not ended within 10 s, and then
    /// returns without waiting for it (a hung call must fail the test, not hang it).
    static func endsPromptly(_ call: @escaping @Sendable () async throws -> HealthStatus) async -> Outcome? {
        let outcome: Outcome? = await withCheckedContinuation { continuation in
            let first = FirstOutcome(continuation)
            let running = Task {
                do { _ = first.finish(.success(try await call())) } catch { _ = first.finish(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: .seconds(10))
                if first.finish(nil) { running.cancel() }
            }
        }
        if outcome == nil { Issue.record("the call did not end within 10 s") }
        return outcome
    }

    @Test("a call on a connection that closed after it was picked fails at once with connectionClosed, with or without a deadline",
          arguments: [UInt32?.none, UInt32?.some(60_000)])
    func closedBeforeWrite(timeout: UInt32?) async throws {
        try await withTestServer { server in
            let connection = try await ClientConnection.connect(
                socketPath: server.socketPath, configuration: ClientConfiguration(), group: MultiThreadedEventLoopGroup.singleton)
            #expect(try await connection.call(IdentityRiskMethods.Health.self, HealthRequest(), timeoutMilliseconds: timeout).serving == .serving)
            await connection.close()  // its handlers are gone now
            let outcome = await Self.endsPromptly { try await connection.call(IdentityRiskMethods.Health.self, HealthRequest(), timeoutMilliseconds: timeout) }
            guard case .failure(let error)? = outcome else {
                Issue.record("expected a failure, got \(String(describing: outcome))")
                return
            }
            #expect(error as? WireError == .connectionClosed, "\(error)")
        }
    }

    @Test("when its connection closes behind its back, the client library connects anew for the next call")
    func clientRetries() async throws {
        try await withTestServer { server in
            try await withIdentityRiskClient(socketPath: server.socketPath) { client in
                _ = try await client.health()
                // Break the connection the client holds, behind its back.
                let held = try #require(client.heldConnectionForTesting)
                await held.close()
                #expect(try await client.health().serving == .serving)
            }
        }
    }
}

