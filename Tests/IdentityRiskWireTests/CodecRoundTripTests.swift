@testable import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
@testable import IdentityRiskWire
import NIOCore
import Testing

/// Client codec -> strip the 4-byte prefix -> server codec (and back for
/// responses), through the real protobuf-c library.
@Suite("Codec round trips")
struct CodecRoundTripTests {
    // MARK: - IdentityRiskEventDraft (requests)

    @Test("a draft with all ten properties set survives")
    func fullDraft() throws {
        let draft = Fixtures.fullDraft()
        let decoded = try roundTrip(Create.self, draft, callID: 7, timeoutMilliseconds: 2500)
        #expect(decoded == DecodedRequest(callID: 7, timeoutMilliseconds: 2500, kind: .call(Create.self, draft)))
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

    @Test("a draft with one property absent survives with only that one absent", arguments: EventProperty.allCases)
    func draftWithOneAbsent(_ property: EventProperty) throws {
        var draft = Fixtures.fullDraft()
        draft[property] = nil
        let back = try #require(try roundTripped(Create.self, draft))
        #expect(back == draft)
        #expect(back[property] == nil)
    }

    @Test("a draft with only one property present survives", arguments: EventProperty.allCases)
    func draftWithOnlyOnePresent(_ property: EventProperty) throws {
        var draft = Fixtures.fullDraft()
        for other in EventProperty.allCases where other != property { draft[other] = nil }
        let back = try #require(try roundTripped(Create.self, draft))
        #expect(back == draft)
        #expect(back[property] != nil)
    }

    @Test("an empty draft decodes as an empty draft")
    func emptyDraft() throws {
        let back = try #require(try roundTripped(Create.self, IdentityRiskEventDraft()))
        #expect(back == IdentityRiskEventDraft())
    }

    @Test("empty strings read back as absent (proto3 strings have no presence)")
    func emptyStringsAreAbsent() throws {
        let draft = IdentityRiskEventDraft(id: "", userDisplayName: "", userPrincipalName: "", riskEventType: "", userId: "")
        let back = try #require(try roundTripped(Create.self, draft))
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
        let back = try #require(try roundTripped(Create.self, draft))
        #expect(back.riskLevel == level)
        #expect(back == draft)

        var event = Fixtures.fullEvent()
        event.riskLevel = level
        #expect(try roundTrip(Get.self, callID: 1, .success(event)) == DecodedResponse(callID: 1, result: .success(event)))
    }

    @Test("every RiskEventStatus survives in a draft and in an event", arguments: RiskEventStatus.allCases)
    func riskEventStatuses(_ status: RiskEventStatus) throws {
        var draft = Fixtures.fullDraft()
        draft.riskEventStatus = status
        let back = try #require(try roundTripped(Create.self, draft))
        #expect(back.riskEventStatus == status)
        #expect(back == draft)

        var event = Fixtures.fullEvent()
        event.riskEventStatus = status
        #expect(try roundTrip(Get.self, callID: 1, .success(event)) == DecodedResponse(callID: 1, result: .success(event)))
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
        let back = try #require(createdDraft(try roundTrip(Create.self, draft, callID: 9)))
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
        let decoded = try roundTrip(Get.self, callID: 9, .success(event))
        #expect(decoded == DecodedResponse(callID: 9, result: .success(event)))
        let back = try #require(success(decoded))
        #expect(back.riskEventDateTime.description == text)
        #expect(back.closedDateTime?.description == text)
        #expect(back.createdDateTime.description == text)
    }

    @Test("Z and +00:00 stay distinct after the wire")
    func zuluVersusZeroOffset() throws {
        var draft = Fixtures.fullDraft()
        draft.riskEventDateTime = dt("2017-01-01T00:00:00Z")
        draft.closedDateTime = dt("2017-01-01T00:00:00+00:00")
        let back = try #require(try roundTripped(Create.self, draft))
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
            let outcome = CreateOutcome(event: event, alreadyExisted: false)
            #expect(try roundTrip(Create.self, callID: UInt64.max, .success(outcome)) == DecodedResponse(callID: UInt64.max, result: .success(outcome)), "\(value)")
            var draft = IdentityRiskEventDraft()
            draft.closedDateTime = value
            let back = try #require(try roundTripped(Create.self, draft))
            #expect(back.closedDateTime == value, "\(value)")
        }
    }

