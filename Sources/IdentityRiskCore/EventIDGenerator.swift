#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// UUIDs in lowercase text, without Foundation: time-ordered (version 7, what
/// the server and the client library assign to a create without an id) and
/// random (version 4).
public enum EventIDGenerator {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The process's order for ``timeOrderedUUID()``.
    private static let timeOrder = TimeOrderedUUIDs()

    /// A new time-ordered (RFC 9562 version 7) lowercase UUID, e.g.
    /// `019a8f3c-5e21-7a3f-9b1d-6c0e2f4a8b7d`: 48 bits of Unix milliseconds,
    /// then a 12-bit sequence that orders ids made in the same millisecond
    /// (RFC 9562, method 1), then 62 random bits. In one process the ids are
    /// strictly increasing, as text too, so an index on them appends instead
    /// of inserting at a random place. When more than 4,096 ids are made in a
    /// millisecond the sequence carries into the timestamp, which then runs a
    /// little ahead of the clock; a clock that steps back does not reorder them.
    public static func timeOrderedUUID() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let milliseconds = UInt64(max(0, ts.tv_sec)) &* 1000 &+ UInt64(max(0, ts.tv_nsec)) / 1_000_000
        var generator = SystemRandomNumberGenerator()
        return timeOrder.next(milliseconds: milliseconds, using: &generator)
    }

    /// One strictly increasing sequence of version 7 UUIDs (the process has
    /// one, behind ``timeOrderedUUID()``; tests make their own).
    public final class TimeOrderedUUIDs: Sendable {
        /// The last (milliseconds << 12 | sequence) handed out.
        private let last = Atomic<UInt64>(0)

        public init() {}

        /// The next id at `milliseconds` since 1970, with `generator`'s random bits.
        public func next(milliseconds: UInt64, using generator: inout some RandomNumberGenerator) -> String {
            let floor = (milliseconds & 0xFFFF_FFFF_FFFF) << 12
            var seen = last.load(ordering: .relaxed)
            var stamp: UInt64
            while true {
                stamp = max(floor, seen &+ 1)
                let (exchanged, original) = last.compareExchange(expected: seen, desired: stamp, ordering: .relaxed)
                if exchanged { break }
                seen = original
            }
            let high = (stamp >> 12) << 16 | 0x7000 | (stamp & 0xFFF)        // version 7
            let low = (generator.next() as UInt64) & ~(0xC000_0000_0000_0000 as UInt64) | 0x8000_0000_0000_0000 // variant 10
            return EventIDGenerator.text(high: high, low: low)
        }
    }

    /// A new lowercase UUID, e.g. `9953902a-902a-4953-aa90-53992a905399`.
    public static func randomUUID() -> String {
        var generator = SystemRandomNumberGenerator()
        return randomUUID(using: &generator)
    }

    public static func randomUUID(using generator: inout some RandomNumberGenerator) -> String {
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000                       // version 4
        low = (low & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000 // variant 10
        return text(high: high, low: low)
    }

    /// The 36-character lowercase text of the UUID `high`, `low`.
    fileprivate static func text(high: UInt64, low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            var index = 0
            func emit(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[index] = hexDigits[Int((value >> UInt64(shift)) & 0xF)]
                    index += 1
                }
            }
            func dash() { buffer[index] = UInt8(ascii: "-"); index += 1 }
            emit(high >> 32, nibbles: 8); dash()
            emit(high >> 16, nibbles: 4); dash()
            emit(high, nibbles: 4); dash()
            emit(low >> 48, nibbles: 4); dash()
            emit(low, nibbles: 12)
            return 36
        }
    }
}
