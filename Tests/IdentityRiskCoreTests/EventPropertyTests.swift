@testable import IdentityRiskCore
import IdentityRiskTestSupport
import Testing

/// One row of the expected property table, written out by hand from Graph's
/// identityRiskEvent page and the README's rules, so that a change to the
/// table in Core (order, kind, a flag) fails here.
struct PropertyRow: Sendable, CustomTestStringConvertible {
    var name: String
    var kind: EventProperty.Kind
    var requiredOnCreate: Bool
    var nullable: Bool
    var updatable: Bool
    /// With ``EventLimits/default``; `nil` for properties that are not text.
    var maxBytes: Int?
    var testDescription: String { name }
}

@Suite("EventProperty: the one property table")
struct EventPropertyTests {
    /// Graph's order, as Graph's documentation lists the properties and prints a record.
    static let rows: [PropertyRow] = [
        PropertyRow(name: "id", kind: .text, requiredOnCreate: false, nullable: false, updatable: false, maxBytes: 128),
        PropertyRow(name: "userDisplayName", kind: .text, requiredOnCreate: false, nullable: true, updatable: true, maxBytes: 256),
        PropertyRow(name: "userPrincipalName", kind: .text, requiredOnCreate: true, nullable: false, updatable: true, maxBytes: 256),
        PropertyRow(name: "riskEventDateTime", kind: .dateTime, requiredOnCreate: true, nullable: false, updatable: true),
        PropertyRow(name: "riskEventType", kind: .text, requiredOnCreate: true, nullable: false, updatable: true, maxBytes: 128),
        PropertyRow(name: "riskLevel", kind: .riskLevel, requiredOnCreate: true, nullable: false, updatable: true),
        PropertyRow(name: "riskEventStatus", kind: .riskEventStatus, requiredOnCreate: true, nullable: false, updatable: true),
        PropertyRow(name: "closedDateTime", kind: .dateTime, requiredOnCreate: false, nullable: true, updatable: true),
        PropertyRow(name: "createdDateTime", kind: .dateTime, requiredOnCreate: false, nullable: false, updatable: false),
        PropertyRow(name: "userId", kind: .text, requiredOnCreate: true, nullable: false, updatable: true, maxBytes: 128),
    ]

    /// A value of `property`'s kind, different for every property (so a
    /// subscript that reads or writes the wrong stored property is caught).
    static func sample(_ property: EventProperty) -> PropertyValue {
        let index = EventProperty.allCases.firstIndex(of: property)!
        switch property.kind {
        case .text: return .text("value-\(index)-\(property.graphName)")
        case .dateTime: return .dateTime(dt("2017-01-0\(index % 9 + 1)T00:01:00.780427\(index)+03:00"))
        case .riskLevel: return .riskLevel(.hidden)
        case .riskEventStatus: return .riskEventStatus(.loginBlocked)
        }
    }

    @Test func allCasesIsGraphsOrder() {
        #expect(EventProperty.allCases.map(\.graphName) == Self.rows.map(\.name))
        #expect(EventProperty.allCases.map(\.rawValue) == Self.rows.map(\.name))
        #expect(EventProperty.allowedNames == Self.rows.map(\.name).joined(separator: ", "))
    }

    @Test("each property's kind, flags and limit", arguments: rows)
    func row(_ row: PropertyRow) throws {
        let property = try #require(EventProperty(graphName: row.name))
        #expect(property.graphName == row.name)
        #expect(property.description == row.name)
        #expect(property.kind == row.kind)
        #expect(property.isRequiredOnCreate == row.requiredOnCreate)
        #expect(property.isNullable == row.nullable)
        #expect(property.isUpdatable == row.updatable)
        #expect(property.maxBytes(.default) == row.maxBytes)
    }

    @Test("names are case-sensitive and only the ten exist", arguments: ["riskevel", "RiskLevel", "ID", "", "@odata.type", "@odata.etag", "version"])
    func unknownNames(_ name: String) {
        #expect(EventProperty(graphName: name) == nil)
    }

    @Test func expectedValuesNameTheFormatOrTheMembers() {
        for property in EventProperty.allCases {
            switch property.kind {
            case .text: #expect(property.expectedValue == "text")
            case .dateTime: #expect(property.expectedValue == DateTimeOffset.formatDescription)
            case .riskLevel: #expect(property.expectedValue == "one of low, medium, high, hidden, none, unknownFutureValue")
            case .riskEventStatus: #expect(property.expectedValue.hasSuffix(RiskEventStatus.allowedValues))
            }
        }
    }

