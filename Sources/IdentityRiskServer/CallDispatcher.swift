import IdentityRiskCore
import IdentityRiskWire
import Logging
import NIOCore

/// Runs one decoded request through the Core use cases and turns the outcome
/// into a response result. Knows nothing of connections.
struct CallDispatcher: Sendable {
    let createEvent: CreateEvent
    let getEvent: GetEvent
    let listEvents: ListEvents
    let health: @Sendable () -> HealthStatus
    let logger: Logger

    static let implementedMethods = "create, get, list, health, cancel"

    func execute(_ method: WireRequest.Method, deadline: NIODeadline?, peer: PeerCredentials?) async -> WireResponse.Result {
        if Task.isCancelled {
            return .failure(IdentityRiskError(code: .cancelled, message: "the call was cancelled by the client before it started"))
        }
        if let deadline, NIODeadline.now() >= deadline {
            return .failure(IdentityRiskError(code: .deadlineExceeded, message: "the call's deadline passed before it started; nothing was done"))
        }
        do {
            switch method {
            case .create(let draft):
                return .create(try await createEvent(draft))
            case .get(let id):
                return .get(try await getEvent(id: id))
            case .list(let request):
                return .list(try await listEvents(request))
            case .health:
                return .health(health())
            case .unimplemented:
                return .failure(IdentityRiskError(
                    code: .unimplemented,
                    message: "unknown or missing method; this server implements \(Self.implementedMethods) (protocol version \(WireProtocol.version))"))
            case .invalid(let error):
                return .failure(error)
            case .cancel:
                return .failure(IdentityRiskError(code: .internal, message: "cancel is not a call"))
            }
        } catch let error as IdentityRiskError {
            return .failure(error)
        } catch {
            logger.error("call failed unexpectedly", metadata: ["error": "\(error)", "peer": "\(peer.map(\.description) ?? "unknown")"])
            return .failure(IdentityRiskError(code: .internal, message: "internal error: \(error)"))
        }
    }
}
