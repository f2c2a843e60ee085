public import IdentityRiskCore

extension GraphJSON {
    /// The record as Graph prints it, properties in Graph's order.
    public static func encode(_ event: IdentityRiskEvent, indent: String = "", pretty: Bool = true) -> String {
        let fields: [(String, JSONValue)] = [
            ("@odata.type", .string(odataType)),
            ("id", .string(event.id)),
            ("userDisplayName", event.userDisplayName.map(JSONValue.string) ?? .null),
            ("userPrincipalName", .string(event.userPrincipalName)),
            ("riskEventDateTime", .string(event.riskEventDateTime.description)),
            ("riskEventType", .string(event.riskEventType)),
            ("riskLevel", .string(event.riskLevel.rawValue)),
            ("riskEventStatus", .string(event.riskEventStatus.rawValue)),
            ("closedDateTime", event.closedDateTime.map { .string($0.description) } ?? .null),
            ("createdDateTime", .string(event.createdDateTime.description)),
            ("userId", .string(event.userId)),
        ]
        return JSONValue.object(fields).render(pretty: pretty, indent: indent)
    }

    /// A draft as a Graph request body (what `irisk create` would send).
    public static func encode(_ draft: IdentityRiskEventDraft, pretty: Bool = false) -> String {
        var fields: [(String, JSONValue)] = [("@odata.type", .string(odataType))]
        func add(_ name: String, _ value: String?) { if let value { fields.append((name, .string(value))) } }
        add("id", draft.id)
        add("userDisplayName", draft.userDisplayName)
        add("userPrincipalName", draft.userPrincipalName)
        add("riskEventDateTime", draft.riskEventDateTime?.description)
        add("riskEventType", draft.riskEventType)
        add("riskLevel", draft.riskLevel?.rawValue)
        add("riskEventStatus", draft.riskEventStatus?.rawValue)
        add("closedDateTime", draft.closedDateTime?.description)
        add("userId", draft.userId)
        return JSONValue.object(fields).render(pretty: pretty, indent: "")
    }

    /// A list page: `{"@odata.context", "value": [...], "@odata.nextLink"}`.
    /// The next link is the opaque page token (`irisk list --page-token`).
    public static func encode(_ page: ListEvents.Response) -> String {
        var text = "{\n  \"@odata.context\": \"$metadata#identityRiskEvents\",\n  \"value\": ["
        for (i, event) in page.events.enumerated() {
            text += (i == 0 ? "\n    " : ",\n    ") + encode(event, indent: "    ")
        }
        text += page.events.isEmpty ? "]" : "\n  ]"
        if !page.nextPageToken.isEmpty {
            text += ",\n  \"@odata.nextLink\": " + JSONValue.string(page.nextPageToken).render(pretty: false, indent: "")
        }
        return text + "\n}"
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

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
