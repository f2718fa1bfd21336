/*
 * proc.c - goroutines and the G/M/P scheduler, after Go's runtime/proc.go.
 *
 * Read this file beside proc.go: the functions carry Go's names (schedule,
 * findrunnable, execute, runqput, runqget, runqsteal, globrunqput, gopark,
 * goready, wakep, startm, stopm, handoffp, startlockedm, stopTheWorld,
 * procresize) and do the same jobs. Where gor differs, the comment there
 * says why. docs/internals.md walks a goroutine's life through them.
 *
 * The design in a paragraph. There are exactly MAXPROCS Ps. An M runs
 * goroutine code only while it holds a P, so at most MAXPROCS threads run
 * goroutines at any instant. New and readied goroutines go to the current
 * P's local queue (runnext first), overflow to the global queue; an M that
 * runs out of work takes from the global queue, polls the fds goroutines
 * wait on (netpoll.c) without blocking, then steals half of another P's
 * queue, then gives up its P and sleeps on a futex. At most one sleeping
 * M has a timeout, the earliest timer of any P, and while goroutines wait
 * on fds it sleeps in the poller instead, which wakes it for both; the
 * goroutines the poller readies are injected onto idle Ps (injectglist).
 *
 * Spinning. An M looking for work with a P but finding none yet is
 * "spinning" (sched.nmspinning counts them). wakep starts a spinning M only
 * when there is an idle P and nobody spins already, so a burst of readied
 * goroutines costs at most one thread wake-up; a spinning M that finds work
 * stops spinning and calls wakep so that the next one looks too, wherever
 * it found the work (schedule, before it runs it). So an M counted in
 * nmspinning never runs a goroutine and never sleeps (stopm checks): one
 * that did would leave wakep and findrunnable believing somebody looks
 * for work, timers included, when nobody does. The race
 * in proc.go's header (work submitted just as the last spinning M gives
 * up) is closed the same way: a spinning M that gives up its P decrements
 * nmspinning first and then looks at every run queue once more; the
 * submitter queues first and then reads npidle and nmspinning, after a
 * StoreLoad barrier (runnext's exchange, or wakep_tail's).
 *
 * Where gor's spinning differs from Go's: the runnext of a running P. A
 * goroutine readied by a hand-off goes to its P's runnext, and the readier
 * usually blocks at once, so that P runs it next; a thief waits ~3 us
 * before taking it, as in Go. gor takes it then only if the victim has not
 * switched meanwhile (pp->nswitch): a P that is switching gets to it, and
 * taking it would split a pair that hands off on one core (prodcons,
 * pingpong) into two that bounce the channel's lines between cores. And
 * while some P is in that state, the thief stays spinning and looks again
 * rather than sleep: the readier's wakep then finds a spinning M and wakes
 * nobody, where each wake-up of a sleeping M costs microseconds. (prodcons
 * at P2: 16.5 ns per item with Go's rule, 9.6 with this.)
 *
 * Switching, and how gor differs from Go. Go always switches a parking
 * goroutine to its M's g0 stack (mcall), then picks the next goroutine
 * from there: two switches per hand-off. gor switches straight from one
 * goroutine to the next when the next is at hand in the local queue, and
 * goes through g0 only to look further or to sleep. The danger of a
 * direct switch is publishing the old goroutine (putting it on a queue,
 * unlocking the channel it waits on) before its registers are saved: a
 * thief could resume it on another thread while this one still runs on
 * its stack. So the old goroutine is published by the *new* side, right
 * after the switch: the M records what is to be done (m->after, aftergp,
 * unlockf) and every place where a switch returns calls finish_after().
 * Invariant: between setting m->after and finish_after, no other thread
 * can reach aftergp. The switch itself (gopark, gosched_from, fastpick,
 * execute_prep, gswitch) is in switch.h, inline into every blocking
 * call: see there why.
 *
 * Threads that call into the runtime on their own (main, or any pthread)
 * are adopted: they get an M whose lockedg is a G running on the thread's
 * own stack, and a g0 on a stack of its own. Unlike Go's locked Ms, such
 * an M runs other goroutines while its own is parked, as main's M does in
 * Go (where main is not locked), because a locked M that only ever ran
 * its own goroutine would pay a futex wake-up on every hand-off between
 * main and a worker. A locked G that becomes runnable is delivered to its
 * M's mailbox (m->readyg) if that M is active; if the M sleeps, it is
 * given an idle P, or the G waits on a run queue until an M dequeues it
 * and hands its own P over (startlockedm). Invariant: m->idle, under
 * sched.lock, is true exactly while the M has committed to sleep without
 * a P, and an M checks its mailbox under sched.lock before committing.
 *
 * Locking rules:
 *   sched.lock: midle/nmidle, pidle (npidle is also read without it),
 *     the global run queue and G free list (and their batches, the
 *     free batches too), allm, m->idle, stop-the-world state, the timed
 *     sleeper (and whether it polls).
 *   P run queues: lock-free. runqtail is written by the owner only,
 *     runqhead is advanced by CAS by the owner and thieves, slots are
 *     written by the owner only at tail and read by thieves before their
 *     CAS on head (a failed CAS discards what they read).
 *   Other P fields: only the M holding the P (owner). Statistics are
 *     written by the owner with load+store and may be read by anyone.
 *   G fields: whoever holds the G (see runtime.h). status is atomic.
 *   The allg list: push-only with CAS, never unlinked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime.h"
#include "switch.h"

#ifdef GOR_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif
#ifdef GOR_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef GOR_VALGRIND
#include <valgrind/valgrind.h>
#endif

struct sched sched;
struct gor_p *allp[GOR_MAXPROCS_LIMIT];
atomic_u32 gomaxprocs;
struct gor_counters counters;
atomic_ptr allglist;              /* newest G first, linked by alllink */
static atomic_u64 goidgen;        /* ids are handed out in batches */
static atomic_u64 nadopted;       /* live adopted goroutines */
static atomic_u64 exitedfolded;   /* exits counted on destroyed Ps */
static atomic_u64 createdfolded;
static uint32_t stealorder[GOR_MAXPROCS_LIMIT]; /* coprimes of gomaxprocs */
static uint32_t nstealorder;
static pthread_once_t initonce = PTHREAD_ONCE_INIT;
static pthread_key_t threadkey;   /* adopted threads: destructor releases */
static bool runtime_started;

enum { GOIDBATCH = 16, GSLAB = 256 * 1024, ADOPTED_G0_STACK = 256 * 1024 };

/* ---- the current M --------------------------------------------------- */

__thread struct gor_m *tls_m __attribute__((tls_model("initial-exec")));
uintptr_t tls_m_offset;

static void setm(struct gor_m *mp)
{
	tls_m = mp;
}

/* ---- small helpers ---------------------------------------------------- */


void badgstatus(struct gor_g *gp, uint32_t from, uint32_t to)
{
	char detail[96];
	snprintf(detail, sizeof detail, "goroutine %llu: status %u, expected %u (to %u)",
		 (unsigned long long)gp->goid, atomic_load_u32(&gp->status), from, to);
	gor_fatal("bad goroutine status", detail);
}



/* ---- local run queue (runq*) ----------------------------------------- */

static inline bool runqempty(struct gor_p *pp)
{
	/* Go reads head, tail, runnext, and tail again, so that a G moving
	 * from runnext to the queue is not missed in between. */
	for (;;) {
		uint32_t head = atomic_load_acq_u32(&pp->runqhead);
		uint32_t tail = atomic_load_acq_u32(&pp->runqtail);
		void *next = atomic_load_acq_ptr(&pp->runnext);
		if (tail == atomic_load_acq_u32(&pp->runqtail))
			return head == tail && next == NULL;
	}
}

static struct gbatch *gbatchget(void);
static void globrunqputbatch(struct gbatch *b);

/* Moves half the local queue plus gp to the global queue: the local queue
 * is full. Owner only. False if a thief got in first (retry locally).
 * The slots are read after the CAS that takes them, in place (so that a
 * goroutine on a small stack can do this: nothing big on the stack): only
 * the owner ever writes a slot, and it is here. */
bool runqputslow(struct gor_p *pp, struct gor_g *gp, uint32_t head, uint32_t tail)
{
	uint32_t n = (tail - head) / 2;
	if (!atomic_cas_rel_u32(&pp->runqhead, head, head + n))
		return false;
	lock(&sched.lock);
	struct gbatch *b = gbatchget();
	for (uint32_t i = 0; i < n; i++)
		b->g[i] = atomic_load_ptr(&pp->runq[(head + i) % RUNQ_SIZE]);
	b->g[n] = gp;
	b->tail = n + 1;
	globrunqputbatch(b);
	unlock(&sched.lock);
	return true;
}



/* Copies half of victim's queue into batch starting at batchhead; returns
 * how many. May take runnext too when stealnext (the last resort); sets
 * *busy when it left a runnext to a victim that is getting to it. */
static uint32_t runqgrab(struct gor_p *victim, atomic_ptr *batch, uint32_t batchhead, bool stealnext,
			 bool *busy)
{
	for (;;) {
		uint32_t head = atomic_load_acq_u32(&victim->runqhead);
		uint32_t tail = atomic_load_acq_u32(&victim->runqtail);
		uint32_t n = tail - head;
		n = n - n / 2;
		if (n == 0) {
			if (!stealnext)
				return 0;
			struct gor_g *next = atomic_load_ptr(&victim->runnext);
			if (next == NULL)
				return 0;
			/* A running victim is likely about to run its runnext
			 * (it was just readied by the running G, which is about
			 * to block): give it a moment, as Go does, rather than
			 * bounce the pair across cores. Unlike Go, take it only
			 * if the victim did not switch meanwhile: one that is
			 * switching gets to it (see findrunnable). */
			if (atomic_load_u32(&victim->status) == P_RUNNING) {
				uint64_t switches = atomic_load_u64(&victim->nswitch);
				usleep(3);
				if (atomic_load_u64(&victim->nswitch) != switches) {
					*busy = true;
					return 0;
				}
			}
			if (!atomic_cas_ptr(&victim->runnext, next, NULL))
				continue;
			atomic_store_ptr(&batch[batchhead % RUNQ_SIZE], next);
			return 1;
		}
		if (n > RUNQ_SIZE / 2)
			continue; /* head and tail read at different times */
		for (uint32_t i = 0; i < n; i++) {
			void *g = atomic_load_ptr(&victim->runq[(head + i) % RUNQ_SIZE]);
			atomic_store_ptr(&batch[(batchhead + i) % RUNQ_SIZE], g);
		}
		if (atomic_cas_rel_u32(&victim->runqhead, head, head + n))
			return n;
	}
}

