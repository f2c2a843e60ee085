import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

extension IdentityRiskMethods.Delete: WireMethod {
    public static func decodeRequest(_ request: UnpackedRequest) -> Result<DeleteEvent.Request, IdentityRiskError> {
        refusingNUL(request) {
            guard let d = request.message.pointee.delete_?.pointee else { return .success(DeleteEvent.Request(id: "")) }
            switch EventCodec.decodeString(d.id) {
            case .success(let id): return .success(DeleteEvent.Request(id: id ?? "", ifMatch: d.if_match == 0 ? nil : d.if_match))
            case .failure(let f): return .failure(.invalid([FieldViolation(field: "id", description: f.description)]))
            }
        }
    }

    public static func encodeResponse(_ response: UInt64, into builder: inout ResponseBuilder) {
        builder.message.pointee.delete_ = builder.arena.make(Identityrisk__V1__DeleteResponse.self) { r in
            identityrisk__v1__delete_response__init(r)
            r.pointee.deleted_version = response
        }
    }

    public static func encodeRequest(_ request: DeleteEvent.Request, into builder: inout RequestBuilder) {
        let arena = builder.arena
        builder.message.pointee.delete_ = arena.make(Identityrisk__V1__DeleteRequest.self) { d in
            identityrisk__v1__delete_request__init(d)
            d.pointee.id = arena.cString(request.id)
            d.pointee.if_match = request.ifMatch ?? 0
        }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> UInt64 {
        guard let d = response.message.pointee.delete_?.pointee else { throw missing("a DeleteResponse") }
        return d.deleted_version
    }

    public static func encodingProblem(_ request: DeleteEvent.Request) -> IdentityRiskError? {
        if request.ifMatch == 0 { return ifMatchZero }
        return nulProblem([("id", request.id)])
    }
}