    // MARK: - Request methods

    static let orderedLists: [ListEvents.Request] = ListOrder.allCases.map {
        ListEvents.Request(filter: "riskLevel eq 'high' and createdDateTime ge 2017-01-01T00:00:00Z", order: $0, top: 1000, pageToken: "1.0.cbf29ce484222325.123.evt-1")
    }

    @Test("every ListOrder survives in a list request", arguments: orderedLists)
    func listOrders(_ list: ListEvents.Request) throws {
        let decoded = try roundTrip(List.self, list, callID: 11, timeoutMilliseconds: 100)
        #expect(decoded == DecodedRequest(callID: 11, timeoutMilliseconds: 100, kind: .call(List.self, list)))
        let back = try #require(decoded.request(List.self))
        #expect(back.order == list.order)
        #expect(back.filter == list.filter)
        #expect(back.top == 1000)
        #expect(back.pageToken == list.pageToken)
    }

    /// A request of some method (or a cancel), with what the server must make of it.
    struct Sample: Sendable, CustomTestStringConvertible {
        let testDescription: String
        /// The frame for call id / timeout.
        let frame: @Sendable (UInt64, UInt32) -> ByteBuffer
        let expected: DecodedRequest.Kind
        /// Whether the frame carries the call id and timeout it was given (a cancel has neither).
        let carriesEnvelope: Bool

        static func call<M: WireMethod>(_ method: M.Type, _ request: M.Request) -> Sample {
            Sample(
                testDescription: "\(M.descriptor.name) \(String(describing: request).prefix(60))",
                frame: { requestFrame(method, request, callID: $0, timeoutMilliseconds: $1) },
                expected: .call(method, request),
                carriesEnvelope: true)
        }

        static func cancel(_ target: UInt64) -> Sample {
            Sample(testDescription: "cancel \(target)", frame: { _, _ in cancelFrame(targetCallID: target) },
                   expected: .cancel(targetCallID: target), carriesEnvelope: false)
        }
    }

    static let samples: [Sample] = [
        .call(Create.self, Fixtures.fullDraft()),
        .call(Create.self, IdentityRiskEventDraft()),
        .call(Get.self, "evt-0001"),
        .call(Get.self, "日本語-🦊"),
        .call(Get.self, ""),
        .call(List.self, ListEvents.Request()),
        .call(List.self, ListEvents.Request(filter: "userId eq 'u1'", order: .riskEventDescending, top: 1, pageToken: "")),
        .call(Health.self, HealthRequest()),
        .call(IdentityRiskMethods.Stats.self, StatsRequest()),
        .call(Update.self, UpdateEvent.Request(id: "evt-0001", patch: EventPatch())),
        .call(Update.self, UpdateEvent.Request(
            id: "evt-0001", patch: EventPatch(fields: [.riskLevel], values: IdentityRiskEventDraft(riskLevel: .low)), ifMatch: 3)),
        .call(Delete.self, DeleteEvent.Request(id: "evt-0001")),
        .call(Delete.self, DeleteEvent.Request(id: "evt-0001", ifMatch: UInt64.max)),
        .call(Watch.self, WatchChanges.Request()),
        .call(Watch.self, WatchChanges.Request(filter: "userId eq 'u1'", start: .oldest)),
        .call(Watch.self, WatchChanges.Request(start: .after(ChangeCursor(1)))),
        .cancel(0),
        .cancel(42),
        .cancel(UInt64.max),
    ]

