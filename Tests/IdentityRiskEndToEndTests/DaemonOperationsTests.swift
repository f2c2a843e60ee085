#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import Testing

/// iriskd as an operator runs it: --print-config, the default socket and its
/// directory, and clients that check whom they talk to (SO_PEERCRED), with
/// the real binaries and real uids (setpriv).
@Suite("iriskd operations: print-config, default socket, server credentials", .serialized)
struct DaemonOperationsTests {
    static let nobody: UInt32 = 65534

    @Test("--print-config prints every setting with its value and origin (default, config file:line, environment, flag), exits 0 and opens nothing")
    func printConfig() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/iriskd.conf"
        try "# settings\nstore = sqlite:\(directory)/events.sqlite\nmax-streams = 5\ngrant = read:gid=1001\n".write(toFile: file, atomically: true, encoding: .utf8)
        let run = try await ChildProcess.run(
            productPath("iriskd"),
            ["--config", file, "--max-in-flight", "7", "--socket", directory + "/p.sock", "--grant", "readWrite:uid=1000", "--print-config"],
            environment: cleanEnvironment(["IRISKD_MAX_STREAMS": "9", "IRISKD_LOG_FORMAT": "json"]), directory: directory, timeout: .seconds(20))
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        func line(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) } }
        #expect(lines.first == "# configuration file: \(file) (named by --config)")
        #expect(line("store = sqlite:\(directory)/events.sqlite")?.hasSuffix("# config file \(file):2") == true, "\(run.stdout)")
        #expect(line("max-streams = 9")?.hasSuffix("# environment IRISKD_MAX_STREAMS") == true, "the environment overrides the file: \(run.stdout)")
        #expect(line("max-in-flight = 7")?.hasSuffix("# flag") == true)
        #expect(line("socket = \(directory)/p.sock")?.hasSuffix("# flag") == true)
        #expect(line("log-format = json")?.hasSuffix("# environment IRISKD_LOG_FORMAT") == true)
        #expect(line("max-connections = 1024")?.hasSuffix("# default") == true)
        #expect(line("# socket-group is not set")?.hasSuffix("# default") == true)
        #expect(line("grant = read:gid=1001")?.hasSuffix("# config file \(file):4") == true, "a repeatable flag collects every source")
        #expect(line("grant = readWrite:uid=1000")?.hasSuffix("# flag") == true)
        // Every flag of --help is shown.
        let help = try await ChildProcess.run(productPath("iriskd"), ["--help"], environment: cleanEnvironment(), directory: directory, timeout: .seconds(20))
        let flags = Set(help.stdout.split(separator: "\n").compactMap { text -> String? in
            // An option's line starts with it (help texts may quote other commands' flags).
            guard text.drop(while: { $0 == " " }).hasPrefix("--"), let range = text.range(of: "--") else { return nil }
            let name = text[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            return ["help", "version", "config", "print-config", ""].contains(String(name)) ? nil : String(name)
        })
        #expect(flags.count >= 25)
        for flag in flags {
            #expect(lines.contains { $0.hasPrefix(flag + " = ") || $0.hasPrefix("# " + flag + " is not set") }, "--print-config shows \(flag)")
        }
        #expect(!run.stdout.contains("not shown by --print-config"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/events.sqlite"), "no store opened")
        #expect(!FileManager.default.fileExists(atPath: directory + "/p.sock") && !FileManager.default.fileExists(atPath: directory + "/p.sock.lock"), "no socket made")
    }

    @Test("a socket directory others may write without the sticky bit, or owned by another non-root user, is refused before anything is created")
    func unsafeSocketDirectory() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let open = directory + "/open"
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false)
        chmod(open, 0o777)
        let refused = try await ChildProcess.run(
            productPath("iriskd"), ["--socket", open + "/s.sock", "--store", "sqlite:\(directory)/a.sqlite"],
            environment: cleanEnvironment(), directory: directory, timeout: .seconds(20))
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refusing the socket directory \(open): every user may write to it (mode 0777, no sticky bit)"), "\(refused.stderr)")
        let foreign = directory + "/foreign"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: false)
        chown(foreign, Self.nobody, Self.nobody)
        chmod(foreign, 0o755)
        let notOurs = try await ChildProcess.run(
            productPath("iriskd"), ["--socket", foreign + "/s.sock", "--store", "sqlite:\(directory)/b.sqlite"],
            environment: cleanEnvironment(), directory: directory, timeout: .seconds(20))
        #expect(notOurs.status == 1)
        #expect(notOurs.stderr.contains("refusing the socket directory \(foreign): it belongs to uid 65534, not to this server's uid 0 or root"), "\(notOurs.stderr)")
        for (path, what) in [(directory + "/a.sqlite", "store"), (directory + "/b.sqlite", "store"), (open + "/s.sock.lock", "lock"), (foreign + "/s.sock.lock", "lock")] {
            #expect(!FileManager.default.fileExists(atPath: path), "no \(what) file: \(path)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: open).isEmpty && FileManager.default.contentsOfDirectory(atPath: foreign).isEmpty)
    }

    @Test("as a non-root uid: the default socket is $XDG_RUNTIME_DIR/identityrisk/iriskd.sock in a 0700 directory iriskd creates, irisk finds it; without XDG_RUNTIME_DIR both ask for --socket")
    func defaultSocketOfAUser() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runtime = directory + "/runtime"
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: false)
        chown(runtime, Self.nobody, Self.nobody)
        chmod(runtime, 0o700)
        let environment = cleanEnvironment(["XDG_RUNTIME_DIR": runtime, "HOME": directory])
        let daemon = try ChildProcess(
            "/usr/bin/setpriv", asUser(Self.nobody, [productPath("iriskd"), "--store", "memory"]), environment: environment, directory: directory)
        defer { daemon.signal(SIGKILL) }
        let socket = runtime + "/identityrisk/iriskd.sock"
        #expect(try await daemon.waitForStderr(within: scaledDuration(20_000)) { $0.contains(" listening ") }, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("socket=\(socket)"), "\(daemon.stderr)")
        var info = stat()
        #expect(stat(runtime + "/identityrisk", &info) == 0 && info.st_mode & 0o7777 == 0o700 && info.st_uid == Self.nobody, "created private")
        let health = try await ChildProcess.run(
            "/usr/bin/setpriv", asUser(Self.nobody, [productPath("irisk"), "health"]), environment: environment, directory: directory, timeout: .seconds(20))
        #expect(health.status == 0, "irisk finds the same default: \(health.stdout) \(health.stderr)")
        #expect(health.stdout.contains("serving"), "\(health.stdout)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.exitStatus(within: scaledDuration(20_000)) == 0)

        let noRuntime = cleanEnvironment(["HOME": directory])
        let server = try await ChildProcess.run(
            "/usr/bin/setpriv", asUser(Self.nobody, [productPath("iriskd"), "--store", "memory"]), environment: noRuntime, directory: directory, timeout: .seconds(20))
        #expect(server.status == 1)
        #expect(server.stderr.contains("no default socket for uid 65534: XDG_RUNTIME_DIR is not set") && server.stderr.contains("--socket PATH"), "\(server.stderr)")
        let client = try await ChildProcess.run(
            "/usr/bin/setpriv", asUser(Self.nobody, [productPath("irisk"), "health"]), environment: noRuntime, directory: directory, timeout: .seconds(20))
        #expect(client.status == 64, "\(client.stderr)")
        #expect(client.stderr.contains("no default socket for uid 65534"), "\(client.stderr)")
    }

    @Test("irisk and the Swift client refuse a server of another uid (SO_PEERCRED) before sending anything, and accept it with --server-uid / IRISK_SERVER_UID / expectedServerUID")
    func serverOfAnotherUID() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let home = directory + "/nobody"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
        chown(home, Self.nobody, Self.nobody)
        let socket = home + "/iriskd.sock"
        let daemon = try ChildProcess(
            "/usr/bin/setpriv", asUser(Self.nobody, [productPath("iriskd"), "--store", "memory", "--socket", socket, "--socket-mode", "0666"]),
            environment: cleanEnvironment(), directory: directory)
        defer { daemon.signal(SIGKILL) }
        #expect(try await daemon.waitForStderr(within: scaledDuration(20_000)) { $0.contains(" listening ") }, "\(daemon.stderr)")

        let refused = try await ChildProcess.run(productPath("irisk"), ["health", "--socket", socket], environment: cleanEnvironment(), directory: directory, timeout: .seconds(20))
        #expect(refused.status == 8, "\(refused.stderr)")
        #expect(refused.stderr.contains("refusing the server at \(socket): it runs as uid 65534 (pid \(daemon.pid))"), "\(refused.stderr)")
        #expect(refused.stderr.contains("irisk --server-uid 65534"), "says what to do: \(refused.stderr)")
        let flag = try await ChildProcess.run(
            productPath("irisk"), ["health", "--socket", socket, "--server-uid", "65534"], environment: cleanEnvironment(), directory: directory, timeout: .seconds(20))
        #expect(flag.status == 0 && flag.stdout.contains("serving"), "\(flag.stdout) \(flag.stderr)")
        let variable = try await ChildProcess.run(
            productPath("irisk"), ["health", "--socket", socket], environment: cleanEnvironment(["IRISK_SERVER_UID": "65534"]), directory: directory, timeout: .seconds(20))
        #expect(variable.status == 0, "\(variable.stderr)")
        let wrong = try await ChildProcess.run(
            productPath("irisk"), ["health", "--socket", socket, "--server-uid", "1234"], environment: cleanEnvironment(), directory: directory, timeout: .seconds(20))
        #expect(wrong.status == 8 && wrong.stderr.contains("neither the expected uid 1234 (--server-uid), root nor"), "\(wrong.stderr)")

        // The library: refused with permissionDenied before any call reaches the server.
        do {
            try await withIdentityRiskClient(socketPath: socket) { client in _ = try await client.create(seedDraft(id: "never-sent")) }
            Issue.record("a server of uid 65534 was accepted")
        } catch let error as IdentityRiskError {
            #expect(error.code == .permissionDenied && error.innerCode == "UntrustedServer", "\(error)")
            #expect(error.message.contains("uid 65534") && error.message.contains(socket), "\(error.message)")
        }
        let trusted = ClientConfiguration(expectedServerUID: Self.nobody)
        let status = try await withIdentityRiskClient(socketPath: socket, configuration: trusted) { client in try await client.health() }
        #expect(status.serving == .serving)
        let neverSent = try? await withIdentityRiskClient(socketPath: socket, configuration: trusted) { client in try await client.get(id: "never-sent") }
        #expect(neverSent == nil, "the refused create never reached the server")
        daemon.signal(SIGTERM)
        #expect(try await daemon.exitStatus(within: scaledDuration(20_000)) == 0)
    }
}
