import Foundation

/// Runs blocking work (raw sockets, child processes, `Process.waitUntilExit`) on
/// a thread of its own, so it blocks neither Swift concurrency's cooperative
/// pool, which the servers under test run their calls on, nor Dispatch's global
/// pool, which Foundation's `Process` needs to notice an exit (each is only as
/// wide as the core count: 2 here, so a blocked pool can deadlock a test run).
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}
