/*
 * waitgroup.c - gor_waitgroup, after Go's sync.WaitGroup.
 *
 * state_ is one 64-bit atomic word: the counter in the high 32 bits
 * (signed), the number of registered waiters in the low 32. sema_ is used
 * only for its address, the key under which waiters park in the semaphore
 * table (semwait).
 *
 * gor_wg_add changes the state with a CAS loop, so that an add that would
 * take the counter below zero (or past INT32_MAX) changes nothing and
 * fails with EINVAL. The add that takes the counter to zero while waiters
 * are registered replaces the whole state with 0 in that same CAS, and
 * then wakes the waiters by key. So the state "counter 0, waiters > 0" that
 * Go's WaitGroup passes through never exists: a waiter registers only
 * while the counter is positive, and its CAS and the releasing CAS cannot
 * both succeed on the same state.
 *
 * gor_wg_wait returns at once if the counter is 0; otherwise it registers
 * (waiters + 1) and parks while the state is not 0 (checked under the
 * bucket lock, see semwait), until the releasing add wakes it.
 *
 * Lifetime (CONTRACT.md, Sync): once a gor_wg_wait returns, no other call
 * touches wg. The releasing add's last access to wg is its CAS to 0; the
 * wake-up (semwakeall) uses wg's address only as a key. A woken waiter
 * reads wg again only when it was the only waiter (see reuse, below):
 * with several, another may have returned and let wg go. Go releases a
 * semaphore once per waiter instead, touching wg after the first waiter
 * may have returned; gor's wake-all avoids that.
 *
 * Misuse. Reusing wg (a new gor_wg_add from zero) while a previous wait
 * has not returned is fatal, as Go panics, when gor can see it: a
 * registered waiter that finds its registration consumed (waiters 0) but
 * the state not 0, or a sole woken waiter that finds the state not 0.
 */
#include <errno.h>

#include "sema.h"

static const char reused[] = "sync: WaitGroup is reused before previous Wait has returned";

_Static_assert(sizeof(atomic_u64) == sizeof(uint64_t), "gor_waitgroup.state_ is an atomic_u64");

static atomic_u64 *wgstate(gor_waitgroup *wg)
{
	return (atomic_u64 *)&wg->state_;
}

static int32_t counter(uint64_t s)
{
	return (int32_t)(s >> 32);
}

static uint32_t waiters(uint64_t s)
{
	return (uint32_t)s;
}

int gor_wg_add(gor_waitgroup *wg, int64_t n)
{
	preemptcheck_self();
	atomic_u64 *st = wgstate(wg);
	uint64_t s, ns;
	int64_t v;
	do {
		s = atomic_load_u64(st);
		v = counter(s) + n;
		if (v < 0 || v > INT32_MAX) {
			errno = EINVAL;
			return -1;
		}
		/* Down to zero: release the waiters and reset in one go. */
		ns = v == 0 ? 0 : ((uint64_t)(uint32_t)v << 32) | waiters(s);
	} while (!atomic_cas_u64(st, s, ns));
	if (v == 0 && waiters(s) != 0) {
		getg_adopt();
		semwakeall(&wg->sema_, waiters(s)); /* wg may be gone already */
	}
	return 0;
}

int gor_wg_done(gor_waitgroup *wg)
{
	return gor_wg_add(wg, -1);
}

/* semwait's check, under the bucket lock: park until the release. */
static bool wg_mustpark(void *arg)
{
	uint64_t s = atomic_load_acq_u64(wgstate(arg));
	if (s == 0)
		return false; /* released already */
	if (waiters(s) == 0)
		gor_fatal(reused, "gor_wg_add raised the counter again before this wait was woken");
	return true;
}

void gor_wg_wait(gor_waitgroup *wg)
{
	atomic_u64 *st = wgstate(wg);
	for (;;) {
		uint64_t s = atomic_load_acq_u64(st);
		if (counter(s) == 0)
			return;
		if (atomic_cas_u64(st, s, s + 1))
			break;
	}
	getg_adopt();
	uint32_t nwoken = semwait(&wg->sema_, wg_mustpark, wg, WAIT_WAITGROUP, wg);
	/* Alone, we may look again: nobody else can have let wg go. */
	if (nwoken == 1 && atomic_load_u64(st) != 0)
		gor_fatal(reused, "gor_wg_add raised the counter again before this wait returned");
}
