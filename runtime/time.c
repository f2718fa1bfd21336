/*
 * time.c - the monotonic clock (and coarseclock), timers, gor_sleep,
 * gor_after and gor_tick, after Go's time.go.
 *
 * Each P has a 4-ary min-heap of timers ordered by `when` (4-ary, as Go's,
 * because it is shallower and its children share cache lines). A timer is
 * added to the heap of the P that adds it; the M holding a P runs that P's
 * due timers from its scheduler loop, and an M that found no work runs
 * any P's due timers (checkalltimers in proc.c), so an idle P's timers fire
 * too. The earliest `when` of each heap is mirrored in timers.when0, an
 * atomic the scheduler reads without the lock; one sleeping M waits until
 * the earliest when0 of all Ps (see sleep_without_p in proc.c). The
 * switch compares when0 with coarseclock first and reads the clock only
 * for a timer within TIMER_LEAD (see "Is a timer due?" below).
 *
 * A timer's life (timer.state):
 *   IDLE -addtimer-> WAITING -due-> RUNNING -f returns-> IDLE
 *   (a periodic timer goes RUNNING -> WAITING, back in the heap, once f
 *    has returned), and deltimer takes WAITING -> IDLE.
 * A sleep is not a timer: gor_sleep puts the goroutine itself in the heap
 * (see HEAPENT_SLEEP), and its firing readies it.
 * Invariant: a timer is in a heap (t->pp set) exactly when it is WAITING;
 * while f runs it is in none, so no two Ms can run it at once.
 * deltimer of a RUNNING timer CASes it to RUNNING_DELETED, so that it is
 * not re-armed, and waits until f has returned: when deltimer returns, f
 * is not running and will not run again, so the caller may free what f
 * touches (a channel being freed, say).
 *
 * Locking: a P's timers.lock guards its heap, n, cap, and every timer's
 * idx and state while the timer is in that heap; a RUNNING timer's state
 * changes only by CAS (deltimer, timer_finish). A timer's heap entry
 * carries a copy of its when (heap[i].when == heap[i].t->when): t->when
 * is written only while t is in no heap. A sleeping goroutine is in at
 * most one heap, parked, until checktimers removes its entry and readies
 * it.
 * timer.pp is written under the old and new P's lock and read atomically
 * by deltimer, which re-checks it after locking. f runs without the lock,
 * because it may take sched.lock (lock order: sched.lock, then timers).
 * coarseclock: any thread's nanotime stores it, relaxed, with no lock; two
 * racing stores may leave the older reading, which still never runs
 * ahead of the clock, and that is all timer_due needs of it.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "runtime.h"
#include "chan.h"
#include "switch.h"

enum timer_state { TIMER_IDLE, TIMER_WAITING, TIMER_RUNNING, TIMER_RUNNING_DELETED };

/* The last clock reading anybody took, refreshed when it is COARSE_STEP
 * old: what only a person reads (how long a goroutine has waited, in
 * dumps) costs one load on every park instead of a clock read.
 *
 * Is a timer due? The switch asks at every hand-off while its P has a
 * timer set (fastpick in switch.h). A clock read (24 ns here, through the
 * vDSO) doubled the cost of a hand-off for any program with one ticker or
 * timeout pending: yield 12 -> 36 ns, threadring 31 -> 52. So timer_due
 * (runtime.h) reads the clock only for a timer within TIMER_LEAD of
 * coarseclock, which misses no due timer as long as coarseclock lags the
 * clock by at most TIMER_LEAD. That holds while a P runs: every nanotime
 * call refreshes coarseclock once it is COARSE_STEP old, and sysmon calls
 * nanotime at least every SYSMON_TICK_MAX. (sysmon sleeps without a
 * timeout only while every P is idle, when no switch asks and a sleeping M
 * waits for the earliest timer on the real clock; it reads the clock 20 us
 * after a P wakes it.) TIMER_LEAD is one whole tick more than that bound,
 * for a sysmon that runs late: only a sysmon later than that makes a timer
 * on a busy P fire late, by as much, and no later than the next clock read
 * anywhere. The scheduler's own look (schedule, on g0) reads the clock
 * each time. */
atomic_u64 coarseclock;

