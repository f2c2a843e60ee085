import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskTestSupport
import Synchronization
import Testing

/// A value behind a lock that closures can share (a `Mutex` cannot be captured).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        try mutex.withLock { try body(&$0) }
    }

    var value: Value { withLock { $0 } }
}

/// A watch running in the background, collecting what it receives, for tests.
final class WatchCollector: Sendable {
    private let state = Locked<(messages: [WatchChanges.Message], ended: (any Error)??)>(([], nil))
    private let task = Locked<Task<Void, Never>?>(nil)

    init(client: IdentityRiskClient, filter: String = "", from start: WatchChanges.Start = .now, options: WatchOptions = WatchOptions()) {
        let state = self.state
        let task = Task {
            do {
                for try await message in client.watch(filter: filter, from: start, options: options) {
                    state.withLock { $0.messages.append(message) }
                }
                state.withLock { $0.ended = .some(nil) }
            } catch {
                state.withLock { $0.ended = .some(error) }
            }
        }
        self.task.withLock { $0 = task }
    }

    var messages: [WatchChanges.Message] { state.withLock { $0.messages } }

    var changes: [Change] {
        messages.compactMap { if case .change(let change) = $0 { change } else { nil } }
    }

    var lastCursor: ChangeCursor? { messages.last?.cursor }

    /// `nil` while running; `.some(nil)` ended without error; `.some(error)`.
    var ended: (any Error)?? { state.withLock { $0.ended } }

    /// Waits until `condition` holds for the messages (or the stream ended), at most `timeout`.
    @discardableResult
    func wait(timeout: Duration = .seconds(30), until condition: ([WatchChanges.Message]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (done, over) = state.withLock { (condition($0.messages), $0.ended != nil) }
            if done { return true }
            if over { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return state.withLock { condition($0.messages) }
    }

    /// Waits for the first message (the stream's opening bookmark): the watch is live.
    func waitUntilLive(timeout: Duration = .seconds(20)) async -> Bool {
        await wait(timeout: timeout) { !$0.isEmpty }
    }

    /// Waits until the stream ends (at most `timeout`).
    func waitForEnd(timeout: Duration = .seconds(30)) async -> (any Error)?? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, ended == nil {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return ended
    }

    func cancel() async {
        let task = self.task.withLock { $0 }
        task?.cancel()
        await task?.value
    }
}

/// What a change is, without its cursor: to compare what was done with what was watched.
struct ChangeKey: Hashable, CustomStringConvertible {
    var kind: ChangeKind
    var id: String
    var version: UInt64

    init(_ kind: ChangeKind, _ id: String, _ version: UInt64) {
        self.kind = kind
        self.id = id
        self.version = version
    }

    init(_ change: Change) {
        self.init(change.kind, change.event.id, change.event.version)
    }

    var description: String { "\(kind) \(id) v\(version)" }
}

/// Checks that `changes` are in strictly increasing cursor order and that none repeats.
func expectCursorOrderNoRepeats(_ changes: [Change], sourceLocation: SourceLocation = #_sourceLocation) {
    for (previous, next) in zip(changes, changes.dropFirst()) where next.cursor <= previous.cursor {
        Issue.record("cursor \(next.cursor) (\(ChangeKey(next))) after \(previous.cursor): not strictly increasing", sourceLocation: sourceLocation)
        return
    }
    let keys = changes.map(ChangeKey.init)
    let repeated = Dictionary(grouping: keys, by: { $0 }).filter { $0.value.count > 1 }.keys
    #expect(repeated.isEmpty, "changes delivered more than once: \(repeated.prefix(5))", sourceLocation: sourceLocation)
}
