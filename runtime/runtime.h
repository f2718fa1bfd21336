/*
 * runtime.h - the runtime's internal types and the interfaces between its
 * files. Nothing here is public; include/gor.h is the public API.
 *
 * The three actors, as in Go's runtime (runtime2.go):
 *   G  a goroutine: a function, a stack, a saved context and a status.
 *   M  an OS thread. It runs goroutines only while it holds a P, and has a
 *      scheduler context of its own (g0) for the times it runs no goroutine.
 *   P  a logical processor: the right to run goroutine code, a local run
 *      queue, free lists and a timer heap. There are exactly MAXPROCS.
 *
 * Ownership and locking, in brief (each file repeats what it relies on):
 *   - A G's fields belong to whoever holds it: the M running it, or the
 *     queue or wait list that contains it. status is atomic so that dumps
 *     and the deadlock check may read it from anywhere.
 *   - A P's run queue is lock-free (owner pushes and pops, thieves take
 *     with CAS on head); everything else in a P belongs to the M holding it.
 *   - sched.lock guards the idle M and P lists, the global run queue, the
 *     global G free list, allm and the stop-the-world state.
 *   - Each P's timers have their own lock (see time.c).
 *
 * Lock order: sched.lock before any P's timer lock; never hold either
 * while switching goroutines, with one exception described in proc.c (a
 * parking goroutine's unlockf runs after the switch, on the new side).
 */
#ifndef GOR_RUNTIME_H
#define GOR_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "gor.h"
#include "atomic.h"
#include "context.h"
#include "stack.h"

/* Internal: calls between the runtime's files are direct, not through
 * the GOT (the library is built -fno-plt). */
#pragma GCC visibility push(hidden)

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOR_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GOR_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(GOR_ASAN)
#define GOR_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(GOR_TSAN)
#define GOR_TSAN 1
#endif

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* The most Ps gor_maxprocs accepts; allp is sized for it at start. */
#define GOR_MAXPROCS_LIMIT 1024

struct gor_g;
struct gor_m;
struct gor_p;

/* ---- lock_futex.c: the runtime's own mutex and one-shot notes --------- */

/* A mutex that spins briefly and then sleeps on a futex (Go's lock_futex).
 * Zero is unlocked. It must not be held across a goroutine switch, with
 * the gopark unlockf exception. */
typedef struct gor_lock { atomic_u32 key; } gor_lock;
enum { LOCK_UNLOCKED, LOCK_LOCKED, LOCK_SLEEPING };
void lock_slow(gor_lock *l, uint32_t v);
void unlock_wake(gor_lock *l);

/* The uncontended cases inline: every channel operation takes a lock. */
static inline void lock(gor_lock *l)
{
	uint32_t v = atomic_xchg_u32(&l->key, LOCK_LOCKED);
	if (__builtin_expect(v != LOCK_UNLOCKED, 0))
		lock_slow(l, v);
}

static inline void unlock(gor_lock *l)
{
	if (__builtin_expect(atomic_xchg_u32(&l->key, LOCK_UNLOCKED) == LOCK_SLEEPING, 0))
		unlock_wake(l);
}

/* A note is a one-shot event an M sleeps on: noteclear, then one
 * notewakeup, and notesleep returns. notetsleep gives up at a deadline
 * (gor_now() time; GOR_NEVER waits for ever) and returns whether it was
 * woken. */
typedef struct note { atomic_u32 key; } note;
void noteclear(note *n);
void notewakeup(note *n);
void notesleep(note *n);
bool notetsleep(note *n, int64_t deadline);

/* ---- time.c: timers ---------------------------------------------------- */

/* A timer fires f(arg, now) on whichever M runs the P's timers, with that
 * P held, after `when`. f must not block. period > 0 re-arms it. */
struct timer {
	int64_t when;
	int64_t period;
	void (*f)(void *arg, int64_t now);
	void *arg;
	atomic_ptr pp;   /* the P whose heap holds it, NULL when not queued */
	int32_t idx;     /* heap index; under pp's timer lock */
	atomic_u32 state;/* enum timer_state; see time.c */
};

struct heapent {
	int64_t when;        /* t->when, copied: see time.c */
	uintptr_t t;         /* the timer, or a sleeping G | HEAPENT_SLEEP */
};

struct timers {
	gor_lock lock;
	struct heapent *heap;/* 4-ary min-heap on when, under lock */
	uint32_t n, cap;
	atomic_u64 when0;    /* heap[0].when or INT64_MAX; read without lock */
};