    @Test("every method survives, and so does a cancel", arguments: samples)
    func everyMethod(_ sample: Sample) throws {
        let decoded = decodeRequest(try stripPrefix(sample.frame(77, 30_000)))
        let expected = sample.carriesEnvelope
            ? DecodedRequest(callID: 77, timeoutMilliseconds: 30_000, kind: sample.expected)
            : DecodedRequest(callID: 0, timeoutMilliseconds: 0, kind: sample.expected)
        #expect(decoded == expected)
    }

    @Test("every method in the table has a sample above", arguments: WireMethods.all.map { $0.descriptor })
    func samplesCoverEveryMethod(_ descriptor: MethodDescriptor) {
        #expect(Self.samples.contains { sample in
            if case .call(let call) = sample.expected { return call.method == descriptor }
            return false
        })
    }

    @Test("call id and timeout survive at their extremes",
          arguments: zip([UInt64(0), 1, 127, 128, 1 << 32, UInt64.max], [UInt32(0), 1, 127, 128, 1 << 31, UInt32.max]))
    func callIDAndTimeout(_ callID: UInt64, _ timeout: UInt32) throws {
        let decoded = try roundTrip(Health.self, HealthRequest(), callID: callID, timeoutMilliseconds: timeout)
        #expect(decoded.callID == callID)
        #expect(decoded.timeoutMilliseconds == timeout)
        #expect(decoded.kind == .call(Health.self, HealthRequest()))
    }

    @Test("a request without a method reads back as .noMethod, keeping call id and timeout")
    func noMethod() throws {
        var buffer = ByteBuffer()
        RequestCodec.encodeWithoutMethod(callID: 5, into: &buffer)
        #expect(decodeRequest(try stripPrefix(buffer)) == DecodedRequest(callID: 5, timeoutMilliseconds: 0, kind: .noMethod))

        let withTimeout = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 5)
            m.uint(ProtoField.Request.timeoutMs, 6)
        }
        #expect(decodeRequest(withTimeout.payload) == DecodedRequest(callID: 5, timeoutMilliseconds: 6, kind: .noMethod))
    }

    @Test("a list request's top is clamped into uint32 on the way out")
    func listTopClamped() throws {
        let back = try #require(try roundTripped(List.self, ListEvents.Request(top: -5)))
        #expect(back == ListEvents.Request(top: 0))
    }

    // MARK: - Response results

    @Test("create survives with alreadyExisted true and false", arguments: [true, false])
    func createResult(_ alreadyExisted: Bool) throws {
        let outcome = CreateOutcome(event: Fixtures.fullEvent(), alreadyExisted: alreadyExisted)
        let decoded = try roundTrip(Create.self, callID: 21, .success(outcome))
        #expect(decoded == DecodedResponse(callID: 21, result: .success(outcome)))
        let back = try #require(success(decoded))
        #expect(back.alreadyExisted == alreadyExisted)
        #expect(back.event == Fixtures.fullEvent())
    }

    @Test("get survives with every property of the event checked")
    func getResult() throws {
        let event = Fixtures.fullEvent()
        let decoded = try roundTrip(Get.self, callID: 22, .success(event))
        #expect(decoded.callID == 22)
        let back = try #require(success(decoded))
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
        #expect(back.version == 300)
    }

    @Test("an event's version survives at its extremes", arguments: [UInt64(1), 127, 128, 1 << 32, UInt64.max])
    func eventVersion(_ version: UInt64) throws {
        let event = Fixtures.fullEvent(version: version)
        let back = try #require(success(try roundTrip(Get.self, callID: 1, .success(event))))
        #expect(back.version == version)
        #expect(back == event)
    }

    @Test("an event's optional properties survive absent")
    func eventOptionalsAbsent() throws {
        var event = Fixtures.fullEvent()
        event.userDisplayName = nil
        event.closedDateTime = nil
        let decoded = try roundTrip(Get.self, callID: 23, .success(event))
        #expect(decoded == DecodedResponse(callID: 23, result: .success(event)))
        let back = try #require(success(decoded))
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
        let decoded = try roundTrip(List.self, callID: 24, .success(page))
        #expect(decoded == DecodedResponse(callID: 24, result: .success(page)))
        let back = try #require(success(decoded))
        #expect(back.events.map(\.id) == page.events.map(\.id), "order is kept")
        #expect(back.nextPageToken == page.nextPageToken)
    }

    @Test("health survives, serving and draining", arguments: Fixtures.healths)
    func healthResult(_ health: HealthStatus) throws {
        #expect(try roundTrip(Health.self, callID: 25, .success(health)) == DecodedResponse(callID: 25, result: .success(health)))
    }

    @Test("stats survive: counts at their limits, every error code, both rate windows, commit percentiles present and absent")
    func statsResult() throws {
        let full = StatsReport(
            uptimeMilliseconds: UInt64.max, records: 7, creates: 5, idempotentCreates: 1, updates: 2, deletes: 1, callsOK: 9,
            errors: Fixtures.allCodes.enumerated().map { StatsReport.ErrorCount(code: $0.element, count: UInt64($0.offset + 1)) },
            recent: .init(creates: 0.5, updates: 1e-9, deletes: 3, calls: 12_345.678, errors: 0.25), recentWindowMilliseconds: 10_000,
            sinceStart: .init(creates: 1, updates: 2, deletes: 3, calls: 4, errors: 5),
            commits: CommitStatistics(
                commits: 42, window: 42, batchSize: .init(p50: 1, p90: 8, p99: 64, max: 1024),
                latencyMicroseconds: .init(p50: 900, p90: 2000, p99: 9000, max: UInt64.max)),
            queueDepth: UInt32.max, openConnections: 3, openWatchers: 2)
        #expect(try roundTrip(IdentityRiskMethods.Stats.self, callID: 26, .success(full)) == DecodedResponse(callID: 26, result: .success(full)))
        let memory = StatsReport(uptimeMilliseconds: 1, records: 0, commits: nil)
        let back = try #require(success(try roundTrip(IdentityRiskMethods.Stats.self, callID: 27, .success(memory))))
        #expect(back == memory)
        #expect(back.commits == nil, "a store without a group commit reports none, not zeros")
    }

    @Test("commit percentiles are nearest-rank")
    func percentiles() {
        let p = CommitStatistics.Percentiles(of: Array(1...100).map { UInt64($0) }.shuffled())
        #expect(p == .init(p50: 50, p90: 90, p99: 99, max: 100))
        #expect(CommitStatistics.Percentiles(of: [7]) == .init(p50: 7, p90: 7, p99: 7, max: 7))
        #expect(CommitStatistics.Percentiles(of: []) == .init())
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
        let decoded = try roundTrip(Create.self, callID: 26, .failure(error))
        #expect(decoded == DecodedResponse(callID: 26, result: .failure(error)))
        let back = try #require(failure(decoded))
        #expect(back.code == code)
        #expect(back.violations.map(\.innerCode) == [nil, "ReadOnlyProperty", nil])
        #expect(back.retryAfterMilliseconds == 1_500)

        // An error that belongs to no method is the same frame, and reads the same as any method's answer.
        var methodless = ByteBuffer()
        ResponseEncoder().encode(callID: 26, error: error, into: &methodless)
        #expect(methodless == responseFrame(Create.self, callID: 26, .failure(error)))
        #expect(try decodeResponse(try stripPrefix(methodless), as: Delete.self) == DecodedResponse(callID: 26, result: .failure(error)))
        let inbound = try ResponseCodec.decode(try stripPrefix(methodless)) { ($0.callID, $0.failure, $0.resultNumber) }
        #expect(inbound.0 == 26 && inbound.1 == error && inbound.2 == 0)
    }

    @Test("failure survives for every code with only a message", arguments: Fixtures.allCodes)
    func failureMinimal(_ code: IdentityRiskError.Code) throws {
        let error = IdentityRiskError(code: code, message: "went wrong")
        let decoded = try roundTrip(List.self, callID: 27, .failure(error))
        #expect(decoded == DecodedResponse(callID: 27, result: .failure(error)))
        let back = try #require(failure(decoded))
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
        #expect(try roundTrip(Get.self, callID: 1, .failure(error)) == DecodedResponse(callID: 1, result: .failure(error)))
    }

    @Test("an OK end of stream (no result) reads as a malformed answer to a unary method")
    func okWithoutResultFromEncoder() throws {
        let payload = try stripPrefix(responseFrame(Get.self, callID: 3, .success(nil)))
        let why = try #require(malformedReason(payload, as: Get.self))
        #expect(why.contains("no result"))
        #expect(try ResponseCodec.decode(payload) { ($0.callID, $0.failure, $0.resultNumber) } == (3, nil, 0))
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
        let back = try #require(try roundTripped(Create.self, draft))
        for value in [back.id, back.userDisplayName, back.userPrincipalName, back.riskEventType, back.userId] {
            #expect(value.map { Array($0.utf8) } == Array(text.utf8))
        }
        #expect(back.decodingViolations.isEmpty)

        var event = Fixtures.fullEvent(id: text)
        event.userDisplayName = text
        event.userPrincipalName = text
        event.riskEventType = text
        event.userId = text
        let page = try #require(success(try roundTrip(List.self, callID: 1, .success(ListEvents.Response(events: [event], nextPageToken: text)))))
        let e = try #require(page.events.first)
        for value in [e.id, e.userDisplayName ?? "", e.userPrincipalName, e.riskEventType, e.userId, page.nextPageToken] {
            #expect(Array(value.utf8) == Array(text.utf8))
        }

        let id = try #require(try roundTripped(Get.self, text))
        #expect(Array(id.utf8) == Array(text.utf8))

        let error = try #require(failure(try roundTrip(Get.self, callID: 3, .failure(IdentityRiskError(
            code: .invalidArgument, message: text, target: text,
            violations: [FieldViolation(field: text, description: text, innerCode: text)], innerCode: text)))))
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

        let back = try #require(try roundTripped(Create.self, draft))
        #expect(back == draft)
        #expect(back.userDisplayName.map { Array($0.utf8) } == draft.userDisplayName.map { Array($0.utf8) })
        #expect(back.userPrincipalName.map { Array($0.utf8) } == draft.userPrincipalName.map { Array($0.utf8) })
        #expect(back.riskEventType.map { Array($0.utf8) } == draft.riskEventType.map { Array($0.utf8) })

        let outcome = CreateOutcome(event: event, alreadyExisted: true)
        #expect(try roundTrip(Create.self, callID: 2, .success(outcome)) == DecodedResponse(callID: 2, result: .success(outcome)))
    }

    @Test("strings far beyond an arena chunk survive (arena growth)")
    func hugeStrings() throws {
        // 60 KB filter: larger than RequestCodec's 2 KB arena chunks, within the 64 KB request frame limit.
        let filter = String(repeating: "userId eq 'ü' or ", count: 3_500) + "userId eq 'x'"
        let list = ListEvents.Request(filter: filter)
        let frame = requestFrame(List.self, list)
        #expect(frame.readableBytes - 4 <= WireProtocol.defaultMaxRequestFrameBytes)
        #expect(try roundTripped(List.self, list) == list)

        // 1 MB token and 200 events in one response.
        let token = String(repeating: "🧪", count: 256 * 1024)
        let page = ListEvents.Response(events: (0..<200).map { Fixtures.fullEvent(id: "evt-\($0)") }, nextPageToken: token)
        #expect(try roundTrip(List.self, callID: 2, .success(page)) == DecodedResponse(callID: 2, result: .success(page)))
    }

    // MARK: - The per-connection encoders (one reused arena each)

    @Test("one ResponseEncoder reuses its arena across big and small answers without corruption")
    func responseEncoderArenaReuse() throws {
        let encoder = ResponseEncoder()
        let big = ListEvents.Response(
            events: (0..<300).map { Fixtures.fullEvent(id: "e\($0)") }, nextPageToken: String(repeating: "t", count: 40_000))
        let invalid = IdentityRiskError.invalid([FieldViolation(field: "a", description: "b")])
        // Each answer through the shared encoder, with a check that decodes it and compares it with a fresh encoder's frame.
        var checks: [(ByteBuffer, (ByteBuffer) throws -> Bool)] = []
        func answer<M: WireMethod>(_ method: M.Type, _ callID: UInt64, _ result: Result<M.Response, IdentityRiskError>) {
            let optional = result.map { Optional($0) }
            let frame = responseFrame(method, callID: callID, optional, encoder: encoder)
            checks.append((frame, { frame in
                try decodeResponse(try stripPrefix(frame), as: method) == DecodedResponse(callID: callID, result: result)
                    && frame == responseFrame(method, callID: callID, optional)
            }))
        }
        answer(List.self, 1, .success(big))
        answer(Get.self, 2, .success(Fixtures.fullEvent()))
        answer(Create.self, 3, .failure(invalid))
        answer(List.self, 4, .success(big))
        answer(Health.self, 5, .success(Fixtures.healths[0]))
        answer(Update.self, 6, .success(Fixtures.fullEvent(version: 9)))
        answer(Delete.self, 7, .success(9))
        answer(List.self, 8, .success(big))
        for (i, (frame, check)) in checks.enumerated() {
            #expect(try check(frame), "answer \(i)")
        }
    }

    @Test("one RequestEncoder reuses its arena across big and small requests without corruption")
    func requestEncoderArenaReuse() throws {
        let encoder = RequestEncoder()
        let big = ListEvents.Request(filter: String(repeating: "x", count: 20_000))
        var checks: [(ByteBuffer, DecodedRequest)] = []
        func call<M: WireMethod>(_ method: M.Type, _ callID: UInt64, _ request: M.Request) {
            var frame = ByteBuffer()
            encoder.encode(method, request, callID: callID, timeoutMilliseconds: UInt32(callID), into: &frame)
            #expect(frame == requestFrame(method, request, callID: callID, timeoutMilliseconds: UInt32(callID)), "same bytes as a fresh arena")
            checks.append((frame, DecodedRequest(callID: callID, timeoutMilliseconds: UInt32(callID), kind: .call(method, request))))
        }
        call(List.self, 1, big)
        call(Create.self, 2, Fixtures.fullDraft())
        call(Get.self, 3, "abc")
        call(List.self, 4, big)
        call(Create.self, 5, Self.maxLengthDraft())
        var patch = EventPatch()
        patch.set(.userDisplayName, .text(String(repeating: "n", count: 200)))
        patch.set(.closedDateTime, nil)
        call(Update.self, 6, UpdateEvent.Request(id: "abc", patch: patch, ifMatch: 2))
        call(Delete.self, 7, DeleteEvent.Request(id: "abc", ifMatch: 3))
        call(List.self, 8, big)
        for (frame, expected) in checks {
            #expect(decodeRequest(try stripPrefix(frame)) == expected)
        }
    }

    // MARK: - Responses that do not decode

    @Test("a response frame that is not protobuf is a malformed response")
    func malformedResponse() throws {
        let garbage = ByteBuffer(bytes: Array("garbage".utf8))
        let why = try #require(malformedReason(garbage, as: Get.self))
        #expect(why.contains("7 bytes"))
        #expect(throws: WireError.self) { try ResponseCodec.decode(garbage) { _ in Issue.record("body must not run") } }
    }

    @Test("a status code this client does not know reads as .unknown, keeping the message", arguments: [UInt64(10), 11, 15, 99])
    func unknownStatusCode(_ number: UInt64) throws {
        let payload = ProtobufBytes { r in
            r.uint(ProtoField.Response.callID, 44)
            r.message(ProtoField.Response.status) { s in
                s.uint(ProtoField.Status.code, number)
                s.string(ProtoField.Status.message, "from a newer server")
                s.uint(ProtoField.Status.retryAfterMs, 250)
            }
        }.payload
        let expected = IdentityRiskError(code: .unknown, message: "from a newer server", retryAfterMilliseconds: 250)
        #expect(try decodeResponse(payload, as: Get.self) == DecodedResponse(callID: 44, result: .failure(expected)))
    }

    /// A GetResponse (field 17) whose event is built by `event`.
    static func getResponse(_ event: @escaping (inout ProtobufBytes) -> Void) -> ByteBuffer {
        ProtobufBytes { r in
            r.uint(ProtoField.Response.callID, 45)
            r.message(ProtoField.Response.status) { _ in }  // status OK
            r.message(ProtoField.Response.get) { g in g.message(ProtoField.GetResponse.event, event) }
        }.payload
    }

    /// A valid created_date_time body.
    static func created(_ m: inout ProtobufBytes) {
        ProtoDateTime(ticks: 0, offsetMinutes: 0, fractionDigits: 0, utcDesignator: true).write(into: &m)
    }

    @Test("a hand-encoded complete event in a GetResponse decodes")
    func handEncodedGetResponse() throws {
        let payload = Self.getResponse { e in
            e.string(ProtoField.Event.id, "evt-9")
            e.validEventFields()
            e.message(ProtoField.Event.createdDateTime, Self.created)
            e.uint(ProtoField.Event.version, 4)
        }
        let decoded = try decodeResponse(payload, as: Get.self)
        #expect(decoded.callID == 45)
        let event = try #require(success(decoded))
        #expect(event.id == "evt-9")
        #expect(event.createdDateTime.description == "2016-12-31T21:01:00Z")
        #expect(event.version == 4)
    }

    enum BadEvent: String, CaseIterable, Sendable {
        case invalidUTF8, unknownRiskLevel, badDate, missingCreated, missingUserId, missingVersion

        func write(_ e: inout ProtobufBytes) {
            typealias F = ProtoField.Event
            e.string(F.id, "evt-9")
            switch self {
            case .invalidUTF8:
                e.validEventFields(omitting: [F.userId])
                e.bytes(F.userId, [0xFF])
                e.message(F.createdDateTime, CodecRoundTripTests.created)
            case .unknownRiskLevel:
                e.validEventFields(omitting: [F.riskLevel])
                e.uint(F.riskLevel, 99)
                e.message(F.createdDateTime, CodecRoundTripTests.created)
            case .badDate:
                e.validEventFields(omitting: [F.riskEventDateTime])
                e.message(F.riskEventDateTime) { ProtoDateTime(ticks: 10_000_000).write(into: &$0) }
                e.message(F.createdDateTime, CodecRoundTripTests.created)
            case .missingCreated:
                e.validEventFields()
            case .missingUserId:
                e.validEventFields(omitting: [F.userId])
                e.message(F.createdDateTime, CodecRoundTripTests.created)
            case .missingVersion:
                e.validEventFields()
                e.message(F.createdDateTime, CodecRoundTripTests.created)
                return  // the only case without a version
            }
            e.uint(F.version, 1)
        }
    }

    @Test("a response event that does not decode strictly is a malformed response", arguments: BadEvent.allCases)
    func strictResponseEvent(_ bad: BadEvent) throws {
        let why = try #require(malformedReason(Self.getResponse { bad.write(&$0) }, as: Get.self))
        if bad == .missingVersion { #expect(why.contains("version")) }
    }

    @Test("status OK with no result set is a malformed response")
    func okWithoutResult() throws {
        let payload = ProtobufBytes { $0.uint(ProtoField.Response.callID, 5) }.payload  // call_id only: no status, no result
        let why = try #require(malformedReason(payload, as: Get.self))
        #expect(why.contains("no result"))
    }
}
