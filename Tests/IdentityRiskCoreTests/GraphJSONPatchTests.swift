import Foundation
@testable import IdentityRiskCore
@testable import IdentityRiskGraphJSON
import IdentityRiskTestSupport
import Testing

/// How Graph writes a property value in JSON, worked out here independently of
/// GraphJSON: every kind is a string.
func graphText(_ value: PropertyValue) -> String {
    switch value {
    case .text(let text): text
    case .dateTime(let date): date.description
    case .riskLevel(let level): level.rawValue
    case .riskEventStatus(let status): status.rawValue
    }
}

/// `value` as a JSON literal, for building bodies by hand.
func jsonLiteral(_ value: PropertyValue) -> String {
    JSONValue.quote(graphText(value))
}

@Suite("GraphJSON: the etag and every property of the table")
struct GraphJSONPropertyTests {
    /// Annotations first, then the properties in Graph's order.
    static let recordKeys = ["@odata.type", "@odata.etag"] + EventProperty.allCases.map(\.graphName)

    /// A record with every property set, each to a value of its own.
    static func fullEvent(version: UInt64 = 3) -> IdentityRiskEvent {
        var e = event(id: "e-1", userDisplayName: "Zoë \"Z\"", userPrincipalName: "zoe@contoso.com",
                      riskEventDateTime: "2017-01-01T00:01:00.7804275+03:00", riskEventType: "leakedCredentials",
                      riskLevel: .hidden, riskEventStatus: .dismissedAsIgnore, closedDateTime: "2017-01-05T10:00:00-05:00",
                      createdDateTime: "2017-01-06T00:00:00.1Z", userId: "u\\1")
        e.version = version
        return e
    }

