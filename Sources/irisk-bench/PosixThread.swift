#if canImport(Glibc)
import Glibc
#endif

/// A joinable OS thread running one closure: the load threads are plain
/// pthreads, outside Swift concurrency's cooperative pool (which, in `--spawn`
/// mode, belongs to the server being measured).
struct PosixThread {
    private let handle: pthread_t

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    init(_ body: @escaping @Sendable () -> Void) throws(BenchError) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw BenchError("pthread_create: \(UnixSocket.errnoText(rc))")
        }
        handle = thread
    }

    /// Waits for the thread to return. Call once.
    func join() {
        pthread_join(handle, nil)
    }
}
