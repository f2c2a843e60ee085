@testable import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
@testable import IdentityRiskWire
import NIOCore
import Testing

/// A store holding one record, to run ``UpdateEvent`` on decoded requests.
/// `replace` answers with what it was given; nothing else is needed here.
struct OneRecordStore: EventStore {
    let record: IdentityRiskEvent

    var kind: String { "one-record" }

    func run() async throws {}

    func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        completion(.failure(IdentityRiskError(code: .unimplemented, message: "OneRecordStore does not create")))
    }

    func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? { id == record.id ? record : nil }

    func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage { ListPage(events: [record], next: nil) }

    func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent { event }

    func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 { record.version }

    // No change log: the codec tests do not watch (an empty log, never published to).
    var changeFeed: ChangeFeed { Self.feed }
    private static let feed = ChangeFeed()

    func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change] { [] }

    func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds {
        ChangeLogBounds(earliestResumable: .zero, latest: .zero)
    }
}

@Suite("Update and delete codecs")
struct UpdateDeleteCodecTests {
    static let closed = dt("2017-01-02T08:30:00.25-05:00")

    /// Runs the update use case on `request` against a store holding `Fixtures.fullEvent(id: "evt-1")`.
    static func update(_ request: UpdateEvent.Request) async -> Result<IdentityRiskEvent, IdentityRiskError> {
        let store = OneRecordStore(record: Fixtures.fullEvent(id: "evt-1", version: 4))
        do {
            return .success(try await UpdateEvent(store: store)(request))
        } catch {
            return .failure(error)
        }
    }

    /// The violations `UpdateEvent` refuses `request` with (records an issue if it is not refused).
    static func refusal(_ request: UpdateEvent.Request, sourceLocation: SourceLocation = #_sourceLocation) async -> [FieldViolation] {
        switch await update(request) {
        case .success(let event):
            Issue.record("expected UpdateEvent to refuse the request, it stored \(event)", sourceLocation: sourceLocation)
            return []
        case .failure(let error):
            #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
            return error.violations
        }
    }

    // MARK: - Update requests

    static func statusAndClosed(ifMatch: UInt64?) -> UpdateEvent.Request {
        var patch = EventPatch()
        patch.set(.riskEventStatus, .riskEventStatus(.dismissedAsFixed))
        patch.set(.closedDateTime, .dateTime(closed))
        return UpdateEvent.Request(id: "evt-1", patch: patch, ifMatch: ifMatch)
    }

    static func clearingDisplayName(ifMatch: UInt64?) -> UpdateEvent.Request {
        var patch = EventPatch()
        patch.set(.userDisplayName, nil)
        return UpdateEvent.Request(id: "evt-1", patch: patch, ifMatch: ifMatch)
    }

    /// Every updatable property set, in reverse declaration order (the mask keeps the client's order).
    static func everyUpdatable() -> UpdateEvent.Request {
        var patch = EventPatch()
        let values = Fixtures.fullDraft()
        for property in EventProperty.allCases.reversed() where property.isUpdatable {
            patch.set(property, values[property])
        }
        return UpdateEvent.Request(id: "evt-1", patch: patch, ifMatch: 1)
    }

    static let updates: [UpdateEvent.Request] = [
        statusAndClosed(ifMatch: nil),
        statusAndClosed(ifMatch: 7),
        clearingDisplayName(ifMatch: nil),
        clearingDisplayName(ifMatch: UInt64.max),
        everyUpdatable(),
        UpdateEvent.Request(id: "evt-1", patch: EventPatch()),
    ]

    @Test("an update request survives the client and server codecs unchanged", arguments: updates)
    func updateRoundTrip(_ request: UpdateEvent.Request) throws {
        let decoded = try roundTrip(Update.self, request, callID: 12, timeoutMilliseconds: 40)
        #expect(decoded == DecodedRequest(callID: 12, timeoutMilliseconds: 40, kind: .call(Update.self, request)))
        let back = try #require(decoded.request(Update.self))
        #expect(back.id == request.id)
        #expect(back.patch.fields == request.patch.fields, "the mask, in order")
        #expect(back.ifMatch == request.ifMatch)
        #expect(back.patch.values.decodingViolations.isEmpty)
        for property in EventProperty.allCases {
            #expect(back.patch.values[property] == request.patch.values[property], "\(property)")
        }
    }

