/*
 * select.c - gor_select, gor_try_select and gor_select_until, after Go's
 * runtime/select.go (selectgo).
 *
 * One select, on the calling goroutine's stack:
 *   - the live cases (those with a channel) in a random poll order, which
 *     makes the choice among ready cases uniform, and in lock order (by
 *     channel address), in which every distinct channel is locked once:
 *     the same channel may appear in several cases, even as a send and a
 *     receive, and a select must not deadlock on itself;
 *   - pass 1, with every channel locked: the first case in poll order
 *     that can proceed does, and the select returns;
 *   - pass 2: a sudog per case (an array in the select's frame) goes on
 *     its channel's queue, the goroutine parks (WAIT_SELECT), and
 *     selparkcommit unlocks the channels once it is switched out;
 *   - on wake-up, with every channel locked again, the sudog that
 *     completed is in gp->param; pass 3 takes the others off their
 *     queues.
 *
 * Wake-up protocol. Several goroutines may find this select's sudogs at
 * once, on different channels. Each waker claims the select by moving
 * gp->selectdone from 0 to 1 (CAS, in waitq_dequeue) and only the winner
 * completes its case and readies the goroutine; the losers drop the
 * sudog and look for another waiter. gor_select_until adds a timer to the
 * same race: its function claims selectdone the same way and readies the
 * goroutine only if it won, leaving gp->param NULL, which means "timed
 * out". The timer is added in selparkcommit, after the goroutine is
 * switched out, so that it never readies a running goroutine. On wake-up
 * the timer is deleted first (when deltimer returns its function is not
 * running and never will), then the channels are locked, and only then is
 * selectdone reset to 0, so no waker can claim a select that is over.
 *
 * Lifetimes. The sudogs, the orders and the timer are in the selecting
 * goroutine's frame. A woken goroutine cannot return before it has locked
 * every channel again, so selparkcommit may touch them until it has
 * unlocked the last channel, and never after: it adds the timer first
 * (addtimer reads it after dropping the timer lock), then unlocks.
 *
 * Locking rules: channel locks in lock order, each once, released in
 * reverse. While they are held, selparkcommit's addtimer takes a P's
 * timer lock and maybe sched.lock: the order is channel locks, then a
 * timer lock or sched.lock, one at a time and never nested (addtimer
 * drops the timer lock before wake_timedsleeper takes sched.lock), and
 * nothing takes a channel lock while holding either of the others (timer functions run unlocked, goready is called
 * after the channel locks are released). gp->selectdone, gp->param and
 * gp->waitsudogs are written by the selecting goroutine with its channels
 * locked (or before it has queued anything), and by the one waker (or
 * timer) that won.
 */
#include <errno.h>
#include <stdlib.h>

#include "chan.h"
#include "switch.h"

/* Selects with up to this many live cases keep everything in their frame. */
enum { SELECT_STACK_CASES = 16 };

struct selstate {
	gor_case *cases;
	size_t n;              /* live cases */
	uint32_t *pollorder;   /* case indices, randomly permuted */
	uint32_t *lockorder;   /* case indices, by channel address */
	struct sudog *sgs;     /* sgs[i] waits for case lockorder[i] */
	struct timer *timer;   /* the deadline, or NULL */
};

static inline int seterr(int e)
{
	errno = e;
	return -1;
}

static inline struct gor_chan *lockchan(const struct selstate *s, size_t i)
{
	return s->cases[s->lockorder[i]].chan;
}

static inline struct waitq *caseq(const gor_case *k)
{
	return k->op == GOR_RECV ? &k->chan->recvq : &k->chan->sendq;
}

/* ---- orders --------------------------------------------------------------- */

static void shufflecases(struct selstate *s, size_t ncases)
{
	size_t n = 0;
	for (size_t i = 0; i < ncases; i++) {
		if (s->cases[i].chan == NULL)
			continue;
		uint32_t j = fastrandn((uint32_t)n + 1);
		s->pollorder[n] = s->pollorder[j];
		s->pollorder[j] = (uint32_t)i;
		n++;
	}
}