void addtimer(struct gor_p *pp, struct timer *t);
bool deltimer(struct timer *t);
/* Runs pp's due timers (the caller holds pp); returns the next when. */
int64_t checktimers(struct gor_p *pp, int64_t now);
/* Earliest when over every P, INT64_MAX if none. */
int64_t timers_next(void);
void timers_destroy(struct gor_p *pp, struct gor_p *to);
int64_t nanotime(void);
/* nanotime as last read by anybody, within sysmon's tick: see time.c. */
extern atomic_u64 coarseclock;
static inline int64_t coarsetime(void)
{
	return (int64_t)atomic_load_u64(&coarseclock);
}
/* nanotime refreshes coarseclock once it is COARSE_STEP old; sysmon reads
 * the clock at least every SYSMON_TICK_MAX while a P runs (sysmon.c). */
#define COARSE_STEP GOR_MILLISECOND
#define SYSMON_TICK_MAX (10 * GOR_MILLISECOND)
/* How far coarseclock may lag the clock while a P runs, with one whole
 * tick of slack for a late sysmon: see "Is a timer due?" in time.c. */
#define TIMER_LEAD (2 * SYSMON_TICK_MAX + COARSE_STEP)

/* Whether the timer at `when` is due. A look that one load answers for a
 * timer further than TIMER_LEAD ahead of coarseclock, and a clock read
 * otherwise: the switch asks at every hand-off while any timer is set. */
static inline bool timer_due(int64_t when)
{
	return when - TIMER_LEAD <= coarsetime() && when <= nanotime();
}

/* ---- proc.c: G, M, P and the scheduler ---------------------------------- */

enum gstatus {
	G_IDLE,      /* allocated, not yet started or on a free list */
	G_RUNNABLE,  /* on a run queue or about to be */
	G_RUNNING,   /* executing on an M with a P */
	G_WAITING,   /* parked; a wait list or timer holds it */
	G_SYSCALL,   /* in a blocking call bracketed by gor_syscall_enter/exit */
	G_DEAD,      /* finished; on a free list */
};

enum waitreason {
	WAIT_NONE,
	WAIT_SLEEP,
	WAIT_CHAN_RECV,
	WAIT_CHAN_SEND,
	WAIT_CHAN_NIL,       /* receive from a NULL channel */
	WAIT_CHAN_SEND_NIL,
	WAIT_SELECT,
	WAIT_SELECT_NOCASES,
	WAIT_MUTEX,
	WAIT_RWMUTEX_R,
	WAIT_RWMUTEX_W,
	WAIT_WAITGROUP,
	WAIT_COND,
	WAIT_ONCE,
	WAIT_IO,
	WAIT_STOPPED,   /* main after gor_exit */
	WAIT_NREASONS
};
extern const char *const waitreason_names[WAIT_NREASONS];
extern const char *const gstatus_names[G_DEAD + 1];

/*
 * A sudog is a goroutine waiting on something: a channel's send or receive
 * queue, a select's cases, a semaphore. As in Go, one goroutine may have
 * several (one per select case). gor puts them on the waiting goroutine's
 * own stack, which never moves, so parking allocates nothing. Fields
 * belong to whoever holds the lock of the queue the sudog is on.
 */
struct sudog {
	/* A waker reads and writes the first 40 bytes only. */
	struct gor_g *g;
	struct sudog *next, *prev;  /* in a wait queue */
	void *elem;                 /* data to send, or where to receive */
	bool isselect;              /* part of a select: claim g->selectdone */
	bool success;               /* woken by a value (true) or a close */
	uint32_t ticket;            /* sema.c: handoff / notify ticket */
	struct gor_chan *c;         /* channel waited on (chan, select) */
	struct sudog *waitlink;     /* the g's other sudogs (select) */
	void *addr;                 /* semaphore key (sema.c) */
	int64_t acquiretime;
};

