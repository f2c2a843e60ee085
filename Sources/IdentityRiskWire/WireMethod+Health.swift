import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

extension IdentityRiskMethods.Health: WireMethod {
    public static func decodeRequest(_ request: UnpackedRequest) -> Result<HealthRequest, IdentityRiskError> {
        refusingNUL(request) { .success(HealthRequest()) }
    }

    public static func encodeResponse(_ response: HealthStatus, into builder: inout ResponseBuilder) {
        let arena = builder.arena
        builder.message.pointee.health = arena.make(Identityrisk__V1__HealthResponse.self) { h in
            identityrisk__v1__health_response__init(h)
            h.pointee.status = response.serving == .serving
                ? IDENTITYRISK__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING
                : IDENTITYRISK__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_DRAINING
            h.pointee.server_version = arena.cString(response.serverVersion)
            h.pointee.protocol_version = response.protocolVersion
            h.pointee.store = arena.cString(response.store)
            h.pointee.uptime_ms = response.uptimeMilliseconds
            h.pointee.open_connections = response.openConnections
        }
    }

    public static func encodeRequest(_ request: HealthRequest, into builder: inout RequestBuilder) {
        builder.message.pointee.health = builder.arena.make(Identityrisk__V1__HealthRequest.self) { identityrisk__v1__health_request__init($0) }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> HealthStatus {
        guard let h = response.message.pointee.health?.pointee else { throw missing("a HealthResponse") }
        return HealthStatus(
            serving: h.status == IDENTITYRISK__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING ? .serving : .draining,
            serverVersion: h.server_version.map { String(cString: $0) } ?? "",
            protocolVersion: h.protocol_version,
            store: h.store.map { String(cString: $0) } ?? "",
            uptimeMilliseconds: h.uptime_ms,
            openConnections: h.open_connections)
    }

    public static func encodingProblem(_ request: HealthRequest) -> IdentityRiskError? { nil }
}
