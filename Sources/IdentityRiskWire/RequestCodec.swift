public import IdentityRiskService
import CIdentityRiskProto
import CProtobufC
public import IdentityRiskCore
public import NIOCore

/// One decoded request frame, as the server sees it. Its ``UnpackedRequest``
/// is valid only inside the ``RequestCodec/decode(_:limits:_:)`` call.
public struct InboundRequest {
    public enum Kind {
        /// A call of the method numbered `request.methodNumber`.
        case call(UnpackedRequest)
        /// Asks to stop call `targetCallID` (never answered).
        case cancel(targetCallID: UInt64)
        /// No method set, or a oneof field this build does not know (a newer client).
        case noMethod
        /// Not a valid Request, or over the decode memory budget: answer with this error.
        case malformed(IdentityRiskError)
    }

    public let callID: UInt64
    /// Relative deadline in milliseconds; 0 = none.
    public let timeoutMilliseconds: UInt32
    public let kind: Kind
}

/// `identityrisk.v1.Request` frames, through protobuf-c. The envelope (call id,
/// deadline, cancel) is handled here; each method's part by its ``WireMethod``.
public enum RequestCodec {
    // MARK: client side

    /// Appends one frame (length prefix + Request) calling `method` to `buffer`.
    public static func encode<M: WireMethod>(
        _ method: M.Type, _ request: M.Request, callID: UInt64, timeoutMilliseconds: UInt32 = 0, into buffer: inout ByteBuffer
    ) {
        encode(method, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds, into: &buffer, arena: CArena(chunkSize: 2048))
    }

    static func encode<M: WireMethod>(
        _ method: M.Type, _ request: M.Request, callID: UInt64, timeoutMilliseconds: UInt32, into buffer: inout ByteBuffer, arena: CArena
    ) {
        defer { arena.reset() }
        var r = CRequest()
        identityrisk__v1__request__init(&r)
        r.call_id = callID
        r.timeout_ms = timeoutMilliseconds
        r.method_case = .init(rawValue: numericCast(M.descriptor.number))
        withUnsafeMutablePointer(to: &r) { pointer in
            var builder = RequestBuilder(message: pointer, arena: arena)
            M.encodeRequest(request, into: &builder)
        }
        pack(&r.base, into: &buffer)
    }

    /// Appends a cancel of `targetCallID` (call id 0; never answered).
    public static func encodeCancel(targetCallID: UInt64, into buffer: inout ByteBuffer) {
        let arena = CArena(chunkSize: 256)
        defer { arena.reset() }
        var r = CRequest()
        identityrisk__v1__request__init(&r)
        r.method_case = IDENTITYRISK__V1__REQUEST__METHOD_CANCEL
        r.cancel = arena.make(Identityrisk__V1__CancelRequest.self) { c in
            identityrisk__v1__cancel_request__init(c)
            c.pointee.target_call_id = targetCallID
        }
        pack(&r.base, into: &buffer)
    }

    /// Appends a Request with call id `callID` and no method set (what an old
    /// server sees from a newer client; for tests).
    public static func encodeWithoutMethod(callID: UInt64, into buffer: inout ByteBuffer) {
        var r = CRequest()
        identityrisk__v1__request__init(&r)
        r.call_id = callID
        pack(&r.base, into: &buffer)
    }

    static func pack(_ base: inout ProtobufCMessage, into buffer: inout ByteBuffer) {
        withUnsafePointer(to: &base) { base in
            let size = protobuf_c_message_get_packed_size(base)
            buffer.writeInteger(UInt32(size), endianness: .big)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                protobuf_c_message_pack(base, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    // MARK: server side

    /// Decodes one frame's payload and hands it to `body`; the view inside is
    /// valid only during `body`. Never throws and never traps: a payload that is
    /// not a valid Request becomes `.malformed`, with the call id recovered if possible.
    ///
    /// protobuf-c unpacks through an allocator bounded by `limits`: a payload
    /// that would need more memory than its budget (e.g. thousands of tiny
    /// unknown fields) becomes `.malformed` with `resourceExhausted`, inner code
    /// `DecodeBudgetExceeded`. String fields holding a NUL byte are listed in
    /// the view (``UnpackedRequest/nulViolations``) for the method to refuse.
    @_specialize(exported: false, where R == Void)
    public static func decode<R>(_ payload: ByteBuffer, limits: RequestDecodingLimits = .default, _ body: (InboundRequest) -> R) -> R {
        payload.withUnsafeReadableBytes { bytes -> R in
            let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            let budget = limits.budget(forPayloadBytes: bytes.count)
            return BudgetedUnpackAllocator.withAllocator(budget: budget) { allocator, account -> R in
                guard let message = identityrisk__v1__request__unpack(allocator, bytes.count, base) else {
                    let error = account.pointee.exceeded
                        ? IdentityRiskError(
                            code: .resourceExhausted,
                            message: "decoding the \(bytes.count)-byte frame needs more than its memory budget of \(budget) bytes "
                                + "(\(limits.allocationFactor)× the frame length, at least \(limits.minimumAllocationBytes) bytes): "
                                + "it holds too many fields (unknown, repeated or re-sent ones); send fewer",
                            innerCode: "DecodeBudgetExceeded")
                        : IdentityRiskError(
                            code: .invalidArgument,
                            message: "the frame is not a valid identityrisk.v1.Request protobuf message (\(bytes.count) bytes)",
                            innerCode: "MalformedMessage")
                    return body(InboundRequest(callID: ProtobufScanner.leadingCallID(bytes) ?? 0, timeoutMilliseconds: 0, kind: .malformed(error)))
                }
                defer { identityrisk__v1__request__free_unpacked(message, allocator) }
                let r = message.pointee
                let kind: InboundRequest.Kind
                switch r.method_case {
                case IDENTITYRISK__V1__REQUEST__METHOD__NOT_SET:
                    kind = .noMethod
                case IDENTITYRISK__V1__REQUEST__METHOD_CANCEL:
                    kind = .cancel(targetCallID: r.cancel?.pointee.target_call_id ?? 0)
                default:
                    let nuls = withUnsafePointer(to: identityrisk__v1__request__descriptor) {
                        NULScanner.stringsWithNUL(in: bytes, descriptor: $0)
                    }
                    kind = .call(UnpackedRequest(message: message, nulViolations: nuls.map(nulViolation)))
                }
                return body(InboundRequest(callID: r.call_id, timeoutMilliseconds: r.timeout_ms, kind: kind))
            }
        }
    }

    /// Strings with an embedded NUL arrive truncated from protobuf-c; they are
    /// refused by name instead of acting on a value the client did not send.
    private static func nulViolation(_ hit: (path: [String], offset: Int)) -> FieldViolation {
        FieldViolation(
            field: NULScanner.camelCase(hit.path.last ?? "?"),
            description: "contains a NUL byte (U+0000) at byte \(hit.offset); control characters, including NUL, are not allowed")
    }
}

/// Reads what it can of a message protobuf-c refused.
enum ProtobufScanner {
    /// The call id, if the message starts with field 1 as a varint (as every
    /// encoder writes it: fields in number order).
    static func leadingCallID(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count >= 2, bytes[0] == 0x08 else { return nil }
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for i in 1..<min(bytes.count, 11) {
            let b = bytes[i]
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
