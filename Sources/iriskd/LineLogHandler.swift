#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskGraphJSON
import Logging
import Synchronization

/// iriskd's log lines on stderr, one line per event, for people and for
/// `grep`/log shippers alike. `--log-format logfmt` (the default):
///
/// ```
/// 2026-12-02T03:27:13.123Z info iriskd: listening pid=812 socket=/run/identityrisk/iriskd.sock store=sqlite version=0.3.0
/// 2026-12-02T03:27:14.004Z debug iriskd: call call=7 method=create ms=1.84 peer="pid=12 uid=0 gid=0" status=ok
/// ```
///
/// `--log-format json`: one JSON object per line, with `ts`, `level`,
/// `label`, `msg` and the metadata as fields (a metadata key that collides
/// with one of those four is written as `meta.KEY`):
///
/// ```
/// {"ts":"2026-12-02T03:27:14.004Z","level":"debug","label":"iriskd","msg":"call","call":"7","method":"create",...}
/// ```
///
/// UTC timestamps to the millisecond (RFC 3339); metadata sorted by key; a
/// logfmt value with a space, a quote, `=`, `\` or a control character is
/// quoted and escaped as a JSON string (``JSONString``). Each line is written
/// with one `write(2)`, so lines of concurrent tasks never mix.
struct LineLogHandler: LogHandler {
    enum Format: String, CaseIterable {
        case logfmt, json
    }

    let label: String
    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, level: Logger.Level, format: Format = .logfmt) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        emit(level: event.level, message: event.message, metadata: event.metadata, error: event.error)
    }

    private func emit(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, error: (any Error)?) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let explicit { all.merge(explicit) { $1 } }
        if let error { all["error"] = "\(error)" }
        var text = switch format {
        case .logfmt: Self.logfmtLine(timestamp: Self.timestamp(), level: level, label: label, message: message.description, metadata: all)
        case .json: Self.jsonLine(timestamp: Self.timestamp(), level: level, label: label, message: message.description, metadata: all)
        }
        text += "\n"
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 {
                    if written < 0, errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    static func logfmtLine(timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var text = timestamp + " " + level.rawValue + " " + label + ": " + message
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            text += " " + key + "=" + quoted("\(value)")
        }
        return text
    }

    static let reservedJSONKeys: Set<String> = ["ts", "level", "label", "msg"]

    static func jsonLine(timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var text = "{\"ts\":" + JSONString.quoted(timestamp) + ",\"level\":" + JSONString.quoted(level.rawValue)
            + ",\"label\":" + JSONString.quoted(label) + ",\"msg\":" + JSONString.quoted(message)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            let name = reservedJSONKeys.contains(key) ? "meta." + key : key
            text += "," + JSONString.quoted(name) + ":" + json(value)
        }
        return text + "}"
    }

    /// A metadata value as JSON: strings as strings, arrays and dictionaries as such.
    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): JSONString.quoted(text)
        case .stringConvertible(let convertible): JSONString.quoted(convertible.description)
        case .array(let items): "[" + items.map(json).joined(separator: ",") + "]"
        case .dictionary(let fields):
            "{" + fields.sorted { $0.key < $1.key }.map { JSONString.quoted($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }

    /// `value` as is, or quoted and escaped when it would not read back as one token.
    static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar != "\"" && scalar != "=" && scalar != "\\" && scalar.value != 0x7F
        }
        return plain ? value : JSONString.quoted(value)
    }

    /// Now, as `YYYY-MM-DDThh:mm:ss.mmmZ`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(now.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
