import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

/// `UpdateRequest{id, update_mask, event, if_match}`: the mask names the
/// properties to change (Graph camelCase), `event` carries their new values; a
/// named property unset in `event` is cleared (PROTOCOL.md §5, Update).
extension IdentityRiskMethods.Update: WireMethod {
    public static func decodeRequest(_ request: UnpackedRequest) -> Result<UpdateEvent.Request, IdentityRiskError> {
        guard let u = request.message.pointee.update?.pointee else {
            return .success(UpdateEvent.Request(id: "", patch: EventPatch()))
        }
        var violations: [FieldViolation] = []
        var id = ""
        switch EventCodec.decodeString(u.id) {
        case .success(let s): id = s ?? ""
        case .failure(let f): violations.append(FieldViolation(field: "id", description: f.description))
        }
        var patch = EventPatch()
        for i in 0..<u.n_update_mask {
            guard let name = u.update_mask[i].flatMap({ String(validatingCString: $0) }) else {
                violations.append(FieldViolation(field: "updateMask", description: "entry \(i) is not valid UTF-8"))
                continue
            }
            if let property = EventProperty(graphName: name) {
                patch.fields.append(property)
            } else {
                violations.append(FieldViolation(
                    field: "updateMask",
                    description: "'\(name)' is not a property of identityRiskEvent; allowed: \(EventProperty.allowedNames)"))
            }
        }
        if let event = u.event {
            patch.values = EventCodec.draft(from: event)
            for property in EventProperty.allCases where patch.values[property] != nil && !patch.fields.contains(property) {
                violations.append(FieldViolation(
                    field: property.graphName,
                    description: "is set in the update's event but not named in update_mask; name every property you change"))
            }
        }
        // NUL bytes and the mask's problems are listed with the values' problems.
        patch.values.decodingViolations += violations + request.nulViolations
        return .success(UpdateEvent.Request(id: id, patch: patch, ifMatch: u.if_match == 0 ? nil : u.if_match))
    }

    public static func encodeResponse(_ response: IdentityRiskEvent, into builder: inout ResponseBuilder) {
        let arena = builder.arena
        builder.message.pointee.update = arena.make(Identityrisk__V1__UpdateResponse.self) { r in
            identityrisk__v1__update_response__init(r)
            r.pointee.event = EventCodec.encode(response, in: arena)
        }
    }

    public static func encodeRequest(_ request: UpdateEvent.Request, into builder: inout RequestBuilder) {
        let arena = builder.arena
        builder.message.pointee.update = arena.make(Identityrisk__V1__UpdateRequest.self) { u in
            identityrisk__v1__update_request__init(u)
            u.pointee.id = arena.cString(request.id)
            let mask = arena.pointers(to: CChar.self, count: request.patch.fields.count)
            for (i, property) in request.patch.fields.enumerated() {
                mask[i] = arena.cString(property.graphName)
            }
            u.pointee.n_update_mask = request.patch.fields.count
            u.pointee.update_mask = mask
            var values = IdentityRiskEventDraft()
            for property in request.patch.fields { values[property] = request.patch.values[property] }
            u.pointee.event = EventCodec.encode(values, in: arena)
            u.pointee.if_match = request.ifMatch ?? 0
        }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> IdentityRiskEvent {
        guard let event = response.message.pointee.update?.pointee.event else { throw missing("an event") }
        return try EventCodec.event(from: event)
    }

    public static func encodingProblem(_ request: UpdateEvent.Request) -> IdentityRiskError? {
        if request.ifMatch == 0 { return ifMatchZero }
        return nulProblem([("id", request.id)] + request.patch.fields.compactMap { property in
            guard case .text(let value)? = request.patch.values[property] else { return nil }
            return (property.graphName, value)
        })
    }
}
