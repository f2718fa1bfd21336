/*
 * mutex.c - gor_mutex, after Go's sync.Mutex.
 *
 * The state word (m->state_) holds
 *   MUTEX_LOCKED    someone holds the lock;
 *   MUTEX_WOKEN     a goroutine is awake and competing for it (a woken
 *                   waiter, or a spinner), so unlock need not wake another;
 *   MUTEX_STARVING  starvation mode, see below;
 *   the number of goroutines parked, or committed to park, on m->sema_,
 *   from bit MUTEX_WAITER_SHIFT up.
 * Only atomic operations touch it; the waiters themselves are kept by the
 * semaphore table (sema.c) under m->sema_'s address.
 *
 * Normal mode: waiters queue FIFO, but a woken waiter competes with the
 * goroutines arriving just now, which are running already and usually
 * win; a loser goes back to the front of the queue. Throughput is good
 * because the lock rarely waits for a goroutine to be scheduled. A waiter
 * that has waited more than STARVATION_NS switches the mutex to
 * starvation mode: unlock hands the lock straight to the first waiter,
 * newcomers neither take it nor spin but queue at the back. The waiter
 * that gets it leaves starvation mode when it is the last waiter or has
 * not waited long itself. So no waiter is starved for long.
 *
 * Fast paths: an uncontended lock is one CAS, an uncontended unlock one
 * atomic add. They do not adopt the calling thread; any path that may park
 * or wake a goroutine does (getg_adopt), as every public entry must before
 * it touches the scheduler.
 *
 * Lifetime (CONTRACT.md, Sync): once a goroutine's gor_mutex_lock returns,
 * no other call still touches m. An unlock's last access to m is its add
 * on the state, or, when it must wake a waiter, semrelease's increment of
 * sema_ (and in starvation mode the handoff, which happens while the
 * woken waiter is still parked inside its gor_mutex_lock). A goroutine
 * that is counted as a waiter can only get the lock through the semaphore,
 * that is after those accesses.
 */
#include "sema.h"

enum {
	MUTEX_LOCKED = 1,
	MUTEX_WOKEN = 2,
	MUTEX_STARVING = 4,
	MUTEX_WAITER_SHIFT = 3,
	MUTEX_WAITER = 1 << MUTEX_WAITER_SHIFT,
	ACTIVE_SPIN = 4,        /* spin rounds before parking */
	ACTIVE_SPIN_CNT = 100,  /* pause instructions per round */
};
/* Go spins 4 x 30 pauses. A spinner only spins while its P has nothing
 * else to run, so the alternative to spinning is an idle P whose M sleeps
 * and must later be woken (5-15 us on the development VM). A pause takes
 * about 25 ns on its EPYC, so 4 x 100 pauses (10 us) spins for about one
 * such wake-up. Measured with bench/mutex at P2 (4 goroutines, one lock):
 * 30 pauses 14.2 ns per lock, 100 pauses 10.2 ns, 200 pauses 9.2-11 ns;
 * Go 1.19 11-14.5 ns in the same runs. Longer rounds also read the lock's
 * line less often, so the holder keeps it for longer runs. */
#define STARVATION_NS GOR_MILLISECOND

_Static_assert(sizeof(atomic_u32) == sizeof(int32_t), "gor_mutex.state_ is an atomic_u32");

static atomic_u32 *mstate(gor_mutex *m)
{
	return (atomic_u32 *)&m->state_;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
	__asm__ volatile("pause");
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Whether spinning can pay off, as Go's sync_runtime_canSpin: only for a
 * few rounds, on a multicore machine with MAXPROCS > 1, while at least
 * one other P is running (it may be the holder, about to unlock) and our
 * own P has no other goroutine that could use the time better. */
static bool canspin(int iter)
{
	static atomic_u32 ncpu; /* cached: gor_numcpu asks the kernel */
	if (iter >= ACTIVE_SPIN)
		return false;
	uint32_t n = atomic_load_u32(&ncpu);
	if (n == 0) {
		n = (uint32_t)gor_numcpu();
		atomic_store_u32(&ncpu, n);
	}
	if (n <= 1)
		return false;
	uint32_t busy = atomic_load_u32(&sched.npidle) + atomic_load_u32(&sched.nmspinning) + 1;
	if (atomic_load_u32(&gomaxprocs) <= busy)
		return false;
	struct gor_p *pp = getm()->p;
	return atomic_load_u32(&pp->runqhead) == atomic_load_u32(&pp->runqtail) &&
	       atomic_load_ptr(&pp->runnext) == NULL;
}

static void dospin(void)
{
	for (int i = 0; i < ACTIVE_SPIN_CNT; i++)
		cpu_relax();
}

/* The state a lock attempt installs over old: see lockslow. */
static uint32_t lockstate(uint32_t old, bool starving, bool awoke)
{
	uint32_t new = old;
	if (!(old & MUTEX_STARVING))
		new |= MUTEX_LOCKED; /* a starving mutex belongs to the queue */
	if (old & (MUTEX_LOCKED | MUTEX_STARVING))
		new += MUTEX_WAITER;
	/* Switch to starvation mode only if it is still locked: unlock
	 * expects a starving mutex to have waiters. */
	if (starving && (old & MUTEX_LOCKED))
		new |= MUTEX_STARVING;
	if (awoke) {
		if (!(new & MUTEX_WOKEN))
			gor_fatal("sync: inconsistent mutex state", NULL);
		new &= ~(uint32_t)MUTEX_WOKEN;
	}
	return new;
}

/* Woken in starvation mode: the lock was handed to us. Take it, and
 * leave starvation mode if we are the last waiter or did not wait long. */
static void takehandoff(gor_mutex *m, uint32_t old, bool starving)
{
	if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) || (old >> MUTEX_WAITER_SHIFT) == 0)
		gor_fatal("sync: inconsistent mutex state", NULL);
	uint32_t delta = MUTEX_LOCKED - MUTEX_WAITER;
	if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
		delta -= MUTEX_STARVING;
	atomic_add_u32(mstate(m), (int32_t)delta);
}