int64_t nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * GOR_SECOND + ts.tv_nsec;
	if (now - (int64_t)atomic_load_u64(&coarseclock) >= COARSE_STEP)
		atomic_store_u64(&coarseclock, (uint64_t)now);
	return now;
}

int64_t gor_now(void)
{
	preemptcheck_self();
	return nanotime();
}

/* ---- the heap, under timers.lock ------------------------------------ */

/* Heap entries carry their timer's when, so that sifting compares
 * within the array and reads no timer (each lives in some goroutine's
 * frame or channel: a cache miss apiece). Each move writes the moved
 * timer's idx, which deltimer needs to find it.
 *
 * A sleep has no timer at all: its entry holds the sleeping goroutine,
 * tagged HEAPENT_SLEEP, and firing it is goready. Nothing stops a sleep,
 * so it needs no idx (sifting past it writes nothing outside the array:
 * a hundred thousand sleepers waking in turn spent three quarters of
 * heapremove stalled on those writes, one cold line per heap level), and
 * no state: the woken sleeper has nothing to wait for, where a timer in
 * its frame had to be seen IDLE (the firing M done with it) before the
 * frame could go. */
#define HEAPENT_SLEEP ((uintptr_t)1)

static inline bool ent_sleep(struct heapent e)
{
	return (e.t & HEAPENT_SLEEP) != 0;
}

static inline struct timer *ent_timer(struct heapent e)
{
	return (struct timer *)e.t;
}

static inline struct gor_g *ent_g(struct heapent e)
{
	return (struct gor_g *)(e.t & ~HEAPENT_SLEEP);
}

static void heapset(struct timers *ts, uint32_t i, struct heapent e)
{
	ts->heap[i] = e;
	if (!ent_sleep(e))
		ent_timer(e)->idx = (int32_t)i;
}

/* Returns where heap[i] ended up. */
static uint32_t siftup(struct timers *ts, uint32_t i)
{
	struct heapent e = ts->heap[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 4;
		if (ts->heap[parent].when <= e.when)
			break;
		heapset(ts, i, ts->heap[parent]);
		i = parent;
	}
	heapset(ts, i, e);
	return i;
}

static void siftdown(struct timers *ts, uint32_t i)
{
	struct heapent e = ts->heap[i];
	for (;;) {
		uint32_t c = i * 4 + 1, best = i;
		int64_t w = e.when;
		for (uint32_t k = c; k < c + 4 && k < ts->n; k++) {
			if (ts->heap[k].when < w) {
				w = ts->heap[k].when;
				best = k;
			}
		}
		if (best == i)
			break;
		heapset(ts, i, ts->heap[best]);
		i = best;
	}
	heapset(ts, i, e);
}

static void heappush(struct timers *ts, struct heapent e)
{
	if (ts->n == ts->cap) {
		uint32_t cap = ts->cap ? ts->cap * 2 : 64;
		struct heapent *h = realloc(ts->heap, cap * sizeof *h);
		if (h == NULL)
			gor_fatal("out of memory", "cannot grow a timer heap");
		ts->heap = h;
		ts->cap = cap;
	}
	heapset(ts, ts->n++, e);
	siftup(ts, ts->n - 1);
}

static inline struct heapent timer_ent(struct timer *t)
{
	return (struct heapent){t->when, (uintptr_t)t};
}

/* Removes heap[i]: 0 when a timer fires, t->idx when deltimer stops t. */
static void heapremove(struct timers *ts, uint32_t i)
{
	struct heapent last = ts->heap[--ts->n];
	if (i == ts->n)
		return;
	heapset(ts, i, last);
	uint32_t j = siftup(ts, i);
	if (j == i)
		siftdown(ts, i);
}

static void updatewhen0(struct timers *ts)
{
	atomic_store_u64(&ts->when0, (uint64_t)(ts->n ? ts->heap[0].when : INT64_MAX));
}

/* ---- timer operations ------------------------------------------------ */

/* Pushes e and releases ts's lock, held by the caller; if e became the
 * earliest, publishes it in when0 and makes sure an M wakes for it. */
static void heappush_unlock(struct timers *ts, struct heapent e)
{
	heappush(ts, e);
	bool earliest = ts->heap[0].t == e.t;
	if (earliest)
		updatewhen0(ts);
	unlock(&ts->lock);
	if (earliest)
		wake_timedsleeper(e.when);
}