/* Both orders for two live cases, a and b (a < b): one random bit and
 * one comparison, where shufflecases and sortlockorder would loop. Two
 * cases are the usual select. */
static inline void orders2(struct selstate *s, uint32_t a, uint32_t b)
{
	if (fastrandn(2)) {
		uint32_t t = a;
		a = b;
		b = t;
	}
	s->pollorder[0] = a;
	s->pollorder[1] = b;
	if ((uintptr_t)s->cases[b].chan < (uintptr_t)s->cases[a].chan) {
		uint32_t t = a;
		a = b;
		b = t;
	}
	s->lockorder[0] = a;
	s->lockorder[1] = b;
}

static inline bool chanless(const struct selstate *s, uint32_t a, uint32_t b)
{
	return (uintptr_t)s->cases[a].chan < (uintptr_t)s->cases[b].chan;
}

/* Sorts the poll order by channel address into lockorder: by insertion
 * for the usual handful of cases (one compare for two), else by heap
 * sort, n log n with no recursion and no extra space, as in Go (which
 * heap-sorts always). */
static void sortlockorder(struct selstate *s)
{
	uint32_t *o = s->lockorder;
	size_t n = s->n;
	if (n <= 8) {
		for (size_t i = 0; i < n; i++) {
			uint32_t x = s->pollorder[i];
			size_t j = i;
			for (; j > 0 && chanless(s, x, o[j - 1]); j--)
				o[j] = o[j - 1];
			o[j] = x;
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t x = s->pollorder[i];
		size_t j = i;
		for (; j > 0 && chanless(s, o[(j - 1) / 2], x); j = (j - 1) / 2)
			o[j] = o[(j - 1) / 2];
		o[j] = x;
	}
	for (size_t i = n; i-- > 1;) {
		uint32_t x = o[i];
		o[i] = o[0];
		size_t j = 0;
		for (;;) {
			size_t k = 2 * j + 1;
			if (k >= i)
				break;
			if (k + 1 < i && chanless(s, o[k], o[k + 1]))
				k++;
			if (!chanless(s, x, o[k]))
				break;
			o[j] = o[k];
			j = k;
		}
		o[j] = x;
	}
}

static void sellock(const struct selstate *s)
{
	struct gor_chan *last = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct gor_chan *c = lockchan(s, i);
		if (c != last)
			lock(&c->lock);
		last = c;
	}
}

static void selunlock(const struct selstate *s)
{
	for (size_t i = s->n; i-- > 0;) {
		struct gor_chan *c = lockchan(s, i);
		if (i > 0 && c == lockchan(s, i - 1))
			continue; /* unlocked on the next round */
		unlock(&c->lock);
	}
}

/* ---- pass 1 ------------------------------------------------------------- */

/* Completes receive case k if it can proceed, with every channel locked;
 * on success the channels are unlocked. */
static bool tryrecvcase(const struct selstate *s, gor_case *k)
{
	struct gor_chan *c = k->chan;
	struct sudog *sg = waitq_dequeue(&c->sendq);
	if (sg) {
		struct gor_g *gp = chan_recvfrom(c, sg, k->elem);
		selunlock(s);
		ready(gp, true);
		k->ok = 1;
	} else if (atomic_load_u64(&c->qcount) > 0) {
		chan_bufget(c, k->elem);
		selunlock(s);
		k->ok = 1;
	} else if (atomic_load_u32(&c->closed)) {
		selunlock(s);
		chan_zero(c, k->elem);
		k->ok = 0;
	} else {
		return false;
	}
	return true;
}

static bool trysendcase(const struct selstate *s, gor_case *k)
{
	struct gor_chan *c = k->chan;
	struct sudog *sg;
	if (atomic_load_u32(&c->closed)) {
		selunlock(s);
		k->ok = 0;
	} else if ((sg = waitq_dequeue(&c->recvq)) != NULL) {
		struct gor_g *gp = chan_sendto(c, sg, k->elem);
		selunlock(s);
		ready(gp, true);
		k->ok = 1;
	} else if (atomic_load_u64(&c->qcount) < c->dataqsiz) {
		chan_bufput(c, k->elem);
		selunlock(s);
		k->ok = 1;
	} else {
		return false;
	}
	return true;
}

