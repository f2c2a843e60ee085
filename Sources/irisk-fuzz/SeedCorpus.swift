#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import IdentityRiskWire
import NIOCore

/// The committed seed corpus (`Fuzz/corpus/`), generated rather than written
/// by hand: valid requests of every method through the real encoder, and the
/// edge cases the hardening tests attack with, as raw protobuf.
/// Regenerate: `swift run irisk-fuzz --write-corpus Fuzz/corpus`.
enum SeedCorpus {
    static func write(to directory: String) throws(Failure) -> Int {
        mkdir(directory, 0o755)
        let inputs = seeds()
        for (name, bytes) in inputs {
            let path = directory + "/" + name
            guard let file = fopen(path, "wb") else { throw Failure("cannot write \(path)") }
            defer { fclose(file) }
            guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw Failure("short write to \(path)") }
        }
        return inputs.count
    }

    static func seeds() -> [(String, [UInt8])] {
        let full = seedDraft(id: "9953902a-902a-4953-aa90-53992a905399")
        let closed = full.closedDateTime!
        var minimal = full
        (minimal.id, minimal.userDisplayName, minimal.closedDateTime) = (nil, nil, nil)
        var extremes = full
        extremes.riskEventDateTime = try! DateTimeOffset(parsing: "0001-01-01T00:00:00-14:00")
        extremes.closedDateTime = try! DateTimeOffset(parsing: "9999-12-31T23:59:59.9999999+14:00")
        extremes.riskLevel = .unknownFutureValue
        extremes.riskEventStatus = .closedMultipleReasons
        var readOnly = full
        readOnly.createdDateTime = closed
        var statusUpdate = UpdateEvent.Request(id: "9953902a-902a-4953-aa90-53992a905399", patch: EventPatch(), ifMatch: 1)
        statusUpdate.patch.set(.riskEventStatus, .riskEventStatus(.dismissedAsFalsePositive))
        statusUpdate.patch.set(.closedDateTime, .dateTime(closed))
        var clearing = UpdateEvent.Request(id: "9953902a-902a-4953-aa90-53992a905399", patch: EventPatch())
        clearing.patch.set(.userDisplayName, nil)
        clearing.patch.set(.createdDateTime, .dateTime(closed))

        var out: [(String, [UInt8])] = [
            ("create-full", frame(full, id: 1)),
            ("create-minimal", frame(minimal, id: 2)),
            ("create-extreme-dates", frame(extremes, id: 3)),
            ("create-read-only-created", frame(readOnly, id: 4)),
            ("get", request(IdentityRiskMethods.Get.self, "9953902a-902a-4953-aa90-53992a905399")),
            ("list-default", request(IdentityRiskMethods.List.self, ListEvents.Request())),
            ("health", request(IdentityRiskMethods.Health.self, HealthRequest())),
            ("stats", request(IdentityRiskMethods.Stats.self, StatsRequest())),
            ("cancel", cancel(7)),
            ("update-status", request(IdentityRiskMethods.Update.self, statusUpdate, callID: 5)),
            ("update-clear-and-read-only", request(IdentityRiskMethods.Update.self, clearing, callID: 6)),
            ("delete", request(IdentityRiskMethods.Delete.self, DeleteEvent.Request(id: "9953902a-902a-4953-aa90-53992a905399", ifMatch: 2), callID: 8)),
            ("watch-after-cursor", request(IdentityRiskMethods.Watch.self, WatchChanges.Request(filter: "riskLevel eq 'high'", start: .after(ChangeCursor(41))), callID: 10)),
            ("watch-oldest", request(IdentityRiskMethods.Watch.self, WatchChanges.Request(start: .oldest), callID: 11)),
            ("watch-contradictory-start", Proto.frame(Proto.tag(1, 0) + Proto.varint(12) + Proto.bytes(64, Proto.tag(2, 0) + Proto.varint(2) + Proto.tag(3, 0) + Proto.varint(5)))),
            ("empty-frame", [0, 0, 0, 0]),
            ("oversize-length", [0x00, 0x01, 0x00, 0x01]),
            ("truncated-create", Array(frame(full, id: 1).dropLast(9))),
            ("pipelined", frame(full, id: 1) + request(IdentityRiskMethods.Health.self, HealthRequest(), callID: 2) + request(IdentityRiskMethods.Get.self, "x", callID: 3)),
            ("unknown-method", Proto.frame(Proto.tag(1, 0) + Proto.varint(9) + Proto.bytes(23, []))),
            ("unknown-fields", Proto.frame(Proto.tag(1, 0) + Proto.varint(9) + Proto.bytes(19, []) + Proto.tag(15, 0) + [1] + Proto.bytes(14, [1, 2, 3]) + Proto.tag(13, 5) + [0, 0, 0, 0])),
            ("bad-varint", Proto.frame([0x08, 42, 0x10] + Array(repeating: 0xFF, count: 10) + [0x01])),
            ("length-past-end", Proto.frame([0x08, 42, 0x8A, 0x01, 0x10, 0x0A])),
            ("wrong-wire-type", Proto.frame([0x08, 42, 0x15, 0, 0, 0, 0])),
            ("group-wire-type", Proto.frame([0x08, 42, 0x1B, 0x1C])),
            ("enum-out-of-range", Proto.frame(createRaw(extra: Proto.tag(6, 0) + Proto.varint(99) + Proto.tag(7, 0) + Proto.varint(UInt64.max)))),
            ("invalid-utf8", Proto.frame(createRaw(extra: Proto.bytes(3, [0x61, 0xC0, 0xAF])))),
            ("nul-in-string", Proto.frame(createRaw(extra: Proto.bytes(10, Array("user\0admin".utf8))))),
            ("too-long-string", Proto.frame(createRaw(extra: Proto.bytes(2, Array(repeating: 0x61, count: 300))))),
            ("bad-date-parts", Proto.frame(createRaw(extra: Proto.bytes(8, Proto.tag(2, 0) + Proto.varint(10_000_000) + Proto.tag(3, 0) + Proto.varint(2000) + Proto.tag(4, 0) + Proto.varint(9))))),
            ("unknown-field-flood", Proto.frame(Proto.tag(1, 0) + Proto.varint(9) + Proto.bytes(19, []) + Array(repeating: [UInt8(0x78), 0x00], count: 2000).flatMap { $0 })),
            ("order-out-of-range", Proto.frame(Proto.tag(1, 0) + Proto.varint(9) + Proto.bytes(18, Proto.tag(2, 0) + Proto.varint(9) + Proto.tag(3, 0) + Proto.varint(5000)))),
            ("page-token", request(IdentityRiskMethods.List.self, ListEvents.Request(filter: "riskLevel eq 'high'", order: .createdDescending, top: 10, pageToken: "1.1.cbf29ce484222325.638000000000000000.abc"))),
        ]
        let filters = [
            "riskLevel eq 'high'", "userId eq 'u1' and riskEventStatus ne 'active'",
            "createdDateTime ge 2017-01-01T00:00:00Z and createdDateTime lt 2018-01-01T00:00:00.5+01:00",
            "not (riskLevel eq 'low' or riskLevel eq 'medium')", "startswith(userPrincipalName, 'adm')",
            "riskEventType in ('a', 'b')", String(repeating: "(", count: 40) + "riskLevel eq 'high'" + String(repeating: ")", count: 40),
            "userDisplayName eq 'O''Brien'",
        ]
        for (i, filter) in filters.enumerated() {
            out.append(("list-filter-\(i)", request(IdentityRiskMethods.List.self, ListEvents.Request(filter: filter, order: ListOrder.allCases[i % ListOrder.allCases.count], top: i * 100))))
        }
        return out
    }

    // MARK: encoding

    static func request<M: WireMethod>(_ method: M.Type, _ request: M.Request, callID: UInt64 = 1) -> [UInt8] {
        var buffer = ByteBuffer()
        RequestCodec.encode(method, request, callID: callID, timeoutMilliseconds: 5000, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func frame(_ draft: IdentityRiskEventDraft, id: UInt64) -> [UInt8] { request(IdentityRiskMethods.Create.self, draft, callID: id) }

    static func cancel(_ target: UInt64) -> [UInt8] {
        var buffer = ByteBuffer()
        RequestCodec.encodeCancel(targetCallID: target, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Request{call_id 42, create{event{a valid event + extra}}}.
    static func createRaw(extra: [UInt8]) -> [UInt8] { Proto.create(callID: 42, event: Proto.event(extra: extra)) }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
