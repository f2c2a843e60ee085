@testable import IdentityRiskCore
@testable import IdentityRiskWire
import NIOCore
import NIOEmbedded
import Testing

/// Encode -> strip the 4-byte prefix -> decode, through the real protobuf-c library.
@Suite("Codec round trips")
struct CodecRoundTripTests {
    // MARK: - IdentityRiskEventDraft (requests)

    /// The ten properties of a draft.
    enum DraftProperty: String, CaseIterable, Sendable {
        case id, userDisplayName, userPrincipalName, riskEventDateTime, riskEventType
        case riskLevel, riskEventStatus, closedDateTime, createdDateTime, userId

        func clear(_ draft: inout IdentityRiskEventDraft) {
            switch self {
            case .id: draft.id = nil
            case .userDisplayName: draft.userDisplayName = nil
            case .userPrincipalName: draft.userPrincipalName = nil
            case .riskEventDateTime: draft.riskEventDateTime = nil
            case .riskEventType: draft.riskEventType = nil
            case .riskLevel: draft.riskLevel = nil
            case .riskEventStatus: draft.riskEventStatus = nil
            case .closedDateTime: draft.closedDateTime = nil
            case .createdDateTime: draft.createdDateTime = nil
            case .userId: draft.userId = nil
            }
        }
    }

    @Test("a draft with all ten properties set survives")
    func fullDraft() throws {
        let draft = Fixtures.fullDraft()
        let request = WireRequest(callID: 7, timeoutMilliseconds: 2500, method: .create(draft))
        let decoded = try roundTrip(request)
        #expect(decoded == request)
        let back = try #require(createdDraft(decoded))
        // Field by field, so a failure names the property.
        #expect(back.id == "draft-42")
        #expect(back.userDisplayName == "User Display Name value")
        #expect(back.userPrincipalName == "User Principal Name value")
        #expect(back.riskEventDateTime?.description == "2017-01-01T00:01:00.7804275+03:00")
        #expect(back.riskEventType == "Risk Event Type value")
        #expect(back.riskLevel == .medium)
        #expect(back.riskEventStatus == .dismissedAsFalsePositive)
        #expect(back.closedDateTime?.description == "2017-01-01T00:01:30.8768135-05:30")
        #expect(back.createdDateTime?.description == "2020-02-29T23:59:59Z")
        #expect(back.userId == "User Id value")
        #expect(back.decodingViolations.isEmpty)
    }

    @Test("a draft with one property absent survives with only that one absent", arguments: DraftProperty.allCases)
    func draftWithOneAbsent(_ property: DraftProperty) throws {
        var draft = Fixtures.fullDraft()
        property.clear(&draft)
        let decoded = try roundTrip(WireRequest(callID: 1, method: .create(draft)))
        let back = try #require(createdDraft(decoded))
        #expect(back == draft)
    }

