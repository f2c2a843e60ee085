import Foundation
@testable import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
@testable import IdentityRiskWire
import NIOCore
import Testing

/// PROTOCOL.md §8 shows six frames byte for byte (create, update, delete and
/// their answers). These tests read them from the document and check that the
/// codecs write exactly those bytes for the values §8 describes, and read them
/// back as those values, so the example cannot drift from the implementation.
@Suite("PROTOCOL.md §8 example exchanges")
struct ProtocolExampleTests {
    static let protocolDocument = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("PROTOCOL.md").path

    /// The frames of §8's "The full bytes, in order:" block, as `(label, bytes)`.
    static func documentedFrames() throws -> [(label: String, bytes: [UInt8])] {
        let text = try String(contentsOfFile: protocolDocument, encoding: .utf8)
        let section = try #require(text.range(of: "## 8."), "PROTOCOL.md has no §8")
        let marker = try #require(text.range(of: "The full bytes, in order:", range: section.upperBound..<text.endIndex))
        let lines = text[marker.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
        var frames: [(label: String, bytes: [UInt8])] = []
        var fences = 0
        for line in lines {
            if line.hasPrefix("```") {
                fences += 1
                if fences == 2 { break }
                continue
            }
            guard fences == 1 else { continue }
            var hex = Substring(line)
            if let colon = line.firstIndex(of: ":") {
                frames.append((String(line[..<colon]).trimmingCharacters(in: .whitespaces), []))
                hex = line[line.index(after: colon)...]
            }
            for token in hex.split(separator: " ") {
                let byte = try #require(UInt8(token, radix: 16), "'\(token)' in §8 is not a hex byte")
                try #require(!frames.isEmpty, "hex before the first label in §8")
                frames[frames.count - 1].bytes.append(byte)
            }
        }
        return frames
    }

    static let id = "9953902a-902a-4953-aa90-53992a905399"

    /// The seed's example event, as the create sends it.
    static var draft: IdentityRiskEventDraft { seedDraft(id: id) }

    /// The record as created (its created_date_time as captured in §8).
    static var created: IdentityRiskEvent { seedEvent(id: id, createdDateTime: dt("2026-12-01T23:58:29.5035185Z")) }

    static var update: UpdateEvent.Request {
        var patch = EventPatch()
        patch.set(.riskEventStatus, .riskEventStatus(.dismissedAsFalsePositive))
        patch.set(.closedDateTime, .dateTime(dt("2017-01-02T08:00:00Z")))
        return UpdateEvent.Request(id: id, patch: patch, ifMatch: 1)
    }

    static var updated: IdentityRiskEvent {
        var event = created
        event.riskEventStatus = .dismissedAsFalsePositive
        event.closedDateTime = dt("2017-01-02T08:00:00Z")
        event.version = 2
        return event
    }

    static let delete = DeleteEvent.Request(id: id, ifMatch: 2)

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
    }

    /// Checks one documented request frame against `method`'s client codec and server codec.
    static func checkRequest<M: WireMethod>(
        _ documented: [UInt8], _ method: M.Type, _ request: M.Request, callID: UInt64, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let frame = requestFrame(method, request, callID: callID, timeoutMilliseconds: 5000)
        #expect(hex(frame.readableBytesView) == hex(documented), "the \(M.descriptor.name) request", sourceLocation: sourceLocation)
        let decoded = decodeRequest(try stripPrefix(ByteBuffer(bytes: documented), sourceLocation: sourceLocation))
        #expect(decoded == DecodedRequest(callID: callID, timeoutMilliseconds: 5000, kind: .call(method, request)), sourceLocation: sourceLocation)
    }

    /// Checks one documented response frame against the server's encoder and the client's decoder.
    static func checkResponse<M: WireMethod>(
        _ documented: [UInt8], _ method: M.Type, _ response: M.Response, callID: UInt64, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let frame = responseFrame(method, callID: callID, .success(response))
        #expect(hex(frame.readableBytesView) == hex(documented), "the \(M.descriptor.name) answer", sourceLocation: sourceLocation)
        let decoded = try decodeResponse(try stripPrefix(ByteBuffer(bytes: documented), sourceLocation: sourceLocation), as: method)
        #expect(decoded == DecodedResponse(callID: callID, result: .success(response)), sourceLocation: sourceLocation)
    }

    @Test("§8 lists create, update and delete, each with its answer")
    func documentedLabels() throws {
        #expect(try Self.documentedFrames().map(\.label) == [
            "create", "answer", "update", "answer", "delete", "answer", "watch", "message", "message", "cancel", "end",
        ])
    }

    @Test("§8's create and its answer are what the codecs write and read")
    func createExchange() throws {
        let frames = try Self.documentedFrames()
        try #require(frames.count == 11)
        try Self.checkRequest(frames[0].bytes, Create.self, Self.draft, callID: 1)
        try Self.checkResponse(frames[1].bytes, Create.self, CreateOutcome(event: Self.created, alreadyExisted: false), callID: 1)
    }

    @Test("§8's update and its answer are what the codecs write and read")
    func updateExchange() throws {
        let frames = try Self.documentedFrames()
        try #require(frames.count == 11)
        try Self.checkRequest(frames[2].bytes, Update.self, Self.update, callID: 6)
        try Self.checkResponse(frames[3].bytes, Update.self, Self.updated, callID: 6)
    }

    @Test("§8's delete and its answer are what the codecs write and read")
    func deleteExchange() throws {
        let frames = try Self.documentedFrames()
        try #require(frames.count == 11)
        try Self.checkRequest(frames[4].bytes, Delete.self, Self.delete, callID: 8)
        try Self.checkResponse(frames[5].bytes, Delete.self, 2, callID: 8)
    }

    static let watch = WatchChanges.Request(filter: "riskLevel eq 'high'", start: .after(ChangeCursor(41)))

    @Test("§8's watch: the request, a bookmark, a delete, the cancel and the final status are what the codecs write and read")
    func watchExchange() throws {
        let frames = try Self.documentedFrames()
        try #require(frames.count == 11)
        let request = requestFrame(Watch.self, Self.watch, callID: 10)
        #expect(Self.hex(request.readableBytesView) == Self.hex(frames[6].bytes), "the watch request")
        #expect(decodeRequest(try stripPrefix(ByteBuffer(bytes: frames[6].bytes))) == DecodedRequest(callID: 10, kind: .call(Watch.self, Self.watch)))
        try Self.checkResponse(frames[7].bytes, Watch.self, .bookmark(ChangeCursor(41)), callID: 10)
        try Self.checkResponse(frames[8].bytes, Watch.self, .change(Change(cursor: ChangeCursor(42), kind: .deleted, event: Self.updated)), callID: 10)
        #expect(Self.hex(cancelFrame(targetCallID: 10).readableBytesView) == Self.hex(frames[9].bytes), "the cancel")
        #expect(decodeRequest(try stripPrefix(ByteBuffer(bytes: frames[9].bytes))) == DecodedRequest(callID: 0, kind: .cancel(targetCallID: 10)))
        let end = IdentityRiskError(code: .cancelled, message: "the stream was cancelled by its client", resumeCursor: ChangeCursor(42))
        let written = responseFrame(Watch.self, callID: 10, .failure(end))
        #expect(Self.hex(written.readableBytesView) == Self.hex(frames[10].bytes), "the final status")
        let decoded = try decodeResponse(try stripPrefix(ByteBuffer(bytes: frames[10].bytes)), as: Watch.self)
        #expect(decoded == DecodedResponse(callID: 10, result: .failure(end)))
    }
}
