import IdentityRiskCore
import IdentityRiskService
import NIOCore
import Synchronization

/// Calls answered, by method and status: what Stats, the periodic summary and
/// the `irisk_requests_total` metric read.
///
/// Cheap on the hot path: one relaxed atomic add per answer, into a block of
/// counters owned by the connection's event loop (``shard(for:)``), so two
/// loops never write the same cache line. Readers sum the blocks.
///
/// ```
/// slot = method slot × 13 + code ordinal (0: ok, 1 ... 12: IdentityRiskError.Code.ordinal)
/// method slot: 0 no or unknown method, 1 ... 8 IdentityRiskMethods.all in table order
/// last slot: creates answered with the record already stored (idempotent repeats)
/// ```
final class CallCounters: Sendable {
    static let codes = 13
    static let methodSlots = IdentityRiskMethods.all.count + 1
    static let slots = 128
    static let idempotentSlot = slots - 1

    final class Shard: Sendable {
        let counts = InlineArray<128, Atomic<UInt64>> { _ in Atomic(0) }
        /// The event loop's number in the group (the loop outside it: the group's size),
        /// so that per-loop metrics need no lock shared between loops.
        let index: Int

        init(index: Int) { self.index = index }

        @inline(__always)
        func add(_ slot: Int) { counts[slot].wrappingAdd(1, ordering: .relaxed) }
    }

    private let shards: [ObjectIdentifier: Shard]
    /// For a loop outside the group (tests' embedded channels): shared, still atomic.
    private let other: Shard

    init(group: any EventLoopGroup) {
        var shards: [ObjectIdentifier: Shard] = [:]
        for loop in group.makeIterator() { shards[ObjectIdentifier(loop)] = Shard(index: shards.count) }
        self.shards = shards
        other = Shard(index: shards.count)
        precondition(Self.methodSlots * Self.codes < Self.idempotentSlot, "CallCounters.slots is too small for the method table")
    }

    func shard(for loop: any EventLoop) -> Shard { shards[ObjectIdentifier(loop)] ?? other }

    /// The method slot of wire number `number` (0: none or unknown).
    static func methodSlot(number: UInt32) -> Int {
        number < UInt32(slotByNumber.count) ? slotByNumber[Int(number)] : 0
    }

    private static let slotByNumber: [Int] = {
        var table = [Int](repeating: 0, count: Int(MethodDescriptor.streamingNumbers.upperBound) + 1)
        for (index, method) in IdentityRiskMethods.all.enumerated() { table[Int(method.descriptor.number)] = index + 1 }
        return table
    }()

    static func slot(method: Int, code: IdentityRiskError.Code?) -> Int { method * codes + (code?.ordinal ?? 0) }

    /// The sum over every shard.
    var totals: CallTotals {
        var counts = [UInt64](repeating: 0, count: Self.slots)
        for shard in Array(shards.values) + [other] {
            for slot in 0..<Self.slots { counts[slot] &+= shard.counts[slot].load(ordering: .relaxed) }
        }
        return CallTotals(counts: counts)
    }
}

/// A snapshot of ``CallCounters``, with the sums Stats and the summary need.
struct CallTotals: Sendable, Hashable {
    var counts: [UInt64]

    static let zero = CallTotals(counts: [UInt64](repeating: 0, count: CallCounters.slots))

    func count(method: Int, code: IdentityRiskError.Code?) -> UInt64 { counts[CallCounters.slot(method: method, code: code)] }

    static func methodSlot<M: RPCMethod>(_ method: M.Type) -> Int { CallCounters.methodSlot(number: M.descriptor.number) }

    var creates: UInt64 { count(method: Self.methodSlot(IdentityRiskMethods.Create.self), code: nil) }
    var updates: UInt64 { count(method: Self.methodSlot(IdentityRiskMethods.Update.self), code: nil) }
    var deletes: UInt64 { count(method: Self.methodSlot(IdentityRiskMethods.Delete.self), code: nil) }
    var idempotentCreates: UInt64 { counts[CallCounters.idempotentSlot] }

    var ok: UInt64 { (0..<CallCounters.methodSlots).reduce(0) { $0 &+ count(method: $1, code: nil) } }

    /// Errors by code, every code (zeros included), in ``IdentityRiskError/Code/all`` order.
    var errorsByCode: [(IdentityRiskError.Code, UInt64)] {
        IdentityRiskError.Code.all.map { code in
            (code, (0..<CallCounters.methodSlots).reduce(0) { $0 &+ count(method: $1, code: code) })
        }
    }

    var errors: UInt64 { errorsByCode.reduce(0) { $0 &+ $1.1 } }
    var calls: UInt64 { ok &+ errors }

    /// `self - earlier`, slot by slot.
    func since(_ earlier: CallTotals) -> CallTotals {
        CallTotals(counts: zip(counts, earlier.counts).map { $0 &- $1 })
    }
}
