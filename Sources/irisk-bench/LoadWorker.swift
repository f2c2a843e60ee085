#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One load-generating OS thread driving one or more connections.
///
/// `@unchecked Sendable` because the instance crosses into its pthread once:
/// the main thread builds it, hands it to `PosixThread`, and reads `tally`
/// only after `pthread_join` (which orders every write before the read). While
/// the thread runs, only it touches the connections and the tally; the only
/// shared state is `control`, which is atomics.
final class LoadWorker: @unchecked Sendable {
    let connections: [BenchConnection]
    let control: RunControl
    let live: LiveCounters
    let tally = WorkerTally()

    init(connections: [BenchConnection], control: RunControl, live: LiveCounters) {
        self.connections = connections
        self.control = control
        self.live = live
    }

    func run() {
        tally.prepare(for: connections.first?.mix)
        var phase = control.phase
        observe(phase)
        for c in connections {
            c.issue(phase: phase)
            c.flush()
        }
        var pollSet = connections.map { pollfd(fd: $0.fd, events: 0, revents: 0) }
        while true {
            phase = control.phase
            observe(phase)
            if phase == .stop { break }
            var open = 0
            var inFlight = 0
            var budgetsDone = true
            for c in connections where c.isOpen {
                open += 1
                inFlight += c.inFlight
                if c.budget != 0 || c.inFlight != 0 { budgetsDone = false }
            }
            live.inFlight.store(inFlight, ordering: .relaxed)
            if control.fixedCount, budgetsDone, !live.budgetDone.load(ordering: .relaxed) {
                tally.cpuAtMeasureEnd = MonotonicClock.threadCPU()
                live.budgetDone.store(true, ordering: .relaxed)
            }
            if open == 0 || (phase == .draining && inFlight == 0) { break }
            let recordAll = phase == .measuring && !control.fixedCount
            if connections.count == 1 && !connections[0].hasPendingOutput {
                // The common case: block in recv (up to SO_RCVTIMEO), no poll.
                let c = connections[0]
                if c.receive(wait: true, recordAll: recordAll, tally: tally) {
                    c.issue(phase: phase)
                    c.flush()
                }
            } else {
                for (i, c) in connections.enumerated() {
                    pollSet[i].events = c.isOpen ? Int16(POLLIN) | (c.hasPendingOutput ? Int16(POLLOUT) : 0) : 0
                    pollSet[i].revents = 0
                }
                let ready = poll(&pollSet, nfds_t(pollSet.count), 20)
                if ready <= 0 { continue }
                for (i, c) in connections.enumerated() where pollSet[i].revents != 0 {
                    if pollSet[i].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                        if c.receive(wait: false, recordAll: recordAll, tally: tally) { c.issue(phase: phase) }
                    }
                    c.flush()
                }
            }
            live.recorded.store(tally.recorded, ordering: .relaxed)
            live.errors.store(tally.errorCount, ordering: .relaxed)
        }
        observe(.stop)
        tally.unanswered = connections.reduce(0) { $0 + $1.inFlight }
        tally.connectionFailures = connections.compactMap(\.failed)
        live.recorded.store(tally.recorded, ordering: .relaxed)
        live.errors.store(tally.errorCount, ordering: .relaxed)
        live.inFlight.store(tally.unanswered, ordering: .relaxed)
        live.finished.store(true, ordering: .relaxed)
    }

    /// Notes this thread's CPU time at the measuring window's edges.
    private func observe(_ phase: RunControl.Phase) {
        if phase.rawValue >= RunControl.Phase.measuring.rawValue, tally.cpuAtMeasureStart == nil {
            tally.cpuAtMeasureStart = MonotonicClock.threadCPU()
        }
        if phase.rawValue >= RunControl.Phase.draining.rawValue, tally.cpuAtMeasureEnd == nil {
            tally.cpuAtMeasureEnd = MonotonicClock.threadCPU()
        }
    }
}
