import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

extension IdentityRiskMethods.Get: WireMethod {
    public static func decodeRequest(_ request: UnpackedRequest) -> Result<String, IdentityRiskError> {
        refusingNUL(request) {
            switch EventCodec.decodeString(request.message.pointee.get?.pointee.id) {
            case .success(let id): .success(id ?? "")
            case .failure(let f): .failure(.invalid([FieldViolation(field: "id", description: f.description)]))
            }
        }
    }

    public static func encodeResponse(_ response: IdentityRiskEvent, into builder: inout ResponseBuilder) {
        let arena = builder.arena
        builder.message.pointee.get = arena.make(Identityrisk__V1__GetResponse.self) { g in
            identityrisk__v1__get_response__init(g)
            g.pointee.event = EventCodec.encode(response, in: arena)
        }
    }

    public static func encodeRequest(_ request: String, into builder: inout RequestBuilder) {
        let arena = builder.arena
        builder.message.pointee.get = arena.make(Identityrisk__V1__GetRequest.self) { g in
            identityrisk__v1__get_request__init(g)
            g.pointee.id = arena.cString(request)
        }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> IdentityRiskEvent {
        guard let event = response.message.pointee.get?.pointee.event else { throw missing("an event") }
        return try EventCodec.event(from: event)
    }

    public static func encodingProblem(_ request: String) -> IdentityRiskError? {
        nulProblem([("id", request)])
    }
}
