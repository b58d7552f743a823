/* A call Debian's libfaketime 0.9.10 gets wrong, for scripts/shifted-clock.
 *
 * libfaketime wraps sem_timedwait but not sem_clockwait, which CPython 3.11 uses for every timed
 * lock wait (threading.Event.wait, Lock.acquire(timeout=...)): the deadline is on the shifted
 * monotonic clock while the kernel compares it with the real one, so a 0.3 s wait lasts as long
 * as the shift. Here the call becomes a sem_timedwait on the real-time clock, which libfaketime
 * translates.
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
