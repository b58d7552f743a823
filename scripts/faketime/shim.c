/* Two calls Debian's libfaketime 0.9.10 gets wrong, for scripts/shifted-clock.
 *
 * sem_clockwait: libfaketime wraps sem_timedwait but not sem_clockwait, which CPython 3.11 uses
 * for every timed lock wait (threading.Event.wait, Lock.acquire(timeout=...)). When the
 * monotonic clock is shifted too, the deadline is on the shifted clock while the kernel compares
 * it with the real one, and a 0.3 s wait lasts as long as the shift. Here the call becomes a
 * sem_timedwait on the real-time clock, which libfaketime translates.
 */
#define _GNU_SOURCE
#include <semaphore.h>
#include <time.h>

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime) {
    struct timespec now, deadline;
    clock_gettime(clock, &now);
    clock_gettime(CLOCK_REALTIME, &deadline);
    long long ns = (long long)(abstime->tv_sec - now.tv_sec) * 1000000000LL
                   + (abstime->tv_nsec - now.tv_nsec);
    if (ns < 0) ns = 0;
    ns += deadline.tv_nsec;
    deadline.tv_sec += ns / 1000000000LL;
    deadline.tv_nsec = ns % 1000000000LL;
    return sem_timedwait(sem, &deadline);
}

/* With FAKETIME_DONT_FAKE_MONOTONIC=1 (the wall clock moves, the time since boot does not: a
 * year back would make it negative), libfaketime still shifts the deadline of an absolute
 * clock_nanosleep on CLOCK_MONOTONIC, which time.sleep uses, and the call fails with EINVAL.
 * An absolute sleep on the monotonic clock becomes a relative one here. */
#include <dlfcn.h>
#include <errno.h>

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *request,
                    struct timespec *remain) {
    static int (*next)(clockid_t, int, const struct timespec *, struct timespec *);
    if (!next) next = dlsym(RTLD_NEXT, "clock_nanosleep");
    if ((flags & TIMER_ABSTIME) && clock == CLOCK_MONOTONIC) {
        struct timespec now, rel;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ns = (long long)(request->tv_sec - now.tv_sec) * 1000000000LL
                       + (request->tv_nsec - now.tv_nsec);
        if (ns <= 0) return 0;
        rel.tv_sec = ns / 1000000000LL;
        rel.tv_nsec = ns % 1000000000LL;
        return nanosleep(&rel, NULL) == 0 ? 0 : errno;
    }
    return next(clock, flags, request, remain);
}