    @Test func propertyNamesAreTheTablesNames() {
        #expect(GraphJSON.propertyNames == EventProperty.allCases.map(\.graphName))
        #expect(GraphJSON.propertyNames == [
            "id", "userDisplayName", "userPrincipalName", "riskEventDateTime", "riskEventType",
            "riskLevel", "riskEventStatus", "closedDateTime", "createdDateTime", "userId",
        ])
    }

    @Test("@odata.etag is the record's version, right after @odata.type", arguments: [UInt64(1), 3, 10, .max])
    func etagIsPrinted(_ version: UInt64) throws {
        let e = Self.fullEvent(version: version)
        let pretty = GraphJSON.encode(e)
        #expect(pretty.hasPrefix("""
            {
              "@odata.type": "#microsoft.graph.identityRiskEvent",
              "@odata.etag": "W/\\"\(version)\\"",
              "id": "e-1",
            """))
        let compact = GraphJSON.encode(e, pretty: false)
        #expect(compact.hasPrefix(##"{"@odata.type":"#microsoft.graph.identityRiskEvent","@odata.etag":"W/\"\##(version)\"","id":"##))
        for text in [pretty, compact] {
            let etag = try #require(try GraphJSONTests.parse(text)["@odata.etag"] as? String)
            #expect(etag == #"W/"\#(version)""#)
            #expect(ETag(parsing: etag)?.version == version, "the printed etag parses back")
        }
        // In a list page too.
        let page = try GraphJSONTests.parse(GraphJSON.encode(ListEvents.Response(events: [e], nextPageToken: "")))
        #expect((page["value"] as? [[String: Any]])?.first?["@odata.etag"] as? String == e.etag)
    }

    /// Iterates ``EventProperty/allCases``: a new property that GraphJSON does
    /// not print fails here.
    @Test("encode(event) writes every EventProperty, in order, with its value", arguments: [true, false])
    func encodeWritesEveryProperty(_ pretty: Bool) throws {
        for e in [Self.fullEvent(), event(id: "bare")] {
            let text = GraphJSON.encode(e, pretty: pretty)
            let object = try GraphJSONTests.parse(text)
            #expect(Set(object.keys) == Set(Self.recordKeys))
            #expect(object.count == Self.recordKeys.count)
            if pretty { #expect(GraphJSONTests.topLevelKeys(text) == Self.recordKeys) }
            for property in EventProperty.allCases {
                let json = try #require(object[property.graphName], "\(property) is written")
                if let value = e[property] {
                    #expect(json as? String == graphText(value), "\(property)")
                } else {
                    #expect(json is NSNull, "absent \(property) is null")
                    #expect(property.isNullable)
                }
            }
        }
    }

    /// A printed record, sent back as a PATCH body, names every property with
    /// its value and carries its version as the etag.
    @Test func encodedRecordDecodesAsAPatchOfEveryProperty() throws {
        for e in [Self.fullEvent(version: 7), event(id: "bare")] {
            let (patch, ifMatch) = try GraphJSON.decodePatch(Array(GraphJSON.encode(e).utf8))
            #expect(patch.fields == EventProperty.allCases)
            #expect(ifMatch == e.version)
            #expect(patch.values.decodingViolations.isEmpty)
            for property in EventProperty.allCases {
                #expect(patch.values[property] == e[property], "\(property)")
            }
        }
    }

    @Test("encode(draft) writes exactly the properties it gives, in order, and decodes back", arguments: [true, false])
    func draftEncodesEveryProperty(_ pretty: Bool) throws {
        var full = IdentityRiskEventDraft()
        for property in EventProperty.allCases { full[property] = EventPropertyTests.sample(property) }
        let text = GraphJSON.encode(full, pretty: pretty)
        let object = try GraphJSONTests.parse(text)
        #expect(Set(object.keys) == Set(["@odata.type"] + EventProperty.allCases.map(\.graphName)))
        if pretty { #expect(GraphJSONTests.topLevelKeys(text) == ["@odata.type"] + EventProperty.allCases.map(\.graphName)) }
        #expect(try GraphJSON.decodeDraft(Array(text.utf8)) == full)

        for property in EventProperty.allCases {
            var one = IdentityRiskEventDraft()
            one[property] = EventPropertyTests.sample(property)
            let text = GraphJSON.encode(one, pretty: pretty)
            let object = try GraphJSONTests.parse(text)
            #expect(Set(object.keys) == ["@odata.type", property.graphName])
            #expect(object[property.graphName] as? String == graphText(EventPropertyTests.sample(property)))
            #expect(try GraphJSON.decodeDraft(Array(text.utf8)) == one, "\(property)")
        }
    }
}

@Suite("GraphJSON.decodePatch")
struct GraphJSONPatchTests {
    static func decode(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> (patch: EventPatch, ifMatch: UInt64?) {
        do {
            return try GraphJSON.decodePatch(Array(text.utf8))
        } catch {
            Issue.record("\(text) did not decode: \(error)", sourceLocation: sourceLocation)
            return (EventPatch(), nil)
        }
    }

    @Test func emptyBodyChangesNothing() {
        let (patch, ifMatch) = Self.decode("{}")
        #expect(patch == EventPatch())
        #expect(ifMatch == nil)
    }

    @Test func nullClearsAProperty() {
        let (patch, ifMatch) = Self.decode(#"{"closedDateTime": null, "userDisplayName": null}"#)
        #expect(patch.fields == [.userDisplayName, .closedDateTime])
        #expect(patch.values == IdentityRiskEventDraft(), "both cleared, no violations")
        #expect(ifMatch == nil)
        // A required one is passed on as cleared too; UpdateEvent refuses that.
        let required = Self.decode(#"{"userId": null}"#).patch
        #expect(required.fields == [.userId])
        #expect(required.values == IdentityRiskEventDraft())
    }

    @Test func fieldsAreInTableOrderWhateverTheBodysOrder() {
        let (patch, _) = Self.decode(#"{"userId": "u9", "riskEventStatus": "remediated", "riskLevel": "low", "userDisplayName": "Z"}"#)
        #expect(patch.fields == [.userDisplayName, .riskLevel, .riskEventStatus, .userId])
        #expect(patch.values == IdentityRiskEventDraft(userDisplayName: "Z", riskLevel: .low, riskEventStatus: .remediated, userId: "u9"))
    }

    @Test("each property's value is decoded by its kind", arguments: EventProperty.allCases)
    func eachProperty(_ property: EventProperty) {
        let value = EventPropertyTests.sample(property)
        let (patch, _) = Self.decode("{\"\(property.graphName)\": \(jsonLiteral(value))}")
        #expect(patch.fields == [property])
        #expect(patch.values[property] == value)
        #expect(patch.values.decodingViolations.isEmpty)
    }

    @Test func unknownKeysAreRefusedListingTheAllowedNames() throws {
        let (patch, _) = Self.decode(#"{"riskScore": 42, "riskLevel": "low", "RiskLevel": "high"}"#)
        #expect(patch.fields == [.riskLevel])
        #expect(patch.values.riskLevel == .low)
        let violations = patch.values.decodingViolations
        #expect(violations.map(\.field) == ["RiskLevel", "riskScore"])
        for violation in violations {
            #expect(violation.description == "is not a property of identityRiskEvent; allowed: \(EventProperty.allowedNames)")
            for name in GraphJSON.propertyNames { #expect(violation.description.contains(name)) }
        }
    }

    @Test("a bad enum member is a violation naming every allowed value", arguments: [
        ("riskLevel", "extreme", RiskLevel.allowedValues), ("riskLevel", "High", RiskLevel.allowedValues),
        ("riskEventStatus", "Active", RiskEventStatus.allowedValues),
    ])
    func badEnum(_ key: String, _ given: String, _ allowed: String) throws {
        let property = try #require(EventProperty(graphName: key))
        let (patch, _) = Self.decode("{\"\(key)\": \"\(given)\"}")
        #expect(patch.fields == [property], "named, so UpdateEvent knows it was meant")
        #expect(patch.values[property] == nil)
        #expect(patch.values.decodingViolations == [
            FieldViolation(field: key, description: "'\(given)' is not a \(key); allowed values: \(allowed)"),
        ])
    }

    @Test("bad values are refused as in a create body", arguments: [
        ("closedDateTime", #""yesterday""#, "'yesterday' is not a valid DateTimeOffset"),
        ("riskEventDateTime", "1483218060", "must be a JSON string, got a number or boolean"),
        ("userId", "42", "must be a JSON string, got a number or boolean"),
        ("userDisplayName", "[]", "must be a JSON string, got an array"),
        ("riskEventType", "{}", "must be a JSON string, got an object"),
    ])
    func badValues(_ key: String, _ json: String, _ description: String) throws {
        let (patch, _) = Self.decode("{\"\(key)\": \(json)}")
        let violation = try #require(patch.values.decodingViolations.first)
        #expect(patch.values.decodingViolations.count == 1)
        #expect(violation.field == key)
        #expect(violation.description.hasPrefix(description), "\(violation.description)")
        #expect(patch.fields == [try #require(EventProperty(graphName: key))])
        // The same text as the create body gives.
        let draft = try GraphJSON.decodeDraft(Array("{\"\(key)\": \(json)}".utf8))
        #expect(draft.decodingViolations == [violation])
    }

    @Test("an @odata.etag is parsed as the version the update needs", arguments: [#""W/\"3\"""#, #""\"3\"""#, #""3""#])
    func etagParsed(_ json: String) {
        let (patch, ifMatch) = Self.decode("{\"@odata.etag\": \(json), \"riskLevel\": \"low\"}")
        #expect(ifMatch == 3)
        #expect(patch.fields == [.riskLevel])
        #expect(patch.values.decodingViolations.isEmpty)
    }

    @Test("a bad @odata.etag is a violation saying what is allowed", arguments: [
        #""W/3x""#, #""0""#, #""-1""#, #""""#, #""W/\"\"""#, "3", "null", "true", #"["W/\"3\""]"#,
    ])
    func badETag(_ json: String) throws {
        let (patch, ifMatch) = Self.decode("{\"@odata.etag\": \(json), \"riskLevel\": \"low\"}")
        #expect(ifMatch == nil)
        #expect(patch.fields == [.riskLevel], "the rest is decoded")
        let violation = try #require(patch.values.decodingViolations.first)
        #expect(patch.values.decodingViolations.count == 1)
        #expect(violation.field == "@odata.etag")
        #expect(violation.description.contains(ETag.format), "\(violation.description)")
        if json.hasPrefix("\"") {
            #expect(violation.description.hasPrefix("'"), "quotes what was given: \(violation.description)")
        } else {
            #expect(violation.description.hasPrefix("must be a JSON string, got "), "\(violation.description)")
        }
    }

    @Test("@odata.type is checked as for a create", arguments: [
        (##""#microsoft.graph.identityRiskEvent""##, true), (#""microsoft.graph.identityRiskEvent""#, true),
        (##""#microsoft.graph.user""##, false), ("5", false), ("null", false),
    ])
    func odataType(_ json: String, _ accepted: Bool) {
        let (patch, _) = Self.decode("{\"@odata.type\": \(json), \"userId\": \"u2\"}")
        #expect(patch.fields == [.userId])
        if accepted {
            #expect(patch.values.decodingViolations.isEmpty)
        } else {
            #expect(patch.values.decodingViolations == [
                FieldViolation(field: "@odata.type", description: "must be \"#microsoft.graph.identityRiskEvent\" when present"),
            ])
        }
    }

    /// `id` and `createdDateTime` are left to UpdateEvent, which refuses them
    /// as read-only whatever their value; the decoder neither refuses them nor
    /// adds a second, value-level violation.
    @Test("id and createdDateTime are passed through as fields", arguments: [
        #"{"id": "other", "createdDateTime": "2017-01-01T00:00:00Z"}"#,
        #"{"id": 7, "createdDateTime": "yesterday"}"#,
        #"{"id": null, "createdDateTime": null}"#,
    ])
    func readOnlyPassedThrough(_ body: String) {
        let (patch, _) = Self.decode(body)
        #expect(patch.fields == [.id, .createdDateTime])
        #expect(patch.values.decodingViolations.isEmpty)
    }

    @Test("malformed JSON is refused as invalidArgument / MalformedJSON", arguments: [
        #"{"userId": "#, "", "{", #"{"userId": "u" "riskLevel": "high"}"#, "nope", #"{'userId': 'u'}"#,
    ])
    func malformedJSON(_ text: String) {
        do {
            let decoded = try GraphJSON.decodePatch(Array(text.utf8))
            Issue.record("expected a refusal, got \(decoded)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.innerCode == "MalformedJSON")
            #expect(error.message.hasPrefix("the body is not valid JSON: "))
        }
    }

    @Test("a body that is not an object is refused as MalformedJSON", arguments: ["[]", #"[{"userId": "u"}]"#, "42", #""abc""#, "null"])
    func notAnObject(_ text: String) {
        do {
            let decoded = try GraphJSON.decodePatch(Array(text.utf8))
            Issue.record("expected a refusal, got \(decoded)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.innerCode == "MalformedJSON")
            #expect(error.message.hasPrefix("the body must be a JSON object"), "\(error.message)")
        }
    }

    // MARK: - decodePatch(properties:)

    @Test func propertiesMatchTheJSONBody() throws {
        let properties: [String: String?] = [
            "userDisplayName": nil,
            "riskLevel": "extreme",
            "riskEventStatus": "remediated",
            "closedDateTime": "yesterday",
            "riskEventDateTime": "2017-01-01T00:01:00.7804275+03:00",
            "userId": nil,
            "zeta": "unknown",
            "@odata.type": "#microsoft.graph.user",
        ]
        let body = #"""
            {"userDisplayName": null, "riskLevel": "extreme", "riskEventStatus": "remediated", "closedDateTime": "yesterday",
             "riskEventDateTime": "2017-01-01T00:01:00.7804275+03:00", "userId": null, "zeta": "unknown",
             "@odata.type": "#microsoft.graph.user"}
            """#
        let fromProperties = GraphJSON.decodePatch(properties: properties)
        #expect(fromProperties == Self.decode(body).patch)
        #expect(fromProperties.fields == [.userDisplayName, .riskEventDateTime, .riskLevel, .riskEventStatus, .closedDateTime, .userId])
        #expect(fromProperties.values.decodingViolations.map(\.field) == ["zeta", "@odata.type", "riskLevel", "closedDateTime"])
        #expect(fromProperties.values.riskEventStatus == .remediated)
        #expect(fromProperties.values.riskEventDateTime?.description == "2017-01-01T00:01:00.7804275+03:00")
        #expect(fromProperties.values.userDisplayName == nil)
    }

    @Test func propertiesHaveNoEtag() {
        let patch = GraphJSON.decodePatch(properties: ["@odata.etag": #"W/"3""#, "riskLevel": "low"])
        #expect(patch.fields == [.riskLevel])
        #expect(patch.values.decodingViolations.map(\.field) == ["@odata.etag"], "refused, not silently ignored")
    }
}

@Suite("UpdateEvent with GraphJSON PATCH bodies")
struct UpdateWithGraphJSONTests {
    static func stored() -> IdentityRiskEvent {
        event(id: "e1", userDisplayName: "Alice", riskLevel: .low, createdDateTime: "2017-01-02T00:00:00Z")
    }

    static func update(_ store: TestEventStore, _ body: String) async throws(IdentityRiskError) -> IdentityRiskEvent {
        let (patch, ifMatch) = try GraphJSON.decodePatch(Array(body.utf8))
        return try await UpdateEvent(store: store)(.init(id: "e1", patch: patch, ifMatch: ifMatch))
    }

    @Test func aPatchWithItsEtagUpdatesAndAStaleOneIsRefused() async throws {
        let store = TestEventStore([Self.stored()])
        let body = #"{"@odata.etag": "W/\"1\"", "userDisplayName": null, "riskLevel": "high", "closedDateTime": "2017-01-03T00:00:00Z"}"#
        let updated = try await Self.update(store, body)
        #expect(updated.version == 2)
        #expect(updated.userDisplayName == nil)
        #expect(updated.riskLevel == .high)
        #expect(updated.closedDateTime == dt("2017-01-03T00:00:00Z"))
        #expect(updated.createdDateTime == Self.stored().createdDateTime)
        #expect(store.stored("e1") == updated)
        let printed = try GraphJSONTests.parse(GraphJSON.encode(updated))
        #expect(printed["@odata.etag"] as? String == #"W/"2""#)
        #expect(printed["userDisplayName"] is NSNull)

        do {
            let again = try await Self.update(store, body)
            Issue.record("a stale etag was accepted: \(again)")
        } catch {
            #expect(error.code == .failedPrecondition)
            #expect(error.code.graphCode == "preconditionFailed")
            #expect(error.code.httpStatus == 412)
            #expect(error.message.contains(#"W/"2""#), "\(error.message)")
        }
        #expect(store.stored("e1") == updated, "nothing changed")
    }

    @Test func aPatchThatChangesNothingKeepsTheVersion() async throws {
        let store = TestEventStore([Self.stored()])
        let same = try await Self.update(store, #"{"riskLevel": "low", "userDisplayName": "Alice"}"#)
        #expect(same == Self.stored())
        #expect(same.version == 1)
    }

    @Test func everyBadValueIsListedTogether() async throws {
        let store = TestEventStore([Self.stored()])
        do {
            let updated = try await Self.update(store, #"""
                {"riskLevel": "extreme", "closedDateTime": "yesterday", "userId": null, "bogus": 1,
                 "userPrincipalName": 5, "@odata.etag": "W/x"}
                """#)
            Issue.record("accepted: \(updated)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(Set(error.violations.map(\.field))
                == ["riskLevel", "closedDateTime", "userId", "bogus", "userPrincipalName", "@odata.etag"])
            #expect(error.violations.count == 6, "one each: \(error.violations)")
            #expect(error.violations.first { $0.field == "userId" }?.description.hasPrefix("cannot be cleared") == true)
        }
        #expect(store.stored("e1") == Self.stored())
    }

    @Test("id and createdDateTime are refused as read-only, whatever their value", arguments: [
        #"{"id": "other", "createdDateTime": "2017-01-01T00:00:00Z", "riskLevel": "high"}"#,
        #"{"id": 7, "createdDateTime": "yesterday", "riskLevel": "high"}"#,
        #"{"id": null, "createdDateTime": null, "riskLevel": "high"}"#,
    ])
    func readOnly(_ body: String) async throws {
        let store = TestEventStore([Self.stored()])
        do {
            let updated = try await Self.update(store, body)
            Issue.record("accepted: \(updated)")
        } catch {
            #expect(error.violations.map(\.field) == ["id", "createdDateTime"])
            #expect(error.violations.map(\.innerCode) == ["ReadOnlyProperty", "ReadOnlyProperty"])
        }
        #expect(store.stored("e1") == Self.stored())
    }
}
