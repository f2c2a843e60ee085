/// `--store`: `memory`, `sqlite` (a scratch file, deleted after the run) or `sqlite:PATH` (kept).
enum StoreSpec: Sendable, CustomStringConvertible {
    case memory
    case sqlite(path: String?)

    init?(_ text: String) {
        if text == "memory" {
            self = .memory
        } else if text == "sqlite" {
            self = .sqlite(path: nil)
        } else if text.hasPrefix("sqlite:"), text.count > 7 {
            self = .sqlite(path: String(text.dropFirst(7)))
        } else {
            return nil
        }
    }

    var description: String {
        switch self {
        case .memory: "memory"
        case .sqlite(let path): "sqlite:" + (path ?? "(scratch file)")
        }
    }

    /// The database path, with a scratch file in `scratch` when none was given.
    func databasePath(scratch: TemporaryDirectory) -> String? {
        switch self {
        case .memory: nil
        case .sqlite(let path): path ?? scratch.path + "/events.sqlite"
        }
    }

    /// The directory the database lives in (for the fsync probe).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