    @Test("a patch that sets riskEventStatus and closedDateTime names both and carries their values")
    func statusAndClosedFields() throws {
        let back = try #require(try roundTripped(Update.self, Self.statusAndClosed(ifMatch: 7)))
        #expect(back.patch.fields == [.riskEventStatus, .closedDateTime])
        #expect(back.patch.values.riskEventStatus == .dismissedAsFixed)
        #expect(back.patch.values.closedDateTime?.description == "2017-01-02T08:30:00.25-05:00")
        #expect(back.ifMatch == 7)
    }

    @Test("a patch that clears userDisplayName names it with no value, and the use case clears it")
    func clearingFields() async throws {
        let back = try #require(try roundTripped(Update.self, Self.clearingDisplayName(ifMatch: nil)))
        #expect(back.patch.fields == [.userDisplayName])
        #expect(back.patch.values.userDisplayName == nil)
        #expect(back.ifMatch == nil)
        let updated = try await Self.update(back).get()
        #expect(updated.userDisplayName == nil)
        #expect(updated.version == 5)
    }

    @Test("values of properties the mask does not name are not sent")
    func unnamedValuesStayHome() throws {
        // A patch whose draft holds more than its fields name (e.g. built by hand).
        let request = UpdateEvent.Request(
            id: "evt-1", patch: EventPatch(fields: [.riskLevel], values: IdentityRiskEventDraft(riskLevel: .low, userId: "stale")))
        let back = try #require(try roundTripped(Update.self, request))
        #expect(back.patch.fields == [.riskLevel])
        #expect(back.patch.values == IdentityRiskEventDraft(riskLevel: .low))
    }

    @Test("an update whose event sets a property not in update_mask is refused naming it")
    func valueNotInMask() async throws {
        let bytes = ProtobufBytes.updateRequest(callID: 3, mask: ["riskLevel"]) { e in
            e.uint(ProtoField.Event.riskLevel, UInt64(RiskLevel.low.wireNumber))
            e.string(ProtoField.Event.userId, "u-other")
        }
        let request = try #require(decodeRequest(bytes.payload).request(Update.self))
        #expect(request.patch.fields == [.riskLevel])
        let violations = request.patch.values.decodingViolations
        #expect(violations.map(\.field) == ["userId"])
        #expect(violations.first?.description.contains("update_mask") == true)
        #expect(await Self.refusal(request).map(\.field) == ["userId"])
    }

    @Test("an update_mask name that is not a property is a violation listing the allowed names",
          arguments: ["riskLevle", "risk_level", "RiskLevel", "version", "@odata.etag", ""])
    func unknownMaskName(_ name: String) async throws {
        let bytes = ProtobufBytes.updateRequest(callID: 3, mask: ["riskLevel", name]) { e in
            e.uint(ProtoField.Event.riskLevel, UInt64(RiskLevel.low.wireNumber))
        }
        let request = try #require(decodeRequest(bytes.payload).request(Update.self))
        #expect(request.patch.fields == [.riskLevel])
        let violation = try #require(request.patch.values.decodingViolations.first)
        #expect(request.patch.values.decodingViolations.count == 1)
        #expect(violation.field == "updateMask")
        #expect(violation.description.contains("'\(name)'"))
        for property in EventProperty.allCases {
            #expect(violation.description.contains(property.graphName), "allowed names must include \(property.graphName)")
        }
        #expect(await Self.refusal(request).map(\.field) == ["updateMask"])
    }

    @Test("a read-only property in update_mask reaches the request, and UpdateEvent refuses it",
          arguments: [EventProperty.createdDateTime, .id])
    func readOnlyInMask(_ property: EventProperty) async throws {
        let bytes = ProtobufBytes.updateRequest(callID: 3, mask: [property.graphName]) { e in
            if property == .id {
                e.string(ProtoField.Event.id, "evt-2")
            } else {
                e.message(ProtoField.Event.createdDateTime) { ProtoDateTime().write(into: &$0) }
            }
        }
        let request = try #require(decodeRequest(bytes.payload).request(Update.self))
        #expect(request.patch.fields == [property])
        #expect(request.patch.values[property] != nil)
        #expect(request.patch.values.decodingViolations.isEmpty, "the codec leaves read-only checks to the use case")
        let violations = await Self.refusal(request)
        #expect(violations.map(\.field) == [property.graphName])
        #expect(violations.map(\.innerCode) == ["ReadOnlyProperty"])

        // The client codec sends such a mask entry too.
        let sent = UpdateEvent.Request(id: "evt-1", patch: EventPatch(fields: [property], values: request.patch.values))
        #expect(try roundTripped(Update.self, sent) == sent)
    }

