/*
 * switch.h - the goroutine switch fast path: gopark (and goparkunlock),
 * ready, gosched_from and what they use (fastpick, runqget, runqput,
 * execute_prep, gswitch, finish_after). The scheduler
 * proper is in proc.c; this is the part that every blocking call runs,
 * inline, so that it is compiled into gor_send, gor_recv, gor_select,
 * gor_sleep, the semaphores and gor_yield themselves.
 *
 * Why inline. A goroutine that was switched out resumes on the other
 * side of gor_ctx_switch and then returns through every frame between the
 * switch and the user's code. The CPU predicts returns from its return
 * stack buffer, which describes the stack that was running before the
 * switch, not this one: each of those returns mispredicts (~15-20 cycles
 * here). With gor_send -> chansend -> chanpark -> gopark -> gosched_from
 * as calls, a ping-pong round trip cost 122 ns; with the blocking path
 * flat (only gor_send's own frame left), 78 ns. So: nothing between a
 * public blocking call and gor_ctx_switch is a call of its own, except on
 * cold paths (execute_bind, canary_fatal) and after the switch
 * (finish_after_slow, whose call and return pair up; finish_after's
 * common cases, a yield and goparkunlock, are inline).
 *
 * What the switch does, and the invariants it keeps, are described in
 * proc.c's top comment ("Switching, and how gor differs from Go"); the
 * rules for the fields it touches are in runtime.h. Everything here runs
 * on the M that holds mp->p, as the goroutine gp running on it.
 */
#ifndef GOR_SWITCH_H
#define GOR_SWITCH_H

#include "runtime.h"

#ifdef GOR_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef GOR_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#pragma GCC visibility push(hidden)

/* proc.c: the cold and after-switch parts. */
void badgstatus(struct gor_g *gp, uint32_t from, uint32_t to);
_Noreturn void canary_fatal(struct gor_g *gp);
void execute_bind(struct gor_m *mp, struct gor_g *gp);
bool runqputslow(struct gor_p *pp, struct gor_g *gp, uint32_t head, uint32_t tail);
void finish_after_slow(struct gor_m *mp);

static inline __attribute__((always_inline)) void pstat_inc(atomic_u64 *c)
{
	atomic_store_u64(c, atomic_load_u64(c) + 1);
}

/* Moves gp from status `from` to `to`. With GOR_SCHED_DEBUG the old
 * status is checked, as Go's casgstatus always does; otherwise a store:
 * the hot path pays for no CAS. */
static inline void casgstatus(struct gor_g *gp, uint32_t from, uint32_t to)
{
#ifdef GOR_SCHED_DEBUG
	if (!atomic_cas_u32(&gp->status, from, to))
		badgstatus(gp, from, to);
#else
	(void)from;
	atomic_store_rel_u32(&gp->status, to);
#endif
}

/* stack_canary_ok, from the G's first line (gp->canary mirrors the stack
 * descriptor; execute_bind and gfput keep it so). */
static inline bool g_canary_ok(const struct gor_g *gp)
{
	return gp->canary == NULL || *gp->canary == STACK_CANARY;
}

/* Takes the next G from pp's queue. Owner only. */
static inline struct gor_g *runqget(struct gor_p *pp)
{
	struct gor_g *next = atomic_load_ptr(&pp->runnext);
	if (next != NULL && atomic_cas_ptr(&pp->runnext, next, NULL))
		return next;
	for (;;) {
		uint32_t head = atomic_load_acq_u32(&pp->runqhead);
		uint32_t tail = atomic_load_u32(&pp->runqtail);
		if (tail == head)
			return NULL;
		struct gor_g *gp = atomic_load_ptr(&pp->runq[head % RUNQ_SIZE]);
		if (atomic_cas_rel_u32(&pp->runqhead, head, head + 1))
			return gp;
	}
}

/* Puts gp on pp's queue; next puts it in runnext, kicking the old runnext
 * to the tail. Owner only. */
static inline void runqput(struct gor_p *pp, struct gor_g *gp, bool next)
{
	if (next) {
		gp = atomic_xchg_ptr(&pp->runnext, gp);
		if (gp == NULL)
			return;
	}
	for (;;) {
		uint32_t head = atomic_load_acq_u32(&pp->runqhead);
		uint32_t tail = atomic_load_u32(&pp->runqtail);
		if (tail - head < RUNQ_SIZE) {
			atomic_store_ptr(&pp->runq[tail % RUNQ_SIZE], gp);
			atomic_store_rel_u32(&pp->runqtail, tail + 1);
			return;
		}
		if (runqputslow(pp, gp, head, tail))
			return;
	}
}

