import Foundation
public import IdentityRiskCore

/// Microsoft Graph JSON for identityRiskEvent: the request body of
/// `POST /identityRiskEvents`, the record as Graph prints it, Graph's error
/// shape, and NDJSON lines for bulk import.
public enum GraphJSON {
    public static let odataType = "#microsoft.graph.identityRiskEvent"

    /// The properties a request body may carry.
    public static let propertyNames = [
        "id", "userDisplayName", "userPrincipalName", "riskEventDateTime", "riskEventType",
        "riskLevel", "riskEventStatus", "closedDateTime", "createdDateTime", "userId",
    ]

    /// Decodes a Graph JSON body. Malformed JSON or a non-object throws
    /// `invalidArgument`; problems with single properties become the draft's
    /// `decodingViolations`, so validation reports them all together.
    public static func decodeDraft(_ data: some Collection<UInt8>) throws(IdentityRiskError) -> IdentityRiskEventDraft {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(data), options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw IdentityRiskError(code: .invalidArgument, message: "the body is not valid JSON: \(detail)", innerCode: "MalformedJSON")
        }
        guard let body = object as? [String: Any] else {
            throw IdentityRiskError(code: .invalidArgument, message: "the body must be a JSON object (an identityRiskEvent)", innerCode: "MalformedJSON")
        }
        return decodeDraft(body)
    }

    /// A draft from property values given as text (CLI flags); same checks and
    /// messages as a JSON body.
    public static func decodeDraft(properties: [String: String]) -> IdentityRiskEventDraft {
        decodeDraft(properties as [String: Any])
    }

    static func decodeDraft(_ body: [String: Any]) -> IdentityRiskEventDraft {
        var draft = IdentityRiskEventDraft()
        func violation(_ field: String, _ description: String, _ inner: String? = nil) {
            draft.decodingViolations.append(FieldViolation(field: field, description: description, innerCode: inner))
        }
        func string(_ field: String) -> String? {
            guard let value = body[field], !(value is NSNull) else { return nil }
            guard let text = value as? String else {
                violation(field, "must be a JSON string, got \(jsonKind(value))")
                return nil
            }
            return text
        }
        func date(_ field: String) -> DateTimeOffset? {
            guard let text = string(field) else { return nil }
            do {
                return try DateTimeOffset(parsing: text)
            } catch {
                violation(field, "'\(text)' is not a valid DateTimeOffset: \(error)")
                return nil
            }
        }
        for key in body.keys.sorted() where key != "@odata.type" && !propertyNames.contains(key) {
            violation(key, "is not a property of identityRiskEvent; allowed: \(propertyNames.joined(separator: ", "))")
        }
        if let type = body["@odata.type"] {
            let text = type as? String
            if text != odataType, text != String(odataType.dropFirst()) {
                violation("@odata.type", "must be \"\(odataType)\" when present")
            }
        }
        draft.id = string("id")
        draft.userDisplayName = string("userDisplayName")
        draft.userPrincipalName = string("userPrincipalName")
        draft.riskEventDateTime = date("riskEventDateTime")
        draft.riskEventType = string("riskEventType")
        if let text = string("riskLevel") {
            if let level = RiskLevel(rawValue: text) {
                draft.riskLevel = level
            } else {
                violation("riskLevel", "'\(text)' is not a riskLevel; allowed values: \(RiskLevel.allowedValues)")
            }
        }
        if let text = string("riskEventStatus") {
            if let status = RiskEventStatus(rawValue: text) {
                draft.riskEventStatus = status
            } else {
                violation("riskEventStatus", "'\(text)' is not a riskEventStatus; allowed values: \(RiskEventStatus.allowedValues)")
            }
        }
        draft.closedDateTime = date("closedDateTime")
        if let value = body["createdDateTime"], !(value is NSNull) {
            if let text = value as? String, let created = try? DateTimeOffset(parsing: text) {
                draft.createdDateTime = created
            } else {
                violation("createdDateTime", "is read-only and set by the server when the event is created; omit it", "ReadOnlyProperty")
            }
        }
        draft.userId = string("userId")
        return draft
    }

    static func jsonKind(_ value: Any) -> String {
        switch value {
        case is [Any]: "an array"
        case is [String: Any]: "an object"
        case is NSNumber: "a number or boolean"
        default: "another type"
        }
    }
}