struct gor_g {
	/*
	 * Three cache lines, laid out for the paths that cross cores or run
	 * through many goroutines:
	 *  - the first holds what a hand-off, a park and a switch touch, so a
	 *    hop costs one line of the G (threadring passes its token through
	 *    503 goroutines). The switch checks the stack's canary through
	 *    gp->canary, without the stack descriptor.
	 *  - A goroutine is often created on one P and run and freed on
	 *    another (spawn at P2). The first two lines carry what both sides
	 *    touch; the third is the creator's and the dumps'. One more line
	 *    touched on both sides cost spawn at P2 a third of its speed.
	 */
	gor_ctx ctx;           /* saved stack pointer while not running */
	uint64_t *canary;      /* stack.lo when the stack has a canary, else NULL */
	struct gor_m *m;       /* the M running it, while running */
	struct gor_m *lockedm; /* the thread it is bound to (adopted threads) */
	void *param;           /* handed over by the goroutine that readies it:
				* the sudog that won, for chan and select */
	void *waiting;         /* what it waits on (a channel...), for dumps;
				* with waitsince and waitreason, valid while
				* status is G_WAITING, stale after */
	int64_t waitsince;     /* coarsetime() when it parked */
	atomic_u32 status;     /* enum gstatus */
	uint16_t waitreason;   /* enum waitreason, while G_WAITING */
	atomic_u8 preempt;     /* sysmon asks it to yield at its next call */
	uint8_t nativestack;   /* an adopted thread's own stack: never freed */

	gor_stack stack;       /* stack.lo == NULL: not yet bound (see execute) */
	struct gor_g *schedlink; /* next in a run queue or free list */
	void (*fn)(void *);
	void *arg;
	uint32_t fpstate;      /* creator's FP control state, for its start */
	uint32_t stacksize;    /* requested usable size, 0 = default; <= 1 GiB */
	char *name;            /* malloc'd copy or NULL; freed at exit */

	struct sudog *waitsudogs; /* select: list of its sudogs, via waitlink */
	atomic_u32 selectdone; /* a select's sudogs race to set it to 1 */
	uint64_t goid;
	void *createdpc;       /* return address of the gor_go call */
	uint64_t parentgoid;
	struct gor_g *alllink; /* allgs, append-only, never unlinked */
#ifdef GOR_TSAN
	void *tsan_fiber;
#endif
#ifdef GOR_ASAN
	void *asan_fake_stack;
#endif
};
_Static_assert(offsetof(struct gor_g, stack) == 64 && offsetof(struct gor_g, waitsudogs) == 128,
	       "gor_g's lines: see the comment above");

/* What the M does right after a switch, on the side that was switched to,
 * with the goroutine it switched away from (see proc.c, "switching"). */
enum after_switch {
	AFTER_NONE,
	AFTER_RUNQ,    /* it yielded: put it back on the run queue */
	AFTER_PARK,    /* it parked: run unlockf, maybe make it runnable again */
	AFTER_PARKUNLOCK, /* it parked: release the gor_lock in unlockarg
			   * (goparkunlock, Go's parkunlock_c) */
	AFTER_EXIT,    /* it finished: free it and its stack */
	AFTER_EXITSYSCALL, /* back from a syscall without a P (exitsyscall0) */
	AFTER_HANDOFF, /* about to enter a syscall on an adopted thread: move
			* it to an M of the runtime's (see proc.c) */
};

struct gor_m {
	struct gor_g g0;        /* the scheduler's context and stack */
	struct gor_g *curg;     /* the goroutine running, or NULL on g0 */
	struct gor_p *p;        /* the P held, NULL when none */
	struct gor_p *nextp;    /* a P handed over by startm, taken on wake-up */
	struct gor_g *lockedg;  /* an adopted thread's own goroutine */
	atomic_ptr readyg;      /* lockedg made runnable, for this M to run */
	struct gor_m *schedlink;/* idle list, under sched.lock */
	struct gor_m *alllink;  /* allm, under sched.lock */
	int64_t id;
	bool spinning;          /* looking for work; counted in sched.nmspinning */
	bool idle;              /* committed to sleep without a P; under sched.lock */
	bool idlelocked;        /* counted in sched.nmidlelocked; under sched.lock */
	struct gor_g *pendingg; /* a G for another thread, met on the fast path */
	note park;
	uint64_t fastrand;
	uint32_t schedtick;     /* for the 1-in-61 global queue check */
	/* after-switch work, see enum after_switch */
	uint8_t after;
	struct gor_g *aftergp;
	bool (*unlockf)(struct gor_g *, void *);
	void *unlockarg;
	struct gor_p *oldp;     /* the P curg left when it entered a syscall */
	uint32_t syscalldepth;  /* curg's gor_syscall_enter nesting */
	void *g0stack_map;      /* mmap'd g0 stack of an adopted thread */
	size_t g0stack_len;
	unsigned g0stack_vgid;  /* valgrind's id for it */
	pthread_t thread;
	struct tracebuf *tracebuf; /* trace.c: this M's current trace buffer */
};