    @Test("a draft with only one property present survives", arguments: DraftProperty.allCases)
    func draftWithOnlyOnePresent(_ property: DraftProperty) throws {
        var draft = Fixtures.fullDraft()
        for other in DraftProperty.allCases where other != property { other.clear(&draft) }
        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 1, method: .create(draft)))))
        #expect(back == draft)
    }

    @Test("an empty draft decodes as an empty draft")
    func emptyDraft() throws {
        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 3, method: .create(IdentityRiskEventDraft())))))
        #expect(back == IdentityRiskEventDraft())
    }

    @Test("empty strings read back as absent (proto3 strings have no presence)")
    func emptyStringsAreAbsent() throws {
        let draft = IdentityRiskEventDraft(id: "", userDisplayName: "", userPrincipalName: "", riskEventType: "", userId: "")
        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 3, method: .create(draft)))))
        #expect(back.id == nil)
        #expect(back.userDisplayName == nil)
        #expect(back.userPrincipalName == nil)
        #expect(back.riskEventType == nil)
        #expect(back.userId == nil)
    }

    @Test("every RiskLevel survives in a draft and in an event", arguments: RiskLevel.allCases)
    func riskLevels(_ level: RiskLevel) throws {
        var draft = Fixtures.fullDraft()
        draft.riskLevel = level
        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 1, method: .create(draft)))))
        #expect(back.riskLevel == level)
        #expect(back == draft)

        var event = Fixtures.fullEvent()
        event.riskLevel = level
        #expect(try roundTrip(WireResponse(callID: 1, result: .get(event))) == WireResponse(callID: 1, result: .get(event)))
    }

    @Test("every RiskEventStatus survives in a draft and in an event", arguments: RiskEventStatus.allCases)
    func riskEventStatuses(_ status: RiskEventStatus) throws {
        var draft = Fixtures.fullDraft()
        draft.riskEventStatus = status
        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 1, method: .create(draft)))))
        #expect(back.riskEventStatus == status)
        #expect(back == draft)

        var event = Fixtures.fullEvent()
        event.riskEventStatus = status
        #expect(try roundTrip(WireResponse(callID: 1, result: .get(event))) == WireResponse(callID: 1, result: .get(event)))
    }

    @Test("enum wire numbers are Graph's list position plus one, as in the .proto")
    func enumNumbers() {
        #expect(RiskLevel.allCases.map(EventCodec.number) == [1, 2, 3, 4, 5, 6])
        #expect(EventCodec.number(RiskLevel.unknownFutureValue) == 6)
        #expect(RiskEventStatus.allCases.map(EventCodec.number) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(EventCodec.number(RiskEventStatus.closedMultipleReasons) == 8)
        #expect(ListOrder.allCases.map(RequestCodec.orderNumber) == [1, 2, 3, 4])
        #expect(RequestCodec.orderNumber(.riskEventDescending) == 4)
    }

    // MARK: - DateTimeOffset edges

    static let dateTexts: [String] = [
        // year 0001 and 9999, at both ends of the offset range
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+00:00",
        "0001-01-01T00:00:00-14:00",
        "0001-01-01T14:00:00+14:00",
        "9999-12-31T23:59:59.9999999Z",
        "9999-12-31T23:59:59.9999999+14:00",
        "9999-12-31T09:59:59.9999999-14:00",
        "9999-12-31T23:59:59+00:00",
        // negative offsets, and offsets that are not whole hours
        "2017-01-01T00:01:00-08:00",
        "2017-01-01T00:01:00-00:30",
        "2017-01-01T00:01:00.5-09:30",
        "2016-02-29T12:00:00.25+05:45",
        // Z vs +00:00
        "2017-01-01T00:01:00Z",
        "2017-01-01T00:01:00+00:00",
        // before the Unix epoch (negative unix_seconds with ticks)
        "1969-12-31T23:59:59.9999999Z",
        "1970-01-01T00:00:00Z",
        // 0 ... 7 fraction digits
        "2017-01-01T00:01:00.1Z",
        "2017-01-01T00:01:00.12Z",
        "2017-01-01T00:01:00.123Z",
        "2017-01-01T00:01:00.1234+01:00",
        "2017-01-01T00:01:00.12345-01:00",
        "2017-01-01T00:01:00.123456+00:00",
        "2017-01-01T00:01:00.1234567Z",
        // trailing zeros are kept as written, and max ticks
        "2017-01-01T00:01:00.0Z",
        "2017-01-01T00:01:00.1000000Z",
        "2017-01-01T00:01:00.0000001Z",
        "2017-01-01T00:01:00.9999999Z",
    ]

    @Test("DateTimeOffset edge values survive in every datetime property of a draft", arguments: dateTexts)
    func draftDates(_ text: String) throws {
        let value = dt(text)
        #expect(value.description == text, "fixture must print as written")
        var draft = Fixtures.fullDraft()
        draft.riskEventDateTime = value
        draft.closedDateTime = value
        draft.createdDateTime = value
        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 9, method: .create(draft)))))
        for (name, decoded) in [("riskEventDateTime", back.riskEventDateTime), ("closedDateTime", back.closedDateTime), ("createdDateTime", back.createdDateTime)] {
            let got = try #require(decoded, "\(name) lost")
            #expect(got == value, "\(name)")
            #expect(got.description == text, "\(name) must print character for character")
            #expect(got.unixSeconds == value.unixSeconds && got.ticks == value.ticks, "\(name) instant")
            #expect(got.offsetMinutes == value.offsetMinutes && got.fractionDigits == value.fractionDigits, "\(name) representation")
            #expect(got.utcDesignator == value.utcDesignator, "\(name) Z vs +00:00")
        }
        #expect(back.decodingViolations.isEmpty)
    }

    @Test("DateTimeOffset edge values survive in every datetime property of an event", arguments: dateTexts)
    func eventDates(_ text: String) throws {
        let value = dt(text)
        var event = Fixtures.fullEvent()
        event.riskEventDateTime = value
        event.closedDateTime = value
        event.createdDateTime = value
        let response = WireResponse(callID: 9, result: .get(event))
        let decoded = try roundTrip(response)
        #expect(decoded == response)
        guard case .get(let back) = decoded.result else {
            Issue.record("expected .get, got \(decoded.result)")
            return
        }
        #expect(back.riskEventDateTime.description == text)
        #expect(back.closedDateTime?.description == text)
        #expect(back.createdDateTime.description == text)
    }

    @Test("Z and +00:00 stay distinct after the wire")
    func zuluVersusZeroOffset() throws {
        var draft = Fixtures.fullDraft()
        draft.riskEventDateTime = dt("2017-01-01T00:00:00Z")
        draft.closedDateTime = dt("2017-01-01T00:00:00+00:00")
        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 1, method: .create(draft)))))
        #expect(back.riskEventDateTime?.utcDesignator == true)
        #expect(back.closedDateTime?.utcDesignator == false)
        #expect(back.riskEventDateTime?.instantTicks == back.closedDateTime?.instantTicks)
        #expect(back.riskEventDateTime != back.closedDateTime)
    }

    @Test("the extreme components (min/max instant, max ticks, ±840 minutes) survive")
    func extremeComponents() throws {
        let values = [
            try DateTimeOffset(unixSeconds: DateTimeOffset.minUnixSeconds, ticks: 0, offsetMinutes: 0, fractionDigits: 0, utcDesignator: true),
            try DateTimeOffset(unixSeconds: DateTimeOffset.maxUnixSeconds, ticks: 9_999_999, offsetMinutes: 0, fractionDigits: 7, utcDesignator: true),
            try DateTimeOffset(unixSeconds: DateTimeOffset.maxUnixSeconds - 840 * 60, ticks: 9_999_999, offsetMinutes: 840, fractionDigits: 7, utcDesignator: false),
            try DateTimeOffset(unixSeconds: DateTimeOffset.minUnixSeconds + 840 * 60, ticks: 1, offsetMinutes: -840, fractionDigits: 7, utcDesignator: false),
            try DateTimeOffset(utcInstantTicks: -1),
        ]
        for value in values {
            var event = Fixtures.fullEvent()
            event.riskEventDateTime = value
            event.createdDateTime = value
            let response = WireResponse(callID: UInt64.max, result: .create(CreateOutcome(event: event, alreadyExisted: false)))
            #expect(try roundTrip(response) == response, "\(value)")
            var draft = IdentityRiskEventDraft()
            draft.closedDateTime = value
            let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 1, method: .create(draft)))))
            #expect(back.closedDateTime == value, "\(value)")
        }
    }

    // MARK: - Request methods

    static let orderedLists: [ListEvents.Request] = ListOrder.allCases.map {
        ListEvents.Request(filter: "riskLevel eq 'high' and createdDateTime ge 2017-01-01T00:00:00Z", order: $0, top: 1000, pageToken: "1.0.cbf29ce484222325.123.evt-1")
    }

    @Test("every ListOrder survives in a list request", arguments: orderedLists)
    func listOrders(_ list: ListEvents.Request) throws {
        let request = WireRequest(callID: 11, timeoutMilliseconds: 100, method: .list(list))
        let decoded = try roundTrip(request)
        #expect(decoded == request)
        guard case .list(let back) = decoded.method else {
            Issue.record("expected .list, got \(decoded.method)")
            return
        }
        #expect(back.order == list.order)
        #expect(back.filter == list.filter)
        #expect(back.top == 1000)
        #expect(back.pageToken == list.pageToken)
    }

    static let methods: [WireRequest.Method] = [
        .create(Fixtures.fullDraft()),
        .create(IdentityRiskEventDraft()),
        .get(id: "evt-0001"),
        .get(id: "日本語-🦊"),
        .get(id: ""),
        .list(ListEvents.Request()),
        .list(ListEvents.Request(filter: "userId eq 'u1'", order: .riskEventDescending, top: 1, pageToken: "")),
        .health,
        .cancel(targetCallID: 0),
        .cancel(targetCallID: 42),
        .cancel(targetCallID: UInt64.max),
    ]

    @Test("every method survives", arguments: methods)
    func everyMethod(_ method: WireRequest.Method) throws {
        let request = WireRequest(callID: 77, timeoutMilliseconds: 30_000, method: method)
        #expect(try roundTrip(request) == request)
    }

    @Test("call id and timeout survive at their extremes",
          arguments: zip([UInt64(0), 1, 127, 128, 1 << 32, UInt64.max], [UInt32(0), 1, 127, 128, 1 << 31, UInt32.max]))
    func callIDAndTimeout(_ callID: UInt64, _ timeout: UInt32) throws {
        let request = WireRequest(callID: callID, timeoutMilliseconds: timeout, method: .health)
        let decoded = try roundTrip(request)
        #expect(decoded.callID == callID)
        #expect(decoded.timeoutMilliseconds == timeout)
        #expect(decoded.method == .health)
    }

    @Test("unimplemented and invalid encode as an empty oneof and read back as unimplemented",
          arguments: [WireRequest.Method.unimplemented, .invalid(IdentityRiskError(code: .internal, message: "x"))])
    func emptyOneof(_ method: WireRequest.Method) throws {
        let decoded = try roundTrip(WireRequest(callID: 5, timeoutMilliseconds: 6, method: method))
        #expect(decoded == WireRequest(callID: 5, timeoutMilliseconds: 6, method: .unimplemented))
    }

    @Test("a list request's top is clamped into uint32 on the way out")
    func listTopClamped() throws {
        let decoded = try roundTrip(WireRequest(callID: 1, method: .list(ListEvents.Request(top: -5))))
        #expect(decoded.method == .list(ListEvents.Request(top: 0)))
    }

    // MARK: - Response results

    @Test("create survives with alreadyExisted true and false", arguments: [true, false])
    func createResult(_ alreadyExisted: Bool) throws {
        let response = WireResponse(callID: 21, result: .create(CreateOutcome(event: Fixtures.fullEvent(), alreadyExisted: alreadyExisted)))
        let decoded = try roundTrip(response)
        #expect(decoded == response)
        guard case .create(let outcome) = decoded.result else {
            Issue.record("expected .create, got \(decoded.result)")
            return
        }
        #expect(outcome.alreadyExisted == alreadyExisted)
        #expect(outcome.event == Fixtures.fullEvent())
    }

    @Test("get survives with every property of the event checked")
    func getResult() throws {
        let event = Fixtures.fullEvent()
        let decoded = try roundTrip(WireResponse(callID: 22, result: .get(event)))
        #expect(decoded.callID == 22)
        guard case .get(let back) = decoded.result else {
            Issue.record("expected .get, got \(decoded.result)")
            return
        }
        #expect(back.id == "evt-0001")
        #expect(back.userDisplayName == "User Display Name value")
        #expect(back.userPrincipalName == "User Principal Name value")
        #expect(back.riskEventDateTime.description == "2017-01-01T00:01:00.7804275+03:00")
        #expect(back.riskEventType == "Risk Event Type value")
        #expect(back.riskLevel == .high)
        #expect(back.riskEventStatus == .active)
        #expect(back.closedDateTime?.description == "2017-01-01T00:01:30.8768135+03:00")
        #expect(back.createdDateTime.description == "2024-05-01T12:00:00.1234567Z")
        #expect(back.userId == "User Id value")
    }

    @Test("an event's optional properties survive absent")
    func eventOptionalsAbsent() throws {
        var event = Fixtures.fullEvent()
        event.userDisplayName = nil
        event.closedDateTime = nil
        let response = WireResponse(callID: 23, result: .get(event))
        let decoded = try roundTrip(response)
        #expect(decoded == response)
        guard case .get(let back) = decoded.result else {
            Issue.record("expected .get, got \(decoded.result)")
            return
        }
        #expect(back.userDisplayName == nil)
        #expect(back.closedDateTime == nil)
    }

    static func manyEvents() -> [IdentityRiskEvent] {
        (0..<7).map { i in
            var e = Fixtures.fullEvent(id: "evt-\(i)")
            e.riskLevel = RiskLevel.allCases[i % RiskLevel.allCases.count]
            e.riskEventStatus = RiskEventStatus.allCases[i % RiskEventStatus.allCases.count]
            e.userDisplayName = i.isMultiple(of: 2) ? nil : "User \(i) 🙂"
            e.closedDateTime = i.isMultiple(of: 3) ? nil : dt("2018-0\(i + 1)-01T00:00:00.\(i)-0\(i):00")
            e.createdDateTime = try! DateTimeOffset(utcInstantTicks: 17_000_000_000_000_000 + Int64(i))
            return e
        }
    }

    static let pages: [ListEvents.Response] = [
        ListEvents.Response(events: [], nextPageToken: ""),
        ListEvents.Response(events: [], nextPageToken: "1.0.abc.5.evt-9"),
        ListEvents.Response(events: [Fixtures.fullEvent()], nextPageToken: ""),
        ListEvents.Response(events: manyEvents(), nextPageToken: "1.3.cbf29ce484222325.1483218060780427.evt-6"),
    ]

    @Test("list survives with 0, 1 and several events, with and without a token", arguments: pages)
    func listResult(_ page: ListEvents.Response) throws {
        let response = WireResponse(callID: 24, result: .list(page))
        let decoded = try roundTrip(response)
        #expect(decoded == response)
        guard case .list(let back) = decoded.result else {
            Issue.record("expected .list, got \(decoded.result)")
            return
        }
        #expect(back.events.map(\.id) == page.events.map(\.id), "order is kept")
        #expect(back.nextPageToken == page.nextPageToken)
    }

    static let healths: [HealthStatus] = [
        HealthStatus(serving: .serving, serverVersion: "1.2.3", protocolVersion: 1, store: "sqlite", uptimeMilliseconds: 0, openConnections: 0),
        HealthStatus(serving: .draining, serverVersion: "0.0.1-β+build", protocolVersion: UInt32.max, store: "memory",
                     uptimeMilliseconds: UInt64.max, openConnections: UInt32.max),
    ]

    @Test("health survives, serving and draining", arguments: healths)
    func healthResult(_ health: HealthStatus) throws {
        let response = WireResponse(callID: 25, result: .health(health))
        #expect(try roundTrip(response) == response)
    }

    @Test("failure survives for every code, with violations, inner codes and retry-after", arguments: Fixtures.allCodes)
    func failureFull(_ code: IdentityRiskError.Code) throws {
        let error = IdentityRiskError(
            code: code,
            message: "2 properties are invalid; first, riskLevel: 'String' is not a riskLevel — 値",
            target: "riskLevel",
            violations: [
                FieldViolation(field: "riskLevel", description: "'String' is not a riskLevel; allowed values: \(RiskLevel.allowedValues)"),
                FieldViolation(field: "createdDateTime", description: "is read-only", innerCode: "ReadOnlyProperty"),
                FieldViolation(field: "userId", description: "is required and must not be empty"),
            ],
            innerCode: "ReadOnlyProperty",
            retryAfterMilliseconds: 1_500
        )
        let response = WireResponse(callID: 26, result: .failure(error))
        let decoded = try roundTrip(response)
        #expect(decoded == response)
        guard case .failure(let back) = decoded.result else {
            Issue.record("expected .failure, got \(decoded.result)")
            return
        }
        #expect(back.code == code)
        #expect(back.violations.map(\.innerCode) == [nil, "ReadOnlyProperty", nil])
        #expect(back.retryAfterMilliseconds == 1_500)
    }

    @Test("failure survives for every code with only a message", arguments: Fixtures.allCodes)
    func failureMinimal(_ code: IdentityRiskError.Code) throws {
        let response = WireResponse(callID: 27, result: .failure(IdentityRiskError(code: code, message: "went wrong")))
        let decoded = try roundTrip(response)
        #expect(decoded == response)
        guard case .failure(let back) = decoded.result else {
            Issue.record("expected .failure, got \(decoded.result)")
            return
        }
        #expect(back.target == nil)
        #expect(back.innerCode == nil)
        #expect(back.retryAfterMilliseconds == nil)
        #expect(back.violations.isEmpty)
    }

    @Test("status code numbers match the .proto", arguments: zip(Fixtures.allCodes, [UInt32(1), 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14]))
    func statusNumbers(_ code: IdentityRiskError.Code, _ number: UInt32) {
        #expect(StatusCodec.number(code) == number)
        #expect(StatusCodec.code(number) == code)
    }

    @Test("retry-after survives at its maximum")
    func retryAfterMax() throws {
        let error = IdentityRiskError(code: .resourceExhausted, message: "slow down", retryAfterMilliseconds: UInt32.max)
        let response = WireResponse(callID: 1, result: .failure(error))
        #expect(try roundTrip(response) == response)
    }

    // MARK: - Strings

    static let unicodeTexts: [String] = [
        "👩🏽‍💻 on 🔥, 🇯🇵 flag",
        "日本語のユーザー表示名",
        "中文用户名 简体 繁體",
        "한국어 사용자",
        "e\u{301}tude",       // decomposed é: == would match the precomposed form, bytes must not change
        "\u{E9}tude",         // precomposed é
        "עברית ‏RTL‏ عربى",
        "\u{FEFF}BOM and ZWJ\u{200D}",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{10FFFF}",
    ]

    @Test("non-ASCII strings survive byte-exact in every string property", arguments: unicodeTexts)
    func unicodeStrings(_ text: String) throws {
        let draft = IdentityRiskEventDraft(
            id: text, userDisplayName: text, userPrincipalName: text, riskEventType: text, userId: text)
        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 1, method: .create(draft)))))
        for value in [back.id, back.userDisplayName, back.userPrincipalName, back.riskEventType, back.userId] {
            #expect(value.map { Array($0.utf8) } == Array(text.utf8))
        }
        #expect(back.decodingViolations.isEmpty)

        var event = Fixtures.fullEvent(id: text)
        event.userDisplayName = text
        event.userPrincipalName = text
        event.riskEventType = text
        event.userId = text
        let decoded = try roundTrip(WireResponse(callID: 1, result: .list(ListEvents.Response(events: [event], nextPageToken: text))))
        guard case .list(let page) = decoded.result, let e = page.events.first else {
            Issue.record("expected a one-event list, got \(decoded.result)")
            return
        }
        for value in [e.id, e.userDisplayName ?? "", e.userPrincipalName, e.riskEventType, e.userId, page.nextPageToken] {
            #expect(Array(value.utf8) == Array(text.utf8))
        }

        let get = try roundTrip(WireRequest(callID: 2, method: .get(id: text)))
        guard case .get(let id) = get.method else {
            Issue.record("expected .get, got \(get.method)")
            return
        }
        #expect(Array(id.utf8) == Array(text.utf8))

        let failure = try roundTrip(WireResponse(callID: 3, result: .failure(IdentityRiskError(
            code: .invalidArgument, message: text, target: text,
            violations: [FieldViolation(field: text, description: text, innerCode: text)], innerCode: text))))
        guard case .failure(let error) = failure.result else {
            Issue.record("expected .failure, got \(failure.result)")
            return
        }
        for value in [error.message, error.target ?? "", error.innerCode ?? "", error.violations.first?.field ?? "",
                      error.violations.first?.description ?? "", error.violations.first?.innerCode ?? ""] {
            #expect(Array(value.utf8) == Array(text.utf8))
        }
    }

    /// Strings exactly at ``EventLimits/default``, built from 1- to 4-byte characters.
    static func maxLengthDraft() -> IdentityRiskEventDraft {
        let limits = EventLimits.default
        var draft = Fixtures.fullDraft()
        draft.createdDateTime = nil
        draft.id = String(String(repeating: "a-_.~Z9", count: 19).prefix(limits.maxIDBytes))  // every allowed kind of character
        draft.userDisplayName = String(repeating: "😀", count: limits.maxUserDisplayNameBytes / 4)
        draft.userPrincipalName = String(repeating: "\u{E9}", count: limits.maxUserPrincipalNameBytes / 2)
        draft.riskEventType = String(repeating: "中", count: 42) + "ab"
        draft.userId = String(repeating: "u", count: limits.maxUserIDBytes)
        return draft
    }

    @Test("max-length strings (at the validator's limits) survive byte-exact")
    func maxLengthStrings() throws {
        let draft = Self.maxLengthDraft()
        let limits = EventLimits.default
        #expect(draft.id?.utf8.count == limits.maxIDBytes)
        #expect(draft.userDisplayName?.utf8.count == limits.maxUserDisplayNameBytes)
        #expect(draft.userPrincipalName?.utf8.count == limits.maxUserPrincipalNameBytes)
        #expect(draft.riskEventType?.utf8.count == limits.maxRiskEventTypeBytes)
        #expect(draft.userId?.utf8.count == limits.maxUserIDBytes)
        // They are really at the limit, not past it.
        let event = try EventValidator().validate(draft, assignID: { "unused" }, createdDateTime: dt("2024-01-01T00:00:00Z"))

        let back = try #require(createdDraft(try roundTrip(WireRequest(callID: 1, method: .create(draft)))))
        #expect(back == draft)
        #expect(back.userDisplayName.map { Array($0.utf8) } == draft.userDisplayName.map { Array($0.utf8) })
        #expect(back.userPrincipalName.map { Array($0.utf8) } == draft.userPrincipalName.map { Array($0.utf8) })
        #expect(back.riskEventType.map { Array($0.utf8) } == draft.riskEventType.map { Array($0.utf8) })

        let response = WireResponse(callID: 2, result: .create(CreateOutcome(event: event, alreadyExisted: true)))
        #expect(try roundTrip(response) == response)
    }

    @Test("strings far beyond an arena chunk survive (arena growth)")
    func hugeStrings() throws {
        // 60 KB filter: larger than RequestCodec's 2 KB arena chunks, within the 64 KB request frame limit.
        let filter = String(repeating: "userId eq 'ü' or ", count: 3_500) + "userId eq 'x'"
        let request = WireRequest(callID: 1, method: .list(ListEvents.Request(filter: filter)))
        let frame = requestFrame(request)
        #expect(frame.readableBytes - 4 <= WireProtocol.defaultMaxRequestFrameBytes)
        #expect(try roundTrip(request) == request)

        // 1 MB token and 200 events in one response.
        let token = String(repeating: "🧪", count: 256 * 1024)
        let events = (0..<200).map { Fixtures.fullEvent(id: "evt-\($0)") }
        let response = WireResponse(callID: 2, result: .list(ListEvents.Response(events: events, nextPageToken: token)))
        #expect(try roundTrip(response) == response)
    }

    // MARK: - The frame encoders (one reused arena per connection)

    @Test("ResponseFrameEncoder reuses its arena across big and small messages without corruption")
    func responseEncoderArenaReuse() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(ResponseFrameEncoder()))
        let big = WireResponse(callID: 1, result: .list(ListEvents.Response(
            events: (0..<300).map { Fixtures.fullEvent(id: "e\($0)") }, nextPageToken: String(repeating: "t", count: 40_000))))
        let responses = [
            big,
            WireResponse(callID: 2, result: .get(Fixtures.fullEvent())),
            WireResponse(callID: 3, result: .failure(IdentityRiskError.invalid([FieldViolation(field: "a", description: "b")]))),
            big,
            WireResponse(callID: 4, result: .health(Self.healths[0])),
        ]
        for response in responses {
            try channel.writeOutbound(response)
        }
        for response in responses {
            let frame = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(try ResponseCodec.decode(try stripPrefix(frame)) == response)
        }
        #expect(try channel.finish().isClean)
    }

    @Test("RequestFrameEncoder reuses its arena across big and small messages without corruption")
    func requestEncoderArenaReuse() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(RequestFrameEncoder()))
        let big = WireRequest(callID: 1, method: .list(ListEvents.Request(filter: String(repeating: "x", count: 20_000))))
        let requests = [
            big,
            WireRequest(callID: 2, method: .create(Fixtures.fullDraft())),
            WireRequest(callID: 3, method: .get(id: "abc")),
            big,
            WireRequest(callID: 4, method: .create(Self.maxLengthDraft())),
        ]
        for request in requests {
            try channel.writeOutbound(request)
        }
        for request in requests {
            let frame = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(RequestCodec.decode(try stripPrefix(frame)) == request)
        }
        #expect(try channel.finish().isClean)
    }

    @Test("a response frame that is not protobuf is a malformed response")
    func malformedResponse() throws {
        let garbage = ByteBuffer(bytes: Array("garbage".utf8))
        #expect(throws: WireError.self) { try ResponseCodec.decode(garbage) }
        do {
            _ = try ResponseCodec.decode(garbage)
        } catch {
            guard case .malformedResponse = error else {
                Issue.record("expected malformedResponse, got \(error)")
                return
            }
        }
    }

    @Test("a status code this client does not know reads as .unknown, keeping the message", arguments: [UInt64(10), 11, 15, 99])
    func unknownStatusCode(_ number: UInt64) throws {
        let payload = ProtobufBytes { r in
            r.uint(1, 44)
            r.message(2) { s in
                s.uint(1, number)
                s.string(2, "from a newer server")
                s.uint(6, 250)
            }
        }.payload
        let response = try ResponseCodec.decode(payload)
        #expect(response == WireResponse(callID: 44, result: .failure(IdentityRiskError(
            code: .unknown, message: "from a newer server", retryAfterMilliseconds: 250))))
    }

    /// A GetResponse (field 17) whose event is built by `event`.
    static func getResponse(_ event: @escaping (inout ProtobufBytes) -> Void) -> ByteBuffer {
        ProtobufBytes { r in
            r.uint(1, 45)
            r.message(2) { _ in }  // status OK
            r.message(17) { g in g.message(1, event) }
        }.payload
    }

    @Test("a hand-encoded complete event in a GetResponse decodes")
    func handEncodedGetResponse() throws {
        let payload = Self.getResponse { e in
            e.string(ProtoField.Event.id, "evt-9")
            e.validEventFields()
            e.message(ProtoField.Event.createdDateTime) { ProtoDateTime(ticks: 0, offsetMinutes: 0, fractionDigits: 0, utcDesignator: true).write(into: &$0) }
        }
        let response = try ResponseCodec.decode(payload)
        guard case .get(let event) = response.result else {
            Issue.record("expected .get, got \(response.result)")
            return
        }
        #expect(event.id == "evt-9")
        #expect(event.createdDateTime.description == "2016-12-31T21:01:00Z")
    }

    enum BadEvent: String, CaseIterable, Sendable {
        case invalidUTF8, unknownRiskLevel, badDate, missingCreated, missingUserId

        func write(_ e: inout ProtobufBytes) {
            typealias F = ProtoField.Event
            let created: (inout ProtobufBytes) -> Void = { ProtoDateTime(ticks: 0, offsetMinutes: 0, fractionDigits: 0, utcDesignator: true).write(into: &$0) }
            e.string(F.id, "evt-9")
            switch self {
            case .invalidUTF8:
                e.validEventFields(omitting: [F.userId])
                e.bytes(F.userId, [0xFF])
                e.message(F.createdDateTime, created)
            case .unknownRiskLevel:
                e.validEventFields(omitting: [F.riskLevel])
                e.uint(F.riskLevel, 99)
                e.message(F.createdDateTime, created)
            case .badDate:
                e.validEventFields(omitting: [F.riskEventDateTime])
                e.message(F.riskEventDateTime) { ProtoDateTime(ticks: 10_000_000).write(into: &$0) }
                e.message(F.createdDateTime, created)
            case .missingCreated:
                e.validEventFields()
            case .missingUserId:
                e.validEventFields(omitting: [F.userId])
                e.message(F.createdDateTime, created)
            }
        }
    }

    @Test("a response event that does not decode strictly is a malformed response", arguments: BadEvent.allCases)
    func strictResponseEvent(_ bad: BadEvent) {
        let payload = Self.getResponse { bad.write(&$0) }
        #expect(throws: WireError.self) { try ResponseCodec.decode(payload) }
    }

    @Test("status OK with no result set is a malformed response")
    func okWithoutResult() throws {
        let payload = ProtobufBytes { $0.uint(1, 5) }.payload  // call_id only: no status, no result
        #expect(throws: WireError.self) { try ResponseCodec.decode(payload) }
    }
}
