#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import Testing

/// sd_notify as systemd's `Type=notify` and `WatchdogSec=` see it: the test
/// binds the datagram socket systemd would, and reads what iriskd sends.
@Suite("iriskd and systemd: sd_notify READY/STOPPING/WATCHDOG", .serialized)
struct SystemdNotifyTests {
    @Test("NOTIFY_SOCKET (a path): READY=1 with STATUS= once serving, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM, then exit 0")
    func notifyPath() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await expectNotifications(address: directory + "/notify.sock", directory: directory)
    }

    @Test("NOTIFY_SOCKET in the abstract namespace (@name) works the same")
    func notifyAbstract() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await expectNotifications(address: "@irisk-notify-\(UUID().uuidString.prefix(8))", directory: directory)
    }

    func expectNotifications(address: String, directory: String) async throws {
        let listener = try NotifyListener(address: address)
        let socket = directory + "/n.sock"
        let daemon = try ChildProcess(
            productPath("iriskd"), ["--socket", socket, "--store", "memory"],
            environment: cleanEnvironment(["NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"]), directory: directory)
        defer { daemon.signal(SIGKILL) }
        let early = try await listener.collect(timeout: scaledDuration(20_000)) { messages in
            messages.contains { $0.hasPrefix("READY=1") } && messages.filter { $0 == "WATCHDOG=1" }.count >= 3
        }
        let ready = try #require(early.first { $0.hasPrefix("READY=1") }, "\(early) \(daemon.stderr)")
        #expect(ready == "READY=1\nSTATUS=serving on \(socket) (store memory, iriskd \(IdentityRiskVersion.current))")
        #expect(early.filter { $0 == "WATCHDOG=1" }.count >= 3, "pings every 100 ms: \(early)")
        // Ready means serving.
        #expect(try await withIdentityRiskClient(socketPath: socket) { client in try await client.health() }.serving == .serving)
        daemon.signal(SIGTERM)
        let late = try await listener.collect(timeout: scaledDuration(20_000)) { $0.contains { $0.hasPrefix("STOPPING=1") } }
        #expect(late.contains("STOPPING=1\nSTATUS=shutting down: answering calls in flight, then committing"), "\(late)")
        #expect(try await daemon.exitStatus(within: scaledDuration(20_000)) == 0, "\(daemon.stderr)")
    }

    @Test("WATCHDOG_PID naming another process: no pings (the watchdog is not ours), READY still sent; a bad NOTIFY_SOCKET is refused")
    func watchdogOfAnotherProcess() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let address = directory + "/notify.sock"
        let listener = try NotifyListener(address: address)
        let daemon = try ChildProcess(
            productPath("iriskd"), ["--socket", directory + "/w.sock", "--store", "memory"],
            environment: cleanEnvironment(["NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"]), directory: directory)
        defer { daemon.signal(SIGKILL) }
        let ready = try await listener.collect(timeout: scaledDuration(20_000)) { $0.contains { $0.hasPrefix("READY=1") } }
        #expect(ready.contains { $0.hasPrefix("READY=1") }, "\(daemon.stderr)")
        let more = try await listener.collect(timeout: .milliseconds(500)) { _ in false }
        #expect(!(ready + more).contains("WATCHDOG=1"), "\(ready + more)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.exitStatus(within: scaledDuration(20_000)) == 0)

        let bad = try await ChildProcess.run(
            productPath("iriskd"), ["--socket", directory + "/b.sock", "--store", "memory"],
            environment: cleanEnvironment(["NOTIFY_SOCKET": "relative/path"]), directory: directory, timeout: .seconds(20))
        #expect(bad.status == 1 && bad.stderr.contains("NOTIFY_SOCKET 'relative/path' is neither an absolute path nor an abstract name"), "\(bad.stderr)")
    }

    @Test("under systemd-socket-activate (-E NOTIFY_SOCKET): READY=1 names the passed socket; clients see the listener's credentials (root), and a listener of another uid is refused unless expected")
    func socketActivatedNotify() async throws {
        let activate = "/usr/bin/systemd-socket-activate"
        try #require(FileManager.default.isExecutableFile(atPath: activate), "dev/setup.sh --for-tests installs systemd (systemd-socket-activate)")
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let address = directory + "/notify.sock"
        let listener = try NotifyListener(address: address)
        let socket = directory + "/act.sock"
        let activated = try ChildProcess(
            activate, ["-l", socket, "-E", "NOTIFY_SOCKET=\(address)", productPath("iriskd"), "--store", "memory"],
            environment: cleanEnvironment(), directory: directory)
        defer { activated.signal(SIGKILL) }
        var present = false
        for _ in 0..<400 where !present {
            present = FileManager.default.fileExists(atPath: socket)
            if !present { try await Task.sleep(for: .milliseconds(25)) }
        }
        try #require(present, "systemd-socket-activate listens on \(socket)")
        // The file appears at bind(2); connections are accepted from listen(2) on.
        try #require(await Self.waitUntilListening(socket), "systemd-socket-activate listens on \(socket)")
        // The first connection starts iriskd; the check sees uid 0 (the activator called listen).
        #expect(try await withIdentityRiskClient(socketPath: socket) { client in try await client.health() }.serving == .serving)
        let ready = try await listener.collect(timeout: scaledDuration(20_000)) { $0.contains { $0.hasPrefix("READY=1") } }
        #expect(ready.contains { $0.hasPrefix("READY=1\nSTATUS=serving on \(socket)") }, "\(ready) \(activated.stderr)")
        activated.signal(SIGTERM)
        let stopping = try await listener.collect(timeout: scaledDuration(20_000)) { $0.contains { $0.hasPrefix("STOPPING=1") } }
        #expect(stopping.contains { $0.hasPrefix("STOPPING=1") })
        #expect(try await activated.exitStatus(within: scaledDuration(20_000)) == 0, "\(activated.stderr)")

        // The activator itself as uid 65534: then the listener (and what clients see) is 65534.
        let home = directory + "/nobody"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
        chown(home, 65534, 65534)
        let foreignSocket = home + "/act.sock"
        let foreign = try ChildProcess(
            "/usr/bin/setpriv", asUser(65534, [activate, "-l", foreignSocket, productPath("iriskd"), "--store", "memory"]),
            environment: cleanEnvironment(), directory: directory)
        defer { foreign.signal(SIGKILL) }
        present = false
        for _ in 0..<400 where !present {
            present = FileManager.default.fileExists(atPath: foreignSocket)
            if !present { try await Task.sleep(for: .milliseconds(25)) }
        }
        try #require(present)
        try #require(await Self.waitUntilListening(foreignSocket))
        do {
            _ = try await withIdentityRiskClient(socketPath: foreignSocket) { client in try await client.health() }
            Issue.record("a listener of uid 65534 was trusted")
        } catch let error as IdentityRiskError {
            #expect(error.code == .permissionDenied && error.message.contains("it runs as uid 65534"), "\(error)")
        }
        let expected = ClientConfiguration(expectedServerUID: 65534)
        #expect(try await withIdentityRiskClient(socketPath: foreignSocket, configuration: expected) { client in try await client.health() }.serving == .serving)
        foreign.signal(SIGTERM)
        _ = try await foreign.exitStatus(within: scaledDuration(20_000))
    }

    /// Whether a plain connect(2) to `path` succeeds within 10 s (then closes it;
    /// the activator starts iriskd on that first connection, which is harmless).
    static func waitUntilListening(_ path: String) async -> Bool {
        for _ in 0..<400 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                let bytes = Array(path.utf8.prefix(buffer.count - 1))
                buffer.copyBytes(from: bytes + [0])
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            close(fd)
            if connected == 0 { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return false
    }
}