/* goready's fast path, as Go's ready: for the hand-offs of channels and
 * select, where a call to goready and another to wakep were a tenth of a
 * hop. Traced runs and goroutines bound to a thread take goready. */
static inline void ready(struct gor_g *gp, bool next)
{
	if (unlikely(trace_enabled() || gp->lockedm != NULL)) {
		goready(gp, next);
		return;
	}
	casgstatus(gp, G_WAITING, G_RUNNABLE);
	runqput(getm()->p, gp, next);
	if (unlikely(atomic_load_sc_u32(&sched.npidle) != 0)) /* see wakep */
		wakep();
}

/* Switches this M from goroutine `from` to `to` (either may be g0) and
 * returns, on from's side, the M that later switches back to it. */
static inline struct gor_m *gswitch(struct gor_m *mp, struct gor_g *from, struct gor_g *to)
{
	mp->curg = to == &mp->g0 ? NULL : to;
	to->m = mp;
	if (unlikely(!g_canary_ok(from)))
		canary_fatal(from);
#ifdef GOR_ASAN
	__sanitizer_start_switch_fiber(atomic_load_u32(&from->status) == G_DEAD ? NULL : &from->asan_fake_stack,
				       to->stack.lo, stack_size(&to->stack));
#endif
#ifdef GOR_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	struct gor_m *back = gor_ctx_switch(&from->ctx, &to->ctx, mp);
#ifdef GOR_ASAN
	__sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
#endif
	return back;
}

/* Prepares gp to run on mp; a G that has never run is bound to a stack
 * first (execute_bind, out of line: it happens once per goroutine). */
static inline void execute_prep(struct gor_m *mp, struct gor_g *gp)
{
	struct gor_p *pp = mp->p;
	if (unlikely(trace_enabled())) traceGoStart(gp);
	if (unlikely(gp->ctx.sp == NULL))
		execute_bind(mp, gp);
	casgstatus(gp, G_RUNNABLE, G_RUNNING);
	pstat_inc(&pp->nswitch);
}

/* Takes the M's own goroutine from its mailbox, or NULL. Owner only.
 * A load and a plain store, no exchange: only the owner empties the
 * mailbox, and nobody fills it again before the goroutine taken has run
 * and parked (it is made runnable once per park). */
static inline struct gor_g *readyg_take(struct gor_m *mp)
{
	struct gor_g *gp = atomic_load_acq_ptr(&mp->readyg);
	if (gp != NULL)
		atomic_store_ptr(&mp->readyg, NULL);
	return gp;
}

/* Why fastpick found nothing. */
enum { PICK_EMPTY, PICK_SLOW };

/* A G to run next without leaving this goroutine's stack, or NULL with
 * *why = PICK_SLOW when the scheduler proper (on g0) must look: global
 * queue fairness, timers due, stop-the-world, a G bound to another M; or
 * *why = PICK_EMPTY when the local queue is simply empty. */
static inline __attribute__((always_inline)) struct gor_g *fastpick(struct gor_m *mp, struct gor_p *pp, int *why)
{
	struct gor_g *gp;
	*why = PICK_SLOW;
	if (unlikely(atomic_load_ptr(&mp->readyg) != NULL))
		return readyg_take(mp);
	if (unlikely(atomic_load_u32(&sched.gcwaiting)))
		return NULL;
	if (unlikely(++mp->schedtick % 61 == 0) && atomic_load_u32(&sched.runqsize) > 0)
		return NULL;
	int64_t when0 = (int64_t)atomic_load_u64(&pp->timers.when0);
	if (unlikely(when0 != INT64_MAX) && timer_due(when0))
		return NULL;
	gp = runqget(pp);
	if (gp == NULL) {
		*why = PICK_EMPTY;
		return NULL;
	}
	if (unlikely(gp->lockedm != NULL && gp->lockedm != mp)) {
		mp->pendingg = gp; /* g0 hands it over; see schedule */
		return NULL;
	}
	return gp;
}

/* Runs on the side that was switched to: publishes the goroutine that was
 * switched away from (see "Switching" in proc.c). A yield's re-queue and
 * goparkunlock's unlock are inline (finish_after_slow never sees
 * AFTER_RUNQ or AFTER_PARKUNLOCK); other parks and exits go out of line
 * (finish_after_slow in proc.c). */