/* Steals half of victim's queue into pp's, returning one G to run. */
static struct gor_g *runqsteal(struct gor_p *pp, struct gor_p *victim, bool stealnext, bool *busy)
{
	uint32_t tail = atomic_load_u32(&pp->runqtail);
	uint32_t n = runqgrab(victim, pp->runq, tail, stealnext, busy);
	if (n == 0)
		return NULL;
	pstat_inc(&pp->nsteal);
	if (unlikely(trace_enabled())) traceProcSteal(pp, victim, n);
	n--;
	struct gor_g *gp = atomic_load_ptr(&pp->runq[(tail + n) % RUNQ_SIZE]);
	if (n > 0)
		atomic_store_rel_u32(&pp->runqtail, tail + n);
	return gp;
}

/* ---- global run queue, under sched.lock ---------------------------------- */

/*
 * The global queue is a FIFO of batches of G pointers, not a list linked
 * through the Gs as Go's is: a batch moves between it and a P touching
 * the batch's lines, not one line of each G (which its creator, on
 * another core, has just written). Walking the Gs under sched.lock was
 * 12-20 % of spawn and skynet at P2, and the other P waited on the lock.
 * Batches are never freed: emptied ones go on sched.freebatch.
 */
static struct gbatch *gbatchget(void)
{
	struct gbatch *b = sched.freebatch;
	if (b == NULL) {
		/* mmap, not malloc: this may run on a goroutine's small
		 * stack, and under sched.lock; rare, the batches are reused */
		enum { NEW = 64 };
		b = mmap(NULL, NEW * sizeof *b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			gor_fatal("out of memory", "cannot allocate the global run queue");
		for (int i = 1; i < NEW; i++)
			b[i - 1].next = &b[i];
		b[NEW - 1].next = NULL;
	}
	sched.freebatch = b->next;
	b->next = NULL;
	b->head = b->tail = 0;
	return b;
}

static void globrunqputbatch(struct gbatch *b)
{
	if (sched.runqtail)
		sched.runqtail->next = b;
	else
		sched.runqhead = b;
	sched.runqtail = b;
	atomic_store_u32(&sched.runqsize, atomic_load_u32(&sched.runqsize) + (b->tail - b->head));
}

static void globrunqput(struct gor_g *gp)
{
	struct gbatch *b = sched.runqtail;
	if (b == NULL || b->tail == GBATCH) {
		b = gbatchget();
		globrunqputbatch(b);
	}
	b->g[b->tail++] = gp;
	atomic_store_u32(&sched.runqsize, atomic_load_u32(&sched.runqsize) + 1);
}

/* The head of the global queue; runqsize > 0. */
static struct gor_g *globrunqpop(void)
{
	struct gbatch *b = sched.runqhead;
	struct gor_g *gp = b->g[b->head++];
	if (b->head == b->tail) {
		sched.runqhead = b->next;
		if (sched.runqhead == NULL)
			sched.runqtail = NULL;
		b->next = sched.freebatch;
		sched.freebatch = b;
	}
	return gp;
}

/* Takes a fair share of the global queue: one to return, the rest onto
 * pp's local queue. max 0 means no limit beyond the fair share. */
static struct gor_g *globrunqget(struct gor_p *pp, uint32_t max)
{
	uint32_t size = atomic_load_u32(&sched.runqsize);
	if (size == 0)
		return NULL;
	uint32_t n = size / atomic_load_u32(&gomaxprocs) + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	atomic_store_u32(&sched.runqsize, size - n);
	struct gor_g *gp = globrunqpop();
	while (--n > 0)
		runqput(pp, globrunqpop(), false);
	return gp;
}

/* ---- idle Ps and Ms, under sched.lock ------------------------------------ */

static void pidleput(struct gor_p *pp)
{
	atomic_store_u32(&pp->status, P_IDLE);
	pp->link = sched.pidle;
	sched.pidle = pp;
	atomic_add_u32(&sched.npidle, 1);
}

static struct gor_p *pidleget(void)
{
	/* first, so that nothing lives across the call */
	if (unlikely(atomic_load_u32(&sysmonwait)) && sched.pidle)
		sysmonwake();
	struct gor_p *pp = sched.pidle;
	if (pp) {
		sched.pidle = pp->link;
		atomic_add_u32(&sched.npidle, -1);
	}
	return pp;
}

static void mput(struct gor_m *mp)
{
	mp->schedlink = sched.midle;
	sched.midle = mp;
	sched.nmidle++;
}

static struct gor_m *mget(void)
{
	struct gor_m *mp = sched.midle;
	if (mp) {
		sched.midle = mp->schedlink;
		sched.nmidle--;
	}
	return mp;
}

static void acquirep(struct gor_m *mp, struct gor_p *pp)
{
	mp->p = pp;
	pp->m = mp;
	atomic_store_u32(&pp->status, P_RUNNING);
}

static struct gor_p *releasep(struct gor_m *mp)
{
	struct gor_p *pp = mp->p;
	pp->m = NULL;
	mp->p = NULL;
	return pp;
}

/* ---- G allocation and free lists ------------------------------------ */

static uint64_t newgoid(struct gor_p *pp)
{
	if (pp->goidcache == pp->goidcacheend) {
		pp->goidcache = atomic_add_u64(&goidgen, GOIDBATCH) - GOIDBATCH + 1;
		pp->goidcacheend = pp->goidcache + GOIDBATCH;
	}
	return pp->goidcache++;
}

/* A fresh G from pp's slab. Gs are never freed (as in Go): they go to free
 * lists, and allglist keeps every one for dumps and the deadlock check. */
static void allgadd(struct gor_g *gp)
{
	gp->alllink = atomic_load_ptr(&allglist);
	while (!atomic_cas_ptr(&allglist, gp->alllink, gp))
		gp->alllink = atomic_load_ptr(&allglist);
}

static struct gor_g *malg(struct gor_p *pp)
{
	size_t sz = (sizeof(struct gor_g) + 63) & ~(size_t)63;
	struct gor_g *gp;
	if (pp == NULL) {
		/* an adopted thread that holds no P yet */
		if (posix_memalign((void **)&gp, 64, sz) != 0)
			return NULL;
		memset(gp, 0, sz);
		allgadd(gp);
		return gp;
	}
	if (pp->gslab + sz > pp->gslabend) {
		char *slab = mmap(NULL, GSLAB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (slab == MAP_FAILED)
			return NULL;
		pp->gslab = slab;
		pp->gslabend = slab + GSLAB;
#ifdef GOR_ASAN
		/* Gs point at their malloc'd names: let LeakSanitizer see them
		 * when a program exits with goroutines alive. */
		__lsan_register_root_region(slab, GSLAB);
#endif
	}
	gp = (struct gor_g *)pp->gslab;
	pp->gslab += sz;
	allgadd(gp);
	return gp;
}

/* Puts v[0..n) on the global free list as one batch; under sched.lock. */
static void gfreeputbatch(struct gor_g *const *v, uint32_t n)
{
	_Static_assert(GFREE_LOCAL_MAX <= GBATCH, "a P's free Gs fit one batch");
	struct gbatch *b = gbatchget();
	memcpy(b->g, v, n * sizeof b->g[0]);
	b->tail = n;
	b->next = sched.gfree;
	sched.gfree = b;
	atomic_store_u32(&sched.ngfree, atomic_load_u32(&sched.ngfree) + n);
}

/* Puts a dead G on pp's free list. Its stack goes to the P's stack cache
 * rather than staying with it: during a burst of spawns the Gs that run
 * are fresh ones, and a stack kept on a free G would sit idle while they
 * ask the kernel for more. */
static void gfput(struct gor_p *pp, struct gor_g *gp)
{
	if (gp->stack.lo) {
		if (!gp->nativestack)
			stackfree(&pp->stackcache, &gp->stack);
		memset(&gp->stack, 0, sizeof gp->stack);
		gp->canary = NULL;
	}
#ifdef GOR_TSAN
	if (gp->nativestack)
		gp->tsan_fiber = NULL; /* the thread's own fiber, not ours */
#endif
	gp->nativestack = 0;
	gp->ctx.sp = NULL;
	/* A dead goroutine's name is shown nowhere. Most have none: no call
	 * to free(NULL) at every exit. */
	if (gp->name) {
		free(gp->name);
		gp->name = NULL;
	}
	pp->gfree[pp->gfreecnt++] = gp;
	if (pp->gfreecnt < GFREE_LOCAL_MAX)
		return;
	/* The oldest half goes to the global list, as one batch: the P
	 * that takes it reads the batch, not each G's schedlink, which the
	 * G's last core wrote (spawn at P2 frees on one P, creates on the
	 * other). */
	enum { HALF = GFREE_LOCAL_MAX / 2 };
	lock(&sched.lock);
	gfreeputbatch(pp->gfree, HALF);
	unlock(&sched.lock);
	memmove(pp->gfree, pp->gfree + HALF, (GFREE_LOCAL_MAX - HALF) * sizeof pp->gfree[0]);
	pp->gfreecnt -= HALF;
}

static struct gor_g *gfget(struct gor_p *pp)
{
	if (pp->gfreecnt == 0 && atomic_load_u32(&sched.ngfree) > 0) {
		lock(&sched.lock);
		struct gbatch *b = sched.gfree;
		if (b) {
			sched.gfree = b->next;
			uint32_t n = b->tail - b->head;
			atomic_store_u32(&sched.ngfree, atomic_load_u32(&sched.ngfree) - n);
			memcpy(pp->gfree, &b->g[b->head], n * sizeof pp->gfree[0]);
			pp->gfreecnt = (int32_t)n;
			b->next = sched.freebatch;
			sched.freebatch = b;
		}
		unlock(&sched.lock);
	}
	return pp->gfreecnt > 0 ? pp->gfree[--pp->gfreecnt] : NULL;
}

/* ---- switching --------------------------------------------------------- */

static __attribute__((noinline, cold)) void syscallafter(struct gor_m *mp, struct gor_g *gp, uint8_t after);
static void mready(struct gor_m *mp, struct gor_p *pp);
static void ready_locked(struct gor_m *self, struct gor_g *gp, bool mayhandoff);

void canary_fatal(struct gor_g *gp)
{
	char detail[160];
	snprintf(detail, sizeof detail,
		 "goroutine %llu%s%s%s: its %zu-byte stack overflowed (canary overwritten; "
		 "stacks without a guard page are caught only at the next switch)",
		 (unsigned long long)gp->goid, gp->name ? " \"" : "", gp->name ? gp->name : "",
		 gp->name ? "\"" : "", stack_size(&gp->stack));
	gor_fatal("stack overflow", detail);
}

struct fatalmsg { const char *msg, *detail; };

static void fatal_entry(void *transfer)
{
	struct fatalmsg *f = transfer;
	gor_fatal(f->msg, f->detail);
}

/*
 * gor_fatal's report takes more stack than a small (2 KiB, unguarded)
 * goroutine stack has, and after a canary overflow what lies below is
 * somebody else's: so the report moves to g0's stack, below the frames g0
 * left when it last switched away (and its red zone). Returns, doing
 * nothing, when the caller is not on a small goroutine stack.
 */
void fatal_off_small_stack(const char *msg, const char *detail)
{
	struct gor_m *mp = tls_m_offset ? getm() : NULL;
	struct gor_g *gp = mp ? mp->curg : NULL;
	if (gp == NULL || gp->stack.guard != STACK_GUARD_CANARY || mp->g0.ctx.sp == NULL)
		return;
	struct fatalmsg f = {msg, detail};
	gor_ctx fatal, dead;
	uintptr_t top = ((uintptr_t)mp->g0.ctx.sp - 1024) & ~(uintptr_t)15;
	mp->curg = NULL; /* from now on, gor_fatal runs on g0 */
	gor_ctx_make(&fatal, (void *)top, fatal_entry, gor_ctx_fpstate());
	gor_ctx_switch(&dead, &fatal, &f);
}


static void goentry(void *transfer);

/* execute_prep's cold path: gp has never run, so it gets a stack (unless
 * it has one already) and a context that starts in goentry. */
void execute_bind(struct gor_m *mp, struct gor_g *gp)
{
	if (gp->stack.lo == NULL &&
	    stackalloc(&mp->p->stackcache, gp->stacksize, &gp->stack) != 0)
		gor_fatal("out of memory", "cannot allocate a goroutine stack");
	gp->canary = gp->stack.guard == STACK_GUARD_CANARY ? (uint64_t *)gp->stack.lo : NULL;
	gor_ctx_make(&gp->ctx, gp->stack.hi, goentry, gp->fpstate);
	/* New goroutines come in runs (a spawner's batch, stolen or from the
	 * global queue), created on another core: fetch the next one's first
	 * two lines while this one runs. Here, not in runqget, because only
	 * first runs come in such runs and this path is off the hand-offs'. */
	struct gor_p *pp = mp->p;
	uint32_t head = atomic_load_u32(&pp->runqhead);
	if (atomic_load_u32(&pp->runqtail) != head) {
		struct gor_g *next = atomic_load_ptr(&pp->runq[head % RUNQ_SIZE]);
		__builtin_prefetch(next, 1);
		__builtin_prefetch((char *)next + 64, 1);
	}
#ifdef GOR_TSAN
	if (gp->tsan_fiber == NULL)
		gp->tsan_fiber = __tsan_create_fiber(0);
#endif
}

/* Runs on the side that was switched to: publishes the goroutine that
 * was switched away from (see "Switching" above). */
void finish_after_slow(struct gor_m *mp)
{
	uint8_t after = mp->after;
	struct gor_g *gp = mp->aftergp;
	mp->after = AFTER_NONE;
	mp->aftergp = NULL;
	switch (after) {
	case AFTER_PARK: {
		bool (*unlockf)(struct gor_g *, void *) = mp->unlockf;
		void *arg = mp->unlockarg;
		mp->unlockf = NULL;
		casgstatus(gp, G_RUNNING, G_WAITING);
		pstat_inc(&mp->p->npark);
		if (unlockf && !unlockf(gp, arg)) {
			casgstatus(gp, G_WAITING, G_RUNNABLE);
			if (gp->lockedm)
				ready_locked(mp, gp, false);
			else
				runqput(mp->p, gp, true);
		}
		break;
	}
	case AFTER_EXIT:
#ifdef GOR_TSAN
		if (gp->tsan_fiber && !gp->nativestack) {
			__tsan_destroy_fiber(gp->tsan_fiber);
			gp->tsan_fiber = NULL;
		}
#endif
		gfput(mp->p, gp);
		break;
	default: /* the rare ones, out of line: see "system calls" */
		syscallafter(mp, gp, after);
		break;
	}
}

/* ---- parking and readying ------------------------------------------- */


void wakep(void);

void goready(struct gor_g *gp, bool next)
{
	if (unlikely(trace_enabled())) traceGoUnpark(gp);
	struct gor_m *mp = getm();
	casgstatus(gp, G_WAITING, G_RUNNABLE);
	if (gp->lockedm == mp) {
		/* ready_locked's first case, the usual one (main and a worker
		 * taking turns on main's thread), without the call */
		atomic_store_rel_ptr(&mp->readyg, gp);
		return;
	}
	if (unlikely(gp->lockedm != NULL)) {
		ready_locked(mp, gp, false);
		return;
	}
	runqput(mp->p, gp, next);
	if (next)
		wakep();
	else
		wakep_tail(mp->p);
}

/* Whether mp, an idle M, sleeps in the poller rather than on its note
 * (see sleep_without_p). Under sched.lock. */
static inline bool mpolls_locked(struct gor_m *mp)
{
	return sched.timedsleeper == mp && sched.timedsleep_polls;
}

/* Wakes an idle M that was handed a P, where it sleeps. */
static void mwakeup(struct gor_m *mp, bool polls)
{
	if (polls)
		netpollBreak();
	else
		notewakeup(&mp->park);
}

/*
 * Delivers a runnable G that is bound to a thread (gp->lockedm). self is
 * the calling M, which holds a P. If the bound M is active it finds gp in
 * its mailbox at its next scheduling point; if it sleeps, it is handed an
 * idle P, or (mayhandoff, on g0 only) self's own P. Otherwise gp waits on
 * the global queue, and whoever dequeues it comes back here.
 * Returns nothing; when self hands its P over, it stops (see startlockedm).
 */
static bool startlockedm(struct gor_m *self, struct gor_g *gp);

static void ready_locked(struct gor_m *self, struct gor_g *gp, bool mayhandoff)
{
	struct gor_m *mp = gp->lockedm;
	if (mp == self) {
		atomic_store_rel_ptr(&mp->readyg, gp);
		return;
	}
	lock(&sched.lock);
	if (!mp->idle) {
		atomic_store_rel_ptr(&mp->readyg, gp);
		unlock(&sched.lock);
		return;
	}
	struct gor_p *pp = pidleget();
	if (pp) {
		mready(mp, pp);
		atomic_store_rel_ptr(&mp->readyg, gp);
		bool polls = mpolls_locked(mp);
		unlock(&sched.lock);
		mwakeup(mp, polls);
		return;
	}
	if (mayhandoff && startlockedm(self, gp))
		return; /* startlockedm released sched.lock */
	globrunqput(gp);
	unlock(&sched.lock);
}

/* ---- Ms: creation, sleep and wake-up -------------------------------- */

static void *mstart(void *arg);
static void schedule(struct gor_m *mp) __attribute__((noreturn));

static struct gor_m *allocm(void)
{
	struct gor_m *mp = calloc(1, sizeof *mp);
	if (mp == NULL)
		return NULL;
	mp->fastrand = (uint64_t)nanotime() ^ (uint64_t)(uintptr_t)mp;
	lock(&sched.lock);
	mp->id = sched.mnext++;
	mp->alllink = sched.allm;
	sched.allm = mp;
	sched.mcount++;
	unlock(&sched.lock);
	atomic_inc_stat(&counters.threads);
	return mp;
}

/* Starts a new thread to run pp (which it holds from the start). */
static void newm(struct gor_p *pp, bool spinning)
{
	struct gor_m *mp = allocm();
	pthread_attr_t attr;
	pthread_t th;
	int err = ENOMEM;
	if (mp) {
		mp->nextp = pp;
		mp->spinning = spinning;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 512 * 1024);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&th, &attr, mstart, mp);
		pthread_attr_destroy(&attr);
	}
	if (err != 0) {
		char detail[64];
		snprintf(detail, sizeof detail, "pthread_create: %s", strerror(err));
		gor_fatal("cannot create an OS thread", detail);
	}
}

