import CIdentityRiskProto
import CProtobufC
import IdentityRiskCore
public import NIOCore

/// `identityrisk.v1.Response` frames <-> ``WireResponse``, through protobuf-c.
public enum ResponseCodec {
    // MARK: server side

    /// Appends one frame (length prefix + Response) to `buffer`.
    public static func encode(_ response: WireResponse, into buffer: inout ByteBuffer) {
        encode(response, into: &buffer, arena: CArena())
    }

    static func encode(_ response: WireResponse, into buffer: inout ByteBuffer, arena: CArena) {
        defer { arena.reset() }
        var r = Identityrisk__V1__Response()
        identityrisk__v1__response__init(&r)
        r.call_id = response.callID
        switch response.result {
        case .failure(let error):
            r.status = StatusCodec.encode(error, in: arena)
        case .create(let outcome):
            r.status = okStatus(arena)
            r.result_case = IDENTITYRISK__V1__RESPONSE__RESULT_CREATE
            r.create = arena.make(Identityrisk__V1__CreateResponse.self) { c in
                identityrisk__v1__create_response__init(c)
                c.pointee.event = EventCodec.encode(outcome.event, in: arena)
                c.pointee.already_existed = outcome.alreadyExisted ? 1 : 0
            }
        case .get(let event):
            r.status = okStatus(arena)
            r.result_case = IDENTITYRISK__V1__RESPONSE__RESULT_GET
            r.get = arena.make(Identityrisk__V1__GetResponse.self) { g in
                identityrisk__v1__get_response__init(g)
                g.pointee.event = EventCodec.encode(event, in: arena)
            }
        case .list(let page):
            r.status = okStatus(arena)
            r.result_case = IDENTITYRISK__V1__RESPONSE__RESULT_LIST
            r.list = arena.make(Identityrisk__V1__ListResponse.self) { l in
                identityrisk__v1__list_response__init(l)
                l.pointee.n_events = page.events.count
                let events = arena.pointers(to: CEvent.self, count: page.events.count)
                for (i, event) in page.events.enumerated() {
                    events[i] = EventCodec.encode(event, in: arena)
                }
                l.pointee.events = events
                l.pointee.next_page_token = arena.cString(page.nextPageToken)
            }
        case .health(let health):
            r.status = okStatus(arena)
            r.result_case = IDENTITYRISK__V1__RESPONSE__RESULT_HEALTH
            r.health = arena.make(Identityrisk__V1__HealthResponse.self) { h in
                identityrisk__v1__health_response__init(h)
                h.pointee.status = health.serving == .serving
                    ? IDENTITYRISK__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING
                    : IDENTITYRISK__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_DRAINING
                h.pointee.server_version = arena.cString(health.serverVersion)
                h.pointee.protocol_version = health.protocolVersion
                h.pointee.store = arena.cString(health.store)
                h.pointee.uptime_ms = health.uptimeMilliseconds
                h.pointee.open_connections = health.openConnections
            }
        }
        withUnsafePointer(to: &r.base) { base in
            let size = protobuf_c_message_get_packed_size(base)
            buffer.writeInteger(UInt32(size), endianness: .big)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                protobuf_c_message_pack(base, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    private static func okStatus(_ arena: CArena) -> UnsafeMutablePointer<Identityrisk__V1__Status> {
        arena.make(Identityrisk__V1__Status.self) { identityrisk__v1__status__init($0) }
    }

    // MARK: client side

    /// Decodes one frame's payload from the server.
    public static func decode(_ payload: ByteBuffer) throws(WireError) -> WireResponse {
        let decoded: Result<WireResponse, WireError> = payload.withUnsafeReadableBytes { bytes in
            let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            guard let message = identityrisk__v1__response__unpack(nil, bytes.count, base) else {
                return .failure(.malformedResponse("not a valid identityrisk.v1.Response (\(bytes.count) bytes)"))
            }
            defer { identityrisk__v1__response__free_unpacked(message, nil) }
            do throws(WireError) {
                return .success(WireResponse(callID: message.pointee.call_id, result: try result(of: message)))
            } catch {
                return .failure(error)
            }
        }
        return try decoded.get()
    }

    private static func result(of message: UnsafeMutablePointer<Identityrisk__V1__Response>) throws(WireError) -> WireResponse.Result {
        let r = message.pointee
        if let status = r.status, status.pointee.code.rawValue != 0 {
            return .failure(StatusCodec.decode(status))
        }
        switch r.result_case {
        case IDENTITYRISK__V1__RESPONSE__RESULT_CREATE:
            guard let c = r.create, let event = c.pointee.event else { throw .malformedResponse("CreateResponse without an event") }
            return .create(CreateOutcome(event: try EventCodec.event(from: event), alreadyExisted: c.pointee.already_existed != 0))
        case IDENTITYRISK__V1__RESPONSE__RESULT_GET:
            guard let event = r.get?.pointee.event else { throw .malformedResponse("GetResponse without an event") }
            return .get(try EventCodec.event(from: event))
        case IDENTITYRISK__V1__RESPONSE__RESULT_LIST:
            guard let l = r.list?.pointee else { throw .malformedResponse("ListResponse missing") }
            var events: [IdentityRiskEvent] = []
            events.reserveCapacity(l.n_events)
            for i in 0..<l.n_events {
                guard let e = l.events[i] else { throw .malformedResponse("ListResponse with a null event") }
                events.append(try EventCodec.event(from: e))
            }
            let token = l.next_page_token.map { String(cString: $0) } ?? ""
            return .list(ListEvents.Response(events: events, nextPageToken: token))
        case IDENTITYRISK__V1__RESPONSE__RESULT_HEALTH:
            guard let h = r.health?.pointee else { throw .malformedResponse("HealthResponse missing") }
            return .health(HealthStatus(
                serving: h.status == IDENTITYRISK__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING ? .serving : .draining,
                serverVersion: h.server_version.map { String(cString: $0) } ?? "",
                protocolVersion: h.protocol_version,
                store: h.store.map { String(cString: $0) } ?? "",
                uptimeMilliseconds: h.uptime_ms,
                openConnections: h.open_connections))
        default:
            throw .malformedResponse("status OK but no result set (a method this client does not know?)")
        }
    }
}
