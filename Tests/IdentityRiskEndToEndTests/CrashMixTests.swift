import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
import Synchronization
import Testing

/// kill -9 of the real iriskd while creates, updates and deletes are in flight.
/// Part of ``CrashTests`` (serialized), so that the crash tests never load the
/// machine at the same time.
extension CrashTests {
    /// What a record may look like after the crash: the state of its last
    /// acknowledged change, or — when a change was in flight — that change's.
    enum Expected: Sendable, Equatable {
        case stored(IdentityRiskEvent)
        case deleted
    }

    final class Ledger: Sendable {
        /// id → (last acknowledged state, state of the change in flight)
        let states = Mutex<[String: (acked: Expected?, inFlight: Expected?)]>([:])
        let acknowledgedChanges = Atomic<Int>(0)
        let killed = Atomic<Bool>(false)

        func begin(_ id: String, _ next: Expected) {
            states.withLock { $0[id, default: (nil, nil)].inFlight = next }
        }

        /// Records the acknowledgement; the number of changes acknowledged so far.
        func acknowledge(_ id: String, _ state: Expected) -> Int {
            states.withLock { $0[id] = (state, nil) }
            return acknowledgedChanges.wrappingAdd(1, ordering: .relaxed).newValue
        }
    }

    @Test("kill -9 under creates, updates and deletes: every acknowledged change is there, nothing is half-applied", arguments: [40, 400])
    func killNineUnderMixedLoad(killAfter: Int) async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let database = directory + "/events.sqlite"
        let daemon = try HardeningDaemon(socketPath: socket, arguments: ["--store", "sqlite:" + database])
        try await daemon.waitUntilServing()
        let ledger = Ledger()
        let changes = ChangeLedger()
        let closed = try DateTimeOffset(parsing: "2017-01-02T08:00:00Z")

        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in 0..<4 {
                group.addTask {
                    let client = IdentityRiskClient(socketPath: socket, configuration: ClientConfiguration(defaultTimeoutMilliseconds: 10_000, maxRetries: 0))
                    defer { Task { await client.close() } }
                    try await withThrowingTaskGroup(of: Void.self) { slots in
                        for slot in 0..<8 {
                            slots.addTask {
                                var n = 0
                                func ack(_ id: String, _ state: Expected) {
                                    if ledger.acknowledge(id, state) == killAfter, !ledger.killed.exchange(true, ordering: .relaxed) {
                                        daemon.kill()
                                    }
                                }
                                while !ledger.killed.load(ordering: .relaxed), n < 500 {
                                    n += 1
                                    let id = "mix-\(killAfter)-\(connection)-\(slot)-\(n)"
                                    // create
                                    let draft = seedDraft(id: id, userId: "user-\(connection)-\(slot)")
                                    guard let event = try? await client.create(draft).event else { return }
                                    changes.acknowledge(slot: Self.slotOf(id), .created, event)
                                    ack(id, .stored(event))
                                    // update: a new status and closedDateTime (version 2)
                                    var patch = EventPatch()
                                    patch.set(.riskEventStatus, .riskEventStatus(.remediated))
                                    patch.set(.closedDateTime, .dateTime(closed))
                                    var next = event
                                    next.riskEventStatus = .remediated
                                    next.closedDateTime = closed
                                    next.version = 2
                                    ledger.begin(id, .stored(next))
                                    guard let updated = try? await client.update(id: id, patch, ifMatch: 1) else { return }
                                    changes.acknowledge(slot: Self.slotOf(id), .updated, updated)
                                    ack(id, .stored(updated))
                                    // every third record is deleted again
                                    guard n % 3 == 0 else { continue }
                                    ledger.begin(id, .deleted)
                                    guard (try? await client.delete(id: id, ifMatch: 2)) != nil else { return }
                                    changes.acknowledge(slot: Self.slotOf(id), .deleted, updated)  // a delete logs the last version
                                    ack(id, .deleted)
                                }
                            }
                        }
                        try await slots.waitForAll()
                    }
                }
            }
            try await group.waitForAll()
        }
        let wasKilled = ledger.killed.load(ordering: .relaxed)
        #expect(wasKilled, "the server was killed mid-load")
        #expect(try await daemon.waitForExit(timeout: .seconds(10)) != nil, "the killed server is gone")
        // The change log: one change per acknowledged create, update and delete, in each slot's order.
        try await Self.checkChangeLog(database: database, ledger: changes, slot: Self.slotOf)

        let restarted = try HardeningDaemon(socketPath: socket, arguments: ["--store", "sqlite:" + database])
        try await restarted.waitUntilServing()
        let states = ledger.states.withLock { $0 }
        var checked = (stored: 0, deleted: 0, inFlightApplied: 0)
        try await withIdentityRiskClient(socketPath: socket) { client in
            for (id, state) in states {
                let found: Expected
                do {
                    found = .stored(try await client.get(id: id))
                } catch let error as IdentityRiskError where error.code == .notFound {
                    found = .deleted
                }
                let allowed = [state.acked, state.inFlight].compactMap { $0 }
                if state.acked == nil {
                    // A create that was never acknowledged: absent, or whole.
                    if case .stored(let event) = found {
                        #expect(IdentityRiskEventDraft(event) == seedDraft(id: id, userId: event.userId), "unacknowledged create \(id) is whole")
                    }
                    continue
                }
                #expect(allowed.contains(found), "\(id): after the crash \(found), allowed \(allowed)")
                if found == state.inFlight { checked.inFlightApplied += 1 }
                if case .deleted = found { checked.deleted += 1 } else { checked.stored += 1 }
            }
            // The server serves again, and the deleted ids stay deleted.
            let fresh = try await client.create(seedDraft(id: "after-restart-mix-\(killAfter)"))
            #expect(!fresh.alreadyExisted)
        }
        #expect(checked.stored + checked.deleted >= killAfter / 3, "enough records were checked: \(checked)")
        let status = try await restarted.terminate()
        #expect(status == 0, "SIGTERM exits 0")
    }
}