/* Marks an idle M as handed pp, under sched.lock; the caller wakes it. */
static void mready(struct gor_m *mp, struct gor_p *pp)
{
	mp->idle = false;
	if (mp->idlelocked) {
		mp->idlelocked = false;
		sched.nmidlelocked--;
	}
	mp->nextp = pp;
}

void incidlelocked(int32_t v)
{
	lock(&sched.lock);
	sched.nmidlelocked += v;
	unlock(&sched.lock);
}

/* Threads in this process, from /proc/self/stat (field 20), or -1. */
static int os_thread_count(void)
{
	char buf[512];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces: count fields after its ')' */
	char *p = strrchr(buf, ')');
	for (int field = 2; p && field < 20; field++)
		p = strchr(p + 1, ' ');
	return p ? atoi(p + 1) : -1;
}

enum deadness { ALIVE, MAYBE_DEAD };

/* ThreadSanitizer runs a background thread of its own (two in a child
 * forked from a process that had one). */
#ifdef GOR_TSAN
#define SANITIZER_THREADS 2
#else
#define SANITIZER_THREADS 0
#endif

/*
 * Go's checkdead, called under sched.lock by an M about to sleep with no
 * timeout. If every M sleeps, no timer is pending and no goroutine is in a
 * system call, nothing can ever make a goroutine runnable again: the
 * program is deadlocked, and says so rather than hang. An adopted thread
 * running its own code is an M that does not sleep, so it keeps this
 * quiet, as it must: it may yet send on a channel.
 *
 * A C program may also have threads that have not called into gor yet
 * and may still do so. The runtime cannot see them, so while the process
 * has more threads than Ms it does not declare a deadlock: it answers
 * MAYBE_DEAD, and the caller looks again later (Go is as careful with
 * cgo's extra M). Returns ALIVE when something may still run.
 */
