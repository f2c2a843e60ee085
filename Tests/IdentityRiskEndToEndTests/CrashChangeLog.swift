import IdentityRiskCore
import IdentityRiskStore
import Logging
import Synchronization
import Testing

/// The change log after a kill -9, read from the crashed database by a fresh
/// `SQLiteEventStore` in the test process (the killed iriskd's flock died with
/// it), before the server is restarted: every acknowledged write has exactly
/// one change, in the order its writer made them, with strictly increasing
/// cursors, and the log replays to exactly the records on disk.
extension CrashTests {
    /// One acknowledged write as a load slot saw it.
    struct AckedChange: Sendable, Equatable {
        let kind: ChangeKind
        let event: IdentityRiskEvent
    }

    /// Each load slot's acknowledged writes, in the order the slot made them
    /// (one write in flight per slot at a time).
    final class ChangeLedger: Sendable {
        let bySlot = Mutex<[String: [AckedChange]]>([:])

        func acknowledge(slot: String, _ kind: ChangeKind, _ event: IdentityRiskEvent) {
            bySlot.withLock { $0[slot, default: []].append(AckedChange(kind: kind, event: event)) }
        }
    }

    /// Opens the crashed database at `path`, checks its change log against
    /// `ledger`, and closes it again. `slot(of:)` names the slot that wrote an
    /// id. Returns the number of changes in the log.
    @discardableResult
    static func checkChangeLog(database path: String, ledger: ChangeLedger, slot: (String) -> String) async throws -> Int {
        let quiet = Logger(label: "crash-check") { _ in SwiftLogNoOpLogHandler() }
        let store = try SQLiteEventStore(path: path, logger: quiet)
        var log: [Change] = []
        do {
            var after = ChangeCursor.zero
            while true {
                let page = try await store.changes(after: after, limit: 10_000)
                guard let last = page.last else { break }
                log += page
                after = last.cursor
            }
            #expect(try await store.changeLogBounds().latest == log.last?.cursor ?? .zero, "the log ends at its latest cursor")
            #expect(zip(log, log.dropFirst()).allSatisfy { $0.cursor < $1.cursor }, "cursors strictly increase")

            // The log replays to exactly the records on disk (same transactions).
            var replayed: [String: IdentityRiskEvent?] = [:]
            for change in log {
                replayed[change.event.id] = change.kind == .deleted ? .some(nil) : .some(change.event)
            }
            for (id, state) in replayed {
                let stored = try await store.get(id: id)
                #expect(stored == state, "\(id): the log replays to \(String(describing: state)), the table holds \(String(describing: stored))")
            }
            var stored = 0
            var query = ListQuery(top: ListQuery.maxTop)
            while true {
                let page = try await store.list(query)
                stored += page.events.count
                guard let next = page.next else { break }
                query.after = next
            }
            #expect(stored == replayed.values.count { $0 != nil }, "every stored record has its create in the log")
        } catch {
            await store.close()
            throw error
        }
        await store.close()

        // Per slot: the acknowledged writes in order, then at most the one in flight at the kill.
        let acknowledged = ledger.bySlot.withLock { $0 }
        var logged: [String: [AckedChange]] = [:]
        for change in log {
            logged[slot(change.event.id), default: []].append(AckedChange(kind: change.kind, event: change.event))
        }
        for (name, acked) in acknowledged {
            let found = logged[name] ?? []
            #expect(found.count >= acked.count, "slot \(name): \(acked.count) writes acknowledged, \(found.count) in the log")
            #expect(Array(found.prefix(acked.count)) == acked, "slot \(name): every acknowledged write has exactly one change, in the order made")
            #expect(found.count <= acked.count + 1, "slot \(name): at most the write in flight at the kill beyond the acknowledged ones")
        }
        for name in logged.keys where acknowledged[name] == nil {
            #expect(logged[name]?.count == 1, "slot \(name) had nothing acknowledged: at most its one write in flight")
        }
        return log.count
    }

    /// `crash-K-conn-slot-n` → `crash-K-conn-slot`.
    static func slotOf(_ id: String) -> String {
        guard let dash = id.lastIndex(of: "-") else { return id }
        return String(id[..<dash])
    }
}
