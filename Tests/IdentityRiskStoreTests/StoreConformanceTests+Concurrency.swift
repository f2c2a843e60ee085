import IdentityRiskCore
import IdentityRiskStore
import IdentityRiskTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// Racing writers and the store's lifecycle.
extension StoreConformanceTests {
    @Test("8 writers creating the same 50 ids: each stored exactly once, every create answered", arguments: StoreFactory.all)
    func racingCreates(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            var generator = SplitMix64(seed: 850)
            let events = (0 ..< 50).map { Fixture.varied($0, using: &generator) }
            let results = await withTaskGroup(of: [Result<CreateOutcome, IdentityRiskError>].self) { group in
                for _ in 0 ..< 8 {
                    group.addTask {
                        var results: [Result<CreateOutcome, IdentityRiskError>] = []
                        for e in events.shuffled() {
                            results.append(await attempt { try await store.create(e) })
                        }
                        return results
                    }
                }
                return await group.reduce(into: []) { $0 += $1 }
            }
            #expect(results.count == 400, "every create is answered")
            let outcomes = results.compactMap { try? $0.get() }
            #expect(outcomes.count == 400, "same content: every create succeeds, \(results.compactMap(\.failure))")
            let fresh = outcomes.filter { !$0.alreadyExisted }.map(\.event.id)
            #expect(fresh.sorted() == events.map(\.id), "exactly one create per id stored it")
            for outcome in outcomes {
                #expect(events.contains(outcome.event))
            }
            let listed = try await store.list(ListQuery(top: 1000)).events
            #expect(listed.count == 50)
            #expect(Set(listed) == Set(events))
        }
    }

    @Test("one id, other content racing: the first create wins, the same content is idempotent, the rest conflict", arguments: StoreFactory.all)
    func racingConflicts(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let base = try Fixture.event("dup-1")
            var changed = base
            changed.userId = "someone-else"
            let results = await withTaskGroup(of: Result<CreateOutcome, IdentityRiskError>.self) { group in
                for i in 0 ..< 40 {
                    let candidate = i.isMultiple(of: 2) ? base : changed
                    group.addTask { await attempt { try await store.create(candidate) } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let stored = try #require(try await store.get(id: "dup-1"))
            let fresh = results.compactMap { try? $0.get() }.filter { !$0.alreadyExisted }
            #expect(fresh.count == 1, "exactly one create stores the record")
            for result in results {
                switch result {
                case .success(let outcome): #expect(outcome.event == stored)
                case .failure(let error): #expect(error.code == .alreadyExists)
                }
            }
            #expect(results.compactMap(\.failure).count == 20, "every create whose content differs from the winner's conflicts")
        }
    }

    @Test("8 writers replacing one record at the same version: exactly one wins", arguments: StoreFactory.all)
    func racingReplaces(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let original = try Fixture.event("race-1")
            _ = try await store.create(original)
            let results = await withTaskGroup(of: Result<IdentityRiskEvent, IdentityRiskError>.self) { group in
                for i in 0 ..< 8 {
                    var mine = original
                    mine.riskEventType = "type-\(i)"
                    mine.version = 2
                    group.addTask { await attempt { try await store.replace(mine, expectedVersion: 1) } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = results.compactMap { try? $0.get() }
            #expect(winners.count == 1)
            let losers = results.compactMap(\.failure)
            #expect(losers.count == 7)
            #expect(losers.filter(\.isVersionMismatch).count == 7, "\(losers)")
            let stored = try #require(try await store.get(id: "race-1"))
            #expect(stored.version == 2)
            #expect(winners.first == stored, "the winner's content is what is stored")
        }
    }

    @Test("8 writers deleting one record: exactly one deletes it, the rest are notFound", arguments: StoreFactory.all)
    func racingDeletes(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            _ = try await store.create(try Fixture.event("race-del"))
            let results = await withTaskGroup(of: Result<UInt64, IdentityRiskError>.self) { group in
                for _ in 0 ..< 8 {
                    group.addTask { await attempt { try await store.delete(id: "race-del", expectedVersion: nil) } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.compactMap { try? $0.get() } == [1])
            #expect(results.compactMap(\.failure).map(\.code) == Array(repeating: .notFound, count: 7))
            #expect(try await store.get(id: "race-del") == nil)
        }
    }

    // MARK: - Lifecycle

    @Test("run() serves until graceful shutdown; after it every call is unavailable", arguments: StoreFactory.all)
    func lifecycle(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let group = ServiceGroup(services: [store])
            let running = Task { try await group.run() }
            let before = try Fixture.event("life-1")
            let after = try Fixture.event("life-2")
            #expect(try await store.create(before).alreadyExisted == false, "open while running")
            #expect(try await store.get(id: "life-1") == before)

            await group.triggerGracefulShutdown()
            try await running.value

            let unavailable: [IdentityRiskError?] = [
                await attempt { try await store.create(after) }.failure,
                await attempt { try await store.get(id: "life-1") }.failure,
                await Self.completionGet(store, "life-1").failure,
                await attempt { try await store.list(ListQuery()) }.failure,
                await attempt { try await store.replace(before, expectedVersion: 1) }.failure,
                await attempt { try await store.delete(id: "life-1", expectedVersion: nil) }.failure,
            ]
            for error in unavailable {
                #expect(error?.code == .unavailable, "\(String(describing: error))")
            }
        }
    }
}

/// The completion form of get, the one the server calls.
extension StoreConformanceTests {
    /// `store.get(id:completion:)`, awaited; fails the test if it answers twice.
    static func completionGet(_ store: any EventStore, _ id: String) async -> Result<IdentityRiskEvent?, IdentityRiskError> {
        let answers = Atomic<Int>(0)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<IdentityRiskEvent?, IdentityRiskError>, Never>) in
            store.get(id: id) { result in
                if answers.add(1, ordering: .relaxed).newValue == 1 { continuation.resume(returning: result) }
            }
        }
        #expect(answers.load(ordering: .relaxed) == 1, "answered exactly once")
        return result
    }

    @Test("1,000 gets in flight through the completion form while creates land: each answered once with its own record, every acknowledged create visible to a get issued after it", arguments: StoreFactory.all)
    func completionGets(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            var generator = SplitMix64(seed: 4242)
            let stored = (0 ..< 200).map { Fixture.varied($0, using: &generator) }
            for event in stored { _ = try await store.create(event) }
            let fresh = (200 ..< 300).map { Fixture.varied($0, using: &generator) }
            let results = await withTaskGroup(of: (String, Result<IdentityRiskEvent?, IdentityRiskError>).self) { group in
                for i in 0 ..< 1000 {
                    let id = i.isMultiple(of: 10) ? "absent-\(i)" : stored[i % stored.count].id
                    group.addTask { (id, await Self.completionGet(store, id)) }
                }
                // Creates racing the gets; a get issued after each is acknowledged must see it.
                group.addTask {
                    for event in fresh {
                        guard (try? await store.create(event)) != nil else { return (event.id, .failure(IdentityRiskError(code: .internal, message: "create failed"))) }
                        let seen = await Self.completionGet(store, event.id)
                        guard case .success(let got?) = seen, got == event else { return (event.id, .failure(IdentityRiskError(code: .internal, message: "not seen: \(seen)"))) }
                    }
                    return ("creates", .success(nil))
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 1001)
            let byID = Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0) })
            for (id, result) in results {
                switch result {
                case .success(let event):
                    if id == "creates" { continue }
                    #expect(event == byID[id], "\(id): \(String(describing: event))")
                case .failure(let error):
                    Issue.record("\(id): \(error)")
                }
            }
            let invalid = await Self.completionGet(store, "")
            #expect(invalid.failure == nil || invalid.failure?.code == .invalidArgument, "a store may look up any id; the use case checks it")
        }
    }
}
