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
            let store = response.storeStatus
            h.pointee.store_location = arena.cString(store.location)
            h.pointee.store_host = arena.cString(store.host)
            h.pointee.store_size_bytes = store.sizeBytes ?? 0
            h.pointee.store_records = store.records ?? 0
            h.pointee.store_records_unknown = store.records == nil ? 1 : 0
            h.pointee.store_queue_depth = UInt32(clamping: store.queueDepth)
            h.pointee.store_unavailable = store.available ? 0 : 1
            h.pointee.store_problem = arena.cString(store.problem)
        }
    }

    public static func encodeRequest(_ request: HealthRequest, into builder: inout RequestBuilder) {
        builder.message.pointee.health = builder.arena.make(Identityrisk__V1__HealthRequest.self) { identityrisk__v1__health_request__init($0) }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> HealthStatus {
        guard let h = response.message.pointee.health?.pointee else { throw missing("a HealthResponse") }
        let kind = h.store.map { String(cString: $0) } ?? ""
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
            guard let pointer, pointer.pointee != 0 else { return nil }
            return String(cString: pointer)
        }
        let store = StoreStatus(
            kind: kind, location: text(h.store_location), host: text(h.store_host),
            sizeBytes: h.store_size_bytes == 0 ? nil : h.store_size_bytes,
            records: h.store_records_unknown != 0 ? nil : h.store_records,
            queueDepth: Int(h.store_queue_depth), available: h.store_unavailable == 0, problem: text(h.store_problem))
        return HealthStatus(
            serving: h.status == IDENTITYRISK__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING ? .serving : .draining,
            serverVersion: h.server_version.map { String(cString: $0) } ?? "",
            protocolVersion: h.protocol_version,
            store: h.store.map { String(cString: $0) } ?? "",
            uptimeMilliseconds: h.uptime_ms,
            openConnections: h.open_connections,
            storeStatus: store)
    }

    public static func encodingProblem(_ request: HealthRequest) -> IdentityRiskError? { nil }
}