/* The index of the case that proceeded, or -1 with the locks held. */
static int pass1(const struct selstate *s)
{
	for (size_t i = 0; i < s->n; i++) {
		gor_case *k = &s->cases[s->pollorder[i]];
		if (k->op == GOR_RECV ? tryrecvcase(s, k) : trysendcase(s, k))
			return (int)s->pollorder[i];
	}
	return -1;
}

/* ---- passes 2 and 3 ----------------------------------------------------- */

static void enqueueall(const struct selstate *s, struct gor_g *gp)
{
	struct sudog **link = &gp->waitsudogs;
	for (size_t i = 0; i < s->n; i++) {
		gor_case *k = &s->cases[s->lockorder[i]];
		struct sudog *sg = &s->sgs[i];
		*sg = (struct sudog){.g = gp, .elem = k->elem, .c = k->chan, .isselect = true};
		*link = sg;
		link = &sg->waitlink;
		waitq_enqueue(caseq(k), sg);
	}
	*link = NULL;
}

/* Runs once the goroutine is switched out (gopark's unlockf). Its sudogs
 * are in lock order, so each channel is unlocked after its last one; the
 * goroutine may be readied as soon as the first unlock, but it cannot
 * leave the select before the last one. */
static bool selparkcommit(struct gor_g *gp, void *timer)
{
	if (timer)
		addtimer(getm()->p, timer);
	struct gor_chan *last = NULL;
	for (struct sudog *sg = gp->waitsudogs; sg; sg = sg->waitlink) {
		if (last && sg->c != last)
			unlock(&last->lock);
		last = sg->c;
	}
	if (last)
		unlock(&last->lock);
	return true;
}

/* The deadline's timer function: claims the select, as a waker would. */
static void selecttimeout(void *arg, int64_t now)
{
	struct gor_g *gp = arg;
	(void)now;
	if (atomic_cas_u32(&gp->selectdone, 0, 1))
		goready(gp, false);
}

/* Pass 3: dequeues the sudogs that lost; returns the winning case, or -1
 * if the deadline won. Every channel is locked. */
static int pass3(const struct selstate *s, struct sudog *won)
{
	int casi = -1;
	for (size_t i = 0; i < s->n; i++) {
		gor_case *k = &s->cases[s->lockorder[i]];
		if (&s->sgs[i] == won) {
			casi = (int)s->lockorder[i];
			k->ok = won->success;
		} else {
			waitq_remove(caseq(k), &s->sgs[i]);
		}
	}
	return casi;
}

/* Passes 2 and 3, entered with the channels locked; returns the case
 * index or -1 with errno ETIMEDOUT. */
static inline __attribute__((always_inline)) int selectpark(struct selstate *s, struct gor_g *gp, int64_t deadline)
{
	struct timer t = {.when = deadline, .f = selecttimeout, .arg = gp};
	s->timer = deadline == GOR_NEVER ? NULL : &t;
	gp->param = NULL;
	enqueueall(s, gp);
	goparkg(gp, selparkcommit, s->timer, WAIT_SELECT, NULL);
	if (s->timer)
		deltimer(s->timer);
	sellock(s);
	atomic_store_u32(&gp->selectdone, 0);
	struct sudog *won = gp->param;
	gp->param = NULL;
	gp->waitsudogs = NULL;
	int casi = pass3(s, won);
	selunlock(s);
	if (casi < 0) {
		if (s->timer == NULL)
			gor_fatal("select: woken with no case and no deadline", NULL);
		return seterr(ETIMEDOUT);
	}
	return casi;
}

/* ---- the entry points --------------------------------------------------- */

/* A select with exactly one live case and no deadline is that channel
 * operation, as Go compiles it. */
static inline __attribute__((always_inline)) int selectone(struct gor_g *gp, gor_case *k, int casi, bool block)
{
	enum chan_result r = k->op == GOR_RECV ? chanrecv(gp, k->chan, k->elem, block)
					       : chansend(gp, k->chan, k->elem, block);
	if (r == CHAN_WOULDBLOCK)
		return seterr(EAGAIN);
	k->ok = r == CHAN_OK;
	return casi;
}

