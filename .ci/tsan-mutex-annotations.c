// ThreadSanitizer annotations for Swift's Synchronization.Mutex on Linux.
//
// Why: Mutex locks with an inlined atomic compare-exchange (which TSan sees) and,
// under contention, with futex calls in libswiftSynchronization.so (which TSan
// does not see: that library is not instrumented). So whenever two threads contend
// for a Mutex, TSan misses the happens-before edge and reports a "Swift access race"
// on the protected value: a false positive, reproducible with four threads doing
// `mutex.withLock { $0 += 1 }` (Swift 6.3.1). Every module here uses Mutex.
//
// What: this library interposes the two slow-path functions (public symbols of
// libswiftSynchronization.so), calls the originals, and tells TSan about the
// release before unlocking and the acquire after locking, on the address of the
// Mutex's lock word (where the inlined fast path's atomics already synchronize).
// Nothing else changes; without TSan in the process it only forwards.
//
// Use: .ci/run builds it and runs the TSan test step with LD_PRELOAD=<this library>.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>

extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

// _MutexHandle._lockSlow(_ selfId: UInt32) and _unlockSlow(): Swift calling
// convention, the borrowed handle (its address) in the self register.
typedef __attribute__((swiftcall)) void (*LockSlow)(uint32_t, void *__attribute__((swift_context)));
typedef __attribute__((swiftcall)) void (*UnlockSlow)(void *__attribute__((swift_context)));

__attribute__((swiftcall)) void irisk_lock_slow(uint32_t self_id, void *__attribute__((swift_context)) handle) __asm__(LOCK_SLOW);
__attribute__((swiftcall)) void irisk_unlock_slow(void *__attribute__((swift_context)) handle) __asm__(UNLOCK_SLOW);

static void *original(void **cache, const char *name) {
    void *function = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (!function) {
        function = dlsym(RTLD_NEXT, name);
        __atomic_store_n(cache, function, __ATOMIC_RELEASE);
    }
    return function;
}

__attribute__((swiftcall)) void irisk_lock_slow(uint32_t self_id, void *__attribute__((swift_context)) handle) {
    static void *cache;
    ((LockSlow)original(&cache, LOCK_SLOW))(self_id, handle);
    if (__tsan_acquire) __tsan_acquire(handle);
}

__attribute__((swiftcall)) void irisk_unlock_slow(void *__attribute__((swift_context)) handle) {
    static void *cache;
    if (__tsan_release) __tsan_release(handle);
    ((UnlockSlow)original(&cache, UNLOCK_SLOW))(handle);
}
