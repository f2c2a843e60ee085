import IdentityRiskTestSupport
import NIOCore

/// A tiny protobuf writer for hand-made messages the real encoder would never
/// produce (unknown fields, out-of-range enums, invalid UTF-8, bad datetimes):
/// a message builder over ``Proto``'s varints.
///
/// Field numbers follow Proto/identity_risk_event.proto.
struct ProtobufBytes {
    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    private(set) var bytes: [UInt8] = []

    init() {}

    init(_ build: (inout ProtobufBytes) -> Void) {
        build(&self)
    }

    mutating func varint(_ value: UInt64) {
        bytes += Proto.varint(value)
    }

    mutating func tag(_ field: Int, _ wireType: WireType) {
        varint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    /// uint32 / uint64 / bool fields.
    mutating func uint(_ field: Int, _ value: UInt64) {
        tag(field, .varint)
        varint(value)
    }

    /// int32 / int64 / enum fields: negative numbers are 10-byte two's-complement varints.
    mutating func int(_ field: Int, _ value: Int64) {
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// sint32 / sint64 fields (zigzag).
    mutating func sint(_ field: Int, _ value: Int64) {
        tag(field, .varint)
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func bytes(_ field: Int, _ payload: [UInt8]) {
        tag(field, .lengthDelimited)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    mutating func string(_ field: Int, _ text: String) {
        bytes(field, Array(text.utf8))
    }

    mutating func message(_ field: Int, _ build: (inout ProtobufBytes) -> Void) {
        bytes(field, ProtobufBytes(build).bytes)
    }

    mutating func raw(_ more: [UInt8]) {
        bytes.append(contentsOf: more)
    }

    /// The message as a frame payload (no length prefix).
    var payload: ByteBuffer {
        ByteBuffer(bytes: bytes)
    }

    /// The message as a whole frame: 4-byte big-endian length, then the bytes.
    var frame: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(bytes.count), endianness: .big)
        buffer.writeBytes(bytes)
        return buffer
    }
}

/// Field numbers of the messages the tests hand-encode.
enum ProtoField {
    enum Request {
        static let callID = 1, timeoutMs = 2, create = 16, get = 17, list = 18, health = 19, cancel = 20, update = 21, delete = 22
        static let watch = 64
    }
    enum Response {
        static let callID = 1, status = 2, create = 16, get = 17, list = 18, health = 19, update = 21, delete = 22
        static let watch = 64
    }
    enum Status {
        static let code = 1, message = 2, retryAfterMs = 6
    }
    enum CreateRequest {
        static let event = 1
    }
    enum GetRequest {
        static let id = 1
    }
    enum GetResponse {
        static let event = 1
    }
    enum ListRequest {
        static let filter = 1, orderBy = 2, top = 3, pageToken = 4
    }
    enum UpdateRequest {
        static let id = 1, updateMask = 2, event = 3, ifMatch = 4
    }
    enum DeleteRequest {
        static let id = 1, ifMatch = 2
    }
    enum WatchRequest {
        static let filter = 1, start = 2, afterCursor = 3
    }
    enum WatchResponse {
        static let cursor = 1, kind = 2, event = 3
    }
    enum Event {
        static let id = 1, userDisplayName = 2, userPrincipalName = 3, riskEventDateTime = 4, riskEventType = 5
        static let riskLevel = 6, riskEventStatus = 7, closedDateTime = 8, createdDateTime = 9, userId = 10, version = 11
    }
    enum DateTimeOffset {
        static let unixSeconds = 1, ticks = 2, offsetMinutes = 3, fractionDigits = 4, utcDesignator = 5
    }
}

/// A hand-encoded `DateTimeOffset` message body.
struct ProtoDateTime {
    var unixSeconds: Int64 = 1_483_218_060
    var ticks: UInt32 = 7_804_275
    var offsetMinutes: Int32 = 180
    var fractionDigits: UInt32 = 7
    var utcDesignator = false

    func write(into m: inout ProtobufBytes) {
        typealias F = ProtoField.DateTimeOffset
        if unixSeconds != 0 { m.int(F.unixSeconds, unixSeconds) }
        if ticks != 0 { m.uint(F.ticks, UInt64(ticks)) }
        if offsetMinutes != 0 { m.sint(F.offsetMinutes, Int64(offsetMinutes)) }
        if fractionDigits != 0 { m.uint(F.fractionDigits, UInt64(fractionDigits)) }
        if utcDesignator { m.uint(F.utcDesignator, 1) }
    }
}

extension ProtobufBytes {
    /// A Request with `call_id` and a `create` whose event is built by `event`.
    static func createRequest(callID: UInt64, event: (inout ProtobufBytes) -> Void) -> ProtobufBytes {
        ProtobufBytes { r in
            r.uint(ProtoField.Request.callID, callID)
            r.message(ProtoField.Request.create) { c in
                c.message(ProtoField.CreateRequest.event, event)
            }
        }
    }

    /// A Request with `call_id` and an `update` of `id` naming `mask`, whose event is built by `event`.
    static func updateRequest(
        callID: UInt64, id: String = "evt-1", mask: [String], ifMatch: UInt64 = 0, event: ((inout ProtobufBytes) -> Void)? = nil
    ) -> ProtobufBytes {
        ProtobufBytes { r in
            r.uint(ProtoField.Request.callID, callID)
            r.message(ProtoField.Request.update) { u in
                u.string(ProtoField.UpdateRequest.id, id)
                for name in mask { u.string(ProtoField.UpdateRequest.updateMask, name) }
                if let event { u.message(ProtoField.UpdateRequest.event, event) }
                if ifMatch != 0 { u.uint(ProtoField.UpdateRequest.ifMatch, ifMatch) }
            }
        }
    }

    /// The required properties of an event, valid, except those in `omitting`.
    mutating func validEventFields(omitting: Set<Int> = []) {
        typealias F = ProtoField.Event
        if !omitting.contains(F.userPrincipalName) { string(F.userPrincipalName, "someone@contoso.com") }
        if !omitting.contains(F.riskEventDateTime) { message(F.riskEventDateTime) { ProtoDateTime().write(into: &$0) } }
        if !omitting.contains(F.riskEventType) { string(F.riskEventType, "unfamiliarFeatures") }
        if !omitting.contains(F.riskLevel) { uint(F.riskLevel, 3) }
        if !omitting.contains(F.riskEventStatus) { uint(F.riskEventStatus, 1) }
        if !omitting.contains(F.userId) { string(F.userId, "u1") }
    }
}
