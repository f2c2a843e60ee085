#if canImport(Glibc)
import Glibc
#endif

/// Cheap clocks for the hot loop: `clock_gettime` through the vDSO, no allocation.
enum MonotonicClock {
    /// Nanoseconds on CLOCK_MONOTONIC.
    @inline(__always)
    static func now() -> UInt64 {
        read(CLOCK_MONOTONIC)
    }

    /// CPU time of the calling thread, in nanoseconds.
    static func threadCPU() -> UInt64 {
        read(CLOCK_THREAD_CPUTIME_ID)
    }

    /// CPU time of the whole process (every thread), in nanoseconds.
    static func processCPU() -> UInt64 {
        read(CLOCK_PROCESS_CPUTIME_ID)
    }

    @inline(__always)
    private static func read(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
