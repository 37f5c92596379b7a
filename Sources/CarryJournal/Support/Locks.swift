// Blocking synchronisation for the journal's own threads (the writer thread, blocking
// callers, followers). Swift's cooperative pool never blocks on these: async callers are
// resumed through continuations instead.

#if canImport(Glibc)
import Glibc
#endif

/// A mutex with a condition variable.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` holding the lock.
    @inline(__always)
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (lock held) until signalled; returns false on timeout.
    @discardableResult
    func wait(timeoutMs: Int64? = nil) -> Bool {
        guard let timeoutMs else {
            pthread_cond_wait(cond, mutex)
            return true
        }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let nanos = Int64(ts.tv_nsec) + (timeoutMs % 1000) * 1_000_000
        ts.tv_sec += Int(timeoutMs / 1000 + nanos / 1_000_000_000)
        ts.tv_nsec = Int(nanos % 1_000_000_000)
        return pthread_cond_timedwait(cond, mutex, &ts) == 0
    }

    /// Wakes every waiter (lock should be held).
    func broadcast() { pthread_cond_broadcast(cond) }
}

/// A readers–writer gate: read transactions hold it shared; growing the map holds it
/// exclusively, because LMDB forbids resizing while any transaction of the process is open.
final class MapGate: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    init() {
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        // Prefer the grower, so a stream of readers cannot starve a full writer.
        pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attr)
        pthread_rwlockattr_destroy(&attr)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func enterShared() { pthread_rwlock_rdlock(lock) }
    func leaveShared() { pthread_rwlock_unlock(lock) }
    func enterExclusive() { pthread_rwlock_wrlock(lock) }
    func leaveExclusive() { pthread_rwlock_unlock(lock) }
}

/// Monotonic milliseconds, for timeouts and progress (never for event times).
func monotonicMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Wall-clock milliseconds since the epoch (journal creation time, live record times).
public func wallClockMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
