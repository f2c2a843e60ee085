@testable import IdentityRiskCore
import IdentityRiskService
@testable import IdentityRiskWire
import NIOCore
import Testing


@Suite("Watch codec")
struct WatchCodecTests {
    @Test("every start survives the client encoder and the server decoder", arguments: [
        WatchChanges.Request(filter: "", start: .now),
        WatchChanges.Request(filter: "riskLevel eq 'high'", start: .oldest),
        WatchChanges.Request(filter: "userId eq 'u'", start: .after(.zero)),
        WatchChanges.Request(filter: "", start: .after(ChangeCursor(UInt64.max))),
    ])
    func requestRoundTrip(_ request: WatchChanges.Request) throws {
        #expect(try roundTripped(Watch.self, request) == request)
    }

    static func watchFrame(_ build: @escaping (inout ProtobufBytes) -> Void) -> ByteBuffer {
        ProtobufBytes {
            $0.uint(ProtoField.Request.callID, 9)
            $0.message(ProtoField.Request.watch, build)
        }.payload
    }

    @Test("an unset start is NOW, or AFTER_CURSOR when a cursor is given")
    func unsetStart() {
        #expect(decodeRequest(Self.watchFrame { _ in }).request(Watch.self) == WatchChanges.Request(start: .now))
        #expect(decodeRequest(Self.watchFrame { $0.uint(ProtoField.WatchRequest.afterCursor, 42) }).request(Watch.self)
            == WatchChanges.Request(start: .after(ChangeCursor(42))))
    }

    @Test("a cursor with NOW or OLDEST, and an unknown start, are refused naming the field and what is allowed")
    func contradictoryStart() {
        for start in [2, 3] as [UInt64] {
            let refused = decodeRequest(Self.watchFrame {
                $0.uint(ProtoField.WatchRequest.start, start)
                $0.uint(ProtoField.WatchRequest.afterCursor, 5)
            }).refusal(Watch.self)
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.target == "afterCursor")
            #expect(refused?.message.contains("AFTER_CURSOR") == true, "\(String(describing: refused))")
        }
        let unknown = decodeRequest(Self.watchFrame { $0.uint(ProtoField.WatchRequest.start, 9) }).refusal(Watch.self)
        #expect(unknown?.target == "start")
        #expect(unknown?.message.contains("9 is not a WatchStart") == true)
        #expect(unknown?.message.contains("3 (OLDEST)") == true)
    }

    @Test("change and bookmark messages survive the server encoder and the client decoder", arguments: [
        WatchChanges.Message.bookmark(.zero),
        .bookmark(ChangeCursor(1 << 40)),
        .change(Change(cursor: ChangeCursor(7), kind: .created, event: Fixtures.fullEvent(version: 1))),
        .change(Change(cursor: ChangeCursor(8), kind: .updated, event: Fixtures.fullEvent(version: 2))),
        .change(Change(cursor: ChangeCursor(300), kind: .deleted, event: Fixtures.fullEvent(version: 300))),
    ])
    func messageRoundTrip(_ message: WatchChanges.Message) throws {
        #expect(success(try roundTrip(Watch.self, callID: 5, .success(message))) == message)
    }

    @Test("a stream's final status carries its resume cursor; a list page its cursor")
    func cursorsInStatusAndList() throws {
        let error = IdentityRiskError(code: .unavailable, message: "shutting down", retryAfterMilliseconds: 1000).resuming(after: ChangeCursor(1234))
        let decoded = try decodeResponse(try stripPrefix(responseFrame(Watch.self, callID: 3, .failure(error))), as: Watch.self)
        #expect(failure(decoded) == error)
        #expect(failure(decoded)?.resumeCursor == ChangeCursor(1234))
        let page = ListEvents.Response(events: [Fixtures.fullEvent()], nextPageToken: "t", cursor: ChangeCursor(99))
        #expect(success(try roundTrip(IdentityRiskMethods.List.self, callID: 4, .success(page))) == page)
    }

    @Test("the OK end of a stream is a Response with status OK and no result")
    func endOfStream() throws {
        let frame = try stripPrefix(responseFrame(Watch.self, callID: 11, .success(nil)))
        let (callID, failure, number) = try ResponseCodec.decode(frame) { ($0.callID, $0.failure, $0.resultNumber) }
        #expect(callID == 11 && failure == nil && number == 0)
    }

    @Test("a watch message with a kind that is not a ChangeKind, or a change without its event, is malformed")
    func malformedMessages() {
        func response(_ build: @escaping (inout ProtobufBytes) -> Void) -> ByteBuffer {
            ProtobufBytes {
                $0.uint(ProtoField.Response.callID, 1)
                $0.message(ProtoField.Response.status) { _ in }
                $0.message(ProtoField.Response.watch, build)
            }.payload
        }
        #expect(malformedReason(response { $0.uint(ProtoField.WatchResponse.cursor, 1); $0.uint(ProtoField.WatchResponse.kind, 9) }, as: Watch.self)?
            .contains("kind 9") == true)
        #expect(malformedReason(response { $0.uint(ProtoField.WatchResponse.cursor, 1); $0.uint(ProtoField.WatchResponse.kind, 1) }, as: Watch.self)?
            .contains("event") == true)
    }
}
