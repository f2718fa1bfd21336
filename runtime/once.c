/*
 * once.c - gor_once, Go's sync.Once with a wait list instead of a mutex.
 *
 * done_ is the whole state: ONCE_IDLE, ONCE_RUNNING (some caller is in
 * fn) or ONCE_DONE. The fast path is one acquire load that sees ONCE_DONE,
 * which pairs with the runner's release of it, so fn's effects are visible
 * to every caller that returns. The first caller to CAS IDLE -> RUNNING
 * runs fn; the others park (semwait, keyed by &done_) while it is RUNNING.
 * The runner swaps in ONCE_DONE and wakes them by key.
 *
 * Why not Go's mutex: Go's runner stores done = 1 and then unlocks its
 * mutex, so a caller arriving in between sees done, returns, and may let
 * the Once go while the runner still writes to it. The lifetime rule
 * (CONTRACT.md, Sync: once a gor_once_do returns, no other call touches
 * the object) needs the publication of "done" to be the runner's last
 * access: here it is the swap, after which the wake-up uses &done_ only as
 * a key, and the woken callers return without looking at o again. m_ is
 * therefore unused.
 *
 * fn must return: a gor_exit inside it leaves the Once RUNNING and its
 * waiters parked, and so does a recursive gor_once_do on the same Once
 * (in Go both deadlock too, bar Goexit's deferred calls).
 */
#include "sema.h"

enum { ONCE_IDLE, ONCE_DONE, ONCE_RUNNING };

_Static_assert(sizeof(atomic_u32) == sizeof(uint32_t), "gor_once.done_ is an atomic_u32");

static atomic_u32 *oncestate(gor_once *o)
{
	return (atomic_u32 *)&o->done_;
}

static bool once_mustpark(void *arg)
{
	return atomic_load_acq_u32(oncestate(arg)) == ONCE_RUNNING;
}

static void onceslow(gor_once *o, void (*fn)(void *), void *arg)
{
	atomic_u32 *st = oncestate(o);
	getg_adopt();
	if (atomic_cas_u32(st, ONCE_IDLE, ONCE_RUNNING)) {
		fn(arg);
		atomic_xchg_u32(st, ONCE_DONE); /* our last access to o */
		semwakeall(st, 0);
		return;
	}
	semwait(st, once_mustpark, o, WAIT_ONCE, o);
}

void gor_once_do(gor_once *o, void (*fn)(void *), void *arg)
{
	if (likely(atomic_load_acq_u32(oncestate(o)) == ONCE_DONE))
		return;
	onceslow(o, fn, arg);
}
