import Foundation
public import IdentityRiskCore

/// Microsoft Graph JSON for identityRiskEvent: the request bodies of
/// `POST /identityRiskEvents` and `PATCH /identityRiskEvents/{id}`, the record
/// as Graph prints it, Graph's error shape, and NDJSON lines for bulk import.
///
/// Every property-by-property step iterates ``EventProperty/allCases`` and
/// switches over the property's ``EventProperty/Kind``, so the JSON always
/// carries exactly the properties of the one table, in its order.
public enum GraphJSON {
    public static let odataType = "#microsoft.graph.identityRiskEvent"
    /// The key of the OData type annotation; optional in request bodies.
    public static let odataTypeKey = "@odata.type"
    /// The key of the record's version, printed as ``ETag`` (`W/"3"`); in a
    /// PATCH body it is the version the change is conditional on.
    public static let odataETagKey = "@odata.etag"

    /// The properties a request body may carry, in Graph's order.
    public static let propertyNames = EventProperty.allCases.map(\.graphName)

    // MARK: - Create bodies

    /// Decodes a Graph JSON body. Malformed JSON or a non-object throws
    /// `invalidArgument`; problems with single properties become the draft's
    /// `decodingViolations`, so validation reports them all together.
    public static func decodeDraft(_ data: some Collection<UInt8>) throws(IdentityRiskError) -> IdentityRiskEventDraft {
        decodeDraft(try object(data, "an identityRiskEvent"))
    }

    /// A draft from property values given as text (CLI flags); same checks and
    /// messages as a JSON body.
    public static func decodeDraft(properties: [String: String]) -> IdentityRiskEventDraft {
        decodeDraft(properties as [String: Any])
    }

    /// A JSON `null` is the same as an absent property. `createdDateTime` is
    /// refused as read-only whatever its value: a well-formed one is left to
    /// ``EventValidator`` (which refuses it with the same text), any other is
    /// refused here rather than as a malformed datetime.
    static func decodeDraft(_ body: [String: Any]) -> IdentityRiskEventDraft {
        var draft = IdentityRiskEventDraft()
        draft.decodingViolations = annotationViolations(body, extraKeys: [])
        for property in EventProperty.allCases {
            guard let json = body[property.graphName], !(json is NSNull) else { continue }
            switch value(of: property, json) {
            case .value(let value):
                draft[property] = value
            case .refused(let violation):
                draft.decodingViolations.append(property.isServerAssigned ? readOnlyOnCreate(property) : violation)
            }
        }
        return draft
    }

    // MARK: - Update (PATCH) bodies

    /// Decodes a Graph `PATCH /identityRiskEvents/{id}` body: the properties
    /// present are the patch's fields, in ``EventProperty`` order; a JSON `null`
    /// clears a property. Values are decoded and checked as by
    /// ``decodeDraft(_:)``, their problems recorded in
    /// `patch.values.decodingViolations` (so ``UpdateEvent`` lists them with
    /// its own). `@odata.type` is checked as for a create; `@odata.etag`, when
    /// present, is the version the update is conditional on (`ifMatch`).
    ///
    /// `id` and `createdDateTime` are passed through as fields, so that
    /// ``UpdateEvent`` refuses them as read-only (whatever their value).
    /// Malformed JSON or a non-object throws `invalidArgument` (`MalformedJSON`).
    public static func decodePatch(_ data: some Collection<UInt8>) throws(IdentityRiskError) -> (patch: EventPatch, ifMatch: UInt64?) {
        decodePatch(try object(data, "the identityRiskEvent properties to change"), acceptsETag: true)
    }

    /// A patch from property values given as text (CLI flags): `nil` clears
    /// the property, a string is decoded as a JSON string value would be.
    /// There is no etag here (the caller passes its `ifMatch` separately), so
    /// an `@odata.etag` key is refused as unknown rather than ignored.
    public static func decodePatch(properties: [String: String?]) -> EventPatch {
        var body: [String: Any] = [:]
        for (key, value) in properties {
            if let value { body[key] = value } else { body[key] = NSNull() }
        }
        return decodePatch(body, acceptsETag: false).patch
    }

