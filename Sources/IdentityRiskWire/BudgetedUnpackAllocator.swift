import CProtobufC
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `ProtobufCAllocator` that charges every allocation of one unpack to a
/// byte budget (``RequestDecodingLimits``) and fails it (returns NULL) once
/// the budget is spent. protobuf-c then frees what it allocated and returns
/// NULL from `__unpack`.
///
/// Hot-path cost: the allocator and its counter live on the caller's stack for
/// the duration of one unpack; allocations are plain `malloc`s. Nothing is
/// allocated besides what protobuf-c asks for.
///
/// ```
/// ProtobufCAllocator { alloc, free, allocator_data }   (on the stack)
///                                        |
///                                        v
///                    Account { remaining, charged, allocations, exceeded }   (on the stack)
/// ```
enum BudgetedUnpackAllocator {
    /// What one unpack has been charged; read after the unpack.
    struct Account {
        var remaining: Int
        var charged = 0
        var allocations = 0
        /// An allocation was refused: the unpack failed for lack of budget,
        /// not because the bytes were malformed.
        var exceeded = false
    }

    /// Runs `body` with an allocator charging `budget` bytes at most. The
    /// allocator must also be passed to `__free_unpacked`, inside `body`.
    static func withAllocator<R>(
        budget: Int,
        _ body: (UnsafeMutablePointer<ProtobufCAllocator>, UnsafePointer<Account>) -> R
    ) -> R {
        var account = Account(remaining: budget)
        return withUnsafeMutablePointer(to: &account) { accountPointer in
            var allocator = ProtobufCAllocator(
                alloc: { data, size in
                    // protobuf-c always passes our allocator_data: the Account.
                    guard let account = data?.assumingMemoryBound(to: BudgetedUnpackAllocator.Account.self) else { return nil }
                    let charge = RequestDecodingLimits.charge(forAllocationOf: size)
                    guard charge <= account.pointee.remaining else {
                        account.pointee.exceeded = true
                        return nil
                    }
                    account.pointee.remaining -= charge
                    account.pointee.charged += charge
                    account.pointee.allocations += 1
                    // malloc(0) may return NULL, which protobuf-c would read as failure.
                    return malloc(max(size, 1))
                },
                free: { _, pointer in
                    free(pointer)
                },
                allocator_data: UnsafeMutableRawPointer(accountPointer))
            return withUnsafeMutablePointer(to: &allocator) { allocatorPointer in
                body(allocatorPointer, UnsafePointer(accountPointer))
            }
        }
    }
}
