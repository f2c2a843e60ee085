public import IdentityRiskCore
import Glibc

/// Where a ``PostgresEventStore`` connects: the parsed `--store` URL.
///
/// ```
/// postgresql://USER[:PASSWORD]@[HOST][:PORT]/DB[?PARAM=VALUE&...]
/// postgres://...                                  (the same)
///
///   host=/socket/dir    connect to the Unix socket DIR/.s.PGSQL.PORT (then HOST may be empty)
///   sslmode=disable|prefer|require|verify-ca|verify-full
///                       (libpq's meaning; default prefer; TCP only: prefer and require
///                       encrypt without checking the certificate, verify-ca checks its
///                       chain, verify-full its chain and that it names HOST)
///   sslrootcert=PATH    the CA certificates (PEM) verify-ca and verify-full trust
///                       (default: the system's roots)
///   passfile=PATH       a libpq password file (default: PGPASSFILE, else ~/.pgpass)
///   connect_timeout=S   seconds a connection (or a wait for a pooled one) may take (1 ... 600,
///                       default 5); past it a call answers unavailable
///   pool=N              most connections this host opens (2 ... 1000, default 10; one
///                       of them LISTENs for the other hosts' changes)
/// ```
///
/// USER, PASSWORD, DB and the parameters are percent-decoded. The password, as
/// libpq looks for it: the URL's, else `PGPASSWORD` from the environment, else
/// the first matching line of the password file (`PostgresPassfile`). The
/// password is never part of ``description``.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        /// The socket file (`DIR/.s.PGSQL.PORT`), and the directory and port it came from.
        case unixSocket(directory: String, port: Int)

        public var socketPath: String? {
            if case .unixSocket(let directory, let port) = self { return "\(directory)/.s.PGSQL.\(port)" }
            return nil
        }
    }

    /// libpq's `sslmode` values this store supports.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable
        case prefer
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// The CA certificates (PEM file) that verify-ca and verify-full trust; nil: the system's.
    public var sslRootCertificate: String?
    /// `connect_timeout`, when the URL gives one (else the store's configuration decides).
    public var connectTimeout: Duration?
    /// Most connections of this host's pool.
    public var poolSize: Int

    public static let defaultPort = 5432
    public static let defaultPoolSize = 10
    public static let poolSizes = 2...1000

    public init(
        endpoint: Endpoint, username: String, password: String? = nil, database: String,
        sslMode: SSLMode = .prefer, poolSize: Int = defaultPoolSize
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.sslMode = sslMode
        self.poolSize = poolSize
    }

    /// The form of the URL, for help and errors.
    public static let urlForm = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?host=/socket/dir&sslmode=disable|prefer|require|verify-ca|verify-full&sslrootcert=PATH&passfile=PATH&connect_timeout=S&pool=N]"

    /// Whether `text` is meant as a PostgreSQL URL (its scheme).
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// Parses a `postgresql://` or `postgres://` URL.
    ///
    /// - Throws: `invalidArgument` (target `store`) naming the part that is
    ///   wrong, what it holds and what is allowed.
    public init(parsing text: String, environment: [String: String]) throws(IdentityRiskError) {
        func invalid(_ why: String) -> IdentityRiskError {
            IdentityRiskError(
                code: .invalidArgument,
                message: "--store '\(Self.redacted(text))': \(why); the form is \(Self.urlForm)",
                target: "store")
        }
        guard let schemeEnd = text.firstRange(of: "://"), ["postgresql", "postgres"].contains(String(text[..<schemeEnd.lowerBound])) else {
            throw invalid("the scheme must be 'postgresql://' or 'postgres://'")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        if let hash = rest.firstIndex(of: "#") {
            throw invalid("a fragment ('\(rest[hash...])') is not allowed")
        }
        var queryText: Substring?
        if let question = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw invalid("the database is missing (a '/DB' after the host)")
        }
        let authority = rest[..<slash]
        let databaseText = rest[rest.index(after: slash)...]
        guard let at = authority.lastIndex(of: "@") else {
            throw invalid("the user is missing (a 'USER@' before the host)")
        }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]

        let userText: Substring
        var password: String?
        if let colon = userInfo.firstIndex(of: ":") {
            userText = userInfo[..<colon]
            password = try Self.decode(userInfo[userInfo.index(after: colon)...], part: "the password", invalid)
        } else {
            userText = userInfo
        }
        let username = try Self.decode(userText, part: "the user", invalid)
        guard !username.isEmpty else { throw invalid("the user is empty") }

        let database = try Self.decode(databaseText, part: "the database", invalid)
        guard !database.isEmpty else { throw invalid("the database is empty (a '/DB' after the host)") }
        guard !database.contains("/") else { throw invalid("the database '\(database)' contains '/'") }

        var host: String
        var port: Int?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid("the IPv6 host '\(hostPort)' lacks its ']'") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("after the IPv6 host comes ':PORT' or nothing, not '\(after)'") }
                port = try Self.port(after.dropFirst(), invalid)
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            port = try Self.port(hostPort[hostPort.index(after: colon)...], invalid)
        } else {
            host = String(hostPort)
        }
        host = try Self.decode(Substring(host), part: "the host", invalid)

        var socketDirectory: String?
        var sslMode = SSLMode.prefer
        var poolSize = Self.defaultPoolSize
        var sslRootCertificate: String?
        var passfile: String?
        var connectTimeout: Duration?
        var seen: Set<String> = []
        for pair in (queryText ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "=") else { throw invalid("the parameter '\(pair)' has no '=VALUE'") }
            let name = String(pair[..<equals])
            let value = try Self.decode(pair[pair.index(after: equals)...], part: "the parameter \(name)", invalid)
            guard seen.insert(name).inserted else { throw invalid("the parameter '\(name)' is given twice") }
            switch name {
            case "host":
                guard value.hasPrefix("/") else {
                    throw invalid("host='\(value)' must be the absolute path of the directory of the server's Unix socket (a TCP host goes before the port: '@HOST:PORT')")
                }
                socketDirectory = value.count > 1 && value.hasSuffix("/") ? String(value.dropLast()) : value
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw invalid("sslmode='\(value)' is not supported; allowed: \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "pool":
                guard let size = Int(value), Self.poolSizes.contains(size) else {
                    throw invalid("pool='\(value)' is not a pool size; allowed: \(Self.poolSizes.lowerBound) ... \(Self.poolSizes.upperBound)")
                }
                poolSize = size
            case "sslrootcert":
                guard value.hasPrefix("/") else { throw invalid("sslrootcert='\(value)' must be an absolute path") }
                sslRootCertificate = value
            case "passfile":
                guard value.hasPrefix("/") else { throw invalid("passfile='\(value)' must be an absolute path") }
                passfile = value
            case "connect_timeout":
                guard let seconds = Int(value), (1...600).contains(seconds) else {
                    throw invalid("connect_timeout='\(value)' is not a number of seconds in 1 ... 600")
                }
                connectTimeout = .seconds(seconds)
            default:
                throw invalid("the parameter '\(name)' is not known; allowed: host, sslmode, sslrootcert, passfile, connect_timeout, pool")
            }
        }
        let endpoint: Endpoint
        if let socketDirectory {
            endpoint = .unixSocket(directory: socketDirectory, port: port ?? Self.defaultPort)
            if sslMode == .require || sslMode == .verifyCA || sslMode == .verifyFull {
                throw invalid("sslmode=\(sslMode.rawValue) cannot be met on a Unix socket (host=\(socketDirectory)); use TCP or sslmode=disable|prefer")
            }
        } else {
            guard !host.isEmpty else { throw invalid("the host is empty: give '@HOST[:PORT]' or '?host=/socket/dir'") }
            endpoint = .tcp(host: host, port: port ?? Self.defaultPort)
        }
        if sslRootCertificate != nil, sslMode != .verifyCA, sslMode != .verifyFull {
            throw invalid("sslrootcert is used by sslmode=verify-ca or verify-full only, not sslmode=\(sslMode.rawValue)")
        }
        if password == nil, let fromEnvironment = environment["PGPASSWORD"], !fromEnvironment.isEmpty {
            password = fromEnvironment
        }
        if password == nil {
            let named = passfile ?? environment["PGPASSFILE"].flatMap { $0.isEmpty ? nil : $0 }
            let defaultFile = environment["HOME"].map { $0 + "/.pgpass" }
            if let path = named {
                password = try PostgresPassfile.password(at: path, endpoint: endpoint, database: database, username: username)
            } else if let path = defaultFile, access(path, F_OK) == 0 {
                password = try PostgresPassfile.password(at: path, endpoint: endpoint, database: database, username: username)
            }
        }
        self.init(endpoint: endpoint, username: username, password: password, database: database, sslMode: sslMode, poolSize: poolSize)
        self.sslRootCertificate = sslRootCertificate
        self.connectTimeout = connectTimeout
    }

    private static func port(_ text: Substring, _ invalid: (String) -> IdentityRiskError) throws(IdentityRiskError) -> Int {
        guard let port = Int(text), (1...65535).contains(port), text.allSatisfy(\.isASCII) else {
            throw invalid("the port '\(text)' is not a number in 1 ... 65535")
        }
        return port
    }

    /// Percent-decoding of one part of the URL.
    private static func decode(_ text: Substring, part: String, _ invalid: (String) -> IdentityRiskError) throws(IdentityRiskError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else {
                    throw invalid("\(part) has a '%' that is not followed by two hex digits")
                }
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw invalid("\(part) is not UTF-8 once percent-decoded")
        }
        return decoded
    }

    /// `text` with the password of its user info replaced by `***`, for messages.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://") else { return text }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return text }
        return String(text[..<rest.index(after: colon)]) + "***" + String(text[at...])
    }

    /// The URL without the password (`***` when there is one): what is logged and reported.
    public var description: String {
        var text = "postgresql://\(username)\(password == nil ? "" : ":***")@"
        var parameters: [String] = []
        switch endpoint {
        case .tcp(let host, let port):
            text += host.contains(":") ? "[\(host)]" : host
            if port != Self.defaultPort { text += ":\(port)" }
        case .unixSocket(let directory, let port):
            if port != Self.defaultPort { text += ":\(port)" }
            parameters.append("host=\(directory)")
        }
        text += "/\(database)"
        if sslMode != .prefer, endpoint.socketPath == nil { parameters.append("sslmode=\(sslMode.rawValue)") }
        if let sslRootCertificate { parameters.append("sslrootcert=\(sslRootCertificate)") }
        if let connectTimeout { parameters.append("connect_timeout=\(connectTimeout.components.seconds)") }
        if poolSize != Self.defaultPoolSize { parameters.append("pool=\(poolSize)") }
        return parameters.isEmpty ? text : text + "?" + parameters.joined(separator: "&")
    }

    /// The server it tries, for errors: `host:port` or the socket file.
    public var serverDescription: String {
        switch endpoint {
        case .tcp(let host, let port): "\(host.contains(":") ? "[\(host)]" : host):\(port) (database \(database), user \(username))"
        case .unixSocket: "\(endpoint.socketPath ?? "") (database \(database), user \(username))"
        }
    }
}
