import Foundation
public import IdentityRiskCore
public import Logging

/// Which ``EventStore`` to open: the value of `--store` for iriskd and
/// irisk-bench, parsed in this one place.
///
/// Accepted forms:
/// - `memory`: ``MemoryEventStore``, not durable;
/// - `sqlite`: ``SQLiteEventStore`` at the program's default path;
/// - `sqlite:PATH`: ``SQLiteEventStore`` at `PATH` (not empty);
/// - `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB?...` (or `postgres://`):
///   ``PostgresEventStore`` (see ``PostgresLocation`` for the parameters).
public struct StoreSpec: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case memory
        case sqlite(path: String)
        case postgres(PostgresLocation)
    }

    public var kind: Kind

    public init(kind: Kind) {
        self.kind = kind
    }

    /// What `--store` help and errors list.
    public static let acceptedForms = "'memory' (not durable: lost on exit), 'sqlite' (the default path), 'sqlite:PATH' or '\(PostgresLocation.urlForm)'"

    /// Parses `text`; plain `sqlite` means `defaultSQLitePath`. A PostgreSQL
    /// URL without a password takes `PGPASSWORD` from `environment` (`nil`:
    /// this process's environment).
    ///
    /// - Throws: `invalidArgument` with target `store`, naming the accepted forms
    ///   (for a malformed PostgreSQL URL: the part that is wrong and what is allowed).
    public init(
        parsing text: String, defaultSQLitePath: String, environment: [String: String]? = nil
    ) throws(IdentityRiskError) {
        let prefix = "sqlite:"
        if PostgresLocation.isURL(text) {
            kind = .postgres(try PostgresLocation(parsing: text, environment: environment ?? ProcessInfo.processInfo.environment))
        } else if text == "memory" {
            kind = .memory
        } else if text == "sqlite" {
            kind = .sqlite(path: defaultSQLitePath)
        } else if text.hasPrefix(prefix), text.utf8.count > prefix.utf8.count {
            kind = .sqlite(path: String(text.dropFirst(prefix.count)))
        } else {
            let why = text.hasPrefix(prefix) ? "has an empty path" : "is not a store this program knows"
            throw IdentityRiskError(
                code: .invalidArgument,
                message: "--store '\(text)' \(why); use \(Self.acceptedForms)",
                target: "store")
        }
    }

    /// Whether an acknowledged write survives the process (and the machine's crash).
    public var isDurable: Bool {
        switch kind {
        case .memory: false
        case .sqlite, .postgres: true
        }
    }

    /// The form it was parsed from, with the path spelled out: `memory`, `sqlite:PATH`.
    public var description: String {
        switch kind {
        case .memory: "memory"
        case .sqlite(let path): "sqlite:" + path
        case .postgres(let location): location.description
        }
    }

    /// Opens the store. Put the result in the `ServiceGroup` (before the
    /// server): its `run()` keeps it open until graceful shutdown. A memory
    /// store is announced with a warning that it is not durable; an SQLite
    /// store logs its own opening (path, schema, durability settings).
    ///
    /// - Throws: what the store's initialiser throws, e.g. `unavailable` naming
    ///   the path when an SQLite file cannot be opened.
    /// `changeRetention`: how much of the change log to keep (`nil`: the store's default).
    public func open(
        logger: Logger, sqliteConfiguration: SQLiteEventStore.Configuration = .init(),
        postgresConfiguration: PostgresEventStore.Configuration = .init(), changeRetention: ChangeRetention? = nil,
        maxBatchSize: Int? = nil
    ) throws(IdentityRiskError) -> any EventStore {
        switch kind {
        case .memory:
            logger.warning("store: memory. NOT DURABLE: every record is lost when the process exits")
            return MemoryEventStore(changeRetention: changeRetention ?? MemoryEventStore.defaultChangeRetention)
        case .sqlite(let path):
            var configuration = sqliteConfiguration
            if let changeRetention { configuration.changeRetention = changeRetention }
            if let maxBatchSize { configuration.maxBatchSize = maxBatchSize }
            return try SQLiteEventStore(path: path, configuration: configuration, logger: logger)
        case .postgres(let location):
            var configuration = postgresConfiguration
            if let changeRetention { configuration.changeRetention = changeRetention }
            if let maxBatchSize { configuration.maxBatchSize = maxBatchSize }
            return try PostgresEventStore(location: location, configuration: configuration, logger: logger)
        }
    }
}
