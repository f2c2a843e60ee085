import IdentityRiskCore
import IdentityRiskWire
import NIOCore

extension CallDispatcher {
    /// Starts `method` and hands its result to `deliver` exactly once, possibly
    /// before returning (inline on the caller's thread), possibly later from
    /// another thread. Returns the task doing the work when there is one, so
    /// that a cancel can stop it; `nil` when the work needs none:
    /// - checks that fail, health, unknown methods: answered inline;
    /// - create on a store that answers by completion (memory: inline; SQLite:
    ///   from its writer thread after the group commit): no task;
    /// - everything else (get, list, creates on other stores): a task.
    func start(
        _ method: WireRequest.Method,
        deadline: NIODeadline?,
        peer: PeerCredentials?,
        deliver: @escaping @Sendable (WireResponse.Result) -> Void
    ) -> Task<Void, Never>? {
        if let deadline, NIODeadline.now() >= deadline {
            deliver(.failure(IdentityRiskError(code: .deadlineExceeded, message: "the call's deadline passed before it started; nothing was done")))
            return nil
        }
        switch method {
        case .create(let draft) where createEvent.store.answersCreatesByCompletion:
            createEvent(draft) { result in
                switch result {
                case .success(let outcome): deliver(.create(outcome))
                case .failure(let error): deliver(.failure(error))
                }
            }
            return nil
        case .health, .unimplemented, .invalid, .cancel:
            let dispatcher = self
            // These never suspend; run them here rather than in a task.
            var answered: WireResponse.Result?
            switch method {
            case .health: answered = .health(dispatcher.health())
            case .invalid(let error): answered = .failure(error)
            case .cancel: answered = .failure(IdentityRiskError(code: .internal, message: "cancel is not a call"))
            default:
                answered = .failure(IdentityRiskError(
                    code: .unimplemented,
                    message: "unknown or missing method; this server implements \(Self.implementedMethods) (protocol version \(WireProtocol.version))"))
            }
            deliver(answered!)
            return nil
        default:
            let dispatcher = self
            return Task {
                deliver(await dispatcher.execute(method, deadline: deadline, peer: peer))
            }
        }
    }
}
