import CIdentityRiskProto
import CProtobufC
public import IdentityRiskCore
public import NIOCore

/// `identityrisk.v1.Request` frames <-> ``WireRequest``, through protobuf-c.
public enum RequestCodec {
    // MARK: client side

    /// Appends one frame (length prefix + Request) to `buffer`.
    public static func encode(_ request: WireRequest, into buffer: inout ByteBuffer) {
        let arena = CArena(chunkSize: 2048)
        encode(request, into: &buffer, arena: arena)
    }

    static func encode(_ request: WireRequest, into buffer: inout ByteBuffer, arena: CArena) {
        defer { arena.reset() }
        var r = Identityrisk__V1__Request()
        identityrisk__v1__request__init(&r)
        r.call_id = request.callID
        r.timeout_ms = request.timeoutMilliseconds
        switch request.method {
        case .create(let draft):
            r.method_case = IDENTITYRISK__V1__REQUEST__METHOD_CREATE
            r.create = arena.make(Identityrisk__V1__CreateRequest.self) { c in
                identityrisk__v1__create_request__init(c)
                c.pointee.event = EventCodec.encode(draft, in: arena)
            }
        case .get(let id):
            r.method_case = IDENTITYRISK__V1__REQUEST__METHOD_GET
            r.get = arena.make(Identityrisk__V1__GetRequest.self) { g in
                identityrisk__v1__get_request__init(g)
                g.pointee.id = arena.cString(id)
            }
        case .list(let list):
            r.method_case = IDENTITYRISK__V1__REQUEST__METHOD_LIST
            r.list = arena.make(Identityrisk__V1__ListRequest.self) { l in
                identityrisk__v1__list_request__init(l)
                l.pointee.filter = arena.cString(list.filter)
                l.pointee.order_by = .init(rawValue: numericCast(orderNumber(list.order)))
                l.pointee.top = UInt32(clamping: list.top)
                l.pointee.page_token = arena.cString(list.pageToken)
            }
        case .health:
            r.method_case = IDENTITYRISK__V1__REQUEST__METHOD_HEALTH
            r.health = arena.make(Identityrisk__V1__HealthRequest.self) { identityrisk__v1__health_request__init($0) }
        case .cancel(let target):
            r.method_case = IDENTITYRISK__V1__REQUEST__METHOD_CANCEL
            r.cancel = arena.make(Identityrisk__V1__CancelRequest.self) { c in
                identityrisk__v1__cancel_request__init(c)
                c.pointee.target_call_id = target
            }
        case .unimplemented, .invalid:
            break  // an empty oneof: the server answers UNIMPLEMENTED
        }
        withUnsafePointer(to: &r.base) { base in
            let size = protobuf_c_message_get_packed_size(base)
            buffer.writeInteger(UInt32(size), endianness: .big)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                protobuf_c_message_pack(base, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    static func orderNumber(_ order: ListOrder) -> UInt32 {
        UInt32(ListOrder.allCases.firstIndex(of: order)! + 1)
    }

    // MARK: server side

    /// Decodes one frame's payload. Never throws: a payload that is not a
    /// valid Request becomes `.invalid` with the call id recovered if possible.
    ///
    /// protobuf-c unpacks through an allocator bounded by `limits`: a payload
    /// that would need more memory than its budget (e.g. thousands of tiny
    /// unknown fields) becomes `.invalid` with `resourceExhausted`, inner code
    /// `DecodeBudgetExceeded`.
    public static func decode(_ payload: ByteBuffer, limits: RequestDecodingLimits = .default) -> WireRequest {
        payload.withUnsafeReadableBytes { bytes -> WireRequest in
            let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            let budget = limits.budget(forPayloadBytes: bytes.count)
            return BudgetedUnpackAllocator.withAllocator(budget: budget) { allocator, account -> WireRequest in
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
                    return WireRequest(callID: ProtobufScanner.leadingCallID(bytes) ?? 0, method: .invalid(error))
                }
                defer { identityrisk__v1__request__free_unpacked(message, allocator) }
                var method = method(of: message)
                let nuls = withUnsafePointer(to: identityrisk__v1__request__descriptor) {
                    NULScanner.stringsWithNUL(in: bytes, descriptor: $0)
                }
                if !nuls.isEmpty {
                    method = refuseNUL(nuls, in: method)
                }
                return WireRequest(callID: message.pointee.call_id, timeoutMilliseconds: message.pointee.timeout_ms, method: method)
            }
        }
    }

    /// Strings with an embedded NUL arrive truncated from protobuf-c; refuse them
    /// by name instead of acting on a value the client did not send.
    private static func refuseNUL(_ found: [(path: [String], offset: Int)], in method: WireRequest.Method) -> WireRequest.Method {
        let violations = found.map { hit in
            FieldViolation(
                field: NULScanner.camelCase(hit.path.last ?? "?"),
                description: "contains a NUL byte (U+0000) at byte \(hit.offset); control characters, including NUL, are not allowed")
        }
        if case .create(var draft) = method {
            draft.decodingViolations += violations
            return .create(draft)
        }
        return .invalid(IdentityRiskError.invalid(violations))
    }

    /// Why `request` cannot be encoded faithfully, or `nil`: protobuf-c writes
    /// strings up to their first NUL, so a string holding one would arrive
    /// changed. Clients check this before sending.
    public static func encodingProblem(_ request: WireRequest) -> IdentityRiskError? {
        var violations: [FieldViolation] = []
        func check(_ value: String?, _ field: String) {
            if let value, let offset = value.utf8.firstIndex(of: 0) {
                violations.append(FieldViolation(
                    field: field,
                    description: "contains a NUL byte (U+0000) at byte \(value.utf8.distance(from: value.utf8.startIndex, to: offset)); control characters, including NUL, are not allowed"))
            }
        }
        switch request.method {
        case .create(let d):
            check(d.id, "id"); check(d.userDisplayName, "userDisplayName"); check(d.userPrincipalName, "userPrincipalName")
            check(d.riskEventType, "riskEventType"); check(d.userId, "userId")
        case .get(let id): check(id, "id")
        case .list(let l): check(l.filter, "filter"); check(l.pageToken, "pageToken")
        default: break
        }
        return violations.isEmpty ? nil : IdentityRiskError.invalid(violations)
    }

    private static func method(of message: UnsafeMutablePointer<Identityrisk__V1__Request>) -> WireRequest.Method {
        let r = message.pointee
        switch r.method_case {
        case IDENTITYRISK__V1__REQUEST__METHOD_CREATE:
            guard let event = r.create?.pointee.event else {
                return .invalid(IdentityRiskError.invalid([FieldViolation(field: "event", description: "CreateRequest.event is required")]))
            }
            return .create(EventCodec.draft(from: event))
        case IDENTITYRISK__V1__REQUEST__METHOD_GET:
            switch EventCodec.decodeString(r.get?.pointee.id) {
            case .success(let id): return .get(id: id ?? "")
            case .failure(let f): return .invalid(IdentityRiskError.invalid([FieldViolation(field: "id", description: f.description)]))
            }
        case IDENTITYRISK__V1__REQUEST__METHOD_LIST:
            guard let l = r.list?.pointee else { return .list(ListEvents.Request()) }
            var violations: [FieldViolation] = []
            func text(_ p: UnsafeMutablePointer<CChar>?, _ field: String) -> String {
                switch EventCodec.decodeString(p) {
                case .success(let s): return s ?? ""
                case .failure(let f):
                    violations.append(FieldViolation(field: field, description: f.description))
                    return ""
                }
            }
            let filter = text(l.filter, "filter")
            let token = text(l.page_token, "pageToken")
            let orderNumber = UInt32(truncatingIfNeeded: l.order_by.rawValue)
            var order = ListOrder.createdAscending
            if orderNumber > UInt32(ListOrder.allCases.count) {
                violations.append(FieldViolation(
                    field: "orderBy",
                    description: "enum number \(Int32(bitPattern: orderNumber)) is not an OrderBy; allowed: 0 (default), \(EventCodec.allowedNumbers(ListOrder.allCases.map(\.rawValue)))"))
            } else if orderNumber > 0 {
                order = ListOrder.allCases[Int(orderNumber) - 1]
            }
            if l.top > UInt32(ListQuery.maxTop) {
                violations.append(FieldViolation(field: "top", description: "is \(l.top); allowed: 1 ... \(ListQuery.maxTop) (0 means the default, \(ListQuery.defaultTop))"))
            }
            if !violations.isEmpty { return .invalid(IdentityRiskError.invalid(violations)) }
            return .list(ListEvents.Request(filter: filter, order: order, top: Int(l.top), pageToken: token))
        case IDENTITYRISK__V1__REQUEST__METHOD_HEALTH:
            return .health
        case IDENTITYRISK__V1__REQUEST__METHOD_CANCEL:
            return .cancel(targetCallID: r.cancel?.pointee.target_call_id ?? 0)
        default:
            return .unimplemented
        }
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
