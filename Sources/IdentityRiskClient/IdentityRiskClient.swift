#if canImport(Glibc)
import Glibc
#endif
public import IdentityRiskCore
public import IdentityRiskService
public import IdentityRiskWire
import NIOCore
import NIOPosix
import Synchronization

/// The IdentityRisk client library: async calls over one Unix-socket
/// connection, many in flight at once (pipelined; answers matched by call id).
///
/// ```swift
/// try await withIdentityRiskClient(socketPath: try IdentityRiskClient.defaultSocketPath()) { client in
///     let created = try await client.create(draft)
///     let again = try await client.get(id: created.event.id)
/// }
/// ```
///
/// Errors are ``IdentityRiskError`` (code, message, target, field violations)
/// or ``WireError`` for a broken connection. A stale `ifMatch` is
/// `IdentityRiskError` with code `.failedPrecondition` (HTTP 412; its
/// ``IdentityRiskError/isVersionMismatch`` is true). A call whose connection
/// breaks before its answer is retried on a new connection when that is safe
/// (``RPCMethod/isSafeToRetry(_:)``): get, list and health always; create
/// always too, because the client gives every create an id (a lowercase UUID)
/// when the caller did not, which makes the retry idempotent on the server;
/// update without `ifMatch` (setting the same values twice is harmless).
/// Update with `ifMatch` and delete are not retried: the first attempt may
/// have succeeded, and the retry would be refused (412, 404) for it.
public final class IdentityRiskClient: Sendable {
    public let socketPath: String
    public let configuration: ClientConfiguration
    private let group: any EventLoopGroup
    private let connection: Mutex<ClientConnection?>
    /// The connection attempt in progress, shared by the calls waiting for it.
    private let connecting = Mutex<Task<ClientConnection, any Error>?>(nil)
    private let closed = Atomic<Bool>(false)

    public init(socketPath: String, configuration: ClientConfiguration = ClientConfiguration()) {
        self.socketPath = socketPath
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup.singleton
        self.connection = Mutex(nil)
    }

    /// A client of the server at the default socket (``DefaultSocketPath``):
    /// `/run/identityrisk/iriskd.sock` as root, else `$XDG_RUNTIME_DIR/identityrisk/iriskd.sock`.
    /// Throws `invalidArgument` when there is no default (no XDG_RUNTIME_DIR).
    public convenience init(configuration: ClientConfiguration = ClientConfiguration()) throws {
        self.init(socketPath: try Self.defaultSocketPath(), configuration: configuration)
    }

    /// Where iriskd listens by default, as iriskd and irisk compute it.
    public static func defaultSocketPath() throws -> String {
        try DefaultSocketPath.current()
    }

    /// Opens the connection now (otherwise the first call does) and checks that
    /// it is an IdentityRisk server by asking for its health.
    public func connect() async throws {
        _ = try await health()
    }

    public func create(_ draft: IdentityRiskEventDraft, timeoutMilliseconds: UInt32? = nil) async throws -> CreateOutcome {
        var draft = draft
        if draft.id == nil || draft.id?.isEmpty == true {
            draft.id = EventIDGenerator.timeOrderedUUID()
        }
        return try await call(IdentityRiskMethods.Create.self, draft, timeoutMilliseconds: timeoutMilliseconds)
    }

    public func get(id: String, timeoutMilliseconds: UInt32? = nil) async throws -> IdentityRiskEvent {
        try await call(IdentityRiskMethods.Get.self, id, timeoutMilliseconds: timeoutMilliseconds)
    }

    public func list(_ request: ListEvents.Request = ListEvents.Request(), timeoutMilliseconds: UInt32? = nil) async throws -> ListEvents.Response {
        try await call(IdentityRiskMethods.List.self, request, timeoutMilliseconds: timeoutMilliseconds)
    }

