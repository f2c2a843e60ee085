import Synchronization

/// A snapshot of what the server is doing and has refused, for operators and
/// tests (``IdentityRiskServer/statistics``).
public struct ServerStatistics: Sendable, Hashable {
    /// Connections counted against the limits right now.
    public var openConnections: Int
    /// Calls in flight, over all connections.
    public var callsInFlight: Int
    /// Connections closed at accept: not in the allow-lists, over a connection
    /// limit, or arriving during shutdown.
    public var refusedConnections: Int
    /// Connections closed because a frame did not arrive in time.
    public var frameReadTimeouts: Int
    /// Connections closed for being idle.
    public var idleTimeouts: Int
    /// Connections closed because their client did not read its responses.
    public var unwritableTimeouts: Int
    /// Server-streaming calls (watchers) open right now.
    public var openStreams: Int
    /// Streams ended because their client read too slowly (``ServerConfiguration/streamBufferBytes``).
    public var slowStreamsEnded: Int
}

/// The monotonic counters behind ``ServerStatistics``.
final class ServerCounters: Sendable {
    let refusedConnections = Atomic<Int>(0)
    let frameReadTimeouts = Atomic<Int>(0)
    let idleTimeouts = Atomic<Int>(0)
    let unwritableTimeouts = Atomic<Int>(0)
    let openStreams = Atomic<Int>(0)
    let slowStreamsEnded = Atomic<Int>(0)

    /// Takes a stream slot if fewer than `limit` are open.
    func openStream(limit: Int) -> Bool {
        var current = openStreams.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = openStreams.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func closeStream() { openStreams.subtract(1, ordering: .relaxed) }

    func count(_ closure: ConnectionClosure) {
        switch closure {
        case .frameReadTimeout: frameReadTimeouts.add(1, ordering: .relaxed)
        case .idle: idleTimeouts.add(1, ordering: .relaxed)
        case .unwritable: unwritableTimeouts.add(1, ordering: .relaxed)
        }
    }
}
