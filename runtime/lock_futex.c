/*
 * lock_futex.c - the runtime's mutex and notes, on Linux futexes, after
 * Go's runtime/lock_futex.go.
 *
 * A gor_lock's key is 0 (unlocked), 1 (locked) or 2 (locked, and someone
 * may sleep on it). lock first swaps in 1, then spins a little (these
 * locks guard short sections, and waking a sleeping thread costs several
 * microseconds on a VM), then marks the key 2 and sleeps. unlock swaps in
 * 0 and wakes one sleeper only if the old value was 2. The uncontended
 * swaps are inline in runtime.h (every channel operation takes a lock);
 * this file has the contended halves, lock_slow and unlock_wake.
 *
 * A note's key is 0 (clear) or 1 (woken). notewakeup stores 1 and wakes;
 * notesleep waits until it reads 1. The store and the load are
 * release/acquire, so everything the waker wrote before notewakeup is
 * visible after notesleep returns: that, not the futex call, is the
 * happens-before edge (ThreadSanitizer sees it through the atomics).
 *
 * Spurious futex returns (EINTR, EAGAIN when the key changed) are absorbed
 * by re-reading the key; no caller ever sees one.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

enum { ACTIVE_SPIN = 64, PASSIVE_SPIN = 1 };

static void futexsleep(atomic_u32 *addr, uint32_t val, int64_t ns)
{
	struct timespec ts, *tsp = NULL;
	if (ns >= 0) {
		ts.tv_sec = ns / GOR_SECOND;
		ts.tv_nsec = ns % GOR_SECOND;
		tsp = &ts;
	}
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

static void futexwakeup(atomic_u32 *addr, int n)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
	__asm__ volatile("pause");
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* lock's contended path; the uncontended swap is inline in runtime.h. */
void lock_slow(gor_lock *l, uint32_t v)
{
	/* v is LOCKED or SLEEPING. Whatever we store from now on must not
	 * downgrade SLEEPING to LOCKED, or a sleeper would never be woken:
	 * remember the strongest state seen in wait. */
	uint32_t wait = v;
	for (;;) {
		for (int i = 0; i < ACTIVE_SPIN; i++) {
			while (atomic_load_u32(&l->key) == LOCK_UNLOCKED)
				if (atomic_cas_u32(&l->key, LOCK_UNLOCKED, wait))
					return;
			cpu_relax();
		}
		for (int i = 0; i < PASSIVE_SPIN; i++) {
			while (atomic_load_u32(&l->key) == LOCK_UNLOCKED)
				if (atomic_cas_u32(&l->key, LOCK_UNLOCKED, wait))
					return;
			sched_yield();
		}
		v = atomic_xchg_u32(&l->key, LOCK_SLEEPING);
		if (v == LOCK_UNLOCKED)
			return;
		wait = LOCK_SLEEPING;
		futexsleep(&l->key, LOCK_SLEEPING, -1);
	}
}

/* unlock found the key SLEEPING: somebody may wait in futexsleep. */
void unlock_wake(gor_lock *l)
{
	futexwakeup(&l->key, 1);
}

void noteclear(note *n)
{
	atomic_store_u32(&n->key, 0);
}

void notewakeup(note *n)
{
	atomic_store_rel_u32(&n->key, 1);
	futexwakeup(&n->key, 1);
}

void notesleep(note *n)
{
	while (atomic_load_acq_u32(&n->key) == 0)
		futexsleep(&n->key, 0, -1);
}

bool notetsleep(note *n, int64_t deadline)
{
	for (;;) {
		if (atomic_load_acq_u32(&n->key) != 0)
			return true;
		if (deadline == GOR_NEVER) {
			futexsleep(&n->key, 0, -1);
			continue;
		}
		int64_t ns = deadline - nanotime();
		if (ns <= 0)
			return atomic_load_acq_u32(&n->key) != 0;
		futexsleep(&n->key, 0, ns);
	}
}