    /// (where the NUL is, the violation's field)
    static let nulPlaces: [(String, String)] = [
        ("id", "id"), ("userId", "userId"), ("userDisplayName", "userDisplayName"),
        ("riskEventType", "riskEventType"), ("mask", "updateMask"),
    ]

    @Test("a NUL byte in an update string is a violation naming it, and the update is refused", arguments: nulPlaces)
    func nulInUpdate(_ place: String, _ field: String) async throws {
        let withNUL = "evt-1\u{0}junk"
        let bytes = ProtobufBytes { r in
            r.uint(ProtoField.Request.callID, 3)
            r.message(ProtoField.Request.update) { u in
                u.string(ProtoField.UpdateRequest.id, place == "id" ? withNUL : "evt-1")
                u.string(ProtoField.UpdateRequest.updateMask, place == "mask" ? "userId\u{0}x" : (place == "id" ? "userId" : place))
                u.message(ProtoField.UpdateRequest.event) { e in
                    switch place {
                    case "userId": e.string(ProtoField.Event.userId, withNUL)
                    case "userDisplayName": e.string(ProtoField.Event.userDisplayName, withNUL)
                    case "riskEventType": e.string(ProtoField.Event.riskEventType, withNUL)
                    default: e.string(ProtoField.Event.userId, "u-new")
                    }
                }
            }
        }
        let request = try #require(decodeRequest(bytes.payload).request(Update.self))
        let violations = request.patch.values.decodingViolations
        #expect(violations.map(\.field) == [field])
        #expect(violations.first?.description.contains("NUL") == true)
        #expect(await Self.refusal(request).map(\.field) == [field])
    }

    @Test("an update request event with a version set gets a read-only violation")
    func versionInUpdateEvent() async throws {
        let bytes = ProtobufBytes.updateRequest(callID: 3, mask: ["riskLevel"]) { e in
            e.uint(ProtoField.Event.riskLevel, UInt64(RiskLevel.low.wireNumber))
            e.uint(ProtoField.Event.version, 4)
        }
        let request = try #require(decodeRequest(bytes.payload).request(Update.self))
        #expect(request.patch.values.decodingViolations.map(\.field) == ["version"])
        #expect(request.patch.values.decodingViolations.map(\.innerCode) == ["ReadOnlyProperty"])
        #expect(await Self.refusal(request).map(\.field) == ["version"])
    }

    @Test("if_match travels as given, 0 reading as no check")
    func ifMatchOnTheWire() throws {
        let zero = ProtobufBytes.updateRequest(callID: 3, mask: [], ifMatch: 0)
        #expect(decodeRequest(zero.payload).request(Update.self)?.ifMatch == nil)
        let three = ProtobufBytes.updateRequest(callID: 3, mask: [], ifMatch: 3)
        #expect(decodeRequest(three.payload).request(Update.self)?.ifMatch == 3)
        #expect(decodeRequest(three.payload).request(Update.self)?.id == "evt-1")
    }

    // MARK: - Create request events

