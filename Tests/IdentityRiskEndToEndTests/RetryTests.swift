#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import Synchronization
import Testing

/// A Unix-socket relay in front of the real server. Its first connection
/// forwards everything to the server but only the server's 8-byte preface
/// back; once the server starts answering it cuts the client off: the server
/// has committed the create, the client never sees the answer. Later
/// connections relay both ways.
final class CuttingRelay: Sendable {
    let path: String
    private let listener: Int32
    private let connections = Atomic<Int>(0)

    init(path: String, upstream: String) throws {
        self.path = path
        listener = makeUnixSocket()
        let listener = self.listener
        let bound = withUnixAddress(path) { bind(listener, $0, $1) }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        let thread = Thread { [self] in acceptLoop(upstream: upstream) }
        thread.start()
    }

    var connectionCount: Int { connections.load(ordering: .relaxed) }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop(upstream: String) {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)  // not into child processes of other tests
            let index = connections.wrappingAdd(1, ordering: .relaxed).oldValue
            guard let server = try? RawConnection(path: upstream, receiveTimeoutMilliseconds: Int(scaled(10_000))) else { close(client); continue }
            let serverFD = server.fd
            // client -> server, always in full.
            Thread {
                Self.copy(from: client, to: serverFD, limit: nil)
                shutdown(serverFD, Int32(SHUT_WR))
            }.start()
            // server -> client: only the preface on the first connection; then wait
            // for the first byte of the server's answer (so the server has committed
            // the create, however slow the machine) and drop it.
            Thread {
                Self.copy(from: serverFD, to: client, limit: index == 0 ? 8 : nil)
                if index == 0 {
                    var answer: UInt8 = 0
                    _ = recv(serverFD, &answer, 1, 0)  // bounded by the connection's receive timeout
                }
                shutdown(client, Int32(SHUT_RDWR))
                close(client)
                withExtendedLifetime(server) {}
            }.start()
        }
    }

    private static func copy(from source: Int32, to destination: Int32, limit: Int?) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var moved = 0
        while limit.map({ moved < $0 }) ?? true {
            let want = limit.map { min(buffer.count, $0 - moved) } ?? buffer.count
            let n = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, want, 0) }
            guard n > 0 else { return }
            let sent = buffer.withUnsafeBytes { send(destination, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
            guard sent == n else { return }
            moved += n
        }
    }
}

@Suite("Safe retries")
struct RetryTests {
    @Test("a create whose connection breaks before the answer is retried on a new connection and never duplicated")
    func retryAfterBrokenConnection() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let relay = try CuttingRelay(path: server.directory + "/relay.sock", upstream: server.socketPath)
            defer { relay.stop() }
            let outcome = try await withIdentityRiskClient(socketPath: relay.path) { client in
                try await client.create(seedDraft())  // no id: the client assigns one, so the retry is safe
            }
            #expect(relay.connectionCount >= 2, "the first connection was cut and the client reconnected")
            #expect(outcome.alreadyExisted, "the retry found the create the server had already committed")
            #expect(store.count == 1, "exactly one record: the retry did not duplicate it")
            #expect(try await store.get(id: outcome.event.id) == outcome.event)
        }
    }
}