static enum deadness checkdead(void)
{
	if (sched.mcount - sched.nmidle - sched.nmidlelocked > 0)
		return ALIVE;
	if (sched.timedsleeper != NULL || timers_next() != INT64_MAX)
		return ALIVE;
	if (netpollAnyWaiters())
		return ALIVE; /* waiting for a peer, not stuck */
	int waiting = 0;
	for (struct gor_g *gp = atomic_load_acq_ptr(&allglist); gp; gp = gp->alllink) {
		uint32_t st = atomic_load_u32(&gp->status);
		if (st == G_WAITING)
			waiting++;
		else if (st == G_RUNNABLE || st == G_RUNNING || st == G_SYSCALL)
			return ALIVE; /* someone will run it: not our business here */
	}
	int threads = os_thread_count();
	if (threads < 0 || threads > sched.mcount + SANITIZER_THREADS + (int)atomic_load_u32(&nhelperthreads))
		return MAYBE_DEAD;
	if (waiting == 0)
		gor_fatal("no goroutines (main called gor_exit) - deadlock!", NULL);
	gor_fatal("all goroutines are asleep - deadlock!", NULL);
}

/* How often an M that found a possible deadlock looks again. */
#define DEADCHECK_PERIOD (100 * GOR_MILLISECOND)

/* Sleeps until startm or ready_locked hands this M a P. An M bound to a
 * thread's goroutine never joins the idle list: only its own goroutine
 * becoming runnable wakes it. Called with sched.lock held; returns
 * holding the new P, without the lock. */
static void stopm_locked(struct gor_m *mp)
{
	/* An M asleep must not be counted in nmspinning: wakep would take it
	 * for one looking for work, and start nobody. */
	if (mp->spinning)
		gor_fatal("stopm spinning", NULL);
	mp->idle = true;
	if (mp->lockedg == NULL) {
		mput(mp);
	} else {
		mp->idlelocked = true;
		sched.nmidlelocked++;
	}
	bool recheck = checkdead() == MAYBE_DEAD;
	/* A wake-up meant for an earlier sleep (a timed sleeper woken both
	 * by its timeout and by wake_timedsleeper) may arrive late: only a
	 * handed-over P ends this sleep, and nextp is read under the lock. */
	while (mp->nextp == NULL) {
		noteclear(&mp->park);
		unlock(&sched.lock);
		if (recheck)
			notetsleep(&mp->park, nanotime() + DEADCHECK_PERIOD);
		else
			notesleep(&mp->park);
		lock(&sched.lock);
		if (recheck && mp->nextp == NULL)
			recheck = checkdead() == MAYBE_DEAD;
	}
	struct gor_p *pp = mp->nextp;
	mp->nextp = NULL;
	unlock(&sched.lock);
	acquirep(mp, pp);
}

/* Starts an M to run pp (an idle P if NULL), waking an idle one if any. */
static void startm(struct gor_p *pp, bool spinning)
{
	lock(&sched.lock);
	if (pp == NULL) {
		pp = pidleget();
		if (pp == NULL) {
			unlock(&sched.lock);
			if (spinning)
				atomic_add_u32(&sched.nmspinning, -1);
			return;
		}
	}
	struct gor_m *mp = mget();
	if (mp) {
		mp->spinning = spinning;
		mready(mp, pp);
	}
	unlock(&sched.lock);
	if (mp == NULL) {
		newm(pp, spinning);
		return;
	}
	notewakeup(&mp->park);
}

/* Tries to add one spinning M when there is an idle P and nobody looks
 * for work already: called when a goroutine becomes runnable, after the
 * read-modify-write that queued it (runnext's exchange, a lock). The
 * loads are sequentially consistent so that they cannot be satisfied
 * before that write is visible: a spinning M that gives up publishes
 * npidle and nmspinning with read-modify-writes and then looks at every
 * queue (findrunnable), so one of the two sees the other. */
void wakep(void)
{
	if (atomic_load_sc_u32(&sched.npidle) == 0)
		return;
	if (atomic_load_sc_u32(&sched.nmspinning) != 0 || !atomic_cas_u32(&sched.nmspinning, 0, 1))
		return;
	startm(NULL, true);
}

/* wakep for a goroutine put on the tail of pp's queue, which a release
 * store publishes: unlike runnext's exchange, it does not keep wakep's
 * loads from passing it. The exchange of the tail with itself is that
 * StoreLoad barrier (thieves never write the tail). Without it, a
 * spinning M gave up while a yielder switched (its queue looked empty
 * between taking the next G and queueing itself) and the yielder read
 * nmspinning from before: the yielded G then waited for good beside an
 * idle P, behind a goroutine that never calls the runtime (seen under
 * TSan, where a switch is slow, in 1 run of 25 of check_syscall's
 * test_exit_finds_no_p). With one P, ours, no P idles: nothing to do. */
void wakep_tail(struct gor_p *pp)
{
	if (atomic_load_u32(&gomaxprocs) == 1)
		return;
	atomic_xchg_u32(&pp->runqtail, atomic_load_u32(&pp->runqtail));
	wakep();
}

static void resetspinning(struct gor_m *mp)
{
	mp->spinning = false;
	if (atomic_add_u32(&sched.nmspinning, -1) == 0)
		wakep();
}

/*
 * Passes on a P whose M is going away or blocking (Go's handoffp): to a
 * new M if it has work or if nobody else looks for work, otherwise to the
 * idle list, making sure that some M will wake for its timers.
 */
static void handoffp(struct gor_p *pp)
{
	if (unlikely(trace_enabled())) traceProcHandoff(pp);
	if (!runqempty(pp) || atomic_load_u32(&sched.runqsize) > 0) {
		startm(pp, false);
		return;
	}
	if (atomic_load_u32(&sched.nmspinning) + atomic_load_u32(&sched.npidle) == 0 &&
	    atomic_cas_u32(&sched.nmspinning, 0, 1)) {
		startm(pp, true);
		return;
	}
	lock(&sched.lock);
	if (atomic_load_u32(&sched.gcwaiting)) {
		atomic_store_u32(&pp->status, P_STOPPED);
		if (--sched.stopwait == 0)
			notewakeup(&sched.stopnote);
		unlock(&sched.lock);
		return;
	}
	pidleput(pp);
	unlock(&sched.lock);
	int64_t when = timers_next();
	if (when != INT64_MAX)
		wake_timedsleeper(when);
}

/* Hands self's P to gp's thread and stops self (Go's startlockedm).
 * Called on g0 with sched.lock held and gp's M idle; returns false, still
 * holding the lock, when self may not give its P away. */
static bool startlockedm(struct gor_m *self, struct gor_g *gp)
{
	struct gor_m *mp = gp->lockedm;
	/* Not while our own goroutine waits in our mailbox: asleep without
	 * a P, we could never run it. The mailbox is set under sched.lock
	 * while we are not idle, so this check cannot miss one. */
	if (self->curg != NULL || self->p == NULL || atomic_load_ptr(&self->readyg) != NULL)
		return false;
	struct gor_p *pp = releasep(self);
	mready(mp, pp);
	atomic_store_rel_ptr(&mp->readyg, gp);
	mwakeup(mp, mpolls_locked(mp));
	if (self->spinning) {
		self->spinning = false;
		atomic_add_u32(&sched.nmspinning, -1);
	}
	stopm_locked(self);
	return true;
}

/* ---- stop the world (for procresize) ------------------------------------ */

/* Gives up the P for a pending stop-the-world and sleeps until restarted.
 * A locked M's pending goroutine goes back on the P's queue, so that the
 * restart finds it. */
static void gcstopm(struct gor_m *mp)
{
	struct gor_g *rg = atomic_xchg_ptr(&mp->readyg, NULL);
	if (rg)
		runqput(mp->p, rg, false);
	if (mp->spinning) {
		mp->spinning = false;
		atomic_add_u32(&sched.nmspinning, -1);
	}
	struct gor_p *pp = releasep(mp);
	lock(&sched.lock);
	atomic_store_u32(&pp->status, P_STOPPED);
	if (--sched.stopwait == 0)
		notewakeup(&sched.stopnote);
	stopm_locked(mp);
}

