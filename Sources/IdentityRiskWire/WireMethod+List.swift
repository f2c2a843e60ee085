import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

extension IdentityRiskMethods.List: WireMethod {
    public static func decodeRequest(_ request: UnpackedRequest) -> Result<ListEvents.Request, IdentityRiskError> {
        refusingNUL(request) {
            guard let l = request.message.pointee.list?.pointee else { return .success(ListEvents.Request()) }
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
            let number = UInt32(truncatingIfNeeded: l.order_by.rawValue)
            var order = ListOrder.createdAscending
            if number != 0 {
                if let given = ListOrder(wireNumber: number) {
                    order = given
                } else {
                    violations.append(FieldViolation(
                        field: "orderBy",
                        description: "enum number \(Int32(bitPattern: number)) is not an OrderBy; allowed: 0 (default), \(ListOrder.allowedWireNumbers)"))
                }
            }
            if l.top > UInt32(ListQuery.maxTop) {
                violations.append(FieldViolation(field: "top", description: "is \(l.top); allowed: 1 ... \(ListQuery.maxTop) (0 means the default, \(ListQuery.defaultTop))"))
            }
            if !violations.isEmpty { return .failure(.invalid(violations)) }
            return .success(ListEvents.Request(filter: filter, order: order, top: Int(l.top), pageToken: token))
        }
    }

    public static func encodeResponse(_ response: ListEvents.Response, into builder: inout ResponseBuilder) {
        let arena = builder.arena
        builder.message.pointee.list = arena.make(Identityrisk__V1__ListResponse.self) { l in
            identityrisk__v1__list_response__init(l)
            l.pointee.n_events = response.events.count
            let events = arena.pointers(to: CEvent.self, count: response.events.count)
            for (i, event) in response.events.enumerated() {
                events[i] = EventCodec.encode(event, in: arena)
            }
            l.pointee.events = events
            l.pointee.next_page_token = arena.cString(response.nextPageToken)
            l.pointee.cursor = response.cursor.rawValue
        }
    }

    public static func encodeRequest(_ request: ListEvents.Request, into builder: inout RequestBuilder) {
        let arena = builder.arena
        builder.message.pointee.list = arena.make(Identityrisk__V1__ListRequest.self) { l in
            identityrisk__v1__list_request__init(l)
            l.pointee.filter = arena.cString(request.filter)
            l.pointee.order_by = .init(rawValue: numericCast(request.order.wireNumber))
            l.pointee.top = UInt32(clamping: request.top)
            l.pointee.page_token = arena.cString(request.pageToken)
        }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> ListEvents.Response {
        guard let l = response.message.pointee.list?.pointee else { throw missing("a ListResponse") }
        var events: [IdentityRiskEvent] = []
        events.reserveCapacity(l.n_events)
        for i in 0..<l.n_events {
            guard let e = l.events[i] else { throw missing("a null event") }
            events.append(try EventCodec.event(from: e))
        }
        let token = l.next_page_token.map { String(cString: $0) } ?? ""
        return ListEvents.Response(events: events, nextPageToken: token, cursor: ChangeCursor(l.cursor))
    }

    public static func encodingProblem(_ request: ListEvents.Request) -> IdentityRiskError? {
        nulProblem([("filter", request.filter), ("pageToken", request.pageToken)])
    }
}
