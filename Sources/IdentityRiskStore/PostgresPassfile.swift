import Foundation
import IdentityRiskCore

/// A libpq password file (`~/.pgpass`, `PGPASSFILE` or the URL's `passfile=`):
/// lines of `hostname:port:database:username:password`, where a field may be
/// `*` (any) and `\:` / `\\` escape a colon and a backslash; `#` starts a
/// comment line. The first line that matches wins. As libpq does, a file that
/// its group or others can read is not used (an error names it and the fix).
///
/// A Unix-socket connection matches a hostname of `localhost` or of the
/// socket's directory.
enum PostgresPassfile {
    /// The password for `endpoint`, `database` and `username` in the file at
    /// `path`, or nil when no line matches.
    ///
    /// - Throws: `invalidArgument` (target `store`) when the file cannot be
    ///   read or is readable by others.
    static func password(
        at path: String, endpoint: PostgresLocation.Endpoint, database: String, username: String
    ) throws(IdentityRiskError) -> String? {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw problem("the password file '\(path)' cannot be read: \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw problem("the password file '\(path)' is not a regular file")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw problem(
                "the password file '\(path)' can be read by its group or others (mode \(String(status.st_mode & 0o777, radix: 8))); "
                + "make it the owner's only: chmod 600 '\(path)'")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw problem("the password file '\(path)' cannot be read as UTF-8 text")
        }
        let hosts: [String]
        let port: Int
        switch endpoint {
        case .tcp(let host, let tcpPort): (hosts, port) = ([host], tcpPort)
        case .unixSocket(let directory, let socketPort): (hosts, port) = (["localhost", directory], socketPort)
        }
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = fields(of: line)
            guard fields.count == 5 else { continue }
            func matches(_ field: String, _ values: [String]) -> Bool { field == "*" || values.contains(field) }
            if matches(fields[0], hosts), matches(fields[1], [String(port)]), matches(fields[2], [database]), matches(fields[3], [username]) {
                return fields[4]
            }
        }
        return nil
    }

    /// The colon-separated fields of one line, with `\:` and `\\` unescaped.
    static func fields(of line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":", fields.count < 4 {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }

    private static func problem(_ message: String) -> IdentityRiskError {
        IdentityRiskError(code: .invalidArgument, message: "--store: \(message)", target: "store")
    }
}