    @Test("a create request event with version set gets a read-only violation")
    func versionInCreateEvent() throws {
        let bytes = ProtobufBytes.createRequest(callID: 2) { e in
            e.validEventFields()
            e.uint(ProtoField.Event.version, 5)
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        #expect(draft.decodingViolations.map(\.field) == ["version"])
        #expect(draft.decodingViolations.map(\.innerCode) == ["ReadOnlyProperty"])
        do {
            let event = try EventValidator().validate(draft, assignID: { "x" }, createdDateTime: dt("2024-01-01T00:00:00Z"))
            Issue.record("a create with a version must not validate, got \(event)")
        } catch {
            #expect(error.violations.map(\.field) == ["version"])
        }
    }

    // MARK: - Delete requests

    static let deletes: [DeleteEvent.Request] = [
        DeleteEvent.Request(id: "evt-1"),
        DeleteEvent.Request(id: "evt-1", ifMatch: 1),
        DeleteEvent.Request(id: "日本語-🦊", ifMatch: 300),
        DeleteEvent.Request(id: "evt-1", ifMatch: UInt64.max),
    ]

    @Test("a delete request survives with and without if_match", arguments: deletes)
    func deleteRoundTrip(_ request: DeleteEvent.Request) throws {
        let decoded = try roundTrip(Delete.self, request, callID: 13, timeoutMilliseconds: 50)
        #expect(decoded == DecodedRequest(callID: 13, timeoutMilliseconds: 50, kind: .call(Delete.self, request)))
        let back = try #require(decoded.request(Delete.self))
        #expect(back.id == request.id)
        #expect(back.ifMatch == request.ifMatch)
    }

    @Test("an empty DeleteRequest decodes to an empty id and no if_match (the use case refuses the id)")
    func emptyDelete() {
        let bytes = ProtobufBytes { r in
            r.uint(ProtoField.Request.callID, 3)
            r.bytes(ProtoField.Request.delete, [])
        }
        #expect(decodeRequest(bytes.payload) == DecodedRequest(callID: 3, kind: .call(Delete.self, DeleteEvent.Request(id: ""))))
    }

    // MARK: - Responses

    @Test("an update response carries the event with its version", arguments: [UInt64(1), 2, 300, UInt64.max])
    func updateResponse(_ version: UInt64) throws {
        var event = Fixtures.fullEvent(id: "evt-1", version: version)
        event.riskEventStatus = .dismissedAsFixed
        event.closedDateTime = Self.closed
        let decoded = try roundTrip(Update.self, callID: 14, .success(event))
        #expect(decoded == DecodedResponse(callID: 14, result: .success(event)))
        #expect(success(decoded)?.version == version)
    }

    @Test("a delete response carries the deleted version", arguments: [UInt64(1), 127, 128, 300, UInt64.max])
    func deleteResponse(_ version: UInt64) throws {
        let decoded = try roundTrip(Delete.self, callID: 15, .success(version))
        #expect(decoded == DecodedResponse(callID: 15, result: .success(version)))
    }

    @Test("update and delete errors survive")
    func updateDeleteErrors() throws {
        let stale = IdentityRiskError.versionMismatch(id: "evt-1", expected: 3, stored: 4)
        #expect(try roundTrip(Update.self, callID: 16, .failure(stale)) == DecodedResponse(callID: 16, result: .failure(stale)))
        let gone = IdentityRiskError.notFound(id: "evt-1")
        #expect(try roundTrip(Delete.self, callID: 17, .failure(gone)) == DecodedResponse(callID: 17, result: .failure(gone)))
    }

    @Test("a response carrying another method's result is malformed")
    func otherMethodsResult() throws {
        let event = Fixtures.fullEvent()
        func check<A: WireMethod, B: WireMethod>(_ sent: A.Type, _ response: A.Response, readAs: B.Type, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let payload = try stripPrefix(responseFrame(sent, callID: 8, .success(response)))
            let why = try #require(malformedReason(payload, as: readAs, sourceLocation: sourceLocation), sourceLocation: sourceLocation)
            #expect(why.contains("#\(A.descriptor.number)") && why.contains(B.descriptor.name), "\(why)", sourceLocation: sourceLocation)
        }
        try check(Get.self, event, readAs: Update.self)
        try check(Update.self, event, readAs: Get.self)
        try check(Create.self, CreateOutcome(event: event, alreadyExisted: false), readAs: Update.self)
        try check(Delete.self, 3, readAs: Get.self)
        try check(Update.self, event, readAs: Delete.self)
        try check(Health.self, Fixtures.healths[0], readAs: Delete.self)
    }

    @Test("an event without a version in a response is malformed, whichever method carries it")
    func eventWithoutVersion() throws {
        let event = Fixtures.fullEvent(version: 0)
        let payloads = [
            try stripPrefix(responseFrame(Get.self, callID: 1, .success(event))),
            try stripPrefix(responseFrame(Update.self, callID: 1, .success(event))),
        ]
        #expect(malformedReason(payloads[0], as: Get.self)?.contains("version") == true)
        #expect(malformedReason(payloads[1], as: Update.self)?.contains("version") == true)
        let create = try stripPrefix(responseFrame(Create.self, callID: 1, .success(CreateOutcome(event: event, alreadyExisted: true))))
        #expect(malformedReason(create, as: Create.self)?.contains("version") == true)
        var page = ListEvents.Response(events: [Fixtures.fullEvent(id: "a"), event], nextPageToken: "")
        let list = try stripPrefix(responseFrame(List.self, callID: 1, .success(page)))
        #expect(malformedReason(list, as: List.self)?.contains("version") == true)
        page.events.removeLast()
        #expect(try decodeResponse(try stripPrefix(responseFrame(List.self, callID: 1, .success(page))), as: List.self)
            == DecodedResponse(callID: 1, result: .success(page)))
    }
}
