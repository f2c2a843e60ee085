import Foundation
@testable import IdentityRiskCore
@testable import IdentityRiskGraphJSON
import IdentityRiskTestSupport
import Testing

@Suite("GraphJSON")
struct GraphJSONTests {
    /// The example request body from the Graph documentation.
    static let seedBody = #"""
        {"@odata.type": "#microsoft.graph.identityRiskEvent", "userDisplayName": "User Display Name value", "userPrincipalName": "User Principal Name value", "riskEventDateTime": "2017-01-01T00:01:00.7804275+03:00", "riskEventType": "Risk Event Type value", "riskLevel": "high", "riskEventStatus": "active", "closedDateTime": "2017-01-01T00:01:30.8768135+03:00", "userId": "User Id value"}
        """#

    static let created = dt("2024-05-01T12:00:00.1234567Z")

    /// Graph's property order for the record: the annotations, then the ten properties.
    static let graphOrder = [
        "@odata.type", "@odata.etag", "id", "userDisplayName", "userPrincipalName", "riskEventDateTime", "riskEventType",
        "riskLevel", "riskEventStatus", "closedDateTime", "createdDateTime", "userId",
    ]

    static func decode(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> IdentityRiskEventDraft {
        do {
            return try GraphJSON.decodeDraft(Array(text.utf8))
        } catch {
            Issue.record("\(text) did not decode: \(error)", sourceLocation: sourceLocation)
            return IdentityRiskEventDraft()
        }
    }

    /// The seed body with `key` replaced by raw JSON `value` (or added).
    static func seed(with key: String, _ value: String) -> String {
        var object = seedObject()
        object[key] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])
        return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    static func seedObject() -> [String: Any] {
        try! JSONSerialization.jsonObject(with: Data(seedBody.utf8)) as! [String: Any]
    }

    static func parse(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any], "expected a JSON object: \(text)", sourceLocation: sourceLocation)
    }

    /// The violations `draft` is refused with (recording an issue if it is accepted).
    static func violations(_ draft: IdentityRiskEventDraft, sourceLocation: SourceLocation = #_sourceLocation) -> [FieldViolation] {
        do {
            let event = try EventValidator().validate(draft, assignID: { "assigned" }, createdDateTime: created)
            Issue.record("expected a refusal, got \(event)", sourceLocation: sourceLocation)
            return []
        } catch {
            #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
            return error.violations
        }
    }

    /// The top-level keys of a pretty-printed object, in the order written.
    static func topLevelKeys(_ pretty: String) -> [String] {
        pretty.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  \""), !line.hasPrefix("   ") else { return nil }
            let rest = line.dropFirst(3)
            guard let end = rest.range(of: "\": ") else { return nil }
            return String(rest[..<end.lowerBound])
        }
    }

    // MARK: - The seed body

    @Test("the seed body decodes to a draft that validates, every value exact")
    func seedDecodesAndValidates() throws {
        let draft = try GraphJSON.decodeDraft(Array(Self.seedBody.utf8))
        #expect(draft.decodingViolations.isEmpty)
        #expect(draft.id == nil)
        #expect(draft.userDisplayName == "User Display Name value")
        #expect(draft.userPrincipalName == "User Principal Name value")
        #expect(draft.riskEventDateTime?.description == "2017-01-01T00:01:00.7804275+03:00")
        #expect(draft.riskEventDateTime?.unixSeconds == 1_483_218_060)
        #expect(draft.riskEventDateTime?.ticks == 7_804_275)
        #expect(draft.riskEventDateTime?.offsetMinutes == 180)
        #expect(draft.riskEventDateTime?.fractionDigits == 7)
        #expect(draft.riskEventDateTime?.utcDesignator == false)
        #expect(draft.riskEventType == "Risk Event Type value")
        #expect(draft.riskLevel == .high)
        #expect(draft.riskEventStatus == .active)
        #expect(draft.closedDateTime?.description == "2017-01-01T00:01:30.8768135+03:00")
        #expect(draft.createdDateTime == nil)
        #expect(draft.userId == "User Id value")

        let event = try EventValidator().validate(draft, assignID: { "assigned-id" }, createdDateTime: Self.created)
        #expect(event.id == "assigned-id")
        #expect(event.userDisplayName == "User Display Name value")
        #expect(event.userPrincipalName == "User Principal Name value")
        #expect(event.riskEventDateTime == dt("2017-01-01T00:01:00.7804275+03:00"))
        #expect(event.riskEventType == "Risk Event Type value")
        #expect(event.riskLevel == .high)
        #expect(event.riskEventStatus == .active)
        #expect(event.closedDateTime == dt("2017-01-01T00:01:30.8768135+03:00"))
        #expect(event.createdDateTime == Self.created)
        #expect(event.userId == "User Id value")
    }

    @Test("the seed body decodes the same without the optional @odata.type, or with it lacking '#'")
    func odataTypeOptional() throws {
        var object = Self.seedObject()
        let expected = Self.decode(Self.seedBody)
        object["@odata.type"] = nil
        let without = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        #expect(Self.decode(without) == expected)
        object["@odata.type"] = "microsoft.graph.identityRiskEvent"
        let bare = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        #expect(Self.decode(bare) == expected)
    }

    // MARK: - Encoding the record

    @Test("encode(event) parses back with the same values, keys in Graph order, datetimes character for character",
          arguments: [true, false])
    func encodeEvent(_ pretty: Bool) throws {
        let event = try EventValidator().validate(Self.decode(Self.seedBody), assignID: { "evt-1" }, createdDateTime: Self.created)
        let text = GraphJSON.encode(event, pretty: pretty)
        let object = try Self.parse(text)
        #expect(object.count == Self.graphOrder.count)
        #expect(object["@odata.type"] as? String == "#microsoft.graph.identityRiskEvent")
        #expect(object["@odata.etag"] as? String == #"W/"1""#, "a new record is version 1")
        #expect(object["id"] as? String == "evt-1")
        #expect(object["userDisplayName"] as? String == "User Display Name value")
        #expect(object["userPrincipalName"] as? String == "User Principal Name value")
        #expect(object["riskEventDateTime"] as? String == "2017-01-01T00:01:00.7804275+03:00")
        #expect(object["riskEventType"] as? String == "Risk Event Type value")
        #expect(object["riskLevel"] as? String == "high")
        #expect(object["riskEventStatus"] as? String == "active")
        #expect(object["closedDateTime"] as? String == "2017-01-01T00:01:30.8768135+03:00")
        #expect(object["createdDateTime"] as? String == "2024-05-01T12:00:00.1234567Z")
        #expect(object["userId"] as? String == "User Id value")

        // Order, in the raw text.
        let colon = pretty ? "\": " : "\":"
        let positions = Self.graphOrder.map { key in text.range(of: "\"\(key)\(colon)")?.lowerBound }
        #expect(!positions.contains(nil), "every key is written")
        let found = positions.compactMap { $0 }
        #expect(found == found.sorted(), "keys in Graph order")
        #expect(text.hasPrefix(pretty ? "{\n  \"@odata.type\"" : "{\"@odata.type\""), "@odata.type first")
        if pretty {
            #expect(Self.topLevelKeys(text) == Self.graphOrder)
        }
        // Datetimes verbatim in the raw text.
        #expect(text.contains("\"riskEventDateTime\(colon)\"2017-01-01T00:01:00.7804275+03:00\""))
        #expect(text.contains("\"closedDateTime\(colon)\"2017-01-01T00:01:30.8768135+03:00\""))
        #expect(text.contains("\"createdDateTime\(colon)\"2024-05-01T12:00:00.1234567Z\""))
    }

    @Test("absent optional properties are written as null", arguments: [
        "0001-01-01T00:00:00Z", "9999-12-31T09:59:59.9999999-14:00", "2017-01-01T00:01:00+00:00", "2017-01-01T00:01:00.120-09:30",
    ])
    func encodeNulls(_ date: String) throws {
        let event = IdentityRiskEvent(
            id: "x", userDisplayName: nil, userPrincipalName: "upn", riskEventDateTime: dt(date), riskEventType: "t",
            riskLevel: .unknownFutureValue, riskEventStatus: .closedMultipleReasons, closedDateTime: nil,
            createdDateTime: dt(date), userId: "u")
        let text = GraphJSON.encode(event)
        let object = try Self.parse(text)
        #expect(object["userDisplayName"] is NSNull)
        #expect(object["closedDateTime"] is NSNull)
        #expect(object["riskLevel"] as? String == "unknownFutureValue")
        #expect(object["riskEventStatus"] as? String == "closedMultipleReasons")
        #expect(object["riskEventDateTime"] as? String == date)
        #expect(object["createdDateTime"] as? String == date)
        #expect(Self.topLevelKeys(text) == Self.graphOrder)
    }

    @Test("encode(draft) decodes back to the same draft")
    func draftRoundTrip() throws {
        let draft = IdentityRiskEventDraft(
            id: "my-id", userDisplayName: "Zoë \"Z\" 🦊", userPrincipalName: "zoe@contoso.com",
            riskEventDateTime: dt("2017-01-01T00:01:00.7804275+03:00"), riskEventType: "leakedCredentials",
            riskLevel: .hidden, riskEventStatus: .dismissedAsIgnore, closedDateTime: dt("2018-01-01T00:00:00Z"), userId: "u\\1")
        for pretty in [true, false] {
            let text = GraphJSON.encode(draft, pretty: pretty)
            #expect(try GraphJSON.decodeDraft(Array(text.utf8)) == draft)
        }
        #expect(try GraphJSON.decodeDraft(Array(GraphJSON.encode(IdentityRiskEventDraft()).utf8)) == IdentityRiskEventDraft())
    }

    @Test("a list page parses back with its events in order and the next link")
    func encodePage() throws {
        let events = ["a", "b", "c"].map {
            IdentityRiskEvent(id: $0, userDisplayName: nil, userPrincipalName: "p", riskEventDateTime: dt("2017-01-01T00:00:00Z"),
                              riskEventType: "t", riskLevel: .low, riskEventStatus: .active, closedDateTime: nil,
                              createdDateTime: Self.created, userId: "u")
        }
        let object = try Self.parse(GraphJSON.encode(ListEvents.Response(events: events, nextPageToken: "1.0.ab\"c.5.c")))
        #expect(object["@odata.context"] as? String == "$metadata#identityRiskEvents")
        let value = try #require(object["value"] as? [[String: Any]])
        #expect(value.map { $0["id"] as? String } == ["a", "b", "c"])
        #expect(object["@odata.nextLink"] as? String == "identityRiskEvents?$skiptoken=1.0.ab%22c.5.c")

        let empty = try Self.parse(GraphJSON.encode(ListEvents.Response(events: [], nextPageToken: "")))
        #expect((empty["value"] as? [Any])?.isEmpty == true)
        #expect(empty["@odata.nextLink"] == nil)
    }

    @Test("a next link carries the filter, order, top and token, percent-encoded, and parses back to the same request", arguments: [
        ListEvents.Request(filter: "", order: .createdAscending, top: 0, pageToken: "1.0.cbf29ce484222325.5.a"),
        ListEvents.Request(filter: "riskLevel eq 'high' and userId eq 'O''Brien & co=1?'", order: .riskEventDescending, top: 2, pageToken: "1.3.ab.-7.x~y"),
        ListEvents.Request(filter: "userDisplayName eq 'Zoë %41'", order: .createdDescending, top: 1000, pageToken: "t"),
    ])
    func nextLinkRoundTrip(_ request: ListEvents.Request) throws {
        let link = GraphJSON.nextLink(token: request.pageToken, request: request)
        #expect(link.hasPrefix("identityRiskEvents?"))
        #expect(link.hasSuffix("$skiptoken=" + request.pageToken))
        #expect(!link.contains(" ") && !link.contains("'"), "shell- and URL-safe: \(link)")
        #expect(try GraphJSON.request(continuing: link) == request)
        #expect(try GraphJSON.request(continuing: "https://graph.example/beta/" + link) == request, "an absolute link works too")
    }

    @Test("what is not a next link is refused, saying why", arguments: [
        ("1.0.abc.5.c", "no '?'"), ("users?$skiptoken=x", "not a link to identityRiskEvents"),
        ("identityRiskEvents?$top=2", "no $skiptoken"), ("identityRiskEvents?$skiptoken=a%zz", "is not name=value"),
        ("identityRiskEvents?$skiptoken=a&$orderby=id", "$orderby 'id' is not one of"), ("identityRiskEvents?$skiptoken=a&$expand=x", "unknown query option"),
    ])
    func nextLinkRefused(_ link: String, _ why: String) {
        #expect {
            try GraphJSON.request(continuing: link)
        } throws: { error in
            (error as? IdentityRiskError)?.message.contains(why) == true && (error as? IdentityRiskError)?.target == "nextLink"
        }
    }

    // MARK: - Refused bodies

    @Test("the seed body with riskLevel \"String\" gives a riskLevel violation naming every allowed value")
    func badRiskLevel() throws {
        let draft = Self.decode(Self.seed(with: "riskLevel", #""String""#))
        #expect(draft.riskLevel == nil)
        let violations = Self.violations(draft)
        #expect(violations.count == 1, "no second 'is required' for riskLevel: \(violations)")
        let v = try #require(violations.first)
        #expect(v.field == "riskLevel")
        #expect(v.description.contains("'String'"))
        for level in RiskLevel.allCases {
            #expect(v.description.contains(level.rawValue), "names \(level.rawValue)")
        }
        #expect(v.description.contains(RiskLevel.allowedValues))
    }

    @Test("an unknown riskEventStatus names every allowed value")
    func badRiskEventStatus() throws {
        let v = try #require(Self.violations(Self.decode(Self.seed(with: "riskEventStatus", #""Active""#))).first)
        #expect(v.field == "riskEventStatus")
        for status in RiskEventStatus.allCases {
            #expect(v.description.contains(status.rawValue))
        }
    }

    @Test("an unknown property is refused by name, listing the allowed properties")
    func unknownProperty() throws {
        let draft = Self.decode(Self.seed(with: "riskScore", "42"))
        let violations = Self.violations(draft)
        #expect(violations.map(\.field) == ["riskScore"])
        let description = try #require(violations.first?.description)
        #expect(description.contains("is not a property of identityRiskEvent"))
        for name in GraphJSON.propertyNames {
            #expect(description.contains(name))
        }
    }

    @Test("wrong JSON types are refused with the kind that was given", arguments: [
        ("userId", "42", "a number or boolean"),
        ("userPrincipalName", "true", "a number or boolean"),
        ("riskLevel", #"["high"]"#, "an array"),
        ("riskEventType", #"{"name": "x"}"#, "an object"),
        ("riskEventDateTime", "1483218060", "a number or boolean"),
        ("userDisplayName", "[]", "an array"),
        ("id", "7", "a number or boolean"),
    ])
    func wrongTypes(_ key: String, _ json: String, _ kind: String) throws {
        let draft = Self.decode(Self.seed(with: key, json))
        let v = try #require(draft.decodingViolations.first)
        #expect(draft.decodingViolations.count == 1)
        #expect(v.field == key)
        #expect(v.description == "must be a JSON string, got \(kind)")
        // Validation reports it once, not again as "is required".
        if key != "id", key != "userDisplayName" {
            #expect(Self.violations(draft) == [v])
        }
    }

    @Test("null is the same as absent")
    func nulls() throws {
        let withNullDisplayName = Self.decode(Self.seed(with: "userDisplayName", "null"))
        #expect(withNullDisplayName.userDisplayName == nil)
        #expect(withNullDisplayName.decodingViolations.isEmpty)
        let withNullUser = Self.decode(Self.seed(with: "userId", "null"))
        #expect(Self.violations(withNullUser) == [FieldViolation(field: "userId", description: "is required and must not be empty")])
    }

    @Test("a valid createdDateTime is refused by validation as ReadOnlyProperty")
    func createdDateTimeSupplied() throws {
        let draft = Self.decode(Self.seed(with: "createdDateTime", #""2017-01-01T00:00:00Z""#))
        #expect(draft.createdDateTime == dt("2017-01-01T00:00:00Z"))
        #expect(draft.decodingViolations.isEmpty)
        do {
            let event = try EventValidator().validate(draft, assignID: { "x" }, createdDateTime: Self.created)
            Issue.record("expected a refusal, got \(event)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.target == "createdDateTime")
            #expect(error.innerCode == "ReadOnlyProperty")
            #expect(error.violations.map(\.field) == ["createdDateTime"])
            #expect(error.violations.map(\.innerCode) == ["ReadOnlyProperty"])
            // and in Graph's error shape
            let json = try Self.parse(GraphJSON.encode(error))
            let body = try #require(json["error"] as? [String: Any])
            #expect((body["innerError"] as? [String: Any])?["code"] as? String == "ReadOnlyProperty")
            #expect((body["details"] as? [[String: Any]])?.first?["code"] as? String == "ReadOnlyProperty")
        }
    }

    @Test("a malformed createdDateTime is refused as ReadOnlyProperty while decoding", arguments: [#""yesterday""#, "5", "[]", #""""#])
    func createdDateTimeMalformed(_ json: String) throws {
        let draft = Self.decode(Self.seed(with: "createdDateTime", json))
        #expect(draft.decodingViolations.map(\.field) == ["createdDateTime"])
        #expect(draft.decodingViolations.map(\.innerCode) == ["ReadOnlyProperty"])
        #expect(Self.violations(draft).map(\.innerCode) == ["ReadOnlyProperty"])
    }

