/// How much heap protobuf-c may use to unpack one request frame.
///
/// A protobuf message can cost far more memory unpacked than on the wire:
/// protobuf-c keeps every unknown field as its own allocation (plus an array
/// entry), every occurrence of a repeated or re-sent field as a temporary
/// "scanned member", and every string as a copy. A 64 KiB frame of 2-byte
/// unknown fields unpacks into ~32,000 allocations, about 45 times its size.
/// The budget bounds that amplification: once an unpack has been charged more
/// than ``budget(forPayloadBytes:)`` bytes, the next allocation fails, the
/// unpack fails, and the call is answered `RESOURCE_EXHAUSTED`
/// (inner code `DecodeBudgetExceeded`).
///
/// Each allocation is charged its approximate heap footprint: the size rounded
/// up to 16 bytes plus 16 bytes of allocator overhead. Allocations are charged
/// when made and not refunded when freed, so protobuf-c's temporary buffers
/// count too.
public struct RequestDecodingLimits: Sendable, Hashable {
    /// The budget is this many times the frame's payload length ...
    public var allocationFactor: Int
    /// ... but at least this many bytes.
    public var minimumAllocationBytes: Int

    public init(allocationFactor: Int = 16, minimumAllocationBytes: Int = 64 * 1024) {
        precondition(allocationFactor >= 1 && minimumAllocationBytes >= 0)
        self.allocationFactor = allocationFactor
        self.minimumAllocationBytes = minimumAllocationBytes
    }

    public static let `default` = RequestDecodingLimits()

    /// The bytes one unpack of a `payloadBytes`-long frame may be charged.
    public func budget(forPayloadBytes payloadBytes: Int) -> Int {
        let (scaled, overflow) = max(payloadBytes, 0).multipliedReportingOverflow(by: allocationFactor)
        return max(minimumAllocationBytes, overflow ? Int.max : scaled)
    }

    /// What one allocation of `size` bytes is charged.
    static func charge(forAllocationOf size: Int) -> Int {
        guard size >= 0, size <= Int.max - 32 else { return Int.max }
        return ((size + 15) & ~15) + 16
    }
}
