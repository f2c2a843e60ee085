public import IdentityRiskCore

/// The handlers of every method in ``IdentityRiskMethods``, over the Core use
/// cases: what a transport serves.
///
/// Create and get keep the fast path: handed to the store's completion form on
/// the caller's thread (the memory store answers inline, SQLite from its writer
/// thread after the group commit, or from a reader thread), with no task (get
/// only where the store's `answersGetsWithoutTask`; PostgreSQL's in a task). List,
/// update and delete run in a task that the call's cancellation cancels; so
/// does each watch stream (``WatchChanges``).
public struct IdentityRiskService: Sendable {
    public let router: RPCRouter

    public init(
        store: any EventStore,
        clock: any EventClock = SystemEventClock(),
        validator: EventValidator = EventValidator(),
        watchBookmarkInterval: Duration = WatchChanges.defaultBookmarkInterval,
        watchLinger: Duration = WatchChanges.defaultLingerInterval,
        health: @escaping @Sendable () -> HealthStatus,
        stats: @escaping @Sendable () -> StatsReport = { StatsReport() }
    ) {
        let createEvent = CreateEvent(store: store, validator: validator, clock: clock)
        let getEvent = GetEvent(store: store)
        let listEvents = ListEvents(store: store)
        let updateEvent = UpdateEvent(store: store, validator: validator)
        let deleteEvent = DeleteEvent(store: store)
        let watchChanges = WatchChanges(store: store, bookmarkInterval: watchBookmarkInterval, lingerInterval: watchLinger)
        var router = RPCRouter()
        router.register(IdentityRiskMethods.Create.self) { draft, _, writer in
            createEvent(draft) { writer.respond($0) }
        }
        if store.answersGetsWithoutTask {
            router.register(IdentityRiskMethods.Get.self) { id, _, writer in
                getEvent(id: id) { writer.respond($0) }
            }
        } else {
            router.registerUnary(IdentityRiskMethods.Get.self) { id, _ throws(IdentityRiskError) in
                try await getEvent(id: id)
            }
        }
        router.registerUnary(IdentityRiskMethods.List.self) { request, _ throws(IdentityRiskError) in
            try await listEvents(request)
        }
        router.register(IdentityRiskMethods.Health.self) { _, _, writer in
            writer.respond(.success(health()))
        }
        router.register(IdentityRiskMethods.Stats.self) { _, _, writer in
            writer.respond(.success(stats()))
        }
        router.registerUnary(IdentityRiskMethods.Update.self) { request, _ throws(IdentityRiskError) in
            try await updateEvent(request)
        }
        router.registerUnary(IdentityRiskMethods.Delete.self) { request, _ throws(IdentityRiskError) in
            try await deleteEvent(request)
        }
        router.register(IdentityRiskMethods.Watch.self) { request, _, writer in
            let task = Task {
                do throws(IdentityRiskError) {
                    let plan = try await watchChanges.begin(request)
                    try await watchChanges.run(plan) { await writer.send($0) }
                    // The call is over: cancelled by its client (or ended by the
                    // transport, which then already finished it: this is ignored).
                    writer.finish(error: .streamCancelled)
                } catch {
                    writer.finish(error: error)
                }
            }
            writer.onCancel { task.cancel() }
        }
        self.router = router
    }
}

extension IdentityRiskError {
    static let streamCancelled = IdentityRiskError(code: .cancelled, message: "the stream was cancelled by its client")
}
