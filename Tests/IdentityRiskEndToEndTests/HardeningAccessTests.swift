#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskServer
import IdentityRiskStore
import IdentityRiskTestSupport
import IdentityRiskWire
import Logging
import Testing

/// Who may connect, how many, and who owns the socket path.
/// Other uids are played by `setpriv` running the real `irisk` client (the tests run as root).
@Suite("Hardening: access control, connection limits, the socket file")
struct HardeningAccessTests {
    static let nobody: UInt32 = 65534

    func mode(of path: String) -> (mode: UInt32, gid: UInt32, isSocket: Bool) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return (0, 0, false) }
        return (UInt32(info.st_mode) & 0o7777, info.st_gid, info.st_mode & S_IFMT == S_IFSOCK)
    }

    @Test("the socket file is a socket with mode 0600 by default; other uids cannot connect")
    func defaultMode() async throws {
        try await withTestServer { server in
            let file = mode(of: server.socketPath)
            #expect(file.isSocket)
            #expect(file.mode == 0o600)
            let other = try await healthAs(uid: Self.nobody, gid: Self.nobody, socketPath: server.socketPath)
            #expect(other.status == 5, "uid \(Self.nobody) is refused by the file mode: \(other.output)")
            #expect(other.output.contains("permission denied on \(server.socketPath) for uid \(Self.nobody)"), "the cause, in words: \(other.output)")
        }
    }

    @Test("with --socket-mode 0660 and a group: mode 0660, owned by that group, whose members can connect")
    func groupMode() async throws {
        let group: UInt32 = 4321
        try await withTestServer(configure: { $0.socketMode = 0o660; $0.socketGroupID = group }) { server in
            let file = mode(of: server.socketPath)
            #expect(file.isSocket)
            #expect(file.mode == 0o660)
            #expect(file.gid == group)
            let member = try await healthAs(uid: Self.nobody, gid: group, socketPath: server.socketPath)
            #expect(member.status == 0, "a member of group \(group) connects: \(member.output)")
            let stranger = try await healthAs(uid: Self.nobody, gid: Self.nobody, socketPath: server.socketPath)
            #expect(stranger.status == 5, "others still cannot: \(stranger.output)")
        }
    }

    @Test("a uid allow-list without our uid: refused at once with the server preface and one PERMISSION_DENIED frame naming our uid, nothing served, logged with the peer's pid, uid and gid")
    func allowListRefuses() async throws {
        let capture = LogCapture()
        let store = MemoryEventStore()
        try await withLoggingTestServer(store: store, logger: capture.logger(), configure: { $0.allowedUIDs = [12345] }) { server in
            let raw = try RawConnection(path: server.socketPath, receiveTimeoutMilliseconds: Int(scaled(3000)))
            raw.sendPreface()
            raw.send(RawRequest.create(callID: 1, seedDraft()))
            let refusal = try await expectRefusal(raw, .permissionDenied, "NotInAllowList")
            #expect(refusal?.message.contains("refused by the server's allow-list (your uid \(getuid()), gid \(getgid()))") == true, "\(String(describing: refusal))")
            #expect(store.count == 0)
            #expect(server.server.statistics.refusedConnections == 1)
            let logged = capture.all.first { $0.message.contains("refused connection: peer not in the uid/gid allow-list") }
            let peer = logged?.metadata["peer"] ?? ""
            #expect(peer.contains("pid=\(getpid())") && peer.contains("uid=\(getuid())") && peer.contains("gid=\(getgid())"), "logged peer: \(peer)")
            #expect(logged?.level == .notice)
        }
    }

    @Test("a uid allow-list with our uid serves us; one with only another uid serves only that uid")
    func allowListAdmits() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store, configure: { $0.allowedUIDs = [getuid()] }) { server in
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
        try await withTestServer(configure: { $0.allowedUIDs = [Self.nobody]; $0.socketMode = 0o666 }) { server in
            let other = try await healthAs(uid: Self.nobody, gid: Self.nobody, socketPath: server.socketPath)
            #expect(other.status == 0, "uid \(Self.nobody) is allowed: \(other.output)")
            let raw = try RawConnection(path: server.socketPath, receiveTimeoutMilliseconds: Int(scaled(3000)))
            raw.sendPreface()
            try await expectRefusal(raw, .permissionDenied, "NotInAllowList", "we (uid \(getuid())) are not")
        }
        try await withTestServer(configure: { $0.allowedGIDs = [54321] }) { server in
            let raw = try RawConnection(path: server.socketPath, receiveTimeoutMilliseconds: Int(scaled(3000)))
            raw.sendPreface()
            try await expectRefusal(raw, .permissionDenied, "NotInAllowList", "gid allow-lists refuse too")
        }
    }

    /// A refused connection: the server preface, one connection-level Response
    /// (call id 0) with the refusal, then the close. Returns the refusal.
    @discardableResult
    func expectRefusal(
        _ raw: RawConnection, _ code: IdentityRiskError.Code, _ innerCode: String, _ comment: String = "",
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> IdentityRiskError? {
        #expect(try await raw.expectServerPreface(), "the server preface first: \(comment)", sourceLocation: sourceLocation)
        let response = try await raw.readResponse()
        #expect(response?.callID == 0, "\(comment)", sourceLocation: sourceLocation)
        #expect(response?.failure?.code == code, "\(comment): \(String(describing: response))", sourceLocation: sourceLocation)
        #expect(response?.failure?.innerCode == innerCode, "\(comment)", sourceLocation: sourceLocation)
        #expect(try await raw.readToEOF() == [], "then the close, nothing else: \(comment)", sourceLocation: sourceLocation)
        return response?.failure
    }

    /// Opens `count` raw connections that completed the handshake.
    func openConnections(_ server: TestServer, _ count: Int) async throws -> [RawConnection] {
        var connections: [RawConnection] = []
        for _ in 0..<count { connections.append(try await openRaw(server)) }
        return connections
    }

    func expectRefused(_ server: TestServer, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let extra = try RawConnection(path: server.socketPath, receiveTimeoutMilliseconds: Int(scaled(3000)))
        extra.sendPreface()
        let refusal = try await expectRefusal(extra, .resourceExhausted, "ConnectionLimit", "the connection over the limit is refused, saying why", sourceLocation: sourceLocation)
        #expect(refusal?.retryAfterMilliseconds == 1000, sourceLocation: sourceLocation)
    }

    func waitForOpenConnections(_ server: TestServer, _ expected: Int) async throws {
        for _ in 0..<(100 * timeScale) where server.server.statistics.openConnections != expected {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.server.statistics.openConnections == expected)
    }

    @Test("a connection flood over maxConnections: extra connections are closed, the open ones still served; a freed slot is reusable")
    func totalLimit() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store, configure: { $0.maxConnections = 4 }) { server in
            var open = try await openConnections(server, 4)
            for _ in 0..<10 { try await expectRefused(server) }
            for (i, raw) in open.enumerated() {
                raw.send(RawRequest.health(callID: UInt64(i + 1)))
                #expect(try await raw.readResponse()?.callID == UInt64(i + 1), "existing connection \(i) still served")
            }
            #expect(server.server.statistics.refusedConnections == 10)
            open.removeLast()
            try await waitForOpenConnections(server, 3)
            try await expectStillServing(server, store: store, expectedCount: 0)
            _ = open
        }
    }

    @Test("more than maxConnectionsPerUID from one uid: extra ones closed; another uid still gets in")
    func perUIDLimit() async throws {
        try await withTestServer(configure: { $0.maxConnections = 100; $0.maxConnectionsPerUID = 3; $0.socketMode = 0o666 }) { server in
            var open = try await openConnections(server, 3)
            for _ in 0..<5 { try await expectRefused(server) }
            let other = try await healthAs(uid: Self.nobody, gid: Self.nobody, socketPath: server.socketPath)
            #expect(other.status == 0, "uid \(Self.nobody) has its own allowance: \(other.output)")
            for (i, raw) in open.enumerated() {
                raw.send(RawRequest.health(callID: UInt64(i + 1)))
                #expect(try await raw.readResponse()?.callID == UInt64(i + 1))
            }
            open.removeFirst()
            try await waitForOpenConnections(server, 2)
            let again = try await openRaw(server)
            again.send(RawRequest.health(callID: 9))
            #expect(try await again.readResponse()?.callID == 9, "a freed per-uid slot is reusable")
            _ = open
        }
    }

    @Test("a socket file left by a dead server is removed, and the new server serves")
    func staleSocket() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/stale.sock"
        // Bind a socket and close it without unlinking: what a killed server leaves.
        let fd = makeUnixSocket()
        let bound = withUnixAddress(path) { bind(fd, $0, $1) }
        #expect(bound == 0)
        listen(fd, 1)
        close(fd)
        #expect(mode(of: path).isSocket, "the stale socket file exists")
        #expect(!connects(to: path), "and nothing answers on it")
        let store = MemoryEventStore()
        try await withLoggingTestServer(store: store, logger: Logger(label: "quiet") { _ in SwiftLogNoOpLogHandler() }, socketPath: path) { server in
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }

    @Test("a second server on a live path fails with a clear ServerError; the first keeps serving")
    func secondServer() async throws {
        let store = MemoryEventStore()
        try await withTestServer(store: store) { server in
            let second = IdentityRiskServer(
                configuration: ServerConfiguration(socketPath: server.socketPath),
                store: MemoryEventStore(), logger: Logger(label: "second") { _ in SwiftLogNoOpLogHandler() })
            await #expect {
                try await second.run()
            } throws: { error in
                "\(error)".contains("another iriskd is already serving \(server.socketPath)") && error is ServerError
            }
            #expect(mode(of: server.socketPath).isSocket, "the first server's socket file is untouched")
            try await expectStillServing(server, store: store, expectedCount: 0)
        }
    }
}