    @Test("the draft subscript sets and gets exactly its own property", arguments: EventProperty.allCases)
    func draftSubscriptRoundTrips(_ property: EventProperty) {
        var draft = IdentityRiskEventDraft()
        #expect(draft[property] == nil)
        draft[property] = Self.sample(property)
        #expect(draft[property] == Self.sample(property))
        for other in EventProperty.allCases where other != property {
            #expect(draft[other] == nil, "setting \(property) changed \(other)")
        }
        draft[property] = nil
        #expect(draft == IdentityRiskEventDraft(), "setting nil clears \(property)")
    }

    @Test func draftSubscriptFillsEveryProperty() {
        var draft = IdentityRiskEventDraft()
        for property in EventProperty.allCases { draft[property] = Self.sample(property) }
        for property in EventProperty.allCases { #expect(draft[property] == Self.sample(property)) }
        // The same as writing the stored properties by name.
        func text(_ p: EventProperty) -> String { if case .text(let s) = Self.sample(p) { s } else { "" } }
        func date(_ p: EventProperty) -> DateTimeOffset? { if case .dateTime(let d) = Self.sample(p) { d } else { nil } }
        #expect(draft == IdentityRiskEventDraft(
            id: text(.id), userDisplayName: text(.userDisplayName), userPrincipalName: text(.userPrincipalName),
            riskEventDateTime: date(.riskEventDateTime), riskEventType: text(.riskEventType), riskLevel: .hidden,
            riskEventStatus: .loginBlocked, closedDateTime: date(.closedDateTime), createdDateTime: date(.createdDateTime),
            userId: text(.userId)))
    }

    /// The record's subscript reads the stored property of the same name; the
    /// switch is exhaustive, so a new property fails to compile here.
    @Test func eventSubscriptReadsEachStoredProperty() {
        let e = event(id: "e1", userDisplayName: "Zoë", userPrincipalName: "zoe@contoso.com",
                      riskEventDateTime: "2017-01-01T00:01:00.7804275+03:00", riskEventType: "leakedCredentials",
                      riskLevel: .medium, riskEventStatus: .remediated, closedDateTime: "2017-01-05T10:00:00-05:00",
                      createdDateTime: "2017-01-06T00:00:00Z", userId: "u1")
        for property in EventProperty.allCases {
            let expected: PropertyValue? = switch property {
            case .id: .text(e.id)
            case .userDisplayName: e.userDisplayName.map(PropertyValue.text)
            case .userPrincipalName: .text(e.userPrincipalName)
            case .riskEventDateTime: .dateTime(e.riskEventDateTime)
            case .riskEventType: .text(e.riskEventType)
            case .riskLevel: .riskLevel(e.riskLevel)
            case .riskEventStatus: .riskEventStatus(e.riskEventStatus)
            case .closedDateTime: e.closedDateTime.map(PropertyValue.dateTime)
            case .createdDateTime: .dateTime(e.createdDateTime)
            case .userId: .text(e.userId)
            }
            #expect(e[property] == expected, "\(property)")
            #expect(e[property] != nil)
            // A draft made from the record carries the same values, but never createdDateTime.
            #expect(IdentityRiskEventDraft(e)[property] == (property == .createdDateTime ? nil : expected), "\(property)")
        }
        let bare = event(id: "e2")
        #expect(EventProperty.allCases.filter { bare[$0] == nil } == EventProperty.allCases.filter(\.isNullable))
    }

    /// `isRequiredOnCreate` is what the validator enforces: leaving out exactly
    /// that property is refused, naming it; leaving out another is accepted.
    @Test("the validator requires exactly the required properties", arguments: EventProperty.allCases)
    func requiredMatchesTheValidator(_ property: EventProperty) throws {
        var draft = seedDraft()
        draft.id = "given"
        draft[property] = nil
        do {
            let e = try EventValidator().validate(draft, assignID: { "assigned" }, createdDateTime: EventValidatorTests.created)
            #expect(!property.isRequiredOnCreate, "\(property) may be left out")
            #expect(e[property] == nil || !property.isNullable)
        } catch {
            #expect(property.isRequiredOnCreate, "\(property) was required: \(error)")
            #expect(error.violations.map(\.field) == [property.graphName])
        }
    }

    /// `isNullable` is what `$filter` allows `null` for.
    @Test("eq null parses exactly for the nullable properties", arguments: EventProperty.allCases)
    func nullableMatchesTheFilter(_ property: EventProperty) {
        let parsed = try? ODataFilter.parse("\(property.graphName) eq null")
        #expect((parsed != nil) == property.isNullable)
    }
}