    public func health(timeoutMilliseconds: UInt32? = nil) async throws -> HealthStatus {
        try await call(IdentityRiskMethods.Health.self, HealthRequest(), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Counts, rates, the group commit and what is open, since the server started.
    public func stats(timeoutMilliseconds: UInt32? = nil) async throws -> StatsReport {
        try await call(IdentityRiskMethods.Stats.self, StatsRequest(), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Changes the properties `patch` names (Graph `PATCH`) and returns the
    /// record as stored. With `ifMatch` (a version from ``IdentityRiskEvent/version``),
    /// a record that changed since is refused with `.failedPrecondition`.
    public func update(id: String, _ patch: EventPatch, ifMatch: UInt64? = nil, timeoutMilliseconds: UInt32? = nil) async throws -> IdentityRiskEvent {
        try await call(IdentityRiskMethods.Update.self, UpdateEvent.Request(id: id, patch: patch, ifMatch: ifMatch), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Deletes `id` (Graph `DELETE`, 204) and returns the version it had.
    /// Unknown or already deleted: `.notFound`; stale `ifMatch`: `.failedPrecondition`.
    @discardableResult
    public func delete(id: String, ifMatch: UInt64? = nil, timeoutMilliseconds: UInt32? = nil) async throws -> UInt64 {
        try await call(IdentityRiskMethods.Delete.self, DeleteEvent.Request(id: id, ifMatch: ifMatch), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Calls any method of the table (``WireMethods/all``): what the methods above do.
    public func call<M: WireMethod>(_ method: M.Type, _ request: M.Request, timeoutMilliseconds: UInt32? = nil) async throws -> M.Response {
        let timeout = timeoutMilliseconds ?? configuration.defaultTimeoutMilliseconds
        let retries = M.isSafeToRetry(request) ? configuration.maxRetries : 0
        var attempt = 0
        while true {
            let connection = try await currentConnection()
            do {
                return try await connection.call(method, request, timeoutMilliseconds: timeout)
            } catch let error as WireError where (error.code == .connectionClosed || error.code == .closedBeforePreface) && attempt < retries {
                // closedBeforePreface too: a reset before the server's preface can be
                // passing (a busy server); a refusal fails the same way again, and
                // then says why.
                attempt += 1
                discard(connection)
                try await Task.sleep(for: .milliseconds(20 * attempt))
            } catch let error as ChannelError where attempt < retries {
                _ = error
                attempt += 1
                discard(connection)
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
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

    private func currentConnection() async throws -> ClientConnection {
        guard !closed.load(ordering: .relaxed) else {
            throw IdentityRiskError(code: .unavailable, message: "the client is closed")
        }
        // One connection attempt at a time: calls that arrive together on a
        // fresh (or broken) client wait for the same attempt instead of each
        // opening a connection of its own (which would also fill the server's
        // accept backlog).
        let attempt = connecting.withLock { connecting -> Task<ClientConnection, any Error>? in
            if let existing = connection.withLock({ $0 }), existing.isActive { return nil }
            if let connecting { return connecting }
            let task = Task { try await self.openConnection() }
            connecting = task
            return task
        }
        guard let attempt else {
            if let existing = connection.withLock({ $0 }) { return existing }
            return try await currentConnection()
        }
        let result = await attempt.result
        connecting.withLock { current in
            if current == attempt { current = nil }
        }
        let fresh = try result.get()
        if closed.load(ordering: .relaxed) {
            // close() ran while this attempt connected: nobody will close it later.
            await fresh.close()
            throw IdentityRiskError(code: .unavailable, message: "the client is closed")
        }
        // Keep the first one that got here; a later attempt's duplicate closes.
        let (winner, loser) = connection.withLock { current -> (ClientConnection, ClientConnection?) in
            if let current, current.isActive { return (current, current === fresh ? nil : fresh) }
            current = fresh
            return (fresh, nil)
        }
        if let loser { await loser.close() }
        return winner
    }

    /// A new connection of its own (each watch has one).
    func openConnection() async throws -> ClientConnection {
        guard !closed.load(ordering: .relaxed) else {
            throw IdentityRiskError(code: .unavailable, message: "the client is closed")
        }
        do {
            return try await ClientConnection.connect(socketPath: socketPath, configuration: configuration, group: group)
        } catch let refused as IdentityRiskError {
            throw refused
        } catch {
            throw Self.connectFailure(error, socketPath: socketPath)
        }
    }

    /// What a failed connect means, in words: each cause with its own hint.
    static func connectFailure(_ error: any Error, socketPath path: String) -> IdentityRiskError {
        let why: String
        switch (error as? IOError)?.errnoCode {
        case ENOENT?:
            why = "there is no socket at \(path): is iriskd running, with this --socket? (irisk takes --socket PATH or IRISK_SOCKET)"
        case ECONNREFUSED?:
            why = "nothing accepts connections at \(path): the socket file was left by a server that stopped, or is not a socket; start iriskd there"
        case EACCES?, EPERM?:
            why = "permission denied on \(path) for uid \(getuid()): \(permissionDetail(path)) "
                + "(iriskd --socket-mode 0660 --socket-group GID shares it with a group)"
        case EAGAIN?:
            why = "the server's accept queue at \(path) is full: it is overloaded; retry"
        case let code?:
            why = "cannot connect to \(path): \(String(cString: strerror(code)))"
        case nil:
            why = "cannot connect to \(path): \(error)"
        }
        return IdentityRiskError(code: .unavailable, message: why, retryAfterMilliseconds: 1000)
    }

    /// Whose socket it is and what its mode allows, or which directory on the
    /// way to it this user cannot search (what stat sees, as this user).
    static func permissionDetail(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            return "its directory \(directory.isEmpty ? "." : directory) does not let this user through (\(String(cString: strerror(errno))))"
        }
        let mode = String(info.st_mode & 0o7777, radix: 8)
        return "you are uid \(getuid()) gid \(getgid()); the socket is owned by uid \(info.st_uid) gid \(info.st_gid) with mode 0\(mode), "
            + "which does not let you connect: ask its owner, or run as uid \(info.st_uid)"
    }

    /// The connection calls go out on now, if any (for tests).
    var heldConnectionForTesting: ClientConnection? { connection.withLock { $0 } }

    private func discard(_ broken: ClientConnection) {
        connection.withLock { current in
            if current === broken { current = nil }
        }
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