enum pstatus { P_IDLE, P_RUNNING, P_SYSCALL, P_STOPPED, P_DEAD };

#define RUNQ_SIZE 256
#define GFREE_LOCAL_MAX 64

struct gor_p {
	/* run queue: head is taken by the owner and thieves (CAS), tail is
	 * written by the owner only; the ring is indexed modulo RUNQ_SIZE */
	atomic_u32 runqhead;
	atomic_u32 runqtail;
	atomic_ptr runnext;      /* the next G to run, ahead of the queue */
	atomic_ptr runq[RUNQ_SIZE];
	int32_t id;
	atomic_u32 status;       /* enum pstatus */
	struct gor_m *m;         /* the M holding it */
	struct gor_p *link;      /* idle list, under sched.lock */
	uint32_t schedtick;
	struct gor_g *gfree[GFREE_LOCAL_MAX]; /* free Gs, owner only */
	int32_t gfreecnt;
	struct stackcache stackcache;
	struct timers timers;
	uint64_t goidcache, goidcacheend; /* batch of goroutine ids */
	char *gslab, *gslabend;  /* bump allocator for new Gs */
	/* statistics: written by the owner only (load+store), read by anyone */
	atomic_u64 ncreated, nexited, nswitch, nsteal, npark, npreempt;
	/* bumped by each entersyscall, so that sysmon tells calls apart */
	atomic_u32 syscalltick;
};

/* A batch of the global run queue: g[head..tail) are queued. Half a local
 * queue and the G that overflowed it fill one (runqputslow). */
#define GBATCH (RUNQ_SIZE / 2 + 1)
struct gbatch {
	struct gbatch *next;
	uint32_t head, tail;
	struct gor_g *g[GBATCH];
};

struct sched {
	gor_lock lock;
	/* idle Ms and Ps, under lock; npidle and nmspinning also read without */
	struct gor_m *midle;
	int32_t nmidle;
	int32_t nmidlelocked;    /* bound Ms asleep in stopm (not on midle),
				  * less 1 while sysmon holds goroutines
				  * from the poller (incidlelocked) */
	struct gor_p *pidle;
	atomic_u32 npidle;
	atomic_u32 nmspinning;
	int64_t mnext;           /* next M id */
	struct gor_m *allm;
	int32_t mcount;
	/* global run queue, under lock: batches, see proc.c */
	struct gbatch *runqhead, *runqtail, *freebatch;
	atomic_u32 runqsize;
	/* global free Gs, under lock */
	struct gbatch *gfree;    /* free Gs, at most GFREE_LOCAL_MAX per batch */
	atomic_u32 ngfree;       /* written under lock, read without as a hint */
	/* stop the world, see stopTheWorld */
	atomic_u32 gcwaiting;
	int32_t stopwait;
	note stopnote;
	/* the M sleeping until the next timer, under lock */
	struct gor_m *timedsleeper;
	int64_t timedsleep_until;
	bool timedsleep_polls;   /* it waits in netpoll, not on its note */
};

extern struct sched sched;
extern struct gor_p *allp[GOR_MAXPROCS_LIMIT];
extern atomic_u32 gomaxprocs;
extern atomic_u64 ngoroutines;

/* Counters behind gor_stats; relaxed atomics. */
struct gor_counters {
	atomic_u64 created, switches, steals, parks, threads, netpoll, preempts;
};
extern struct gor_counters counters;

/*
 * The M and goroutine running on this thread. getm reads tls_m through
 * the thread pointer register inside an asm volatile, which the compiler
 * must execute afresh each time: a plain read of a __thread variable lets
 * it keep the variable's address across a call, and a goroutine that
 * parked on one thread may resume on another. Static TLS (initial-exec)
 * sits at the same offset from the thread pointer in every thread, so the
 * offset is computed once (schedinit); it is never 0 on either
 * architecture's TLS layout, so 0 means "runtime not started".
 */
extern __thread struct gor_m *tls_m __attribute__((tls_model("initial-exec")));
extern uintptr_t tls_m_offset;

static inline uintptr_t threadpointer(void)
{
	uintptr_t tp;
#if defined(__x86_64__)
	__asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
#else
#error "gor supports x86-64 and aarch64"
#endif
	return tp;
}

