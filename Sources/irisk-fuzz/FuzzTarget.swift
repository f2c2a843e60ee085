import IdentityRiskCore
import IdentityRiskWire
import NIOCore

/// One fuzz input, run through what the server does with bytes after the
/// handshake: split into frames (`FrameDecoder`), unpack each with protobuf-c
/// within the memory budget (`RequestCodec.decode`), convert to Core types,
/// validate (`EventValidator`, `ListEvents.query(for:)`), and encode the
/// answer (`ResponseCodec.encode`).
///
/// Besides crashes and sanitizer reports, it checks invariants and traps
/// (a libFuzzer finding) when one fails:
/// - the answer the server would send decodes on the client side, with the
///   same status code and message;
/// - a request that decoded cleanly re-encodes to one that decodes equal;
/// - a valid create's record round-trips exactly through a Response.
enum FuzzTarget {
    static let maxFrameBytes = WireProtocol.defaultMaxRequestFrameBytes
    static let createdDateTime = try! DateTimeOffset(parsing: "2026-01-02T03:04:05.1234567Z")

    static func run(_ bytes: UnsafeRawBufferPointer) {
        var buffer = ByteBuffer(bytes: bytes)
        while true {
            let frame: ByteBuffer?
            do {
                frame = try FrameDecoder.nextFrame(from: &buffer, maxFrameBytes: maxFrameBytes)
            } catch {
                return  // oversize length prefix: the server closes the connection
            }
            guard let frame else { return }  // EOF inside a frame: nothing of it is processed
            serve(RequestCodec.decode(frame))
        }
    }

    static func serve(_ request: WireRequest) {
        checkReencoding(request)
        let result: WireResponse.Result
        switch request.method {
        case .create(let draft):
            do {
                let event = try EventValidator().validate(draft, assignID: { "00000000-0000-4000-8000-000000000000" }, createdDateTime: createdDateTime)
                result = .create(CreateOutcome(event: event, alreadyExisted: false))
            } catch {
                result = .failure(error)
            }
        case .get(let id):
            if let problem = EventValidator.idProblem(id) {
                result = .failure(IdentityRiskError.invalid([FieldViolation(field: "id", description: problem)]))
            } else {
                result = .failure(IdentityRiskError(code: .notFound, message: "no identityRiskEvent with id '\(id)'"))
            }
        case .list(let list):
            do {
                _ = try ListEvents.query(for: list)
                result = .list(ListEvents.Response(events: [], nextPageToken: ""))
            } catch {
                result = .failure(error)
            }
        case .health:
            result = .health(HealthStatus(serving: .serving, serverVersion: "fuzz", protocolVersion: 1, store: "none", uptimeMilliseconds: 0, openConnections: 1))
        case .cancel:
            return
        case .unimplemented:
            result = .failure(IdentityRiskError(code: .unimplemented, message: "unknown or missing method"))
        case .invalid(let error):
            result = .failure(error)
        }
        checkResponse(WireResponse(callID: request.callID, result: result))
    }

    /// What the server sends must decode on the client, saying the same thing.
    static func checkResponse(_ response: WireResponse) {
        var out = ByteBuffer()
        ResponseCodec.encode(response, into: &out)
        let decoded: WireResponse
        do {
            guard let frame = try FrameDecoder.nextFrame(from: &out, maxFrameBytes: Int(UInt32.max)) else {
                fatalError("ResponseCodec.encode wrote an incomplete frame for \(response)")
            }
            decoded = try ResponseCodec.decode(frame)
        } catch {
            fatalError("a client cannot decode the server's answer \(response): \(error)")
        }
        require(decoded.callID == response.callID, "call id changed", response, decoded)
        switch (response.result, decoded.result) {
        case (.failure(let sent), .failure(let received)):
            require(sent.code == received.code, "status code changed", response, decoded)
            require(sent.message == received.message || sent.message.utf8.contains(0), "message changed", response, decoded)
            require(sent.violations.count == received.violations.count, "violations changed", response, decoded)
        case (.create(let sent), .create(let received)):
            require(sent == received, "created record changed on the wire", response, decoded)
        case (.list, .list), (.health, .health):
            break
        default:
            fatalError("result kind changed on the wire: sent \(response), received \(decoded)")
        }
    }

    /// A request that decoded without violations re-encodes to one that decodes equal.
    static func checkReencoding(_ request: WireRequest) {
        switch request.method {
        case .invalid, .cancel(targetCallID: 0):
            return
        case .create(let draft) where !draft.decodingViolations.isEmpty:
            return
        default:
            break
        }
        guard RequestCodec.encodingProblem(request) == nil else { return }
        var out = ByteBuffer()
        RequestCodec.encode(request, into: &out)
        guard let frame = try? FrameDecoder.nextFrame(from: &out, maxFrameBytes: Int(UInt32.max)) else {
            fatalError("RequestCodec.encode wrote an incomplete frame for \(request)")
        }
        let again = RequestCodec.decode(frame, limits: RequestDecodingLimits(allocationFactor: 64))
        require(again == request, "request changed through re-encoding", request, again)
    }

    static func require<T>(_ condition: Bool, _ what: String, _ before: T, _ after: T) {
        if !condition { fatalError("\(what): \(before) became \(after)") }
    }
}
