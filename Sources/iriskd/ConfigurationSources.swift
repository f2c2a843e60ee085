import Foundation

/// Where iriskd's settings come from besides its flags, lowest precedence first:
/// a configuration file (`--config FILE`, or `IRISKD_CONFIG`), then environment
/// variables (`IRISKD_STORE=…` for `--store`, `IRISKD_MAX_STREAMS=…` for
/// `--max-streams`, …), then the command line. They become flags placed before
/// the command line's, and the last occurrence of a flag wins, so the command
/// line overrides the environment, which overrides the file.
///
/// The file has one setting per line, `name = value` (or `name value`), named as
/// the long flag without its dashes; `#` starts a comment; a repeatable flag
/// (`grant`, `allow-uid`, `allow-gid`) may appear on several lines.
enum ConfigurationSources {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// The arguments to parse, and where each flag's occurrences came from.
    struct Resolved {
        /// The file's, then the environment's, then the command line's.
        var arguments: [String]
        /// For each long flag given anywhere (name without --), one origin per
        /// occurrence in ``arguments`` order: `config file PATH:LINE`,
        /// `environment IRISKD_X` or `flag` (the last one is the value in effect,
        /// except for repeatable flags, which collect every occurrence).
        var origins: [String: [String]]
        /// The configuration file read, and what named it.
        var configFile: (path: String, namedBy: String)?
    }

    /// The arguments to parse: the file's, the environment's, then `commandLine`'s.
    static func arguments(commandLine: [String], environment: [String: String], knownFlags: Set<String>) throws -> [String] {
        try resolve(commandLine: commandLine, environment: environment, knownFlags: knownFlags).arguments
    }

    static func resolve(commandLine: [String], environment: [String: String], knownFlags: Set<String>) throws -> Resolved {
        var path = environment["IRISKD_CONFIG"]
        var namedBy = "IRISKD_CONFIG"
        var rest: [String] = []
        var index = 0
        while index < commandLine.count {
            let argument = commandLine[index]
            if argument == "--config" {
                guard index + 1 < commandLine.count else { throw Problem(description: "--config needs a file path") }
                path = commandLine[index + 1]
                namedBy = "--config"
                index += 2
                continue
            }
            if argument.hasPrefix("--config=") {
                path = String(argument.dropFirst("--config=".count))
                namedBy = "--config"
                index += 1
                continue
            }
            rest.append(argument)
            index += 1
        }
        var arguments: [String] = []
        var origins: [String: [String]] = [:]
        if let path {
            for setting in try fileSettings(path, knownFlags: knownFlags) {
                arguments += ["--" + setting.name, setting.value]
                origins[setting.name, default: []].append("config file \(path):\(setting.line)")
            }
        }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("IRISKD_") && name != "IRISKD_CONFIG" {
            let flag = name.dropFirst("IRISKD_".count).lowercased().replacingOccurrences(of: "_", with: "-")
            guard knownFlags.contains(flag) else {
                throw Problem(description: "environment variable \(name): iriskd has no --\(flag) (see iriskd --help)")
            }
            arguments += ["--" + flag, value]
            origins[flag, default: []].append("environment \(name)")
        }
        for argument in rest where argument.hasPrefix("--") {
            let name = String(argument.dropFirst(2).prefix { $0 != "=" })
            if knownFlags.contains(name) { origins[name, default: []].append("flag") }
        }
        return Resolved(arguments: arguments + rest, origins: origins, configFile: path.map { ($0, namedBy) })
    }

    static func fileArguments(_ path: String, knownFlags: Set<String>) throws -> [String] {
        try fileSettings(path, knownFlags: knownFlags).flatMap { ["--" + $0.name, $0.value] }
    }

    /// The file's settings in order, with their line numbers.
    static func fileSettings(_ path: String, knownFlags: Set<String>) throws -> [(name: String, value: String, line: Int)] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Problem(description: "cannot read the configuration file \(path)")
        }
        var settings: [(name: String, value: String, line: Int)] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            line = line.drop { $0 == " " || $0 == "\t" }
            while let last = line.last, last == " " || last == "\t" || last == "\r" { line = line.dropLast() }
            if line.isEmpty { continue }
            let name: Substring
            var value: Substring
            if let equals = line.firstIndex(of: "=") {
                name = line[..<equals]
                value = line[line.index(after: equals)...]
            } else if let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) {
                name = line[..<space]
                value = line[space...]
            } else {
                throw Problem(description: "\(path):\(number + 1): '\(line)' has no value; write name = value")
            }
            let key = String(name).trimmingCharacters(in: .whitespaces)
            value = value.drop { $0 == " " || $0 == "\t" }
            guard knownFlags.contains(key) else {
                throw Problem(description: "\(path):\(number + 1): iriskd has no setting '\(key)' (the names are iriskd's long flags without --, e.g. store, max-streams)")
            }
            settings.append((key, String(value), number + 1))
        }
        return settings
    }
}