static inline struct gor_m *getm(void)
{
	return *(struct gor_m *const *)(threadpointer() + tls_m_offset);
}

/* NULL on a thread the runtime has not adopted. */
static inline struct gor_g *getg(void)
{
	struct gor_m *mp = tls_m_offset ? getm() : NULL;
	return mp ? mp->curg : NULL;
}

/* A random number in [0, n), from the M's own generator (wyrand: one
 * multiply, good enough for steal victims, select cases and treap
 * priorities). Inline: a 2-case select draws twice per call. */
static inline uint32_t fastrandn(uint32_t n)
{
	struct gor_m *mp = getm();
	uint64_t x = mp ? mp->fastrand : (uint64_t)nanotime();
	x += 0xa0761d6478bd642full;
	if (mp)
		mp->fastrand = x;
	__uint128_t r = (__uint128_t)x * (x ^ 0xe7037ed1a0b428dbull);
	uint32_t v = (uint32_t)((uint64_t)(r >> 64) ^ (uint64_t)r);
	return (uint32_t)(((uint64_t)v * n) >> 32);
}

/* Adopts the calling thread, starting the runtime if need be (proc.c). */
struct gor_g *adopt(void);

/* getg, adopting the thread if needed: every public entry point. */
static inline struct gor_g *getg_adopt(void)
{
	struct gor_g *gp = getg();
	return likely(gp != NULL) ? gp : adopt();
}

/* gopark(unlockf, arg, reason, waiting), in switch.h (inline): parks the
 * running goroutine. unlockf(gp, arg) runs after it is switched out, on
 * the new side; if it returns false the goroutine is made runnable again
 * at once. unlockf may be NULL. */
/* Make a parked goroutine runnable; next puts it ahead of the queue. */
void goready(struct gor_g *gp, bool next);
/* A timer became its P's earliest: make sure some M wakes for it. */
void wake_timedsleeper(int64_t when);
/* Whether schedinit has run (dumps before that have nothing to show). */
bool runtime_is_started(void);

/* System calls (proc.c). sysmon's retake of a P that has stayed in
 * P_SYSCALL for a whole sysmon tick: hands it off if that is worth it
 * (work is waiting, nobody else is looking for work, or longcall: the
 * call has lasted 10 ms). True if it took the P. */
bool retakesyscall(struct gor_p *pp, bool longcall);
/* Ends gp's syscall bracket however deep it is nested: a goroutine or an
 * adopted thread that ends inside one. */
void exitsyscall_all(struct gor_g *gp);

/* ---- sysmon.c ------------------------------------------------------------ */

/* Starts the sysmon thread (schedinit). */
void sysmon_start(void);
/* Set, under sched.lock, while sysmon sleeps because every P is idle;
 * whoever takes a P off the idle list then wakes it (sysmonwake, under
 * sched.lock). */
extern atomic_u32 sysmonwait;
void sysmonwake(void);
/* The netpoller's part of sysmon: a non-blocking poll if nobody has
 * polled for 10 ms, readying what it finds. sysmon.c has a weak no-op
 * that the netpoller's definition replaces. */
void netpoll_sysmon_poll(int64_t now);

/*
 * Cooperative preemption. sysmon sets gp->preempt on a goroutine that has
 * held its P for 10 ms; the goroutine yields at its next call to one of
 * the runtime's entry points that check (listed in sysmon.c). The check
 * is one load and a branch that is almost never taken: of gp->preempt
 * where the entry point has the current G at hand, else of preemptpending
 * (set by sysmon while some goroutine has held its P for 10 ms), so that
 * the G is looked up only then.
 */
void gopreempt(struct gor_g *gp);
extern atomic_u32 preemptpending;
/* Starts a spinning M if a P is idle and nobody spins (proc.c). */
void wakep(void);
void wakep_tail(struct gor_p *pp);
void preemptcheck_slow(void);

static inline void preemptcheck(struct gor_g *gp)
{
	if (unlikely(atomic_load_u8(&gp->preempt)))
		gopreempt(gp);
}

static inline void preemptcheck_self(void)
{
	if (unlikely(atomic_load_u32(&preemptpending)))
		preemptcheck_slow();
}
extern atomic_ptr allglist;



/* Moves a fatal report off a small goroutine stack onto g0's (proc.c);
 * returns when not on one. */
