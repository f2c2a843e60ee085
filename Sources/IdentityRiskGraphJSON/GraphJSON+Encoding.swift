public import IdentityRiskCore

extension GraphJSON {
    /// The record as Graph prints it: `@odata.type`, `@odata.etag` (its version,
    /// `W/"3"`), then every ``EventProperty`` in Graph's order, absent optional
    /// properties as `null`.
    public static func encode(_ event: IdentityRiskEvent, indent: String = "", pretty: Bool = true) -> String {
        var fields: [(String, JSONValue)] = [(odataTypeKey, .string(odataType)), (odataETagKey, .string(event.etag))]
        for property in EventProperty.allCases {
            fields.append((property.graphName, JSONValue(event[property])))
        }
        return JSONValue.object(fields).render(pretty: pretty, indent: indent)
    }

    /// A draft as a Graph request body (what `irisk create` would send):
    /// `@odata.type`, then the properties it gives, in Graph's order.
    public static func encode(_ draft: IdentityRiskEventDraft, pretty: Bool = false) -> String {
        var fields: [(String, JSONValue)] = [(odataTypeKey, .string(odataType))]
        for property in EventProperty.allCases {
            if let value = draft[property] { fields.append((property.graphName, JSONValue(value))) }
        }
        return JSONValue.object(fields).render(pretty: pretty, indent: "")
    }

    /// A list page: `{"@odata.context", "value": [...], "@odata.nextLink"}`.
    /// The next link (``nextLink(token:request:)``) continues `request`, the
    /// request this page answered (`irisk list --next LINK`).
    public static func encode(_ page: ListEvents.Response, continuing request: ListEvents.Request = ListEvents.Request()) -> String {
        var text = "{\n  \"@odata.context\": \"$metadata#identityRiskEvents\",\n  \"value\": ["
        for (i, event) in page.events.enumerated() {
            text += (i == 0 ? "\n    " : ",\n    ") + encode(event, indent: "    ")
        }
        text += page.events.isEmpty ? "]" : "\n  ]"
        if !page.nextPageToken.isEmpty {
            text += ",\n  \"@odata.nextLink\": " + JSONValue.string(nextLink(token: page.nextPageToken, request: request)).render(pretty: false, indent: "")
        }
        text += ",\n  \"\(cursorKey)\": " + JSONValue.string(page.cursor.description).render(pretty: false, indent: "")
        return text + "\n}"
    }

    /// The annotation that carries a list page's change-log cursor (`irisk watch --from`).
    public static let cursorKey = "@identityRisk.cursor"

    /// One watch message as one NDJSON line: `{"cursor", "kind", "event"}`
    /// (the cursor as a string: it is opaque and may exceed 2^53); a bookmark has no event.
    public static func encode(_ message: WatchChanges.Message) -> String {
        switch message {
        case .change(let change):
            "{\"cursor\":\"\(change.cursor)\",\"kind\":\"\(change.kind.rawValue)\",\"event\":\(encode(change.event, pretty: false))}"
        case .bookmark(let cursor):
            "{\"cursor\":\"\(cursor)\",\"kind\":\"bookmark\"}"
        }
    }

    /// Graph's error shape: `{"error": {"code", "message", "target", "details", "innerError"}}`.
    public static func encode(_ error: IdentityRiskError, pretty: Bool = true) -> String {
        var fields: [(String, JSONValue)] = [
            ("code", .string(error.code.graphCode)),
            ("message", .string(error.message)),
        ]
        if let target = error.target { fields.append(("target", .string(target))) }
        if !error.violations.isEmpty {
            fields.append(("details", .array(error.violations.map { v in
                .object([
                    ("code", .string(v.innerCode ?? "invalidValue")),
                    ("message", .string(v.description)),
                    ("target", .string(v.field)),
                ])
            })))
        }
        var inner: [(String, JSONValue)] = []
        if let code = error.innerCode { inner.append(("code", .string(code))) }
        inner.append(("httpStatus", .number(error.code.httpStatus)))
        if let retry = error.retryAfterMilliseconds {
            inner.append(("retryAfterSeconds", .number((Int(retry) + 999) / 1000)))
        }
        if let cursor = error.resumeCursor { inner.append(("resumeCursor", .string(cursor.description))) }
        fields.append(("innerError", .object(inner)))
        return JSONValue.object([("error", .object(fields))]).render(pretty: pretty, indent: "")
    }
}

/// Just enough JSON to print in a fixed key order.
enum JSONValue {
    case string(String)
    case number(Int)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// A property value as Graph writes it: every kind is a JSON string; `nil` is `null`.
    init(_ value: PropertyValue?) {
        switch value {
        case nil: self = .null
        case .text(let text)?: self = .string(text)
        case .dateTime(let date)?: self = .string(date.description)
        case .riskLevel(let level)?: self = .string(level.rawValue)
        case .riskEventStatus(let status)?: self = .string(status.rawValue)
        }
    }

    func render(pretty: Bool, indent: String) -> String {
        let step = pretty ? "  " : ""
        let newline = pretty ? "\n" : ""
        let colon = pretty ? ": " : ":"
        switch self {
        case .string(let s): return Self.quote(s)
        case .number(let n): return String(n)
        case .null: return "null"
        case .array(let items):
            if items.isEmpty { return "[]" }
            let inner = indent + step
            return "[" + newline + items.map { inner + $0.render(pretty: pretty, indent: inner) }.joined(separator: "," + newline)
                + newline + indent + "]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            let inner = indent + step
            return "{" + newline
                + fields.map { inner + Self.quote($0.0) + colon + $0.1.render(pretty: pretty, indent: inner) }.joined(separator: "," + newline)
                + newline + indent + "}"
        }
    }

    static func quote(_ s: String) -> String { JSONString.quoted(s) }
}
