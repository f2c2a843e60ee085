import CIdentityRiskProto
import CProtobufC
@testable import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
@testable import IdentityRiskWire
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite("Frame decoding")
struct FrameDecoderTests {
    /// A frame around `payload`.
    static func frame(_ payload: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(payload.count), endianness: .big)
        buffer.writeBytes(payload)
        return buffer
    }

    static func prefix(_ length: UInt32) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(length, endianness: .big)
        return buffer
    }

    /// A channel framing requests as the server does (FrameDecoder at the default request limit).
    static func requestDecoderChannel(maxFrameBytes: Int = WireProtocol.defaultMaxRequestFrameBytes) -> EmbeddedChannel {
        EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
    }

    /// Feeds `chunks` one `writeInbound` each, collects every payload produced
    /// and decodes each as the server does.
    static func decode(_ chunks: [ByteBuffer], maxFrameBytes: Int = WireProtocol.defaultMaxRequestFrameBytes) throws -> [DecodedRequest] {
        let channel = requestDecoderChannel(maxFrameBytes: maxFrameBytes)
        var out: [DecodedRequest] = []
        for chunk in chunks {
            try channel.writeInbound(chunk)
            while let payload = try channel.readInbound(as: ByteBuffer.self) { out.append(decodeRequest(payload)) }
        }
        #expect(try channel.finish().isClean, "no bytes or messages left over")
        return out
    }

    /// 7 bytes that protobuf-c refuses: 'g' is field 12 with the invalid wire type 7.
    static let garbage = Array("garbage".utf8)

    /// A mix of requests of every method and a cancel, with a zero-length frame
    /// (an empty Request) and a garbage frame; with what the server makes of each.
    static func sampleStream() -> (frames: [ByteBuffer], expected: [DecodedRequest]) {
        var stream: [(ByteBuffer, DecodedRequest)] = []
        func call<M: WireMethod>(_ method: M.Type, _ request: M.Request, callID: UInt64, timeoutMilliseconds: UInt32 = 0) {
            stream.append((
                requestFrame(method, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds),
                DecodedRequest(callID: callID, timeoutMilliseconds: timeoutMilliseconds, kind: .call(method, request))))
        }
        call(Create.self, Fixtures.fullDraft(), callID: 1, timeoutMilliseconds: 5_000)
        call(Get.self, "evt-0001", callID: 2)
        stream.append((frame([]), DecodedRequest(callID: 0, kind: .noMethod)))
        call(List.self, ListEvents.Request(filter: "riskLevel eq 'high'", order: .riskEventDescending, top: 10, pageToken: "tok"), callID: 3)
        call(Health.self, HealthRequest(), callID: 4)
        stream.append((frame(garbage), decodeRequest(ByteBuffer(bytes: garbage))))
        stream.append((cancelFrame(targetCallID: 3), DecodedRequest(callID: 0, kind: .cancel(targetCallID: 3))))
        var patch = EventPatch()
        patch.set(.riskEventStatus, .riskEventStatus(.remediated))
        patch.set(.userDisplayName, nil)
        call(Update.self, UpdateEvent.Request(id: "evt-0001", patch: patch, ifMatch: 2), callID: 6, timeoutMilliseconds: 1)
        call(Delete.self, DeleteEvent.Request(id: "evt-0001"), callID: 7)
        call(IdentityRiskMethods.Stats.self, StatsRequest(), callID: 9)
        call(Watch.self, WatchChanges.Request(filter: "riskLevel eq 'high'", start: .after(ChangeCursor(99))), callID: 8)
        call(Create.self, IdentityRiskEventDraft(userId: "ユーザー🔑"), callID: UInt64.max, timeoutMilliseconds: UInt32.max)
        return (stream.map(\.0), stream.map(\.1))
    }

    static func concatenated(_ frames: [ByteBuffer]) -> ByteBuffer {
        var all = ByteBuffer()
        for f in frames { all.writeImmutableBuffer(f) }
        return all
    }

    // MARK: - ByteToMessageDecoderVerifier

    @Test("FrameDecoder passes NIO's decoder verifier (drip feed, many at once), zero-length frame included")
    func frameDecoderVerifier() throws {
        let payloads: [[UInt8]] = [
            Array("hello".utf8),
            [],
            Array(repeating: 0xAB, count: 300),
            [0, 0, 0, 0],
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ]
        var pairs: [(ByteBuffer, [ByteBuffer])] = payloads.map { (Self.frame($0), [ByteBuffer(bytes: $0)]) }
        // Several frames in one input.
        pairs.append((Self.concatenated([Self.frame([1, 2, 3]), Self.frame([]), Self.frame([9])]),
                      [ByteBuffer(bytes: [1, 2, 3]), ByteBuffer(), ByteBuffer(bytes: [9])]))
        #expect(throws: Never.self) {
            try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder(maxFrameBytes: 1024) }
        }
    }

    @Test("FrameDecoder passes NIO's decoder verifier on the request stream, yielding each frame's payload")
    func requestStreamVerifier() throws {
        let (frames, _) = Self.sampleStream()
        let payloads = try frames.map { try stripPrefix($0) }
        var pairs = zip(frames, payloads).map { ($0.0, [$0.1]) }
        pairs.append((Self.concatenated(Array(frames.prefix(3))), Array(payloads.prefix(3))))
        pairs.append((Self.concatenated(frames), payloads))
        #expect(throws: Never.self) {
            try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
                FrameDecoder(maxFrameBytes: WireProtocol.defaultMaxRequestFrameBytes)
            }
        }
    }

    @Test("each payload of the request stream decodes to its request")
    func requestStreamPayloads() throws {
        let (frames, expected) = Self.sampleStream()
        try #require(frames.count == expected.count)
        for (frame, request) in zip(frames, expected) {
            #expect(decodeRequest(try stripPrefix(frame)) == request)
        }
        // The stream has a call of every method in the table, a cancel, an empty frame and a malformed one.
        let methods = Set(expected.compactMap { request -> MethodDescriptor? in
            if case .call(let call) = request.kind { return call.method }
            return nil
        })
        #expect(methods == Set(WireMethods.all.map { $0.descriptor }))
        #expect(expected.contains { $0.kind == .noMethod })
        #expect(expected.contains { if case .malformed = $0.kind { true } else { false } })
        #expect(expected.contains { $0.kind == .cancel(targetCallID: 3) })
    }

    @Test("FrameDecoder outputs are exact payload slices")
    func frameDecoderOutputs() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 16)))
        try channel.writeInbound(Self.concatenated([Self.frame([]), Self.frame(Array(0..<16)), Self.frame([7])]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer())
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: Array(0..<16)))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [7]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(try channel.finish().isClean)
    }

    // MARK: - EmbeddedChannel feeding

    @Test("byte-by-byte feeding yields exactly the original requests")
    func byteByByte() throws {
        let (frames, expected) = Self.sampleStream()
        let all = Self.concatenated(frames)
        let chunks = all.readableBytesView.map { ByteBuffer(bytes: [$0]) }
        #expect(try Self.decode(chunks) == expected)
    }

    @Test("everything in one write yields exactly the original requests")
    func allAtOnce() throws {
        let (frames, expected) = Self.sampleStream()
        #expect(try Self.decode([Self.concatenated(frames)]) == expected)
    }

    @Test("seeded random splits yield exactly the original requests", arguments: [UInt64(1), 2, 3, 42, 0xDEAD_BEEF, 20_240_501])
    func randomSplits(_ seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let (frames, expected) = Self.sampleStream()
        // Repeat the stream so splits land in every kind of place.
        var all = Self.concatenated(frames + frames + frames)
        var chunks: [ByteBuffer] = []
        while all.readableBytes > 0 {
            let size = min(all.readableBytes, Int.random(in: 0...40, using: &rng))
            chunks.append(all.readSlice(length: size)!)
        }
        #expect(chunks.count > 10)
        #expect(try Self.decode(chunks) == expected + expected + expected)
    }

    // MARK: - Oversize

    @Test("an oversize length prefix throws frameTooLarge from the 4 prefix bytes alone",
          arguments: [UInt32(WireProtocol.defaultMaxRequestFrameBytes + 1), UInt32(1 << 31), UInt32.max])
    func oversizePrefix(_ length: UInt32) throws {
        let channel = Self.requestDecoderChannel()
        #expect(throws: WireError.frameTooLarge(length: Int(length), maximum: WireProtocol.defaultMaxRequestFrameBytes)) {
            try channel.writeInbound(Self.prefix(length))
        }
        _ = try? channel.finish()
    }

    @Test("a refused length prefix is a WireError whose code, length and limit a caller reads without a switch over cases")
    func frameTooLargeFields() {
        var big = ByteBuffer(bytes: [0, 0, 0, 11] + [UInt8](repeating: 0, count: 11))
        do {
            _ = try FrameDecoder.nextFrame(from: &big, maxFrameBytes: 10)
            Issue.record("an 11-byte frame passed a 10-byte limit")
        } catch {
            // nextFrame throws(WireError): `error` is a WireError.
            #expect(error.code == .frameTooLarge)
            #expect(error.code != .truncatedFrame)
            #expect(error.length == 11)
            #expect(error.maximum == 10)
            #expect(error.bufferedBytes == nil)
            #expect(error.description == "frame length 11 exceeds the maximum of 10 bytes")
            #expect(error.code.description == "frameTooLarge")
        }
    }

    @Test("the server's FrameDecoder (default request limit) refuses max + 1 but accepts exactly max")
    func exactlyMax() throws {
        let max = WireProtocol.defaultMaxRequestFrameBytes
        let channel = Self.requestDecoderChannel()
        // Exactly the maximum: accepted, waits for the payload.
        #expect(throws: Never.self) { try channel.writeInbound(Self.prefix(UInt32(max))) }
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        // The payload: a Request whose list filter fills the frame.
        var payload = ProtobufBytes { $0.uint(ProtoField.Request.callID, 9) }
        let overhead = payload.bytes.count + 2 + 3 + 1 + 3  // list tag (field 18: 2 bytes), list length, filter tag, filter length
        let filter = String(repeating: "f", count: max - overhead)
        payload.message(ProtoField.Request.list) { $0.string(ProtoField.ListRequest.filter, filter) }
        try #require(payload.bytes.count == max)
        try channel.writeInbound(ByteBuffer(bytes: payload.bytes))
        let read = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(read.readableBytes == max)
        #expect(decodeRequest(read) == DecodedRequest(callID: 9, kind: .call(List.self, ListEvents.Request(filter: filter))))

        #expect(throws: WireError.frameTooLarge(length: max + 1, maximum: max)) {
            try channel.writeInbound(Self.prefix(UInt32(max + 1)))
        }
        _ = try? channel.finish()
    }

    @Test("FrameDecoder refuses an oversize prefix as soon as its 4th byte arrives")
    func oversizeDripFed() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 100)))
        let bytes = Array(Self.prefix(UInt32.max).readableBytesView)
        for b in bytes.prefix(3) {
            #expect(throws: Never.self) { try channel.writeInbound(ByteBuffer(bytes: [b])) }
        }
        #expect(throws: WireError.frameTooLarge(length: Int(UInt32.max), maximum: 100)) {
            try channel.writeInbound(ByteBuffer(bytes: [bytes[3]]))
        }
        _ = try? channel.finish()
    }

    @Test("FrameDecoder.nextFrame leaves a partial frame unread and refuses oversize")
    func nextFrameDirect() throws {
        var partial = Self.frame([1, 2, 3, 4])
        partial.moveWriterIndex(to: partial.writerIndex - 1)
        let before = partial
        #expect(try FrameDecoder.nextFrame(from: &partial, maxFrameBytes: 10) == nil)
        #expect(partial == before, "nothing consumed")

        var short = ByteBuffer(bytes: [0, 0])
        #expect(try FrameDecoder.nextFrame(from: &short, maxFrameBytes: 10) == nil)

        var big = Self.frame(Array(repeating: 0, count: 11))
        #expect(throws: WireError.frameTooLarge(length: 11, maximum: 10)) { try FrameDecoder.nextFrame(from: &big, maxFrameBytes: 10) }

        var two = Self.concatenated([Self.frame([5]), Self.frame([6, 7])])
        #expect(try FrameDecoder.nextFrame(from: &two, maxFrameBytes: 10) == ByteBuffer(bytes: [5]))
        #expect(try FrameDecoder.nextFrame(from: &two, maxFrameBytes: 10) == ByteBuffer(bytes: [6, 7]))
        #expect(two.readableBytes == 0)
    }

    // MARK: - Truncation

    @Test("a truncated frame then EOF (input closed) throws truncatedFrame")
    func truncatedThenInputClosed() throws {
        let channel = Self.requestDecoderChannel()
        var f = requestFrame(Get.self, "abc", callID: 1)
        let whole = f.readableBytes
        f.moveWriterIndex(to: f.writerIndex - 2)
        try channel.writeInbound(Self.concatenated([requestFrame(Health.self, HealthRequest(), callID: 9), f]))
        let first = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(decodeRequest(first) == DecodedRequest(callID: 9, kind: .call(Health.self, HealthRequest())))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        #expect(throws: WireError.truncatedFrame(bufferedBytes: whole - 2)) { try channel.throwIfErrorCaught() }
        _ = try? channel.finish()
    }

    @Test("a partial length prefix then EOF throws truncatedFrame")
    func partialPrefixThenEOF() throws {
        let channel = Self.requestDecoderChannel()
        try channel.writeInbound(ByteBuffer(bytes: [0, 0]))
        #expect(throws: WireError.truncatedFrame(bufferedBytes: 2)) { try channel.finish() }
    }

    @Test("FrameDecoder: truncated frame then close throws truncatedFrame; whole frames then close do not")
    func frameDecoderTruncation() throws {
        let truncated = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 100)))
        var f = Self.frame([1, 2, 3, 4, 5])
        f.moveWriterIndex(to: f.writerIndex - 1)
        try truncated.writeInbound(f)
        #expect(throws: WireError.truncatedFrame(bufferedBytes: 8)) { try truncated.finish() }

        let whole = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 100)))
        try whole.writeInbound(Self.frame([1]))
        #expect(try whole.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [1]))
        whole.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(throws: Never.self) { try whole.throwIfErrorCaught() }
        #expect(try whole.finish().isClean)
    }

    // MARK: - Payloads that are not valid Requests

    @Test("a garbage frame yields .malformed(invalidArgument) and the next frame still decodes")
    func garbageFrame() throws {
        let out = try Self.decode([Self.concatenated([
            Self.frame(Self.garbage),
            requestFrame(Health.self, HealthRequest(), callID: 12),
        ])])
        try #require(out.count == 2)
        #expect(out[0].callID == 0)
        let error = try #require(out[0].malformation())
        #expect(error.code == .invalidArgument)
        #expect(error.innerCode == "MalformedMessage")
        #expect(error.message.contains("7 bytes"))
        #expect(out[1] == DecodedRequest(callID: 12, kind: .call(Health.self, HealthRequest())))
    }

    @Test("a garbage frame that starts with field 1 as a varint keeps its call id",
          arguments: [UInt64(0), 1, 150, 1 << 35, UInt64.max])
    func garbageWithCallID(_ callID: UInt64) throws {
        var bytes = ProtobufBytes { $0.uint(ProtoField.Request.callID, callID) }
        bytes.raw([0x07, 0x01, 0x02])  // field 0, wire type 7: not protobuf
        let request = decodeRequest(bytes.payload)
        #expect(request.callID == callID)
        let error = try #require(request.malformation())
        #expect(error.code == .invalidArgument)
    }

    @Test("a truncated call-id varint is not recovered")
    func truncatedCallIDVarint() {
        let request = decodeRequest(ByteBuffer(bytes: [0x08, 0x96]))
        #expect(request.callID == 0)
        #expect(request.malformation()?.code == .invalidArgument)
    }

    @Test("an unknown oneof field number reads as .noMethod, keeping call id and timeout",
          arguments: [24, 25, 63, 65, 99, 127, 128, 1000])
    func unknownOneofField(_ field: Int) {
        // Not a field of the generated Request (else pick another number).
        let known = withUnsafePointer(to: identityrisk__v1__request__descriptor) {
            protobuf_c_message_descriptor_get_field($0, UInt32(field)) != nil
        }
        #expect(!known, "field \(field) is in the .proto now: choose an unused number for this test")
        let bytes = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 31)
            m.uint(ProtoField.Request.timeoutMs, 250)
            m.message(field) { $0.string(1, "future payload") }
        }
        #expect(decodeRequest(bytes.payload) == DecodedRequest(callID: 31, timeoutMilliseconds: 250, kind: .noMethod))
    }

    @Test("a create without an event is refused by the create codec, naming the event")
    func createWithoutEvent() throws {
        let bytes = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 4)
            m.bytes(ProtoField.Request.create, [])
        }
        let request = decodeRequest(bytes.payload)
        #expect(request.callID == 4)
        let error = try #require(request.refusal(Create.self))
        #expect(error.code == .invalidArgument)
        #expect(error.violations.map(\.field) == ["event"])
    }

    // MARK: - Field-level decoding violations

    @Test("an unknown risk_level enum number becomes a riskLevel violation listing the allowed values",
          arguments: [Int64(7), 99, -1, Int64(Int32.max)])
    func unknownRiskLevel(_ number: Int64) throws {
        let bytes = ProtobufBytes.createRequest(callID: 8) { e in
            e.validEventFields(omitting: [ProtoField.Event.riskLevel])
            e.int(ProtoField.Event.riskLevel, number)
        }
        let request = decodeRequest(bytes.payload)
        #expect(request.callID == 8)
        let draft = try #require(createdDraft(request))
        #expect(draft.riskLevel == nil)
        try #require(draft.decodingViolations.count == 1)
        let v = draft.decodingViolations[0]
        #expect(v.field == "riskLevel")
        #expect(v.description.contains("\(number)"))
        for level in RiskLevel.allCases {
            #expect(v.description.contains(level.rawValue), "allowed values must include \(level.rawValue)")
        }
        // The validator reports it once, without a second "is required".
        #expect(throws: IdentityRiskError.self) {
            _ = try EventValidator().validate(draft, assignID: { "x" }, createdDateTime: dt("2024-01-01T00:00:00Z"))
        }
        do {
            _ = try EventValidator().validate(draft, assignID: { "x" }, createdDateTime: dt("2024-01-01T00:00:00Z"))
        } catch {
            #expect(error.violations == [v])
        }
    }

    @Test("an unknown risk_event_status enum number becomes a riskEventStatus violation listing the allowed values",
          arguments: [Int64(9), 99, -1])
    func unknownRiskEventStatus(_ number: Int64) throws {
        let bytes = ProtobufBytes.createRequest(callID: 8) { e in
            e.validEventFields(omitting: [ProtoField.Event.riskEventStatus])
            e.int(ProtoField.Event.riskEventStatus, number)
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        #expect(draft.riskEventStatus == nil)
        #expect(draft.riskLevel == .high)
        try #require(draft.decodingViolations.count == 1)
        let v = draft.decodingViolations[0]
        #expect(v.field == "riskEventStatus")
        #expect(v.description.contains("\(number)"))
        for status in RiskEventStatus.allCases {
            #expect(v.description.contains(status.rawValue))
        }
    }

    @Test("an unknown order_by enum number makes the list codec refuse the request")
    func unknownOrderBy() throws {
        let bytes = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 3)
            m.message(ProtoField.Request.list) { $0.uint(ProtoField.ListRequest.orderBy, 99) }
        }
        let error = try #require(decodeRequest(bytes.payload).refusal(List.self))
        #expect(error.violations.map(\.field) == ["orderBy"])
        for order in ListOrder.allCases {
            #expect(error.violations.first?.description.contains(order.rawValue) == true)
        }
    }

    @Test("a list top above 1000 makes the list codec refuse the request; 1000 is accepted")
    func listTopTooLarge() throws {
        let bytes = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 3)
            m.message(ProtoField.Request.list) { $0.uint(ProtoField.ListRequest.top, 1001) }
        }
        let error = try #require(decodeRequest(bytes.payload).refusal(List.self))
        #expect(error.violations.map(\.field) == ["top"])
        let atMax = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 3)
            m.message(ProtoField.Request.list) { $0.uint(ProtoField.ListRequest.top, 1000) }
        }
        #expect(decodeRequest(atMax.payload).request(List.self)?.top == 1000)
    }

    static let stringFields: [(Int, String)] = [
        (ProtoField.Event.id, "id"),
        (ProtoField.Event.userDisplayName, "userDisplayName"),
        (ProtoField.Event.userPrincipalName, "userPrincipalName"),
        (ProtoField.Event.riskEventType, "riskEventType"),
        (ProtoField.Event.userId, "userId"),
    ]

    static let invalidUTF8: [[UInt8]] = [
        [0xFF, 0xFE],                  // never valid in UTF-8
        [0x61, 0xC0, 0xAF],            // overlong '/'
        [0xED, 0xA0, 0x80],            // UTF-16 surrogate
        [0xE6, 0x97],                  // truncated 3-byte sequence
        [0xF4, 0x90, 0x80, 0x80],      // above U+10FFFF
    ]

    @Test("invalid UTF-8 in a string property becomes an 'is not valid UTF-8' violation for it",
          arguments: stringFields.map(\.0), invalidUTF8)
    func invalidUTF8InEvent(_ field: Int, _ bad: [UInt8]) throws {
        let name = try #require(Self.stringFields.first { $0.0 == field }?.1)
        let bytes = ProtobufBytes.createRequest(callID: 2) { e in
            e.validEventFields(omitting: [field])
            e.bytes(field, bad)
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        #expect(draft.decodingViolations == [FieldViolation(field: name, description: "is not valid UTF-8")])
        let values: [String: String?] = [
            "id": draft.id, "userDisplayName": draft.userDisplayName, "userPrincipalName": draft.userPrincipalName,
            "riskEventType": draft.riskEventType, "userId": draft.userId,
        ]
        #expect(values[name] == .some(nil), "\(name) must be left unset")
    }

    @Test("the brief's case: user_id bytes 0xff 0xfe")
    func userIdFFFE() throws {
        let bytes = ProtobufBytes.createRequest(callID: 2) { e in
            e.validEventFields(omitting: [ProtoField.Event.userId])
            e.bytes(ProtoField.Event.userId, [0xFF, 0xFE])
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        #expect(draft.userId == nil)
        #expect(draft.decodingViolations.count == 1)
        #expect(draft.decodingViolations.first?.field == "userId")
        #expect(draft.decodingViolations.first?.description.contains("is not valid UTF-8") == true)
        #expect(draft.userPrincipalName == "someone@contoso.com")
    }

    @Test("invalid UTF-8 in get id, list filter or page token, or delete id makes that method's codec refuse it, naming the field",
          arguments: [(ProtoField.Request.get, ProtoField.GetRequest.id, "id"),
                      (ProtoField.Request.list, ProtoField.ListRequest.filter, "filter"),
                      (ProtoField.Request.list, ProtoField.ListRequest.pageToken, "pageToken"),
                      (ProtoField.Request.delete, ProtoField.DeleteRequest.id, "id")])
    func invalidUTF8InOtherMethods(_ method: Int, _ field: Int, _ name: String) throws {
        let bytes = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 6)
            m.message(method) { $0.bytes(field, [0x41, 0xFF, 0xFE]) }
        }
        let request = decodeRequest(bytes.payload)
        #expect(request.callID == 6)
        guard case .refused(let descriptor, let error) = request.kind else {
            Issue.record("expected a refusal, got \(request.kind)")
            return
        }
        #expect(descriptor.number == UInt32(method))
        #expect(error.code == .invalidArgument)
        #expect(error.violations == [FieldViolation(field: name, description: "is not valid UTF-8")])
    }

    static let badDates: [ProtoDateTime] = [
        ProtoDateTime(ticks: 10_000_000),
        ProtoDateTime(ticks: UInt32.max),
        ProtoDateTime(offsetMinutes: 900),
        ProtoDateTime(offsetMinutes: -841),
        ProtoDateTime(offsetMinutes: Int32.min),
        ProtoDateTime(fractionDigits: 8),
        ProtoDateTime(ticks: 1_234_567, fractionDigits: 3),        // digits beyond fraction_digits
        ProtoDateTime(offsetMinutes: 60, utcDesignator: true),     // Z with a non-zero offset
        ProtoDateTime(unixSeconds: DateTimeOffset.minUnixSeconds - 1, offsetMinutes: 0),
        ProtoDateTime(unixSeconds: DateTimeOffset.maxUnixSeconds + 1, offsetMinutes: 0),
        ProtoDateTime(unixSeconds: DateTimeOffset.maxUnixSeconds, offsetMinutes: 60),  // local time past 9999
        ProtoDateTime(unixSeconds: Int64.min),
    ]

    @Test("an out-of-range protobuf DateTimeOffset becomes a violation for that property",
          arguments: [(ProtoField.Event.riskEventDateTime, "riskEventDateTime"), (ProtoField.Event.closedDateTime, "closedDateTime")],
          badDates)
    func badDateTime(_ field: (Int, String), _ bad: ProtoDateTime) throws {
        let bytes = ProtobufBytes.createRequest(callID: 2) { e in
            e.validEventFields(omitting: [field.0])
            e.message(field.0) { bad.write(into: &$0) }
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        try #require(draft.decodingViolations.count == 1, "\(draft.decodingViolations)")
        #expect(draft.decodingViolations[0].field == field.1)
        #expect(draft.decodingViolations[0].description.hasPrefix("is not a valid DateTimeOffset"))
        #expect((field.0 == ProtoField.Event.riskEventDateTime ? draft.riskEventDateTime : draft.closedDateTime) == nil)
    }

    @Test("the brief's cases name the problem: ticks 10_000_000 and offset_minutes 900")
    func badDateTimeMessages() throws {
        let bytes = ProtobufBytes.createRequest(callID: 2) { e in
            e.validEventFields(omitting: [ProtoField.Event.riskEventDateTime])
            e.message(ProtoField.Event.riskEventDateTime) { ProtoDateTime(ticks: 10_000_000).write(into: &$0) }
            e.message(ProtoField.Event.closedDateTime) { ProtoDateTime(offsetMinutes: 900).write(into: &$0) }
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        let byField = Dictionary(uniqueKeysWithValues: draft.decodingViolations.map { ($0.field, $0.description) })
        #expect(byField.count == 2)
        #expect(byField["riskEventDateTime"]?.contains("10000000") == true)
        #expect(byField["closedDateTime"]?.contains("900") == true)
    }

    @Test("a malformed createdDateTime is still reported as supplied (read-only)", arguments: badDates)
    func badCreatedDateTime(_ bad: ProtoDateTime) throws {
        let bytes = ProtobufBytes.createRequest(callID: 2) { e in
            e.validEventFields()
            e.message(ProtoField.Event.createdDateTime) { bad.write(into: &$0) }
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        #expect(draft.createdDateTime != nil)
        do {
            let event = try EventValidator().validate(draft, assignID: { "x" }, createdDateTime: dt("2024-01-01T00:00:00Z"))
            Issue.record("expected a refusal, got \(event)")
        } catch {
            #expect(error.violations.map(\.innerCode) == ["ReadOnlyProperty"])
            #expect(error.violations.map(\.field) == ["createdDateTime"])
        }
    }

    @Test("a hand-encoded valid event decodes to a draft that validates")
    func handEncodedValid() throws {
        let bytes = ProtobufBytes.createRequest(callID: 2) { $0.validEventFields() }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        #expect(draft.decodingViolations.isEmpty)
        #expect(draft.riskEventDateTime?.description == "2017-01-01T00:01:00.7804275+03:00")
        let event = try EventValidator().validate(draft, assignID: { "assigned" }, createdDateTime: dt("2024-01-01T00:00:00Z"))
        #expect(event.riskLevel == .high)
        #expect(event.riskEventStatus == .active)
    }

    // MARK: - Embedded NUL

    /// protobuf-c hands strings to Swift as NUL-terminated C strings, so a
    /// string field with an embedded 0x00 is silently cut at the NUL
    /// (EventCodec.decodeString). Unchecked, the cut value would pass
    /// validation: "ab\0cd" would be stored as "ab" instead of being refused for
    /// its control character; RequestCodec.decode lists it in `nulViolations`.
    @Test("an embedded NUL in user_id is refused, not silently truncated")
    func embeddedNULInUserId() throws {
        let bytes = ProtobufBytes.createRequest(callID: 2) { e in
            e.validEventFields(omitting: [ProtoField.Event.userId])
            e.bytes(ProtoField.Event.userId, Array("ab\u{0}cd".utf8))
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        let kept = draft.userId.map { Array($0.utf8) } == Array("ab\u{0}cd".utf8)
        let refused = draft.decodingViolations.contains { $0.field == "userId" }
        #expect(kept || refused, "BUG: user_id \"ab\\0cd\" decoded as \(String(reflecting: draft.userId)) with no violation")
    }

    @Test("an embedded NUL in any string property of a create is refused by that property's name",
          arguments: stringFields.map(\.0))
    func embeddedNULInEveryEventString(_ field: Int) throws {
        let name = try #require(Self.stringFields.first { $0.0 == field }?.1)
        let bytes = ProtobufBytes.createRequest(callID: 2) { e in
            e.validEventFields(omitting: [field])
            e.bytes(field, Array("x\u{0}y".utf8))
        }
        let draft = try #require(createdDraft(decodeRequest(bytes.payload)))
        #expect(draft.decodingViolations.map(\.field) == [name])
        #expect(draft.decodingViolations.first?.description.contains("NUL") == true)
        do {
            _ = try EventValidator().validate(draft, assignID: { "x" }, createdDateTime: dt("2024-01-01T00:00:00Z"))
            Issue.record("a draft with a NUL in \(name) must not validate")
        } catch {
            #expect(error.violations.map(\.field) == [name])
        }
    }

    @Test("an embedded NUL in a list filter or page token makes the request invalid for that field",
          arguments: [(ProtoField.ListRequest.filter, "filter"), (ProtoField.ListRequest.pageToken, "pageToken")])
    func embeddedNULInList(_ field: Int, _ name: String) throws {
        let bytes = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 6)
            m.message(ProtoField.Request.list) { $0.bytes(field, Array("userId eq 'a'\u{0} or true".utf8)) }
        }
        let request = decodeRequest(bytes.payload)
        #expect(request.callID == 6)
        let error = try #require(request.refusal(List.self))
        #expect(error.violations.map(\.field) == [name])
    }

    /// Same cause; a get for "evt-1\0junk" looks up "evt-1", a different record.
    @Test("an embedded NUL in a get id is refused, not truncated to another valid id")
    func embeddedNULInGetID() {
        let bytes = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 6)
            m.message(ProtoField.Request.get) { $0.bytes(ProtoField.GetRequest.id, Array("evt-1\u{0}junk".utf8)) }
        }
        let request = decodeRequest(bytes.payload)
        #expect(request.kind != .call(Get.self, "evt-1"), "BUG: id \"evt-1\\0junk\" was read as \"evt-1\"")
        #expect(request.refusal(Get.self)?.violations.map(\.field) == ["id"])
    }

    @Test("an embedded NUL in a delete id is refused, not truncated to another valid id")
    func embeddedNULInDeleteID() {
        let bytes = ProtobufBytes { m in
            m.uint(ProtoField.Request.callID, 6)
            m.message(ProtoField.Request.delete) { $0.bytes(ProtoField.DeleteRequest.id, Array("evt-1\u{0}junk".utf8)) }
        }
        let request = decodeRequest(bytes.payload)
        #expect(request.kind != .call(Delete.self, DeleteEvent.Request(id: "evt-1")))
        #expect(request.refusal(Delete.self)?.violations.map(\.field) == ["id"])
    }

    /// Same cause on the client side: RequestCodec.encode writes a draft
    /// string only up to its first NUL, so the server never sees the rest.
    @Test("protobuf-c cannot encode a string with NUL, so such a request is refused before sending, naming the field")
    func embeddedNULClientSide() throws {
        let draft = IdentityRiskEventDraft(userId: "ab\u{0}cd")
        let problem = try #require(Create.encodingProblem(draft))
        #expect(problem.code == .invalidArgument)
        #expect(problem.target == "userId")
        #expect(problem.message.contains("NUL"))
        #expect(Get.encodingProblem("a\u{0}b")?.target == "id")
        #expect(Create.encodingProblem(IdentityRiskEventDraft(userId: "abcd")) == nil)
        #expect(List.encodingProblem(ListEvents.Request(pageToken: "t\u{0}"))?.target == "pageToken")
        #expect(List.encodingProblem(ListEvents.Request(filter: "userId eq 'a'")) == nil)
        #expect(Delete.encodingProblem(DeleteEvent.Request(id: "a\u{0}b"))?.target == "id")
        #expect(Delete.encodingProblem(DeleteEvent.Request(id: "ab")) == nil)
        var patch = EventPatch()
        patch.set(.riskEventType, .text("x\u{0}"))
        #expect(Update.encodingProblem(UpdateEvent.Request(id: "ab", patch: patch))?.target == "riskEventType")
        #expect(Update.encodingProblem(UpdateEvent.Request(id: "a\u{0}", patch: EventPatch()))?.target == "id")
        #expect(Health.encodingProblem(HealthRequest()) == nil)
    }
}