/* Adds t (IDLE) to pp's heap; pp is held by the caller. */
void addtimer(struct gor_p *pp, struct timer *t)
{
	struct timers *ts = &pp->timers;
	lock(&ts->lock);
	atomic_store_ptr(&t->pp, pp);
	atomic_store_u32(&t->state, TIMER_WAITING);
	heappush_unlock(ts, timer_ent(t)); /* t may fire and be freed after */
}

/* Queues the parked goroutine gp to be readied at `when`, on pp's heap;
 * pp is held by the caller. gor_sleep's timer, without a timer. */
static void addsleep(struct gor_p *pp, struct gor_g *gp, int64_t when)
{
	lock(&pp->timers.lock);
	heappush_unlock(&pp->timers, (struct heapent){when, (uintptr_t)gp | HEAPENT_SLEEP});
}

/* Stops t. True if it was pending and now will never run; false if it had
 * already run or was never added. Either way f is not running on return. */
bool deltimer(struct timer *t)
{
	for (;;) {
		struct gor_p *pp = atomic_load_acq_ptr(&t->pp);
		if (pp == NULL) {
			/* Not queued: idle, or its f runs now (RUNNING), and then
			 * we mark it so that a periodic one is not re-armed. */
			uint32_t st = atomic_load_acq_u32(&t->state);
			if (st == TIMER_IDLE)
				return false;
			if (st == TIMER_RUNNING_DELETED ||
			    (st == TIMER_RUNNING &&
			     atomic_cas_u32(&t->state, TIMER_RUNNING, TIMER_RUNNING_DELETED))) {
				while (atomic_load_acq_u32(&t->state) != TIMER_IDLE)
					sched_yield();
				return false;
			}
			sched_yield(); /* moving between states: look again */
			continue;
		}
		struct timers *ts = &pp->timers;
		lock(&ts->lock);
		if (atomic_load_ptr(&t->pp) != pp) {
			unlock(&ts->lock);
			continue;
		}
		/* Queued timers are WAITING: a running one is out of its heap.
		 * Only a timer with an index is ever deleted. */
		heapremove(ts, (uint32_t)t->idx);
		atomic_store_ptr(&t->pp, NULL);
		atomic_store_u32(&t->state, TIMER_IDLE);
		updatewhen0(ts);
		unlock(&ts->lock);
		return true;
	}
}

/* After f ran: a periodic timer goes back in the heap unless deltimer
 * marked it meanwhile; either way, f's end is published with release
 * order, since a deleter may free t as soon as it sees IDLE. Under the
 * lock of ts. */
static void timer_finish(struct gor_p *pp, struct timers *ts, struct timer *t, int64_t now)
{
	if (t->period > 0 && atomic_load_u32(&t->state) == TIMER_RUNNING) {
		/* Ticks missed while nobody ran timers are dropped, as a
		 * time.Ticker drops them. */
		t->when += t->period;
		if (t->when <= now)
			t->when = now + t->period;
		heappush(ts, timer_ent(t));
		atomic_store_ptr(&t->pp, pp);
		if (atomic_cas_rel_u32(&t->state, TIMER_RUNNING, TIMER_WAITING))
			return;
		heapremove(ts, (uint32_t)t->idx); /* deltimer got in first */
		atomic_store_ptr(&t->pp, NULL);
	}
	atomic_store_rel_u32(&t->state, TIMER_IDLE);
}

/* Runs pp's due timers; returns the next when (INT64_MAX if none). The
 * caller holds a P (not necessarily pp): f readies goroutines onto it.
 * A timer is taken out of its heap while f runs, so that no other M
 * (checkalltimers runs other Ps' timers) can run it twice at once. */
