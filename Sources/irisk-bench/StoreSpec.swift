import IdentityRiskStore

/// `--store` is parsed by `IdentityRiskStore.StoreSpec`, as for iriskd; here
/// `sqlite` alone means a scratch file in the run's temporary directory
/// (deleted after the run), `sqlite:PATH` a file that is kept.
extension StoreSpec {
    init(benchArgument text: String, scratch: TemporaryDirectory?) throws {
        try self.init(parsing: text, defaultSQLitePath: (scratch?.path ?? "/tmp") + "/events.sqlite")
    }

    /// The database path, for SQLite stores.
    var databasePath: String? {
        switch kind {
        case .memory, .postgres: nil
        case .sqlite(let path): path
        }
    }

    /// The directory the database lives in (for the fsync probe).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