static void stopTheWorld(struct gor_m *mp)
{
	lock(&sched.lock);
	sched.stopwait = (int32_t)atomic_load_u32(&gomaxprocs);
	atomic_xchg_u32(&sched.gcwaiting, 1); /* before looking for P_SYSCALL: see entersyscall */
	atomic_store_u32(&mp->p->status, P_STOPPED);
	sched.stopwait--;
	struct gor_p *pp;
	while ((pp = pidleget()) != NULL) {
		atomic_store_u32(&pp->status, P_STOPPED);
		sched.stopwait--;
	}
	for (uint32_t i = 0; i < atomic_load_u32(&gomaxprocs); i++) {
		pp = allp[i];
		if (atomic_load_sc_u32(&pp->status) == P_SYSCALL &&
		    atomic_cas_u32(&pp->status, P_SYSCALL, P_STOPPED))
			sched.stopwait--;
	}
	bool wait = sched.stopwait > 0;
	noteclear(&sched.stopnote);
	unlock(&sched.lock);
	if (wait)
		notesleep(&sched.stopnote);
}

static void startTheWorld(struct gor_p *runnable);

/* ---- Ps: creation and resizing -------------------------------------- */

static struct gor_p *newp(int32_t id)
{
	struct gor_p *pp = allp[id];
	if (pp == NULL) {
		if (posix_memalign((void **)&pp, 64, sizeof *pp) != 0)
			gor_fatal("out of memory", "cannot allocate a P");
		memset(pp, 0, sizeof *pp);
		pp->id = id;
		atomic_store_u64(&pp->timers.when0, INT64_MAX);
		allp[id] = pp;
	}
	atomic_store_u32(&pp->status, P_STOPPED);
	return pp;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Frees what a P being retired holds, into the global structures and the
 * P `to` (held by the caller). Called during stop-the-world. */
static void destroyp(struct gor_p *pp, struct gor_p *to)
{
	struct gor_g *gp;
	while ((gp = runqget(pp)) != NULL)
		globrunqput(gp);
	timers_destroy(pp, to);
	if (pp->gfreecnt > 0)
		gfreeputbatch(pp->gfree, (uint32_t)pp->gfreecnt);
	pp->gfreecnt = 0;
	stackcache_flush(&pp->stackcache);
	atomic_add_u64(&createdfolded, (int64_t)atomic_load_u64(&pp->ncreated));
	atomic_add_u64(&exitedfolded, (int64_t)atomic_load_u64(&pp->nexited));
	atomic_add_u64(&counters.switches, (int64_t)atomic_load_u64(&pp->nswitch));
	atomic_add_u64(&counters.steals, (int64_t)atomic_load_u64(&pp->nsteal));
	atomic_add_u64(&counters.parks, (int64_t)atomic_load_u64(&pp->npark));
	atomic_add_u64(&counters.preempts, (int64_t)atomic_load_u64(&pp->npreempt));
	atomic_store_u64(&pp->ncreated, 0);
	atomic_store_u64(&pp->nexited, 0);
	atomic_store_u64(&pp->nswitch, 0);
	atomic_store_u64(&pp->nsteal, 0);
	atomic_store_u64(&pp->npark, 0);
	atomic_store_u64(&pp->npreempt, 0);
	atomic_store_u32(&pp->status, P_DEAD);
}

/*
 * Changes the number of Ps to nprocs. The world is stopped (or not yet
 * started) and sched.lock is held. mp keeps its P if that survives, else
 * takes allp[0]. Returns the list (by link) of Ps with local work, for
 * startTheWorld to start Ms on; the other Ps go idle.
 */
static struct gor_p *procresize(struct gor_m *mp, uint32_t nprocs)
{
	uint32_t old = atomic_load_u32(&gomaxprocs);
	for (uint32_t i = 0; i < nprocs; i++)
		newp((int32_t)i);
	struct gor_p *to = (mp->p && (uint32_t)mp->p->id < nprocs) ? mp->p : allp[0];
	for (uint32_t i = nprocs; i < old; i++)
		destroyp(allp[i], to);
	if (mp->p != to) {
		if (mp->p)
			releasep(mp);
		acquirep(mp, to);
	} else {
		atomic_store_u32(&to->status, P_RUNNING);
	}
	atomic_store_u32(&gomaxprocs, nprocs);
	nstealorder = 0;
	for (uint32_t i = 1; i <= nprocs; i++)
		if (gcd(i, nprocs) == 1)
			stealorder[nstealorder++] = i;
	struct gor_p *runnable = NULL;
	sched.pidle = NULL;
	atomic_store_u32(&sched.npidle, 0);
	for (int32_t i = (int32_t)nprocs - 1; i >= 0; i--) {
		struct gor_p *pp = allp[i];
		if (pp == to)
			continue;
		if (runqempty(pp)) {
			pidleput(pp);
		} else {
			atomic_store_u32(&pp->status, P_IDLE);
			pp->link = runnable;
			runnable = pp;
		}
	}
	if (unlikely(trace_enabled())) traceProcResize(mp, old, nprocs);
	return runnable;
}

/* Starts Ms for the Ps procresize found work on; gcwaiting is clear. */
static void startTheWorld(struct gor_p *runnable)
{
	while (runnable) {
		struct gor_p *pp = runnable;
		runnable = pp->link;
		startm(pp, false);
	}
	wakep();
}

/* ---- the scheduler ------------------------------------------------------ */

/* Runs due timers on every P: an M that found nothing locally does this
 * so that idle Ps' timers fire. Returns the earliest remaining when. */
static int64_t checkalltimers(int64_t now)
{
	int64_t next = INT64_MAX;
	uint32_t n = atomic_load_u32(&gomaxprocs);
	for (uint32_t i = 0; i < n; i++) {
		struct gor_p *p2 = allp[i];
		int64_t w = (int64_t)atomic_load_u64(&p2->timers.when0);
		if (w <= now)
			w = checktimers(p2, now);
		if (w < next)
			next = w;
	}
	return next;
}

/* Steals from other Ps in a random order, four rounds, the last one also
 * taking a victim's runnext; *busy as runqgrab's. */
static struct gor_g *stealwork(struct gor_m *mp, bool *busy)
{
	struct gor_p *pp = mp->p;
	uint32_t n = atomic_load_u32(&gomaxprocs);
	if (n < 2)
		return NULL;
	for (int round = 0; round < 4; round++) {
		bool stealnext = round == 3;
		uint32_t pos = fastrandn(n);
		uint32_t inc = stealorder[fastrandn(nstealorder)];
		for (uint32_t k = 0; k < n; k++, pos = (pos + inc) % n) {
			struct gor_p *victim = allp[pos];
			if (victim == pp || atomic_load_u32(&sched.gcwaiting))
				continue;
			if (atomic_load_u32(&victim->status) == P_IDLE && !stealnext)
				continue;
			struct gor_g *gp = runqsteal(pp, victim, stealnext, busy);
			if (gp)
				return gp;
		}
	}
	return NULL;
}

/* One goroutine the poller made ready: traced as its wake-up, runnable. */
static void netpollready(struct gor_g *gp)
{
	if (unlikely(trace_enabled())) {
		traceNetpollWake(gp);
		traceGoUnpark(gp);
	}
	casgstatus(gp, G_WAITING, G_RUNNABLE);
}

/*
 * Makes the goroutines of a netpoll list runnable (Go's injectglist): as
 * many as there are idle Ps go to the global queue, with an M started
 * for each, and the rest to mp's P; all to the global queue when mp has
 * no P or is NULL (sysmon, which is no M).
 */
void injectglist(struct gor_m *mp, struct gor_g *list)
{
	uint32_t n = 0;
	for (struct gor_g *gp = list; gp; gp = gp->schedlink, n++)
		netpollready(gp);
	if (n == 0)
		return;
	uint32_t nglobal = mp && mp->p ? atomic_load_u32(&sched.npidle) : n;
	if (nglobal > n)
		nglobal = n;
	if (nglobal > 0) {
		lock(&sched.lock);
		for (uint32_t i = 0; i < nglobal; i++) {
			struct gor_g *gp = list;
			list = gp->schedlink;
			globrunqput(gp);
		}
		unlock(&sched.lock);
		for (uint32_t i = 0; i < nglobal && atomic_load_u32(&sched.npidle) > 0; i++)
			startm(NULL, false);
	}
	while (list) {
		struct gor_g *gp = list;
		list = gp->schedlink;
		runqput(mp->p, gp, false);
	}
}

/*
 * The M has no P: sleeps until handed one. One M, the timed sleeper,
 * sleeps with a timeout, until the earliest timer of any P, and then
 * takes an idle P to run it. While goroutines wait on fds it sleeps in
 * the poller instead of on its note (Go's netpoll block with pollUntil),
 * so that the fds and the timers wake it, and it brings the goroutines
 * the poller made ready. An M that finds fds waited on while the timed
 * sleeper sleeps on its note takes its place.
 */
static void sleep_without_p(struct gor_m *mp)
{
	lock(&sched.lock);
	if (mp->lockedg && atomic_load_ptr(&mp->readyg) != NULL) {
		struct gor_p *pp = pidleget();
		if (pp) {
			unlock(&sched.lock);
			acquirep(mp, pp);
			return;
		}
		/* every P is busy: queue our own G so that an M hands us its P */
		globrunqput(atomic_xchg_ptr(&mp->readyg, NULL));
	}
	bool poll = netpollAnyWaiters();
	struct gor_m *ts = sched.timedsleeper;
	if (ts != NULL && (sched.timedsleep_polls || !poll)) {
		stopm_locked(mp);
		return;
	}
	int64_t until = timers_next();
	if (until == INT64_MAX && !poll) {
		stopm_locked(mp);
		return;
	}
	if (ts != NULL)
		notewakeup(&ts->park); /* its timer is ours now */
	sched.timedsleeper = mp;
	sched.timedsleep_until = until;
	sched.timedsleep_polls = poll;
	mp->idle = true;
	noteclear(&mp->park);
	unlock(&sched.lock);
	struct gor_g *list = NULL;
	if (poll) {
		int64_t delay = -1; /* no timer: until an fd or netpollBreak */
		if (until != INT64_MAX) {
			delay = until - nanotime();
			if (delay < 0)
				delay = 0;
		}
		list = netpoll(delay);
	} else {
		notetsleep(&mp->park, until);
	}
	lock(&sched.lock);
	if (sched.timedsleeper == mp)
		sched.timedsleeper = NULL;
	struct gor_p *pp = mp->nextp;
	mp->nextp = NULL;
	if (pp == NULL)
		pp = pidleget();
	if (pp == NULL && list != NULL) {
		/* every P is busy: they will find the list on the global queue */
		unlock(&sched.lock);
		injectglist(mp, list);
		list = NULL;
		lock(&sched.lock);
		pp = mp->nextp;
		mp->nextp = NULL;
	}
	if (pp == NULL) {
		stopm_locked(mp);
		return;
	}
	mp->idle = false;
	unlock(&sched.lock);
	acquirep(mp, pp);
	injectglist(mp, list);
}

/* Wakes the timed sleeper if `when` is earlier than it planned to wake,
 * or gets an M going if nobody sleeps with a timeout (Go's
 * wakeNetPoller). Called when a timer becomes its P's earliest. A sleeper
 * on its note gives up its place at once; one in the poller keeps it
 * until it is out, so that no second M blocks in the poller meanwhile
 * (the poller's wake-up signal serves one blocked M at a time). */
void wake_timedsleeper(int64_t when)
{
	lock(&sched.lock);
	struct gor_m *ts = sched.timedsleeper;
	if (ts && sched.timedsleep_until > when) {
		bool polls = sched.timedsleep_polls;
		if (!polls) {
			sched.timedsleeper = NULL;
			notewakeup(&ts->park);
		}
		unlock(&sched.lock);
		if (polls)
			netpollBreak();
		return;
	}
	unlock(&sched.lock);
	if (ts == NULL)
		wakep();
}

/* Finds a runnable goroutine, sleeping if there is none. Runs on g0 and
 * returns holding a P. */
static struct gor_g *findrunnable(struct gor_m *mp)
{
	struct gor_g *gp;
top:
	if (mp->p == NULL)
		sleep_without_p(mp);
	if (atomic_load_u32(&sched.gcwaiting)) {
		gcstopm(mp);
		goto top;
	}
	struct gor_p *pp = mp->p;
	if ((gp = readyg_take(mp)) != NULL)
		return gp;
	int64_t now = INT64_MAX; /* read the clock only when timers exist */
	int64_t when0 = (int64_t)atomic_load_u64(&pp->timers.when0);
	if (when0 != INT64_MAX && when0 <= (now = nanotime()))
		checktimers(pp, now);
	if ((gp = readyg_take(mp)) != NULL)
		return gp;
	if ((gp = runqget(pp)) != NULL)
		return gp;
	if (atomic_load_u32(&sched.runqsize) > 0) {
		lock(&sched.lock);
		gp = globrunqget(pp, 0);
		unlock(&sched.lock);
		if (gp)
			return gp;
	}
	/* Fds that became ready, without blocking, before stealing (as Go
	 * does); not while an M blocks in the poller: it gets them. */
	if (netpollAnyWaiters() && !netpollBlocked() && (gp = netpoll(0)) != NULL) {
		injectglist(mp, gp->schedlink);
		gp->schedlink = NULL;
		netpollready(gp);
		return gp;
	}
	/* Spin only while spinning Ms are fewer than half the busy Ps:
	 * more would burn CPU for work that is not there. */
	uint32_t procs = atomic_load_u32(&gomaxprocs);
	if (mp->spinning || 2 * atomic_load_u32(&sched.nmspinning) < procs - atomic_load_u32(&sched.npidle)) {
		if (!mp->spinning) {
			mp->spinning = true;
			atomic_add_u32(&sched.nmspinning, 1);
		}
		if (timers_next() != INT64_MAX)
			checkalltimers(now == INT64_MAX ? nanotime() : now);
		if ((gp = readyg_take(mp)) != NULL || (gp = runqget(pp)) != NULL)
			return gp;
		bool busy = false;
		if ((gp = stealwork(mp, &busy)) != NULL)
			return gp;
		/* Another P is switching its way to the runnext we left it:
		 * stay spinning and look again, so that the goroutines it
		 * readies need not wake anybody (see "Spinning" above). */
		if (busy)
			goto top;
	}
	/* Nothing found: give up the P. */
	lock(&sched.lock);
	if (atomic_load_u32(&sched.gcwaiting) || atomic_load_ptr(&mp->readyg) != NULL) {
		unlock(&sched.lock);
		goto top;
	}
	if (atomic_load_u32(&sched.runqsize) > 0) {
		gp = globrunqget(pp, 0);
		unlock(&sched.lock);
		return gp;
	}
	releasep(mp);
	pidleput(pp);
	unlock(&sched.lock);
	if (mp->spinning) {
		/* The race in the header: a goroutine readied between our last
		 * look and the decrement would find nmspinning > 0 and not
		 * wake anybody. Look once more after decrementing. */
		mp->spinning = false;
		atomic_add_u32(&sched.nmspinning, -1);
		for (uint32_t i = 0; i < procs; i++) {
			if (!runqempty(allp[i]) || atomic_load_u32(&sched.runqsize) > 0) {
				lock(&sched.lock);
				struct gor_p *p2 = pidleget();
				unlock(&sched.lock);
				if (p2) {
					acquirep(mp, p2);
					mp->spinning = true;
					atomic_add_u32(&sched.nmspinning, 1);
				}
				break;
			}
		}
	}
	goto top;
}

/* The scheduler loop on g0: find a goroutine, run it, repeat. */
static void schedule(struct gor_m *mp)
{
	for (;;) {
		struct gor_g *gp = mp->pendingg;
		mp->pendingg = NULL;
		if (gp == NULL && mp->p)
			gp = readyg_take(mp);
		/* Fairness: now and then take from the global queue first, or
		 * two goroutines yielding to each other could starve it. */
		if (gp == NULL && mp->p && mp->schedtick % 61 == 0 &&
		    atomic_load_u32(&sched.runqsize) > 0 && !atomic_load_u32(&sched.gcwaiting)) {
			lock(&sched.lock);
			gp = globrunqget(mp->p, 1);
			unlock(&sched.lock);
		}
		if (gp == NULL)
			gp = findrunnable(mp);
		/* Wherever gp came from: an M woken spinning may have taken
		 * the global queue's head above, without findrunnable (see
		 * "Spinning" at the top). */
		if (mp->spinning)
			resetspinning(mp);
		if (gp->lockedm != NULL && gp->lockedm != mp) {
			ready_locked(mp, gp, true);
			continue;
		}
		mp->schedtick++;
		execute_prep(mp, gp);
		mp = gswitch(mp, &mp->g0, gp);
		finish_after(mp);
	}
}

/* Entry of every goroutine started by gor_go. */
static void goentry(void *transfer)
{
	struct gor_m *mp = transfer;
#ifdef GOR_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	finish_after(mp);
	struct gor_g *gp = mp->curg;
	gp->fn(gp->arg);
	gor_exit();
}

/* Entry of an adopted thread's g0 (its own thread stack is its goroutine's). */
static void g0entry(void *transfer)
{
	struct gor_m *mp = transfer;
#ifdef GOR_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	finish_after(mp);
	schedule(mp);
}

static void nativestackbounds(gor_stack *s)
{
	pthread_attr_t attr;
	void *addr = NULL;
	size_t size = 0;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, &addr, &size);
		pthread_attr_destroy(&attr);
	}
	s->lo = addr;
	s->hi = (char *)addr + size;
}

