/// Server-side snapshots taken at the measuring window's edges (store
/// counters, another process's CPU time). Called from the main task.
protocol MeasurementWindow: Sendable {
    func begin()
    func end()
}

/// For targets with nothing to snapshot.
struct NoWindow: MeasurementWindow {
    func begin() {}
    func end() {}
}