    static func decodePatch(_ body: [String: Any], acceptsETag: Bool) -> (patch: EventPatch, ifMatch: UInt64?) {
        var violations = annotationViolations(body, extraKeys: acceptsETag ? [odataETagKey] : [])
        var ifMatch: UInt64?
        if acceptsETag, let json = body[odataETagKey] {
            if let text = json as? String, let etag = ETag(parsing: text) {
                ifMatch = etag.version
            } else {
                let given = (json as? String).map { "'\($0)' is not an etag" } ?? "must be a JSON string, got \(jsonKind(json))"
                violations.append(FieldViolation(
                    field: odataETagKey,
                    description: "\(given); expected \(ETag.format), or leave it out to update whatever the version"))
            }
        }
        var patch = EventPatch()
        for property in EventProperty.allCases {
            guard let json = body[property.graphName] else { continue }
            if json is NSNull {
                patch.set(property, nil)
                continue
            }
            switch value(of: property, json) {
            case .value(let value):
                patch.set(property, value)
            case .refused(let violation):
                patch.set(property, nil)
                // A read-only property is refused by UpdateEvent as such; its value does not matter.
                if property.isUpdatable { violations.append(violation) }
            }
        }
        patch.values.decodingViolations = violations
        return (patch, ifMatch)
    }

    // MARK: - Shared

    /// The body as a JSON object, or `invalidArgument` / `MalformedJSON`.
    static func object(_ data: some Collection<UInt8>, _ what: String) throws(IdentityRiskError) -> [String: Any] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(data), options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw IdentityRiskError(code: .invalidArgument, message: "the body is not valid JSON: \(detail)", innerCode: "MalformedJSON")
        }
        guard let body = object as? [String: Any] else {
            throw IdentityRiskError(code: .invalidArgument, message: "the body must be a JSON object (\(what))", innerCode: "MalformedJSON")
        }
        return body
    }

    /// Unknown keys (sorted, each listing the allowed names) and a wrong
    /// `@odata.type`. `extraKeys` are annotations the caller handles itself.
    static func annotationViolations(_ body: [String: Any], extraKeys: Set<String>) -> [FieldViolation] {
        var violations: [FieldViolation] = []
        for key in body.keys.sorted() where key != odataTypeKey && !extraKeys.contains(key) && EventProperty(graphName: key) == nil {
            violations.append(FieldViolation(field: key, description: "is not a property of identityRiskEvent; allowed: \(EventProperty.allowedNames)"))
        }
        if let type = body[odataTypeKey] {
            let text = type as? String
            if text != odataType, text != String(odataType.dropFirst()) {
                violations.append(FieldViolation(field: odataTypeKey, description: "must be \"\(odataType)\" when present"))
            }
        }
        return violations
    }

    /// One property's JSON value: decoded, or refused with the reason.
    enum Decoded {
        case value(PropertyValue)
        case refused(FieldViolation)
    }

    /// A non-null JSON value of `property`, decoded by its kind: always a JSON
    /// string (datetimes in ``DateTimeOffset``'s format, enum members as Graph
    /// spells them).
    static func value(of property: EventProperty, _ json: Any) -> Decoded {
        func refuse(_ description: String) -> Decoded {
            .refused(FieldViolation(field: property.graphName, description: description))
        }
        guard let text = json as? String else { return refuse("must be a JSON string, got \(jsonKind(json))") }
        switch property.kind {
        case .text:
            return .value(.text(text))
        case .dateTime:
            do {
                return .value(.dateTime(try DateTimeOffset(parsing: text)))
            } catch {
                return refuse("'\(text)' is not a valid DateTimeOffset: \(error)")
            }
        case .riskLevel:
            guard let level = RiskLevel(rawValue: text) else {
                return refuse("'\(text)' is not a riskLevel; allowed values: \(RiskLevel.allowedValues)")
            }
            return .value(.riskLevel(level))
        case .riskEventStatus:
            guard let status = RiskEventStatus(rawValue: text) else {
                return refuse("'\(text)' is not a riskEventStatus; allowed values: \(RiskEventStatus.allowedValues)")
            }
            return .value(.riskEventStatus(status))
        }
    }

    /// What a create is told about a server-assigned property it carries with
    /// a value that is not even well-formed (the text ``EventValidator`` uses
    /// for a well-formed one).
    static func readOnlyOnCreate(_ property: EventProperty) -> FieldViolation {
        FieldViolation(
            field: property.graphName,
            description: "is read-only and set by the server when the event is created; omit it",
            innerCode: "ReadOnlyProperty")
    }

    static func jsonKind(_ value: Any) -> String {
        switch value {
        case is NSNull: "null"
        case is [Any]: "an array"
        case is [String: Any]: "an object"
        case is NSNumber: "a number or boolean"
        default: "another type"
        }
    }
}

extension EventProperty {
    /// Set by the server when the record is created, never by the client: a
    /// create body carrying it is refused as read-only (`ReadOnlyProperty`).
    /// (`id` is read-only too, but only after the create, which may give it.)
    var isServerAssigned: Bool {
        switch self {
        case .createdDateTime: true
        case .id, .userDisplayName, .userPrincipalName, .riskEventDateTime, .riskEventType, .riskLevel, .riskEventStatus,
            .closedDateTime, .userId: false
        }
    }
}