void fatal_off_small_stack(const char *msg, const char *detail);
/* Counters behind gor_stats, without adopting the caller (at exit the
 * calling thread may be one the runtime has never seen). */
void readschedstats(gor_stats_t *out);
/* Goroutines that exist now (Go's gcount), without adopting the caller. */
int gcount(void);

/* ---- netpoll.c: the scheduler's side of the netpoller ----------------- */

/* Polls the fds goroutines wait on: delay < 0 blocks until one is ready
 * or netpollBreak, 0 does not block, > 0 waits at most delay ns. Returns
 * the goroutines made ready, still G_WAITING, linked by schedlink. */
struct gor_g *netpoll(int64_t delay);
/* Makes a blocked netpoll return. */
void netpollBreak(void);
bool netpollinited(void);
/* Goroutines are parked on fds (so they are not deadlocked). */
bool netpollAnyWaiters(void);
/* An M is blocked in netpoll: it will see what becomes ready. */
bool netpollBlocked(void);
/* Makes a netpoll list runnable (proc.c); mp is the caller's M, NULL on
 * sysmon. */
void injectglist(struct gor_m *mp, struct gor_g *list);
/* Adds v to sched.nmidlelocked (proc.c; Go's incidlelocked): sysmon,
 * which is no M, counts as a running one with -1 while it holds
 * goroutines taken from the poller, so that checkdead does not see them
 * waiting with nobody to wake them. */
void incidlelocked(int32_t v);

/* ---- debug.c ----------------------------------------------------------- */
void dumpgoroutines(int fd);
void debug_init(void);

/* ---- schedtrace.c: GOR_DEBUG=schedtrace/scheddetail, GOR_STATS ------------ */
void schedtrace_init(void);
/* Threads of the runtime's own that are not Ms (sysmon, the schedtrace printer),
 * for checkdead's count of the process's threads. */
extern atomic_u32 nhelperthreads;

/* ---- trace.c: the scheduler event trace (GOR_TRACE=PATH) ------------------ */

/* Why a goroutine stopped running, in a trace. */
enum trace_stop {
	TRACE_STOP_YIELD,    /* gor_yield: still runnable */
	TRACE_STOP_BLOCK,    /* parked; its waitreason says on what */
	TRACE_STOP_EXIT,     /* finished */
	TRACE_STOP_PREEMPT,  /* yielded on a preempt request */
	TRACE_STOP_SYSCALL,  /* entered a blocking call */
	TRACE_STOP_RESIZE,   /* moved to another P by gor_maxprocs */
	TRACE_STOP_NREASONS
};

/* Set while events are recorded. Every hook on a hot path is
 * `if (unlikely(trace_enabled())) traceXxx(...);`: one compare of memory
 * with 0 and one predictable branch when tracing is off (hidden: read
 * directly, not through the GOT). */
extern atomic_u32 trace_on __attribute__((visibility("hidden")));
static inline bool trace_enabled(void)
{
	return atomic_load_u32(&trace_on) != 0;
}
/* Reads GOR_TRACE; called by schedinit before the first procresize. */
void trace_init(void);
/* The recorders. mp is the calling M; gp a goroutine; pp a P. */
void traceGoCreate(struct gor_g *gp);                   /* gp was just made by this thread's goroutine */
void traceGoStart(struct gor_g *gp);                    /* gp runs on this M's P from now (and m->aftergp stopped) */
void traceGoStop(struct gor_g *gp, uint8_t after);      /* gp (running) switches to g0: enum after_switch */
void traceGoUnpark(struct gor_g *gp);                   /* gp made runnable (goready) by this thread */
void traceProcSteal(struct gor_p *pp, struct gor_p *victim, uint32_t n);
void traceTimerFire(struct gor_p *pp);                  /* a timer of pp's heap runs now */
void traceProcResize(struct gor_m *mp, uint32_t oldprocs, uint32_t newprocs); /* under sched.lock */
void traceProcHandoff(struct gor_p *pp);                /* handoffp */
void traceGoSysCall(struct gor_g *gp);                  /* entersyscall: gp stops running */
void traceGoSysExit(struct gor_g *gp, struct gor_p *pp);/* exitsyscall: gp runs again on pp, or NULL: it waits for one */
void traceGoPreempt(struct gor_g *gp);                  /* gp is about to yield on a preempt request */
void traceNetpollWake(struct gor_g *gp);                /* the poller is about to ready gp */

#pragma GCC visibility pop

#endif /* GOR_RUNTIME_H */