/* Thread start for Ms the runtime creates: their g0 is the thread. */
static void *mstart(void *arg)
{
	struct gor_m *mp = arg;
	mp->thread = pthread_self();
	/* A thread inherits its creator's name: one that sysmon started
	 * (handoffp) would show as gor-sysmon in top -H, gdb and perf. */
	char name[16];
	snprintf(name, sizeof name, "gor-m%" PRId64, mp->id);
	pthread_setname_np(mp->thread, name);
	setm(mp);
	nativestackbounds(&mp->g0.stack);
#ifdef GOR_TSAN
	mp->g0.tsan_fiber = __tsan_get_current_fiber();
#endif
	stack_thread_init();
	casgstatus(&mp->g0, G_IDLE, G_RUNNING);
	struct gor_p *pp = mp->nextp;
	mp->nextp = NULL;
	acquirep(mp, pp);
	schedule(mp);
}

/* ---- runtime start and thread adoption -------------------------------- */

int gor_numcpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void dropm(void *arg);

static void schedinit(void)
{
	tls_m_offset = (uintptr_t)&tls_m - threadpointer();
	if (stack_init() != 0)
		gor_fatal("cannot start the runtime", "stack_init failed");
	debug_init();
	trace_init();
	pthread_key_create(&threadkey, dropm);
	uint32_t n = (uint32_t)gor_numcpu();
	const char *env = getenv("GOR_MAXPROCS");
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);
		if (*end == '\0' && v > 0)
			n = v > GOR_MAXPROCS_LIMIT ? GOR_MAXPROCS_LIMIT : (uint32_t)v;
		else
			fprintf(stderr, "gor: warning: ignoring GOR_MAXPROCS=%s (want a positive integer)\n", env);
	}
	struct gor_m dummy = {0};
	lock(&sched.lock);
	struct gor_p *runnable = procresize(&dummy, n);
	releasep(&dummy);
	pidleput(allp[0]);
	unlock(&sched.lock);
	(void)runnable; /* no P has work yet */
	sysmon_start();
	runtime_started = true;
	schedtrace_init();
}