@Suite("RiskLevel and RiskEventStatus: Graph order and wire numbers")
struct EnumWireNumberTests {
    @Test func riskLevelIsGraphsOrderNumberedFromOne() {
        #expect(RiskLevel.allCases.map(\.rawValue) == ["low", "medium", "high", "hidden", "none", "unknownFutureValue"])
        #expect(RiskLevel.allCases.map(\.wireNumber) == Array(1...6))
        #expect(RiskLevel.allowedValues == "low, medium, high, hidden, none, unknownFutureValue")
    }

    @Test func riskEventStatusIsGraphsOrderNumberedFromOne() {
        #expect(RiskEventStatus.allCases.map(\.rawValue) == [
            "active", "remediated", "dismissedAsFixed", "dismissedAsFalsePositive", "dismissedAsIgnore",
            "loginBlocked", "closedMfaAuto", "closedMultipleReasons",
        ])
        #expect(RiskEventStatus.allCases.map(\.wireNumber) == Array(1...8))
        #expect(RiskEventStatus.allowedValues
            == "active, remediated, dismissedAsFixed, dismissedAsFalsePositive, dismissedAsIgnore, loginBlocked, closedMfaAuto, closedMultipleReasons")
    }

    @Test func riskLevelWireNumbersRoundTrip() {
        for level in RiskLevel.allCases {
            #expect(RiskLevel(wireNumber: level.wireNumber) == level)
        }
        let n = UInt32(RiskLevel.allCases.count)
        #expect(RiskLevel(wireNumber: 0) == nil, "0 is unspecified")
        #expect(RiskLevel(wireNumber: n + 1) == nil)
        #expect(RiskLevel(wireNumber: .max) == nil)
    }

    @Test func riskEventStatusWireNumbersRoundTrip() {
        for status in RiskEventStatus.allCases {
            #expect(RiskEventStatus(wireNumber: status.wireNumber) == status)
        }
        let n = UInt32(RiskEventStatus.allCases.count)
        #expect(RiskEventStatus(wireNumber: 0) == nil, "0 is unspecified")
        #expect(RiskEventStatus(wireNumber: n + 1) == nil)
        #expect(RiskEventStatus(wireNumber: .max) == nil)
    }
}

@Suite("ETag")
struct ETagTests {
    @Test func printsWeakQuotedVersion() {
        #expect(ETag(version: 3).description == #"W/"3""#)
        #expect(ETag(version: 1).description == #"W/"1""#)
        #expect(ETag(version: .max).description == #"W/"18446744073709551615""#)
        #expect(event(id: "e").etag == #"W/"1""#, "a new record is version 1")
        var e = event(id: "e")
        e.version = 42
        #expect(e.etag == #"W/"42""#)
    }

    @Test("accepts W/\"N\", \"N\" and N", arguments: [
        (#"W/"3""#, UInt64(3)), (#""3""#, 3), ("3", 3), ("1", 1), (#"W/"17""#, 17),
        ("18446744073709551615", .max), (#"W/"18446744073709551615""#, .max),
    ])
    func accepted(_ text: String, _ version: UInt64) {
        #expect(ETag(parsing: text) == ETag(version: version))
    }

    @Test("refuses 0, signs, junk and empty", arguments: [
        "0", #"W/"0""#, "-1", #"W/"-1""#, "+3", "W/3x", #"W/"3x""#, "3x", "", #""""#, #"W/"""#, "W/", #"""#,
        #""3"#, " 3", "3 ", "3.0", #"w/"3""#, "18446744073709551616", "٣",
    ])
    func refused(_ text: String) {
        #expect(ETag(parsing: text) == nil, "\(text)")
    }

    @Test func printedETagsParseBack() {
        var rng = SplitMix64(seed: 0xE7A6)
        for version in [1, 2, 9, 10, UInt64.max - 1, .max] + (0..<100).map({ _ in UInt64.random(in: 1...UInt64.max, using: &rng) }) {
            let etag = ETag(version: version)
            #expect(ETag(parsing: etag.description) == etag)
            #expect(ETag(parsing: String(version)) == etag)
        }
    }

    @Test func formatShowsAnExample() {
        #expect(ETag.format.contains(#"W/"3""#))
    }
}
