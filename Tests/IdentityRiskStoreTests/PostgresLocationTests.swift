import Foundation
import IdentityRiskCore
import IdentityRiskStore
import Testing

@Suite("PostgreSQL store URLs")
struct PostgresLocationTests {
    func parse(_ text: String, environment: [String: String] = [:]) throws -> PostgresLocation {
        let spec = try StoreSpec(parsing: text, defaultSQLitePath: "/unused", environment: environment)
        guard case .postgres(let location) = spec.kind else {
            Issue.record("\(text) is not a PostgreSQL store: \(spec)")
            throw IdentityRiskError(code: .internal, message: "not postgres")
        }
        #expect(spec.isDurable)
        return location
    }

    @Test("TCP and Unix-socket forms, both schemes, password from the URL or PGPASSWORD, sslmode and pool")
    func goodForms() throws {
        let tcp = try parse("postgresql://irisk:s3cr%40t@db.example.com:6432/events?sslmode=require&pool=32")
        #expect(tcp == PostgresLocation(
            endpoint: .tcp(host: "db.example.com", port: 6432), username: "irisk", password: "s3cr@t", database: "events",
            sslMode: .require, poolSize: 32))
        #expect(tcp.description == "postgresql://irisk:***@db.example.com:6432/events?sslmode=require&pool=32", "no password in the description")

        let plain = try parse("postgres://app@localhost/irisk")
        #expect(plain.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(plain.sslMode == .prefer)
        #expect(plain.poolSize == PostgresLocation.defaultPoolSize)
        #expect(plain.password == nil)
        #expect(try parse(plain.description) == plain, "the description parses back")

        let socket = try parse("postgresql://postgres@/irisk?host=/run/postgresql")
        #expect(socket.endpoint == .unixSocket(directory: "/run/postgresql", port: 5432))
        #expect(socket.endpoint.socketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(socket.serverDescription.contains("/run/postgresql/.s.PGSQL.5432"))
        #expect(try parse("postgresql://u@:5433/d?host=/tmp/x%20y/").endpoint == .unixSocket(directory: "/tmp/x y", port: 5433))

        #expect(try parse("postgresql://u@h/d", environment: ["PGPASSWORD": "fromenv"]).password == "fromenv")
        #expect(try parse("postgresql://u:inurl@h/d", environment: ["PGPASSWORD": "fromenv"]).password == "inurl", "the URL's password wins")
        #expect(try parse("postgresql://u@[::1]:5440/d?sslmode=disable").endpoint == .tcp(host: "::1", port: 5440))
        #expect(try parse("postgresql://u@h/d?sslmode=verify-full").sslMode == .verifyFull)
        let verifyCA = try parse("postgresql://u@h/d?sslmode=verify-ca&sslrootcert=/etc/irisk/ca.pem")
        #expect(verifyCA.sslMode == .verifyCA && verifyCA.sslRootCertificate == "/etc/irisk/ca.pem")
        #expect(try parse(verifyCA.description) == verifyCA, "the description parses back")
        let timeout = try parse("postgresql://u@h/d?connect_timeout=2")
        #expect(timeout.connectTimeout == .seconds(2))
        #expect(try parse(timeout.description) == timeout)
    }

    /// Writes `text` to a fresh password file with `mode`; its path.
    func passfile(_ text: String, mode: mode_t = 0o600) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("irisk-pgpass-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(chmod(path, mode) == 0)
        return path
    }

    @Test("a libpq password file: the first matching line (wildcards, escapes, Unix socket as localhost); PGPASSWORD and the URL win")
    func passwordFile() throws {
        let path = try passfile("""
            # host:port:database:user:password
            db.example.com:5432:other:u:wrong-db
            db.example.com:5432:events:u:tcp\\:pw
            localhost:5432:*:u:socket-pw
            *:*:*:*:anything
            """)
        defer { unlink(path) }
        #expect(try parse("postgresql://u@db.example.com/events?passfile=\(path)").password == "tcp:pw")
        #expect(try parse("postgresql://u@/events?host=/run/postgresql&passfile=\(path)").password == "socket-pw")
        #expect(try parse("postgresql://v@db.example.com:6000/x?passfile=\(path)").password == "anything", "wildcards")
        #expect(try parse("postgresql://u@db.example.com/events", environment: ["PGPASSFILE": path]).password == "tcp:pw")
        #expect(try parse("postgresql://u@db.example.com/events?passfile=\(path)", environment: ["PGPASSWORD": "env"]).password == "env")
        #expect(try parse("postgresql://u:url@db.example.com/events?passfile=\(path)").password == "url")

        let unmatched = try passfile("elsewhere:5432:*:*:x\n")
        defer { unlink(unmatched) }
        #expect(try parse("postgresql://u@db.example.com/events?passfile=\(unmatched)").password == nil)

        let open = try passfile("*:*:*:*:x\n", mode: 0o644)
        defer { unlink(open) }
        let error = #expect(throws: IdentityRiskError.self) {
            try StoreSpec(parsing: "postgresql://u@h/d?passfile=\(open)", defaultSQLitePath: "/unused", environment: [:])
        }
        #expect(error?.target == "store")
        #expect(error?.message.contains("chmod 600") == true, "\(error?.message ?? "")")
        let missing = #expect(throws: IdentityRiskError.self) {
            try StoreSpec(parsing: "postgresql://u@h/d?passfile=/nonexistent/pgpass", defaultSQLitePath: "/unused", environment: [:])
        }
        #expect(missing?.message.contains("'/nonexistent/pgpass' cannot be read: No such file or directory") == true, "\(missing?.message ?? "")")
    }

    @Test("malformed URLs are invalidArgument for store, naming the part and what is allowed")
    func badForms() {
        let cases: [(String, String)] = [
            ("postgresql://h/d", "the user is missing"),
            ("postgresql://@h/d", "the user is empty"),
            ("postgresql://u@h", "the database is missing"),
            ("postgresql://u@h/", "the database is empty"),
            ("postgresql://u@/d", "the host is empty"),
            ("postgresql://u@h:0/d", "the port '0'"),
            ("postgresql://u@h:54x/d", "the port '54x'"),
            ("postgresql://u@h/d?sslmode=verify", "allowed: disable, prefer, require, verify-ca, verify-full"),
            ("postgresql://u@h/d?sslrootcert=/ca.pem", "verify-ca or verify-full only"),
            ("postgresql://u@h/d?sslmode=verify-ca&sslrootcert=ca.pem", "absolute path"),
            ("postgresql://u@h/d?passfile=pgpass", "absolute path"),
            ("postgresql://u@h/d?connect_timeout=0", "1 ... 600"),
            ("postgresql://u@h/d?pool=0", "allowed: 2 ... 1000"),
            ("postgresql://u@h/d?pool=1", "allowed: 2 ... 1000"),
            ("postgresql://u@h/d?pool=many", "pool='many'"),
            ("postgresql://u@h/d?host=relative", "absolute path"),
            ("postgresql://u@h/d?timeout=3", "allowed: host, sslmode, sslrootcert, passfile, connect_timeout, pool"),
            ("postgresql://u@h/d?pool=2&pool=3", "given twice"),
            ("postgresql://u@h/d?pool", "has no '=VALUE'"),
            ("postgresql://u@h/d%zz", "two hex digits"),
            ("postgresql://u@/d?host=/s&sslmode=require", "Unix socket"),
            ("postgresql://u@h/d#frag", "fragment"),
        ]
        for (text, why) in cases {
            let error = #expect(throws: IdentityRiskError.self, "\(text)") {
                try StoreSpec(parsing: text, defaultSQLitePath: "/unused", environment: [:])
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.target == "store")
            #expect(error?.message.contains(why) == true, "\(text): \(error?.message ?? "")")
            #expect(error?.message.contains(PostgresLocation.urlForm) == true, "shows the form")
        }
        let secret = #expect(throws: IdentityRiskError.self) {
            try StoreSpec(parsing: "postgresql://u:hunter2@h/d?pool=0", defaultSQLitePath: "/unused", environment: [:])
        }
        #expect(secret?.message.contains("hunter2") == false, "a password is never echoed: \(secret?.message ?? "")")
        #expect(secret?.message.contains("u:***@h") == true)
        let scheme = #expect(throws: IdentityRiskError.self) {
            try StoreSpec(parsing: "postgresq://u@h/d", defaultSQLitePath: "/unused", environment: [:])
        }
        #expect(scheme?.message.contains("is not a store this program knows") == true, "another scheme is not a PostgreSQL URL")
    }
}
