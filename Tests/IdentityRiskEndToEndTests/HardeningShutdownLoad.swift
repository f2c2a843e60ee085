#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskCore
import IdentityRiskService
import Synchronization

/// What the load threads of ``HardeningShutdownTests/sigtermUnderLoad()`` share.
final class ShutdownLoad: Sendable {
    struct State {
        var sent: Set<String> = []
        var acknowledged: [String: IdentityRiskEvent] = [:]
        var refused = 0
        var problems: [String] = []
    }

    let state = Mutex(State())
    let terminatedAt = Mutex<ContinuousClock.Instant?>(nil)

    func sent(_ id: String) { _ = state.withLock { $0.sent.insert(id) } }
    func refused(_ id: String) { state.withLock { $0.refused += 1 } }
    func problem(_ what: String) { state.withLock { $0.problems.append(what) } }

    /// Records an acknowledged create; the number acknowledged so far.
    func acknowledge(_ id: String, _ event: IdentityRiskEvent) -> Int {
        state.withLock {
            $0.acknowledged[id] = event
            return $0.acknowledged.count
        }
    }

    func terminate(_ daemon: HardeningDaemon) {
        terminatedAt.withLock { $0 = .now }
        daemon.signal(SIGTERM)
    }
}