/* Checks the cases: the number of cases with a channel, with *first and
 * *last the indices of the first and the last of them, or -1 EINVAL.
 * Inline, counting in registers: it runs on every select. */
static inline __attribute__((always_inline)) long countcases(const gor_case *cases, size_t n, int *first, int *last)
{
	if (n > 0 && (cases == NULL || n > INT32_MAX))
		return seterr(EINVAL);
	long live = 0;
	int f = -1, l = -1;
	for (size_t i = 0; i < n; i++) {
		const gor_case *k = &cases[i];
		if (k->chan == NULL)
			continue;
		/* a receive may drop its value (elem NULL); a send may not */
		if (k->op != GOR_RECV && (k->op != GOR_SEND || (k->elem == NULL && k->chan->elemsize)))
			return seterr(EINVAL);
		if (live++ == 0)
			f = (int)i;
		l = (int)i;
	}
	*first = f;
	*last = l;
	return live;
}

/* Passes 1 to 3 over the live cases, with the orders and sudogs in
 * s (sized by the caller). */
static inline __attribute__((always_inline)) int selectcases(struct gor_g *gp, struct selstate *s, size_t ncases,
							   int first, int last, bool block, int64_t deadline)
{
	if (s->n == 2) {
		orders2(s, (uint32_t)first, (uint32_t)last);
	} else {
		shufflecases(s, ncases);
		sortlockorder(s);
	}
	sellock(s);
	int casi = pass1(s);
	if (casi >= 0)
		return casi;
	if (!block) {
		selunlock(s);
		return seterr(EAGAIN);
	}
	if (deadline != GOR_NEVER && deadline <= nanotime()) {
		selunlock(s);
		return seterr(ETIMEDOUT);
	}
	return selectpark(s, gp, deadline);
}

/* No live case: only the deadline can end the wait. */
static int selectnocases(bool block, int64_t deadline)
{
	if (!block)
		return seterr(EAGAIN);
	if (deadline == GOR_NEVER)
		for (;;)
			gopark(NULL, NULL, WAIT_SELECT_NOCASES, NULL);
	/* gor_sleep's timer lives in the G, not in this frame */
	gor_sleep(deadline - nanotime());
	return seterr(ETIMEDOUT);
}

static inline __attribute__((always_inline)) int selectgo(gor_case *cases, size_t n, bool block, int64_t deadline)
{
	struct gor_g *gp = getg_adopt();
	preemptcheck(gp);
	int first, one;
	long nlive = countcases(cases, n, &first, &one);
	if (nlive < 0)
		return -1;
	size_t live = (size_t)nlive;
	if (live == 0)
		return selectnocases(block, deadline);
	if (live == 1 && deadline == GOR_NEVER)
		return selectone(gp, &cases[one], one, block);

	/* Sized to the live cases, not to the most the stack takes: a
	 * goroutine on a 2 KiB stack selects too. */
	size_t onstack = live <= SELECT_STACK_CASES ? live : 1;
	uint32_t order[2 * onstack];
	struct sudog sgs[onstack];
	struct selstate s = {.cases = cases, .n = live};
	void *heap = NULL;
	if (live <= SELECT_STACK_CASES) {
		s.sgs = sgs;
		s.pollorder = order;
	} else {
		heap = malloc(live * (sizeof(struct sudog) + 2 * sizeof(uint32_t)));
		if (heap == NULL)
			return seterr(ENOMEM);
		s.sgs = heap;
		s.pollorder = (uint32_t *)(s.sgs + live);
	}
	s.lockorder = s.pollorder + live;
	int casi = selectcases(gp, &s, n, first, one, block, deadline);
	if (heap) {
		int err = errno;
		free(heap);
		errno = err;
	}
	return casi;
}

int gor_select(gor_case *cases, size_t n)
{
	return selectgo(cases, n, true, GOR_NEVER);
}

int gor_try_select(gor_case *cases, size_t n)
{
	return selectgo(cases, n, false, GOR_NEVER);
}

int gor_select_until(gor_case *cases, size_t n, int64_t deadline)
{
	return selectgo(cases, n, true, deadline);
}