/* Makes the calling thread a goroutine bound to it (see the header). */
struct gor_g *adopt(void)
{
	pthread_once(&initonce, schedinit);
	struct gor_m *mp = allocm();
	if (mp == NULL)
		gor_fatal("out of memory", "cannot adopt a thread");
	mp->thread = pthread_self();
	mp->g0stack_len = ADOPTED_G0_STACK;
	mp->g0stack_map = mmap(NULL, mp->g0stack_len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mp->g0stack_map == MAP_FAILED)
		gor_fatal("out of memory", "cannot allocate a scheduler stack");
#ifdef GOR_ASAN
	/* A previous thread's g0 may have left poison at this address. */
	ASAN_UNPOISON_MEMORY_REGION(mp->g0stack_map, mp->g0stack_len);
#endif
#ifdef GOR_VALGRIND
	mp->g0stack_vgid = VALGRIND_STACK_REGISTER(mp->g0stack_map,
						   (char *)mp->g0stack_map + mp->g0stack_len);
#endif
	mp->g0.stack.lo = mp->g0stack_map;
	mp->g0.stack.hi = (char *)mp->g0stack_map + mp->g0stack_len;
	gor_ctx_make(&mp->g0.ctx, mp->g0.stack.hi, g0entry, gor_ctx_fpstate());
	casgstatus(&mp->g0, G_IDLE, G_RUNNING);
	struct gor_g *gp = malg(NULL);
	if (gp == NULL)
		gor_fatal("out of memory", "cannot adopt a thread");
	gp->nativestack = 1;
	nativestackbounds(&gp->stack);
	gp->goid = atomic_add_u64(&goidgen, 1);
	gp->lockedm = mp;
	gp->m = mp;
	mp->lockedg = gp;
#ifdef GOR_TSAN
	gp->tsan_fiber = __tsan_get_current_fiber();
	mp->g0.tsan_fiber = __tsan_create_fiber(0);
#endif
	atomic_add_u64(&nadopted, 1);
	stack_thread_init();
	setm(mp);
	pthread_setspecific(threadkey, mp);
	lock(&sched.lock);
	struct gor_p *pp = pidleget();
	unlock(&sched.lock);
	if (pp) {
		acquirep(mp, pp);
		mp->curg = gp;
		casgstatus(gp, G_IDLE, G_RUNNING);
		if (unlikely(trace_enabled())) traceGoStart(gp);
		return gp;
	}
	/* No P free: wait like any runnable goroutine would. Our g0 sleeps
	 * until an M hands us a P and then switches back to us. */
	casgstatus(gp, G_IDLE, G_RUNNABLE);
	mp->curg = gp;
	mp->after = AFTER_NONE;
	lock(&sched.lock);
	globrunqput(gp);
	unlock(&sched.lock);
	finish_after(gswitch(mp, gp, &mp->g0));
	return gp;
}


/* Thread-exit destructor of an adopted thread: its goroutine ends, its P
 * goes to whoever needs it, its M is freed. */
static void dropm(void *arg)
{
	struct gor_m *mp = arg;
	struct gor_g *gp = mp->lockedg;
	if (gp == NULL || mp->curg != gp)
		return; /* ended by gor_exit already, and the M serves the pool */
	if (mp->syscalldepth)
		exitsyscall_all(gp);
	if (unlikely(trace_enabled())) traceGoStop(gp, AFTER_EXIT);
	casgstatus(gp, G_RUNNING, G_DEAD);
	mp->lockedg = NULL;
	gp->lockedm = NULL;
	atomic_add_u64(&nadopted, -1);
	struct gor_p *pp = mp->p;
	gfput(pp, gp);
	mp->curg = NULL;
	releasep(mp);
	lock(&sched.lock);
	struct gor_m **link = &sched.allm;
	while (*link != mp)
		link = &(*link)->alllink;
	*link = mp->alllink;
	sched.mcount--;
	unlock(&sched.lock);
	handoffp(pp);
	setm(NULL);
	stack_thread_exit();
#ifdef GOR_VALGRIND
	VALGRIND_STACK_DEREGISTER(mp->g0stack_vgid);
#endif
#ifdef GOR_ASAN
	ASAN_UNPOISON_MEMORY_REGION(mp->g0stack_map, mp->g0stack_len);
#endif
	munmap(mp->g0stack_map, mp->g0stack_len);
#ifdef GOR_TSAN
	__tsan_destroy_fiber(mp->g0.tsan_fiber);
#endif
	free(mp);
}

/* ---- public API: goroutines ---------------------------------------------- */

