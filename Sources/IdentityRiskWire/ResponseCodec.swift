public import IdentityRiskService
import CIdentityRiskProto
import CProtobufC
public import IdentityRiskCore
public import NIOCore

/// Server side: encodes Response frames, reusing one C arena. One per
/// connection, used on its event loop only.
public final class ResponseEncoder {
    private let arena: CArena

    public init() {
        arena = CArena()
    }

    /// Appends the frame of one answer of `method` for call `callID`: a result
    /// (status OK), the OK end of a stream (`.success(nil)`), or an error.
    public func encode<M: WireMethod>(_ method: M.Type, callID: UInt64, result: Result<M.Response?, IdentityRiskError>, into buffer: inout ByteBuffer) {
        switch result {
        case .success(let response?): encode(method, callID: callID, response: response, into: &buffer)
        case .success(nil): encodeEndOfStream(callID: callID, into: &buffer)
        case .failure(let error): encode(callID: callID, error: error, into: &buffer)
        }
    }

    /// Appends a result of `method` (status OK) for call `callID`. (No `Result`
    /// or `Optional` of a generic type here: unspecialized, each would cost a
    /// metadata lookup per call.)
    public func encode<M: WireMethod>(_ method: M.Type, callID: UInt64, response: M.Response, into buffer: inout ByteBuffer) {
        defer { arena.reset() }
        var r = CResponse()
        identityrisk__v1__response__init(&r)
        r.call_id = callID
        r.status = arena.make(Identityrisk__V1__Status.self) { identityrisk__v1__status__init($0) }
        r.result_case = .init(rawValue: numericCast(M.descriptor.number))
        withUnsafeMutablePointer(to: &r) { pointer in
            var builder = ResponseBuilder(message: pointer, arena: arena)
            M.encodeResponse(response, into: &builder)
        }
        RequestCodec.pack(&r.base, into: &buffer)
    }

    /// Appends the OK end of a server-streaming call: status OK, no result.
    public func encodeEndOfStream(callID: UInt64, into buffer: inout ByteBuffer) {
        defer { arena.reset() }
        var r = CResponse()
        identityrisk__v1__response__init(&r)
        r.call_id = callID
        r.status = arena.make(Identityrisk__V1__Status.self) { identityrisk__v1__status__init($0) }
        RequestCodec.pack(&r.base, into: &buffer)
    }

    /// Appends an error answer that belongs to no method (call id 0 for the
    /// connection, or a call refused before its method was known).
    public func encode(callID: UInt64, error: IdentityRiskError, into buffer: inout ByteBuffer) {
        defer { arena.reset() }
        var r = CResponse()
        identityrisk__v1__response__init(&r)
        r.call_id = callID
        r.status = StatusCodec.encode(error, in: arena)
        RequestCodec.pack(&r.base, into: &buffer)
    }
}

@available(*, unavailable)
extension ResponseEncoder: Sendable {}

/// One decoded response frame, as the client sees it. Valid only inside
/// ``ResponseCodec/decode(_:_:)``.
public struct InboundResponse {
    public let callID: UInt64
    /// The error, when the status is not OK.
    public let failure: IdentityRiskError?
    /// The result oneof's field number (0: none set).
    public let resultNumber: UInt32
    let message: UnsafePointer<CResponse>

    /// The answer as `method`'s response: throws the status's
    /// ``IdentityRiskError`` when it is not OK, or ``WireError/malformedResponse(_:)``
    /// when the result is missing or belongs to another method.
    public func response<M: WireMethod>(_ method: M.Type) throws -> M.Response {
        if let failure { throw failure }
        guard resultNumber == M.descriptor.number else {
            throw WireError.malformedResponse(
                resultNumber == 0
                    ? "status OK but no result set (a method this client does not know?)"
                    : "the answer to a \(M.descriptor.name) call carries the result of method #\(resultNumber)")
        }
        return try M.decodeResponse(UnpackedResponse(message: message))
    }
}

/// Client side: `identityrisk.v1.Response` frames, through protobuf-c.
public enum ResponseCodec {
    /// Appends one frame answering call `callID` of `method` (a fresh arena; the
    /// server reuses one per connection through ``ResponseEncoder``).
    public static func encode<M: WireMethod>(_ method: M.Type, callID: UInt64, result: Result<M.Response?, IdentityRiskError>, into buffer: inout ByteBuffer) {
        ResponseEncoder().encode(method, callID: callID, result: result, into: &buffer)
    }

    /// Decodes one frame's payload from the server and hands it to `body`.
    public static func decode<R>(_ payload: ByteBuffer, _ body: (InboundResponse) -> R) throws(WireError) -> R {
        let decoded: Result<R, WireError> = payload.withUnsafeReadableBytes { bytes in
            let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            guard let message = identityrisk__v1__response__unpack(nil, bytes.count, base) else {
                return .failure(.malformedResponse("not a valid identityrisk.v1.Response (\(bytes.count) bytes)"))
            }
            defer { identityrisk__v1__response__free_unpacked(message, nil) }
            let r = message.pointee
            let failure = r.status.flatMap { $0.pointee.code.rawValue != 0 ? StatusCodec.decode($0) : nil }
            return .success(body(InboundResponse(
                callID: r.call_id, failure: failure, resultNumber: UInt32(r.result_case.rawValue), message: message)))
        }
        return try decoded.get()
    }

    /// Decodes a frame expected to answer `method` (tests, tools): its call id
    /// and result or error.
    public static func decode<M: WireMethod>(_ payload: ByteBuffer, as method: M.Type) throws(WireError) -> (callID: UInt64, result: Result<M.Response, IdentityRiskError>) {
        let outcome: Result<(UInt64, Result<M.Response, IdentityRiskError>), WireError> = try decode(payload) { inbound in
            do {
                return .success((inbound.callID, .success(try inbound.response(method))))
            } catch let error as IdentityRiskError {
                return .success((inbound.callID, .failure(error)))
            } catch let error as WireError {
                return .failure(error)
            } catch {
                return .failure(.malformedResponse("\(error)"))
            }
        }
        return try outcome.get()
    }
}
