import Foundation
import IdentityRiskTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster of a test's own (initdb in a temporary directory, a
/// Unix socket only, fsync and synchronous_commit on), so that a test can stop
/// and start it without touching the cluster other tests share
/// (dev/with-postgres.sh). Needs PostgreSQL's binaries (Debian's postgresql,
/// which dev/with-postgres.sh installs); as root, the server runs as the
/// `postgres` account.
final class ThrowawayPostgres: Sendable {
    let directory: String
    let binDirectory: String
    let osUser: String
    /// `postgresql://USER@/irisk?host=DIR`, the form `--store` takes.
    let url: String
    /// With TLS: the loopback TCP port it also listens on, and the CA (PEM) that
    /// signed its certificate (for `localhost` only).
    let tcpPort: Int?
    var caFile: String { directory + "/tls/ca.pem" }

    /// Whether this machine can run one (the binaries are there), or the tests must (CI).
    static var enabled: Bool {
        findBinDirectory() != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    static func findBinDirectory() -> String? {
        let base = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        for version in versions.sorted(by: >) where FileManager.default.isExecutableFile(atPath: "\(base)/\(version)/bin/initdb") {
            return "\(base)/\(version)/bin"
        }
        return nil
    }

    /// `tls`: also listen on 127.0.0.1 (a random port) with `ssl=on` and a
    /// certificate for DNS name `localhost` from a CA of the test's own.
    init(tls: Bool = false) async throws {
        binDirectory = try #require(Self.findBinDirectory(), "PostgreSQL's binaries are missing: install Debian's postgresql (dev/with-postgres.sh does)")
        osUser = getuid() == 0 ? "postgres" : String(cString: getpwuid(getuid()).pointee.pw_name)
        directory = "/tmp/irisk-pgt-\(UUID().uuidString.prefix(8).lowercased())"
        let port = tls ? Int.random(in: 20_000...40_000) : nil
        tcpPort = port
        url = "postgresql://\(osUser)@\(port.map { ":\($0)" } ?? "")/irisk?host=\(directory)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        chmod(directory, 0o755)
        if getuid() == 0 { try await run("/bin/chown", [osUser, directory], asServer: false) }
        do {
            try await run("\(binDirectory)/initdb", ["-D", "\(directory)/data", "-U", osUser, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"])
            if tls { try await makeCertificates() }
            try await start()
            try await run("\(binDirectory)/createdb", ["-h", directory, "-p", "\(tcpPort ?? 5432)", "-U", osUser, "irisk"])
        } catch {
            await destroy()
            throw error
        }
    }

    func start() async throws {
        var options = "-c unix_socket_directories='\(directory)' -c fsync=on -c synchronous_commit=on -c max_connections=200"
        if let tcpPort {
            options += " -c listen_addresses='127.0.0.1' -c port=\(tcpPort) -c ssl=on -c log_connections=on"
                + " -c ssl_cert_file='\(directory)/data/server.crt' -c ssl_key_file='\(directory)/data/server.key'"
        } else {
            options += " -c listen_addresses=''"
        }
        try await run("\(binDirectory)/pg_ctl", [
            "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60", "start", "-o", options,
        ])
        // pg_ctl -w returns once the server is up; its socket may follow a moment later.
        let socket = "\(directory)/.s.PGSQL.\(tcpPort ?? 5432)"
        for _ in 0..<200 where access(socket, F_OK) != 0 { try await Task.sleep(for: .milliseconds(50)) }
    }

    /// A CA and a server certificate for `localhost` signed by it (openssl).
    private func makeCertificates() async throws {
        let tls = directory + "/tls"
        try FileManager.default.createDirectory(atPath: tls, withIntermediateDirectories: false)
        let openssl = "/usr/bin/openssl"
        try await run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=irisk test CA",
                                "-keyout", tls + "/ca.key", "-out", tls + "/ca.pem"], asServer: false)
        try await run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                                "-keyout", tls + "/server.key", "-out", tls + "/server.csr"], asServer: false)
        try "subjectAltName=DNS:localhost\n".write(toFile: tls + "/ext.cnf", atomically: true, encoding: .utf8)
        try await run(openssl, ["x509", "-req", "-days", "2", "-in", tls + "/server.csr", "-CA", tls + "/ca.pem", "-CAkey", tls + "/ca.key",
                                "-CAcreateserial", "-extfile", tls + "/ext.cnf", "-out", directory + "/data/server.crt"], asServer: false)
        try FileManager.default.copyItem(atPath: tls + "/server.key", toPath: directory + "/data/server.key")
        chmod(directory + "/data/server.key", 0o600)
        if getuid() == 0 { try await run("/bin/chown", [osUser, directory + "/data/server.crt", directory + "/data/server.key"], asServer: false) }
    }

    /// The server's log (connections are logged with TLS).
    func log() -> String { (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "" }

    /// `pg_ctl stop -m fast`: open connections are ended, the server shuts down cleanly.
    func stop() async throws {
        try await run("\(binDirectory)/pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Stops the server (immediately) and removes its directory.
    func destroy() async {
        try? await run("\(binDirectory)/pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `program` (as the server's account when root) and fails with its
    /// output if it fails. posix_spawn and waitpid, not Foundation's Process:
    /// pg_ctl leaves a daemon behind that holds the output file, and a
    /// Process wait was seen to hang here.
    private func run(_ program: String, _ arguments: [String], asServer: Bool = true) async throws {
        let argv = asServer && getuid() == 0 ? ["/usr/sbin/runuser", "-u", osUser, "--", program] + arguments : [program] + arguments
        let output = directory + "/command.log"
        let status = try await blocking { () -> Int32 in
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            var pid: pid_t = 0
            let cArguments = argv.map { strdup($0) } + [nil]
            defer { for argument in cArguments { free(argument) } }
            let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
            guard spawned == 0 else { return -spawned }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
        guard status == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw IdentityRiskTestFailure("\(argv.joined(separator: " ")) exited \(status): \(text)")
        }
    }
}

/// A failure of a test's own set-up, with what went wrong.
struct IdentityRiskTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
