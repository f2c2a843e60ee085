public import IdentityRiskCore
public import IdentityRiskWire
import NIOCore
import NIOPosix
import Synchronization

/// The IdentityRisk client library: async calls over one Unix-socket
/// connection, many in flight at once (pipelined; answers matched by call id).
///
/// ```swift
/// try await withIdentityRiskClient(socketPath: "/tmp/identityrisk.sock") { client in
///     let created = try await client.create(draft)
///     let again = try await client.get(id: created.event.id)
/// }
/// ```
///
/// Errors are ``IdentityRiskError`` (code, message, target, field violations)
/// or ``WireError`` for a broken connection. A call whose connection breaks
/// before its answer is retried on a new connection when that is safe: get,
/// list and health always, create always too, because the client gives every
/// create an id (a lowercase UUID) when the caller did not, which makes the
/// retry idempotent on the server.
public final class IdentityRiskClient: Sendable {
    public let socketPath: String
    public let configuration: ClientConfiguration
    private let group: any EventLoopGroup
    private let connection: Mutex<ClientConnection?>
    private let closed = Atomic<Bool>(false)

    public init(socketPath: String, configuration: ClientConfiguration = ClientConfiguration()) {
        self.socketPath = socketPath
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup.singleton
        self.connection = Mutex(nil)
    }

    /// Opens the connection now (otherwise the first call does) and checks that
    /// it is an IdentityRisk server by asking for its health.
    public func connect() async throws {
        _ = try await health()
    }

    public func create(_ draft: IdentityRiskEventDraft, timeoutMilliseconds: UInt32? = nil) async throws -> CreateOutcome {
        var draft = draft
        if draft.id == nil || draft.id?.isEmpty == true {
            draft.id = EventIDGenerator.randomUUID()
        }
        switch try await call(.create(draft), timeoutMilliseconds: timeoutMilliseconds) {
        case .create(let outcome): return outcome
        case let other: throw Self.unexpected(other)
        }
    }

    public func get(id: String, timeoutMilliseconds: UInt32? = nil) async throws -> IdentityRiskEvent {
        switch try await call(.get(id: id), timeoutMilliseconds: timeoutMilliseconds) {
        case .get(let event): return event
        case let other: throw Self.unexpected(other)
        }
    }

    public func list(_ request: ListEvents.Request = ListEvents.Request(), timeoutMilliseconds: UInt32? = nil) async throws -> ListEvents.Response {
        switch try await call(.list(request), timeoutMilliseconds: timeoutMilliseconds) {
        case .list(let page): return page
        case let other: throw Self.unexpected(other)
        }
    }

    public func health(timeoutMilliseconds: UInt32? = nil) async throws -> HealthStatus {
        switch try await call(.health, timeoutMilliseconds: timeoutMilliseconds) {
        case .health(let status): return status
        case let other: throw Self.unexpected(other)
        }
    }

    /// Closes the connection; calls after this fail with `unavailable`.
    public func close() async {
        closed.store(true, ordering: .relaxed)
        let current = connection.withLock { c -> ClientConnection? in
            defer { c = nil }
            return c
        }
        await current?.close()
    }

    // MARK: -

    private func call(_ method: WireRequest.Method, timeoutMilliseconds: UInt32?) async throws -> WireResponse.Result {
        let timeout = timeoutMilliseconds ?? configuration.defaultTimeoutMilliseconds
        var attempt = 0
        while true {
            let connection = try await currentConnection()
            do {
                let result = try await connection.call(method, timeoutMilliseconds: timeout)
                if case .failure(let error) = result { throw error }
                return result
            } catch let error as WireError where error == .connectionClosed && attempt < configuration.maxRetries {
                attempt += 1
                discard(connection)
                try await Task.sleep(for: .milliseconds(20 * attempt))
            } catch let error as ChannelError where attempt < configuration.maxRetries {
                _ = error
                attempt += 1
                discard(connection)
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
        }
    }

    private func currentConnection() async throws -> ClientConnection {
        guard !closed.load(ordering: .relaxed) else {
            throw IdentityRiskError(code: .unavailable, message: "the client is closed")
        }
        if let existing = connection.withLock({ $0 }), existing.isActive {
            return existing
        }
        let fresh: ClientConnection
        do {
            fresh = try await ClientConnection.connect(socketPath: socketPath, configuration: configuration, group: group)
        } catch {
            throw IdentityRiskError(
                code: .unavailable,
                message: "cannot connect to \(socketPath): \(error); is iriskd running there?",
                retryAfterMilliseconds: 1000)
        }
        // Another task may have connected meanwhile: keep one, close the other.
        let (winner, loser) = connection.withLock { current -> (ClientConnection, ClientConnection?) in
            if let current, current.isActive { return (current, fresh) }
            current = fresh
            return (fresh, nil)
        }
        if let loser { await loser.close() }
        return winner
    }

    /// The connection calls go out on now, if any (for tests).
    var heldConnectionForTesting: ClientConnection? { connection.withLock { $0 } }

    private func discard(_ broken: ClientConnection) {
        connection.withLock { current in
            if current === broken { current = nil }
        }
    }

    private static func unexpected(_ result: WireResponse.Result) -> IdentityRiskError {
        IdentityRiskError(code: .internal, message: "the server answered with a result of another method: \(result)")
    }
}

/// Runs `body` with a client connected to `socketPath`, and closes it after.
@discardableResult
public func withIdentityRiskClient<Result: Sendable>(
    socketPath: String,
    configuration: ClientConfiguration = ClientConfiguration(),
    _ body: (IdentityRiskClient) async throws -> Result
) async throws -> Result {
    let client = IdentityRiskClient(socketPath: socketPath, configuration: configuration)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}