static int newproc(const gor_attr *a, void (*fn)(void *), void *arg, void *callerpc)
{
	if (fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	struct gor_g *self = getg_adopt();
	preemptcheck(self);
	struct gor_m *mp = self->m;
	struct gor_p *pp = mp->p;
	size_t stacksize = a ? a->stack_size : 0;
	if (stacksize > ((size_t)1 << 30)) {
		errno = EINVAL;
		return -1;
	}
	char *name = NULL;
	if (a && a->name && a->name[0]) {
		name = strdup(a->name);
		if (name == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	struct gor_g *gp = gfget(pp);
	if (gp == NULL && (gp = malg(pp)) == NULL) {
		free(name);
		errno = ENOMEM;
		return -1;
	}
	gp->name = name;
	gp->fn = fn;
	gp->arg = arg;
	gp->stacksize = (uint32_t)stacksize; /* checked above: <= 1 GiB */
	gp->goid = newgoid(pp);
	gp->createdpc = callerpc;
	gp->fpstate = gor_ctx_fpstate();
	gp->parentgoid = self->goid;
	gp->lockedm = NULL;
	atomic_store_u8(&gp->preempt, 0);
	pstat_inc(&pp->ncreated);
	casgstatus(gp, atomic_load_u32(&gp->status) == G_DEAD ? G_DEAD : G_IDLE, G_RUNNABLE);
	if (unlikely(trace_enabled())) traceGoCreate(gp);
	bool full = atomic_load_u32(&pp->runqtail) - atomic_load_u32(&pp->runqhead) >= RUNQ_SIZE - 2;
	runqput(pp, gp, true);
	wakep();
	/* Backpressure, which Go leaves to preemption: a spawner that outruns
	 * the goroutines it starts would fill the global queue without bound
	 * (every new one a fresh G, its memory a page fault away), while its
	 * own P runs none of them. Once its queue is full, it yields and its
	 * P runs those queued ahead of it, whose Gs, freed here, the next
	 * spawns reuse while still in this core's cache. "Full" leaves room
	 * for the G the put pushes out of runnext and for the spawner's own
	 * place at the tail: a queue that overflowed would spill half of
	 * itself to the global queue, which this P visits only now and then
	 * (one schedule in 61), and which would then grow without bound. */
	if (unlikely(full))
		gor_yield();
	return 0;
}

int gor_go(void (*fn)(void *), void *arg)
{
	return newproc(NULL, fn, arg, __builtin_return_address(0));
}

int gor_go_attr(const gor_attr *a, void (*fn)(void *), void *arg)
{
	return newproc(a, fn, arg, __builtin_return_address(0));
}

void gor_yield(void)
{
	struct gor_g *gp = getg_adopt();
	gosched_from(gp, AFTER_RUNQ);
}

_Noreturn void gor_exit(void)
{
	struct gor_g *gp = getg_adopt();
	if (unlikely(gp->m->syscalldepth))
		exitsyscall_all(gp);
	struct gor_m *mp = gp->m;
	pstat_inc(&mp->p->nexited);
	if (gp->nativestack) {
		/* An adopted thread's goroutine (main's, say) ends but its
		 * thread cannot: the thread becomes an ordinary M. As in Go,
		 * the other goroutines go on. */
		pstat_inc(&mp->p->ncreated); /* it was never counted as created */
		atomic_add_u64(&nadopted, -1);
		mp->lockedg = NULL;
		gp->lockedm = NULL;
	}
	casgstatus(gp, G_RUNNING, G_DEAD);
	gosched_from(gp, AFTER_EXIT);
	gor_fatal("internal error", "a dead goroutine was resumed");
}

uint64_t gor_self(void)
{
	return getg_adopt()->goid;
}

int gor_numgoroutine(void)
{
	getg_adopt();
	return gcount();
}

int gcount(void)
{
	uint64_t created = atomic_load_u64(&createdfolded);
	uint64_t exited = atomic_load_u64(&exitedfolded);
	uint32_t n = atomic_load_u32(&gomaxprocs);
	for (uint32_t i = 0; i < n; i++) {
		created += atomic_load_u64(&allp[i]->ncreated);
		exited += atomic_load_u64(&allp[i]->nexited);
	}
	return (int)(created - exited + atomic_load_u64(&nadopted));
}

int gor_maxprocs(int n)
{
	struct gor_g *gp = getg_adopt();
	int old = (int)atomic_load_u32(&gomaxprocs);
	if (n <= 0 || n == old)
		return old;
	if (n > GOR_MAXPROCS_LIMIT)
		n = GOR_MAXPROCS_LIMIT;
	struct gor_m *mp = gp->m;
	/* Another resize may be under way; take our turn. */
	static gor_lock resizelock;
	lock(&resizelock);
	stopTheWorld(mp);
	lock(&sched.lock);
	old = (int)atomic_load_u32(&gomaxprocs);
	struct gor_p *runnable = procresize(mp, (uint32_t)n);
	/* In the same critical section as procresize, as Go does: an M
	 * that takes one of the new idle Ps must not see gcwaiting and
	 * stop for a stop-the-world that is over. */
	atomic_store_u32(&sched.gcwaiting, 0);
	unlock(&sched.lock);
	startTheWorld(runnable);
	unlock(&resizelock);
	return old;
}

int gor_stats(gor_stats_t *out)
{
	if (out == NULL) {
		errno = EINVAL;
		return -1;
	}
	getg_adopt();
	readschedstats(out);
	return 0;
}

void readschedstats(gor_stats_t *out)
{
	memset(out, 0, sizeof *out);
	out->goroutines_created = atomic_load_u64(&createdfolded);
	out->context_switches = atomic_load_u64(&counters.switches);
	out->steals = atomic_load_u64(&counters.steals);
	out->parks = atomic_load_u64(&counters.parks);
	out->preemptions = atomic_load_u64(&counters.preempts);
	uint32_t n = atomic_load_u32(&gomaxprocs);
	for (uint32_t i = 0; i < n; i++) {
		struct gor_p *pp = allp[i];
		out->goroutines_created += atomic_load_u64(&pp->ncreated);
		out->context_switches += atomic_load_u64(&pp->nswitch);
		out->steals += atomic_load_u64(&pp->nsteal);
		out->parks += atomic_load_u64(&pp->npark);
		out->preemptions += atomic_load_u64(&pp->npreempt);
	}
	out->threads = atomic_load_u64(&counters.threads);
	out->netpoll_wakeups = atomic_load_u64(&counters.netpoll);
	out->idle_procs = atomic_load_u32(&sched.npidle);
	out->maxprocs = n;
	out->goroutines = (uint64_t)gcount();
}

/* ---- system calls: entersyscall, exitsyscall ------------------------------ */

/*
 * gor_syscall_enter/exit bracket a call that may block the thread, as
 * Go's entersyscall/exitsyscall bracket every system call.
 *
 * entersyscall leaves the P in P_SYSCALL, owned by nobody: pp->m and
 * mp->p are cleared and mp->oldp remembers it. Whoever moves it out of
 * P_SYSCALL, always with a CAS, owns it:
 *   - the M itself on its way back (exitsyscallfast), so that a short
 *     call costs two atomic operations and no thread hand-off;
 *   - sysmon (retakesyscall) once the call has lasted a sysmon tick and
 *     the P is wanted elsewhere, or in any case after 10 ms, which hands
 *     it to another M (handoffp);
 *   - stopTheWorld, which counts it as stopped at once.
 * Meanwhile its run queue stays open to thieves, as every P's is.
 *
 * exitsyscall takes the old P back if it is still P_SYSCALL, else an
 * idle P. With neither, the goroutine cannot run: it switches to g0,
 * which queues it and lets the M sleep without a P (exitsyscall0), as
 * Go's does. The goroutine is published there, after the switch, for
 * the reason given under "Switching" at the top.
 *
 * Adopted threads. A goroutine bound to its thread (main) stays on it:
 * exitsyscall0 leaves it in its M's mailbox, where sleep_without_p looks
 * first. Another goroutine that happens to run on an adopted thread (such
 * Ms run others while their own goroutine is parked, see the top) must
 * not block there, or the thread's own goroutine could not run until the
 * call returned, however long that is (a read from a terminal): before
 * entering, it moves with the P to an M of the runtime's own
 * (syscallhandoff), and the adopted M sleeps until its goroutine is ready.
 *
 * Nesting. mp->syscalldepth counts enters not yet matched; only the
 * outermost pair hands the P over, so a library that brackets its own
 * blocking calls can be called inside a bracket. An exit with no enter to
 * match is a no-op: the goroutine holds its P and runs, there is nothing
 * to undo, and a void call cannot report the mistake (the contract does
 * not let the runtime abort on a caller's mistake). Inside a bracket the
 * goroutine holds no P: it must call nothing of gor's but gor_now,
 * gor_self and the bracket itself. A goroutine that ends inside one
 * (returns, gor_exit, its thread exits) leaves it first.
 *
 * Locking: mp->oldp and mp->syscalldepth belong to the M's thread. A P's
 * status leaves P_SYSCALL only by CAS; its other fields then belong to
 * whoever did that.
 */

static void entersyscall_gcwait(struct gor_p *pp)
{
	lock(&sched.lock);
	if (atomic_load_u32(&sched.gcwaiting) && sched.stopwait > 0 &&
	    atomic_cas_u32(&pp->status, P_SYSCALL, P_STOPPED) && --sched.stopwait == 0)
		notewakeup(&sched.stopnote);
	unlock(&sched.lock);
}

static void entersyscall(struct gor_g *gp, struct gor_m *mp)
{
	struct gor_p *pp = mp->p;
	if (unlikely(trace_enabled())) traceGoSysCall(gp);
	if (unlikely(atomic_load_u8(&gp->preempt)))
		atomic_store_u8(&gp->preempt, 0); /* it is giving up its P */
	casgstatus(gp, G_RUNNING, G_SYSCALL);
	atomic_store_u32(&pp->syscalltick, atomic_load_u32(&pp->syscalltick) + 1);
	mp->oldp = releasep(mp);
	/* Whoever takes the P by CAS sees it as we left it. stopTheWorld
	 * stores gcwaiting and then looks for P_SYSCALL; we store P_SYSCALL
	 * and then look at gcwaiting, each in sequentially consistent order:
	 * one of us sees the other, so it never waits for this P. */
	atomic_xchg_u32(&pp->status, P_SYSCALL);
	if (unlikely(atomic_load_sc_u32(&sched.gcwaiting)))
		entersyscall_gcwait(pp);
}

static bool exitsyscallfast(struct gor_m *mp, struct gor_p *oldp)
{
	if (atomic_load_u32(&oldp->status) == P_SYSCALL &&
	    atomic_cas_u32(&oldp->status, P_SYSCALL, P_RUNNING)) {
		acquirep(mp, oldp);
		return true;
	}
	if (atomic_load_u32(&sched.npidle) == 0)
		return false;
	lock(&sched.lock);
	struct gor_p *pp = pidleget();
	unlock(&sched.lock);
	if (pp == NULL)
		return false;
	acquirep(mp, pp);
	return true;
}

static void exitsyscall(struct gor_g *gp, struct gor_m *mp)
{
	struct gor_p *oldp = mp->oldp;
	mp->oldp = NULL;
	if (likely(exitsyscallfast(mp, oldp))) {
		casgstatus(gp, G_SYSCALL, G_RUNNING);
		if (unlikely(trace_enabled())) traceGoSysExit(gp, mp->p);
		/* A pending stop-the-world counts this P as running: let it
		 * stop now rather than at the goroutine's next switch. */
		if (unlikely(atomic_load_u32(&sched.gcwaiting)))
			gosched_from(gp, AFTER_RUNQ);
		return;
	}
	if (unlikely(trace_enabled())) traceGoSysExit(gp, NULL);
	mp->after = AFTER_EXITSYSCALL;
	mp->aftergp = gp;
	finish_after(gswitch(mp, gp, &mp->g0));
}

/* On g0, after gp came back from its call to find no P (Go's
 * exitsyscall0): one more look for an idle P, else gp is queued and the
 * scheduler loop lets this M sleep without a P. */
static void exitsyscall0(struct gor_m *mp, struct gor_g *gp)
{
	casgstatus(gp, G_SYSCALL, G_RUNNABLE);
	if (gp->lockedm) {
		atomic_store_rel_ptr(&mp->readyg, gp); /* only we can run it */
		return;
	}
	lock(&sched.lock);
	struct gor_p *pp = pidleget();
	if (pp == NULL)
		globrunqput(gp);
	unlock(&sched.lock);
	if (pp) {
		acquirep(mp, pp);
		runqput(pp, gp, true);
	}
}

/* On g0 of an adopted M: gp, not the thread's own goroutine, is about to
 * enter a syscall. It goes, ahead of the queue, with the P to an M of the
 * runtime's (which never has a goroutine of its own to keep waiting), and
 * this M sleeps without a P. */
static void syscallhandoff(struct gor_m *mp, struct gor_g *gp)
{
	casgstatus(gp, G_RUNNING, G_RUNNABLE);
	runqput(mp->p, gp, true);
	startm(releasep(mp), false);
}

/* finish_after's AFTER_EXITSYSCALL and AFTER_HANDOFF, out of line so
 * that the common cases' code stays as small as it was. */
static void syscallafter(struct gor_m *mp, struct gor_g *gp, uint8_t after)
{
	if (after == AFTER_EXITSYSCALL)
		exitsyscall0(mp, gp);
	else
		syscallhandoff(mp, gp);
}

void gor_syscall_enter(void)
{
	struct gor_g *gp = getg_adopt();
	struct gor_m *mp = gp->m;
	if (mp->syscalldepth > 0) {
		mp->syscalldepth++;
		return;
	}
	/* A thief may bring gp back to an adopted M: look again. */
	while (unlikely(mp->lockedg != NULL && mp->lockedg != gp)) {
		mp->after = AFTER_HANDOFF;
		mp->aftergp = gp;
		if (unlikely(trace_enabled())) traceGoStop(gp, AFTER_HANDOFF);
		mp = gswitch(mp, gp, &mp->g0);
		finish_after(mp);
	}
	mp->syscalldepth = 1;
	entersyscall(gp, mp);
}

void gor_syscall_exit(void)
{
	struct gor_g *gp = getg_adopt();
	struct gor_m *mp = gp->m;
	if (mp->syscalldepth == 0)
		return; /* no enter to match: see above */
	if (--mp->syscalldepth == 0)
		exitsyscall(gp, mp);
}

void exitsyscall_all(struct gor_g *gp)
{
	struct gor_m *mp = gp->m;
	mp->syscalldepth = 0;
	exitsyscall(gp, mp);
}

/* The P_SYSCALL arm of Go's retake, for sysmon: leave the P alone if its
 * queue is empty and some M is idle or looking for work anyway, unless
 * the call has lasted 10 ms (longcall): then it goes too, so that its
 * timers run and, once every P is idle, sysmon can sleep. */
bool retakesyscall(struct gor_p *pp, bool longcall)
{
	if (!longcall && runqempty(pp) &&
	    atomic_load_u32(&sched.nmspinning) + atomic_load_u32(&sched.npidle) > 0)
		return false;
	if (!atomic_cas_u32(&pp->status, P_SYSCALL, P_IDLE))
		return false;
	handoffp(pp);
	return true;
}

/* ---- for the SIGSEGV handler and debug.c ------------------------------- */

bool proc_signal_goroutine(uint64_t *goid, const char **name, const gor_stack **stk)
{
	if (tls_m_offset == 0)
		return false;
	struct gor_m *mp = getm();
	if (mp == NULL || mp->curg == NULL)
		return false;
	*goid = mp->curg->goid;
	*name = mp->curg->name;
	*stk = &mp->curg->stack;
	return true;
}

bool runtime_is_started(void)
{
	return runtime_started;
}