    @Test("a malformed datetime names the property and the expected format", arguments: ["riskEventDateTime", "closedDateTime"])
    func malformedDate(_ key: String) throws {
        let draft = Self.decode(Self.seed(with: key, #""2017-01-01 00:01:00""#))
        let v = try #require(draft.decodingViolations.first)
        #expect(v.field == key)
        #expect(v.description.contains("'2017-01-01 00:01:00' is not a valid DateTimeOffset"))
        #expect(v.description.contains(DateTimeOffset.formatDescription))
    }

    @Test("a wrong @odata.type is refused", arguments: [##""#microsoft.graph.user""##, #""identityRiskEvent""#, "5", "null"])
    func wrongODataType(_ json: String) throws {
        let draft = Self.decode(Self.seed(with: "@odata.type", json))
        let violations = Self.violations(draft)
        #expect(violations.map(\.field) == ["@odata.type"])
        #expect(violations.first?.description.contains("#microsoft.graph.identityRiskEvent") == true)
    }

    @Test("malformed JSON is refused as invalidArgument / MalformedJSON", arguments: [
        #"{"userId": "#, "", "{", #"{"userId": "u" "riskLevel": "high"}"#, "nope", #"{'userId': 'u'}"#,
    ])
    func malformedJSON(_ text: String) {
        do {
            let draft = try GraphJSON.decodeDraft(Array(text.utf8))
            Issue.record("expected a refusal, got \(draft)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.innerCode == "MalformedJSON")
            #expect(error.message.hasPrefix("the body is not valid JSON: "))
            #expect(error.message.count > "the body is not valid JSON: ".count, "with a detail")
        }
    }

    @Test("a JSON array body is refused: it must be an object", arguments: ["[]", #"[{"userId": "u"}]"#])
    func arrayBody(_ text: String) {
        do {
            let draft = try GraphJSON.decodeDraft(Array(text.utf8))
            Issue.record("expected a refusal, got \(draft)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.innerCode == "MalformedJSON")
            #expect(error.message == "the body must be a JSON object (an identityRiskEvent)")
        }
    }

    /// Regression: without `.fragmentsAllowed` a valid JSON scalar body never
    /// reached the "must be a JSON object" branch and was reported as "the body
    /// is not valid JSON: JSON text did not start with array or object and
    /// option to allow fragments not set." (wrong, and Foundation's wording).
    @Test("a JSON scalar body is refused as 'must be a JSON object', not as invalid JSON",
          arguments: [#""abc""#, "42", "true", "null"])
    func scalarBody(_ text: String) {
        do {
            let draft = try GraphJSON.decodeDraft(Array(text.utf8))
            Issue.record("expected a refusal, got \(draft)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.innerCode == "MalformedJSON")
            #expect(error.message == "the body must be a JSON object (an identityRiskEvent)",
                    "\(text) is valid JSON but not an object")
        }
    }

    // MARK: - decodeDraft(properties:)

    @Test("decodeDraft(properties:) gives the same draft and violations as the JSON body")
    func propertiesMatchJSON() throws {
        let properties = [
            "userPrincipalName": "upn@contoso.com",
            "riskEventDateTime": "2017-01-01T00:01:00.7804275+03:00",
            "riskEventType": "t",
            "riskLevel": "String",
            "riskEventStatus": "nope",
            "closedDateTime": "yesterday",
            "createdDateTime": "2017-01-01T00:00:00Z",
            "zeta": "unknown",
            "alpha": "unknown too",
            "@odata.type": "#microsoft.graph.user",
            "userId": "u1",
        ]
        let body = String(decoding: try JSONSerialization.data(withJSONObject: properties), as: UTF8.self)
        let fromJSON = try GraphJSON.decodeDraft(Array(body.utf8))
        let fromProperties = GraphJSON.decodeDraft(properties: properties)
        #expect(fromProperties == fromJSON)
        #expect(fromProperties.decodingViolations.map(\.field) == ["alpha", "zeta", "@odata.type", "riskLevel", "riskEventStatus", "closedDateTime"])
        #expect(Self.violations(fromProperties) == Self.violations(fromJSON))
        #expect(Self.violations(fromProperties).contains { $0.field == "createdDateTime" && $0.innerCode == "ReadOnlyProperty" })
    }

    @Test("decodeDraft(properties:) of the seed values validates like the seed body")
    func propertiesSeed() throws {
        var properties: [String: String] = [:]
        for (key, value) in Self.seedObject() { properties[key] = value as? String }
        #expect(GraphJSON.decodeDraft(properties: properties) == Self.decode(Self.seedBody))
    }

    // MARK: - Graph's error shape

    @Test("error JSON carries Graph's code, message, target, details and innerError", arguments: [
        (IdentityRiskError.Code.invalidArgument, "invalidRequest", 400),
        (.failedPrecondition, "preconditionFailed", 412),
        (.notFound, "itemNotFound", 404),
        (.alreadyExists, "nameAlreadyExists", 409),
        (.resourceExhausted, "activityLimitReached", 429),
        (.unavailable, "serviceNotAvailable", 503),
    ])
    func errorJSON(_ code: IdentityRiskError.Code, _ graphCode: String, _ status: Int) throws {
        let error = IdentityRiskError(
            code: code,
            message: "2 properties are invalid; first, riskLevel: bad",
            target: "riskLevel",
            violations: [
                FieldViolation(field: "riskLevel", description: "'String' is not a riskLevel"),
                FieldViolation(field: "createdDateTime", description: "is read-only", innerCode: "ReadOnlyProperty"),
            ],
            innerCode: "SomeInnerCode",
            retryAfterMilliseconds: 1_500)
        for pretty in [true, false] {
            let json = try Self.parse(GraphJSON.encode(error, pretty: pretty))
            #expect(json.count == 1)
            let body = try #require(json["error"] as? [String: Any])
            #expect(body["code"] as? String == graphCode)
            #expect(body["message"] as? String == "2 properties are invalid; first, riskLevel: bad")
            #expect(body["target"] as? String == "riskLevel")
            let details = try #require(body["details"] as? [[String: Any]])
            #expect(details.map { $0["target"] as? String } == ["riskLevel", "createdDateTime"])
            #expect(details.map { $0["message"] as? String } == ["'String' is not a riskLevel", "is read-only"])
            #expect(details.map { $0["code"] as? String } == ["invalidValue", "ReadOnlyProperty"])
            let inner = try #require(body["innerError"] as? [String: Any])
            #expect(inner["code"] as? String == "SomeInnerCode")
            #expect(inner["httpStatus"] as? Int == status)
            #expect(inner["retryAfterSeconds"] as? Int == 2)
        }
    }

    @Test("error JSON leaves out target, details and innerError.code when unset")
    func minimalErrorJSON() throws {
        let json = try Self.parse(GraphJSON.encode(IdentityRiskError(code: .notFound, message: "no identityRiskEvent with id 'x'")))
        let body = try #require(json["error"] as? [String: Any])
        #expect(body["code"] as? String == "itemNotFound")
        #expect(body["message"] as? String == "no identityRiskEvent with id 'x'")
        #expect(body["target"] == nil)
        #expect(body["details"] == nil)
        let inner = try #require(body["innerError"] as? [String: Any])
        #expect(inner["code"] == nil)
        #expect(inner["retryAfterSeconds"] == nil)
        #expect(inner["httpStatus"] as? Int == 404)
    }

    @Test("error JSON from IdentityRiskError.invalid names every violation's target")
    func invalidErrorJSON() throws {
        let draft = Self.decode(#"{"riskLevel": "String", "bogus": 1, "createdDateTime": "2017-01-01T00:00:00Z"}"#)
        do {
            _ = try EventValidator().validate(draft, assignID: { "x" }, createdDateTime: Self.created)
            Issue.record("expected a refusal")
        } catch {
            let body = try #require(try Self.parse(GraphJSON.encode(error))["error"] as? [String: Any])
            #expect(body["code"] as? String == "invalidRequest")
            #expect(body["target"] as? String == "bogus")
            let targets = try #require(body["details"] as? [[String: Any]]).compactMap { $0["target"] as? String }
            #expect(targets == error.violations.map(\.field))
            #expect(Set(targets).isSuperset(of: ["bogus", "riskLevel", "userPrincipalName", "riskEventDateTime", "riskEventType",
                                                  "riskEventStatus", "userId", "createdDateTime"]))
        }
    }

    @Test("retryAfterSeconds rounds milliseconds up", arguments: [(UInt32(1), 1), (999, 1), (1_000, 1), (1_001, 2), (60_000, 60)])
    func retryAfterRounding(_ milliseconds: UInt32, _ seconds: Int) throws {
        let error = IdentityRiskError(code: .resourceExhausted, message: "slow down", retryAfterMilliseconds: milliseconds)
        let body = try #require(try Self.parse(GraphJSON.encode(error))["error"] as? [String: Any])
        #expect((body["innerError"] as? [String: Any])?["retryAfterSeconds"] as? Int == seconds)
    }

    /// Regression: `(retry + 999) / 1000` computed in UInt32 trapped for
    /// retryAfterMilliseconds > UInt32.max - 999. The value comes from the
    /// server (Status.retry_after_ms), so a server could crash the CLI that
    /// prints its error. Expected: 4294968 seconds.
    @Test("a retry-after near UInt32.max does not crash error encoding")
    func retryAfterOverflow() async {
        await #expect(processExitsWith: .success, "GraphJSON.encode traps on retryAfterMilliseconds = UInt32.max") {
            let text = GraphJSON.encode(IdentityRiskError(code: .unavailable, message: "m", retryAfterMilliseconds: .max))
            if !text.contains("\"retryAfterSeconds\": 4294968") { exit(1) }
        }
    }

    // MARK: - String escaping

    static let awkwardStrings: [String] = [
        #"she said "hi""#,
        #"C:\Users\zoë\"#,
        "line1\nline2\r\ttabbed",
        "\u{0}\u{1}\u{8}\u{C}\u{1F}\u{7F}",
        "/slashes/ and </script>",
        "日本語 中文 한국어",
        "👩🏽‍💻🔥🇯🇵",
        "e\u{301}",
        "\u{2028}\u{2029}\u{FEFF}",
        "\\u0041 is not A",
    ]

    @Test("quotes, backslashes, control characters and non-ASCII round-trip through JSONSerialization",
          arguments: awkwardStrings)
    func escaping(_ s: String) throws {
        let event = IdentityRiskEvent(
            id: s, userDisplayName: s, userPrincipalName: s, riskEventDateTime: dt("2017-01-01T00:00:00Z"), riskEventType: s,
            riskLevel: .low, riskEventStatus: .active, closedDateTime: nil, createdDateTime: Self.created, userId: s)
        for pretty in [true, false] {
            let text = GraphJSON.encode(event, pretty: pretty)
            let object = try Self.parse(text)
            for key in ["id", "userDisplayName", "userPrincipalName", "riskEventType", "userId"] {
                let value = try #require(object[key] as? String, "\(key) in \(text)")
                #expect(Array(value.utf8) == Array(s.utf8), "\(key) byte-exact")
            }
            // No raw control characters in the JSON text (they must be escaped).
            #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        }
        let error = IdentityRiskError(code: .invalidArgument, message: s, target: s, violations: [FieldViolation(field: s, description: s, innerCode: s)], innerCode: s)
        let body = try #require(try Self.parse(GraphJSON.encode(error))["error"] as? [String: Any])
        #expect((body["message"] as? String).map { Array($0.utf8) } == Array(s.utf8))
        #expect((body["target"] as? String).map { Array($0.utf8) } == Array(s.utf8))
        let detail = try #require((body["details"] as? [[String: Any]])?.first)
        #expect((detail["message"] as? String).map { Array($0.utf8) } == Array(s.utf8))
        #expect((detail["target"] as? String).map { Array($0.utf8) } == Array(s.utf8))
        #expect(((body["innerError"] as? [String: Any])?["code"] as? String).map { Array($0.utf8) } == Array(s.utf8))
    }

    @Test("escapes are the short JSON forms, \\u00XX for the rest; non-ASCII is written raw")
    func escapeForms() {
        #expect(JSONValue.quote("\"") == #""\"""#)
        #expect(JSONValue.quote("\\") == #""\\""#)
        #expect(JSONValue.quote("\n\r\t") == #""\n\r\t""#)
        #expect(JSONValue.quote("\u{0}\u{1F}\u{7F}") == #""\u0000\u001f\u007f""#)
        #expect(JSONValue.quote("日本🔥") == "\"日本🔥\"")
    }
}
