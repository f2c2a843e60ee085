import Synchronization

/// Counts open connections, in total and per peer uid, and admits a new one
/// only within both limits. A connection is counted from ``admit(uid:)`` until
/// ``release(uid:)``, which the server calls when the channel closes.
final class ConnectionLimiter: Sendable {
    enum Refusal: Sendable, Equatable {
        case total(limit: Int)
        case perUID(uid: UInt32, limit: Int)
    }

    private struct State {
        var total = 0
        var perUID: [UInt32: Int] = [:]
    }

    private let state = Mutex(State())
    let maxTotal: Int
    let maxPerUID: Int

    init(maxTotal: Int, maxPerUID: Int) {
        self.maxTotal = maxTotal
        self.maxPerUID = maxPerUID
    }

    /// Counts one more connection from `uid` (`nil`: credentials unknown, only
    /// the total applies), or says which limit refuses it.
    func admit(uid: UInt32?) -> Refusal? {
        state.withLock { state in
            guard state.total < maxTotal else { return .total(limit: maxTotal) }
            if let uid {
                let current = state.perUID[uid, default: 0]
                guard current < maxPerUID else { return .perUID(uid: uid, limit: maxPerUID) }
                state.perUID[uid] = current + 1
            }
            state.total += 1
            return nil
        }
    }

    func release(uid: UInt32?) {
        state.withLock { state in
            state.total -= 1
            if let uid {
                let left = state.perUID[uid, default: 1] - 1
                state.perUID[uid] = left > 0 ? left : nil
            }
        }
    }

    var open: Int { state.withLock { $0.total } }
}
