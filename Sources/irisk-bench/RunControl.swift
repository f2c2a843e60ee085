import Synchronization

/// What the main thread tells the load threads, and what they tell it back;
/// all atomics, read once per loop iteration (relaxed: a phase change seen a
/// few microseconds late only shifts the window edge by that much).
final class RunControl: Sendable {
    enum Phase: Int {
        /// Requests flow; nothing is recorded.
        case warmup = 0
        /// Requests flow and are recorded.
        case measuring = 1
        /// No new requests; answers to those in flight are awaited, not recorded.
        case draining = 2
        /// Exit now, answered or not (hard stop).
        case stop = 3
    }

    private let phaseValue = Atomic<Int>(Phase.warmup.rawValue)
    /// `--requests`: each connection's measured-request budget; 0 = run for the duration.
    let requestsPerConnection: [UInt64]
    let workers: [LiveCounters]

    init(requestsPerConnection: [UInt64], workers: Int) {
        self.requestsPerConnection = requestsPerConnection
        self.workers = (0..<workers).map { _ in LiveCounters() }
    }

    var fixedCount: Bool { !requestsPerConnection.isEmpty }

    var phase: Phase {
        Phase(rawValue: phaseValue.load(ordering: .relaxed)) ?? .stop
    }

    func set(_ phase: Phase) {
        phaseValue.store(phase.rawValue, ordering: .relaxed)
    }

    var allFinished: Bool { workers.allSatisfy { $0.finished.load(ordering: .relaxed) } }
    var allBudgetsDone: Bool { workers.allSatisfy { $0.budgetDone.load(ordering: .relaxed) } }
    var recorded: UInt64 { workers.reduce(0) { $0 + $1.recorded.load(ordering: .relaxed) } }
    var errors: UInt64 { workers.reduce(0) { $0 + $1.errors.load(ordering: .relaxed) } }
    var inFlight: Int { workers.reduce(0) { $0 + $1.inFlight.load(ordering: .relaxed) } }
}

/// One load thread's running totals, for the live status line and the end of a run.
final class LiveCounters: Sendable {
    let recorded = Atomic<UInt64>(0)
    let errors = Atomic<UInt64>(0)
    let inFlight = Atomic<Int>(0)
    /// `--requests`: every measured request has been answered.
    let budgetDone = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
}
