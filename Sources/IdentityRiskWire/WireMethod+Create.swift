import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

extension IdentityRiskMethods.Create: WireMethod {
    public static func decodeRequest(_ request: UnpackedRequest) -> Result<IdentityRiskEventDraft, IdentityRiskError> {
        guard let event = request.message.pointee.create?.pointee.event else {
            return .failure(.invalid([FieldViolation(field: "event", description: "CreateRequest.event is required")]))
        }
        var draft = EventCodec.draft(from: event)
        // NUL bytes are reported with the event's other problems, all at once.
        draft.decodingViolations += request.nulViolations
        return .success(draft)
    }

    public static func encodeResponse(_ response: CreateOutcome, into builder: inout ResponseBuilder) {
        let arena = builder.arena
        builder.message.pointee.create = arena.make(Identityrisk__V1__CreateResponse.self) { c in
            identityrisk__v1__create_response__init(c)
            c.pointee.event = EventCodec.encode(response.event, in: arena)
            c.pointee.already_existed = response.alreadyExisted ? 1 : 0
        }
    }

    public static func encodeRequest(_ request: IdentityRiskEventDraft, into builder: inout RequestBuilder) {
        let arena = builder.arena
        builder.message.pointee.create = arena.make(Identityrisk__V1__CreateRequest.self) { c in
            identityrisk__v1__create_request__init(c)
            c.pointee.event = EventCodec.encode(request, in: arena)
        }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> CreateOutcome {
        guard let c = response.message.pointee.create, let event = c.pointee.event else { throw missing("an event") }
        return CreateOutcome(event: try EventCodec.event(from: event), alreadyExisted: c.pointee.already_existed != 0)
    }

    public static func encodingProblem(_ request: IdentityRiskEventDraft) -> IdentityRiskError? {
        nulProblem(EventProperty.allCases.compactMap { property in
            guard case .text(let value)? = request[property] else { return nil }
            return (property.graphName, value)
        })
    }
}