int64_t checktimers(struct gor_p *pp, int64_t now)
{
	struct timers *ts = &pp->timers;
	if ((int64_t)atomic_load_u64(&ts->when0) > now)
		return (int64_t)atomic_load_u64(&ts->when0);
	lock(&ts->lock);
	while (ts->n > 0 && ts->heap[0].when <= now) {
		struct heapent e = ts->heap[0];
		heapremove(ts, 0);
		if (ent_sleep(e)) {
			updatewhen0(ts);
			unlock(&ts->lock);
			if (unlikely(trace_enabled())) traceTimerFire(pp);
			goready(ent_g(e), false);
			lock(&ts->lock);
			continue;
		}
		struct timer *t = ent_timer(e);
		/* The next one's line, cold (it is in a channel or some
		 * goroutine's frame), comes in while f runs. */
		if (ts->n > 0 && !ent_sleep(ts->heap[0])) {
			struct timer *next = ent_timer(ts->heap[0]);
			__builtin_prefetch(next, 1);
			__builtin_prefetch((char *)(next + 1) - 1, 1);
		}
		atomic_store_ptr(&t->pp, NULL);
		atomic_store_u32(&t->state, TIMER_RUNNING);
		updatewhen0(ts);
		void (*f)(void *, int64_t) = t->f;
		void *arg = t->arg;
		unlock(&ts->lock);
		if (unlikely(trace_enabled())) traceTimerFire(pp);
		f(arg, now);
		lock(&ts->lock);
		timer_finish(pp, ts, t, now);
	}
	updatewhen0(ts);
	int64_t next = ts->n ? ts->heap[0].when : INT64_MAX;
	unlock(&ts->lock);
	return next;
}

int64_t timers_next(void)
{
	int64_t next = INT64_MAX;
	uint32_t n = atomic_load_u32(&gomaxprocs);
	for (uint32_t i = 0; i < n; i++) {
		int64_t w = (int64_t)atomic_load_u64(&allp[i]->timers.when0);
		if (w < next)
			next = w;
	}
	return next;
}

/* Moves every timer of a P being retired to `to`. The world is stopped:
 * no timer function runs. */
void timers_destroy(struct gor_p *pp, struct gor_p *to)
{
	struct timers *ts = &pp->timers, *dst = &to->timers;
	lock(&ts->lock);
	lock(&dst->lock);
	for (uint32_t i = 0; i < ts->n; i++) {
		struct heapent e = ts->heap[i];
		if (!ent_sleep(e))
			atomic_store_ptr(&ent_timer(e)->pp, to);
		heappush(dst, e);
	}
	ts->n = 0;
	updatewhen0(ts);
	updatewhen0(dst);
	unlock(&dst->lock);
	unlock(&ts->lock);
}

/* ---- gor_sleep ------------------------------------------------------- */

/* Runs after the sleeper gp is switched out, so that it cannot be readied
 * before it is parked. arg: the wake-up time, in gor_sleep's frame. */
static bool sleep_addtimer(struct gor_g *gp, void *arg)
{
	addsleep(getm()->p, gp, *(int64_t *)arg);
	return true;
}

void gor_sleep(int64_t ns)
{
	struct gor_g *gp = getg_adopt();
	if (ns <= 0)
		return;
	int64_t now = nanotime();
	int64_t when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
	goparkg(gp, sleep_addtimer, &when, WAIT_SLEEP, NULL);
}

/* ---- gor_after and gor_tick -------------------------------------------- */

/* Timer function of gor_after/gor_tick: sends now without blocking. A
 * full buffer drops the value, as time.Tick drops ticks for a slow
 * receiver. The channel outlives this call: gor_chan_free stops the
 * timer (deltimer waits for us) before freeing it. */
static void sendtime(void *arg, int64_t now)
{
	chan_trysend_from_timer(arg, &now);
}

static gor_chan *timerchan(int64_t ns, int64_t period)
{
	struct gor_g *gp = getg_adopt();
	struct gor_chan *c = chan_make_timer(sizeof(int64_t), 1);
	if (c == NULL)
		return NULL;
	struct timer *t = c->timer;
	int64_t now = nanotime();
	if (ns < 0)
		ns = 0;
	t->when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
	t->period = period;
	t->f = sendtime;
	t->arg = c;
	addtimer(gp->m->p, t);
	return c;
}

gor_chan *gor_after(int64_t ns)
{
	return timerchan(ns, 0);
}

gor_chan *gor_tick(int64_t period)
{
	if (period <= 0) {
		errno = EINVAL;
		return NULL;
	}
	return timerchan(period, period);
}
