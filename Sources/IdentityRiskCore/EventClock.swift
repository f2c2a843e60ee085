#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where `createdDateTime` comes from; tests inject a fixed clock.
public protocol EventClock: Sendable {
    func now() -> DateTimeOffset
}

/// The system's real-time clock, in UTC with 7 fractional digits.
public struct SystemEventClock: EventClock {
    public init() {}

    public func now() -> DateTimeOffset {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let ticks = Int64(ts.tv_sec) * DateTimeOffset.ticksPerSecond + Int64(ts.tv_nsec) / 100
        // The system clock is always inside years 1 ... 9999.
        return try! DateTimeOffset(utcInstantTicks: ticks)
    }
}
