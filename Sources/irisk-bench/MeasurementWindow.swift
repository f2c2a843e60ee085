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

/// A target's window, plus the watchers counting only inside it.
struct WatchingWindow: MeasurementWindow {
    let inner: any MeasurementWindow
    let pool: WatcherPool

    func begin() {
        inner.begin()
        pool.beginMeasuring()
    }

    func end() {
        pool.endMeasuring()
        inner.end()
    }
}