static inline __attribute__((always_inline)) void finish_after(struct gor_m *mp)
{
	uint8_t after = mp->after;
	if (after != AFTER_RUNQ && after != AFTER_PARKUNLOCK) {
		if (after != AFTER_NONE)
			finish_after_slow(mp);
		return;
	}
	struct gor_g *gp = mp->aftergp;
	mp->after = AFTER_NONE;
	mp->aftergp = NULL;
	if (after == AFTER_RUNQ) {
		casgstatus(gp, G_RUNNING, G_RUNNABLE);
		runqput(mp->p, gp, false);
		/* Go's Gosched queues the G globally, where any P finds it;
		 * gor's stays on its P, so wake an M to take it when a P
		 * idles: else two goroutines that only yield keep sharing one
		 * P at MAXPROCS 2 whenever the first thief came too early
		 * (yield at P2 was 1.7 or 19 ns per switch, by luck). The test
		 * of gomaxprocs, which wakep_tail repeats for goready, keeps
		 * the call off a yield at MAXPROCS 1. */
		if (unlikely(atomic_load_u32(&gomaxprocs) > 1))
			wakep_tail(mp->p);
	} else {
		casgstatus(gp, G_RUNNING, G_WAITING);
		pstat_inc(&mp->p->npark);
		unlock(mp->unlockarg);
	}
}

/* Switches away from the running goroutine gp, which has been told what
 * happens to it (after), and returns when something resumes it. */
static inline __attribute__((always_inline)) void gosched_from(struct gor_g *gp, uint8_t after)
{
	struct gor_m *mp = gp->m;
	struct gor_p *pp = mp->p;
	int why;
	struct gor_g *next = fastpick(mp, pp, &why);
	if (next) {
		mp->after = after;
		mp->aftergp = gp;
		execute_prep(mp, next);
		mp = gswitch(mp, gp, next);
	} else if (after == AFTER_RUNQ && why == PICK_EMPTY &&
		   atomic_load_u32(&sched.runqsize) == 0) {
		/* a yield with nobody to yield to: no switch, but the same
		 * check as at one */
		if (unlikely(!g_canary_ok(gp)))
			canary_fatal(gp);
		return;
	} else {
		mp->after = after;
		mp->aftergp = gp;
		if (unlikely(trace_enabled())) traceGoStop(gp, after);
		mp = gswitch(mp, gp, &mp->g0);
	}
	finish_after(mp);
}

/* Parks the running goroutine gp until goready; the M runs `after`'s work
 * (with unlockf and arg) once gp is switched out. */
static inline __attribute__((always_inline)) void park(struct gor_g *gp, uint8_t after,
						       bool (*unlockf)(struct gor_g *, void *), void *arg,
						       enum waitreason r, void *waiting)
{
	struct gor_m *mp = gp->m;
	gp->waitreason = (uint16_t)r;
	gp->waiting = waiting;
	gp->waitsince = coarsetime();
	mp->unlockf = unlockf;
	mp->unlockarg = arg;
	gosched_from(gp, after);
	/* waitreason and waiting are left as they were: they mean something
	 * only while the status is G_WAITING, and every reader checks it. */
}

/* gopark for a caller that has the running goroutine gp at hand: getg
 * is a TLS load and two tests, and the compiler cannot reuse an earlier
 * one across the locked instructions in between. */
static inline __attribute__((always_inline)) void goparkg(struct gor_g *gp, bool (*unlockf)(struct gor_g *, void *),
							   void *arg, enum waitreason r, void *waiting)
{
	park(gp, AFTER_PARK, unlockf, arg, r, waiting);
}

/* Parks the running goroutine; see runtime.h's contract for unlockf. */
static inline __attribute__((always_inline)) void gopark(bool (*unlockf)(struct gor_g *, void *), void *arg,
							  enum waitreason r, void *waiting)
{
	goparkg(getg(), unlockf, arg, r, waiting);
}

/* Go's goparkunlock: parks gp, which holds l, and releases l once gp is
 * switched out. The unlock is inline on the other side: no unlockf to
 * call through a pointer, no out-of-line finish_after_slow (a tenth of
 * a channel hand-off). */
static inline __attribute__((always_inline)) void goparkunlock(struct gor_g *gp, gor_lock *l, enum waitreason r,
								void *waiting)
{
	park(gp, AFTER_PARKUNLOCK, NULL, l, r, waiting);
}

#pragma GCC visibility pop

#endif /* GOR_SWITCH_H */
