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
            ("postgresql://u@h/d?sslmode=verify-ca", "allowed: disable, prefer, require, verify-full"),
            ("postgresql://u@h/d?pool=0", "allowed: 1 ... 1000"),
            ("postgresql://u@h/d?pool=many", "pool='many'"),
            ("postgresql://u@h/d?host=relative", "absolute path"),
            ("postgresql://u@h/d?timeout=3", "allowed: host, sslmode, pool"),
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