/* Out of line, as unlockslow: the fast paths stay a few instructions. */
static __attribute__((noinline)) void lockslow(gor_mutex *m)
{
	getg_adopt();
	atomic_u32 *st = mstate(m);
	int64_t waitstart = 0;
	bool starving = false, awoke = false;
	int iter = 0;
	uint32_t old = atomic_load_u32(st);
	for (;;) {
		if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && canspin(iter)) {
			/* Tell unlock not to wake a waiter: we are here. */
			if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
			    atomic_cas_u32(st, old, old | MUTEX_WOKEN))
				awoke = true;
			dospin();
			iter++;
			old = atomic_load_u32(st);
			continue;
		}
		uint32_t new = lockstate(old, starving, awoke);
		if (!atomic_cas_u32(st, old, new)) {
			old = atomic_load_u32(st);
			continue;
		}
		if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
			return; /* our CAS took it */
		/* We are a counted waiter now. One that waited before goes
		 * back to the front of the queue. */
		bool lifo = waitstart != 0;
		if (waitstart == 0)
			waitstart = nanotime();
		semacquire(&m->sema_, lifo, WAIT_MUTEX, m);
		starving = starving || nanotime() - waitstart > STARVATION_NS;
		old = atomic_load_u32(st);
		if (old & MUTEX_STARVING) {
			takehandoff(m, old, starving);
			return;
		}
		awoke = true;
		iter = 0;
	}
}

void gor_mutex_lock(gor_mutex *m)
{
	if (likely(atomic_cas_u32(mstate(m), 0, MUTEX_LOCKED)))
		return;
	lockslow(m);
}

int gor_mutex_trylock(gor_mutex *m)
{
	atomic_u32 *st = mstate(m);
	uint32_t old = atomic_load_u32(st);
	if (old & (MUTEX_LOCKED | MUTEX_STARVING))
		return 0;
	return atomic_cas_u32(st, old, old | MUTEX_LOCKED);
}

/* new: the state right after our add removed MUTEX_LOCKED. */
static __attribute__((noinline)) void unlockslow(gor_mutex *m, uint32_t new)
{
	if (!((new + MUTEX_LOCKED) & MUTEX_LOCKED))
		gor_fatal("sync: unlock of unlocked mutex", NULL);
	getg_adopt();
	if (new & MUTEX_STARVING) {
		semrelease(&m->sema_, true); /* the first waiter gets it */
		return;
	}
	atomic_u32 *st = mstate(m);
	uint32_t old = new;
	for (;;) {
		/* Nobody to wake, or somebody else is already handling it:
		 * the lock was taken, a goroutine is awake, or starvation
		 * mode began (its handoff is the new holder's business). */
		if ((old >> MUTEX_WAITER_SHIFT) == 0 ||
		    (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
			return;
		/* Take the right to wake one waiter. */
		new = (old - MUTEX_WAITER) | MUTEX_WOKEN;
		if (atomic_cas_u32(st, old, new)) {
			semrelease(&m->sema_, false);
			return;
		}
		old = atomic_load_u32(st);
	}
}

void gor_mutex_unlock(gor_mutex *m)
{
	uint32_t new = atomic_add_u32(mstate(m), -MUTEX_LOCKED);
	if (unlikely(new != 0))
		unlockslow(m, new);
	preemptcheck_self(); /* here, not in lock: never yield holding it */
}
