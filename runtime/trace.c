/*
 * trace.c - the scheduler event trace: GOR_TRACE=PATH and gor_trace_stop
 * (after Go's runtime/trace.go, much smaller, and written as Chrome trace
 * JSON instead of Go's binary format).
 *
 * What is recorded. When each goroutine starts and stops running, on
 * which P and which M, and why it stopped: it yielded, blocked (with its
 * enum waitreason: chan receive, sleep, sync.Mutex.Lock...), was
 * preempted, entered a system call, exited, or was moved by gor_maxprocs.
 * Who woke whom (goready: the waking goroutine, or a timer, the netpoller,
 * the scheduler), steals (thief P, victim P, how many), timer fires, P
 * hand-offs, system call enter and exit, netpoll wake-ups, preemption
 * requests and MAXPROCS changes (procresize); goroutine creation, with
 * the creator and the name (gor_attr.name).
 *
 * Recording. Each M appends fixed-layout events to a buffer of its own
 * (mp->tracebuf), so the hot path takes no lock and shares no cache line:
 * reserve words, write them, publish the new length with a release store.
 * A full buffer is left where it is and a new one chained behind it; every
 * buffer ever allocated is pushed (CAS) on one global list, tracebufs,
 * which is never unlinked. Threads without an M (none today; sysmon's
 * netpoll later, perhaps) share one buffer under a lock. Events are words:
 *   w[0] = kind | nwords << 8 | aux << 16   (aux: 48 bits of small fields)
 *   w[1] = timestamp, in ticks of the trace clock
 *   w[2...] = goroutine ids, and a new goroutine's name (NUL-padded)
 * The flag trace_on gates every recorder: each hook in the scheduler is
 * `if (unlikely(trace_enabled())) traceXxx(...)`, one relaxed load and a
 * predictable branch when tracing is off, which is always unless
 * GOR_TRACE is set.
 *
 * Where the hooks are. proc.c: newproc (traceGoCreate), execute_prep
 * (traceGoStart: a goroutine starts running; on a direct switch, m->after
 * is set and the goroutine switched away from is recorded as stopped
 * there too, so that the fastest path pays for one hook, not two; both
 * are in switch.h now), gosched_from's switch to g0 (traceGoStop), goready
 * (traceGoUnpark), runqsteal (traceProcSteal), handoffp, procresize, and
 * adopt/dropm for threads' own goroutines; time.c: checktimers
 * (traceTimerFire); entersyscall and exitsyscall (traceGoSysCall,
 * traceGoSysExit; traceGoStop when gor_syscall_enter moves a goroutine off
 * an adopted thread); sysmon.c: gopreempt (traceGoPreempt); proc.c's
 * netpollready, for each goroutine the netpoller readies
 * (traceNetpollWake, then traceGoUnpark). Every hook that makes a
 * goroutine runnable records before it is published, so that no other M
 * can start it before the event's time.
 *
 * The clock. On x86-64 the TSC (rdtsc, ~10 ns here against ~25 ns for
 * clock_gettime through the vDSO), but only when the kernel itself uses
 * it as its clocksource, which it does only if the TSC is invariant and
 * synchronized across CPUs; ticks are turned into nanoseconds at the end
 * with two (TSC, CLOCK_MONOTONIC) pairs, one taken at the start and one at
 * the end at least CALIBRATE_NS later. On aarch64 the virtual counter
 * (cntvct_el0, synchronized by the architecture) at cntfrq_el0 ticks per
 * second. Elsewhere, or with GOR_TRACE_CLOCK=monotonic, clock_gettime.
 * Every M's events are in time order in its own chain, and a goroutine
 * starts and stops on the same M, so slices are paired per M; only wake
 * flows need a global time order, which is sorted at the end.
 *
 * Stopping and writing. At exit (atexit), or on gor_trace_stop, whoever
 * moves tracestate from ON to FLUSHING clears trace_on, reads the clock
 * once more, and walks tracebufs reading each buffer up to its published
 * length (acquire). Other Ms may still run, and one that tested trace_on
 * just before it was cleared may still be writing: it writes beyond the
 * length read, or into a buffer not yet on the list, so the writer never
 * reads what it writes and events later than the end are dropped.
 * Buffers are never freed for the same reason; they stay reachable from
 * tracebufs. Anyone else who stops meanwhile (main returning while a
 * goroutine calls gor_trace_stop) waits until the file is complete. A
 * forked child records nothing and writes nothing. Memory is capped at
 * GOR_TRACE_LIMIT MiB (default 64, some 2.5 million events, a JSON file
 * of about 250 MB): past it recording stops, the trace ends there and
 * says so ("truncated"), and a warning is printed.
 *
 * The output: Chrome trace event JSON ("JSON object format"), which
 * ui.perfetto.dev and chrome://tracing open. Times are microseconds since
 * the trace started, with three decimals (nanoseconds). Format 1:
 *
 *   {"traceEvents":[ ... ], "displayTimeUnit":"ns", "otherData":{
 *     "producer":"gor", "format":1, "clock":"tsc"|"cntvct"|"monotonic",
 *     "maxprocs":N (at the start), "ncpu":N, "end_us":T (the trace's
 *     end), "truncated":false|true }}
 *
 *   pid 1 "Ps": one track per P, tid = P id (tid 9999 "no P" for events
 *   of threads that held none). On it:
 *     "X" slices, one per run of a goroutine: name = its name or "g<id>",
 *         args {"g":id, "m":M id, "end":why, "reason":waitreason (when
 *         "end" is "block"), "woken_by":goroutine id or "src":"timer" |
 *         "netpoll" | "scheduler" when a wake-up preceded this run}; why
 *         is one of yield, block, exit, preempt, syscall, resize, or
 *         running (still running when the trace ended).
 *     "i" instants (scope thread): "create" {"g", "parent"}, "wake"
 *         {"g", "by" (0: none), "src": "goroutine"|"timer"|"netpoll"|
 *         "scheduler"}, "steal" {"victim", "n"}, "timer" {"heap": P whose
 *         timer it was}, "handoff" {"m"}, "syscall" {"g"}, "sysexit"
 *         {"g"}, "preempt" {"g"}, "netpoll" {"g"}.
 *     flow events "s"/"f" (cat "wake", one id per wake-up by a goroutine):
 *         from the waker's slice to the woken goroutine's next slice.
 *     "maxprocs" instants (scope global) {"old", "new"} and a "C" counter
 *         named MAXPROCS; the first has old 0 and gives the start value.
 *   pid 2 "Ms": one track per M (tid = M id), the same slices, args
 *   {"g", "p"}: which goroutines each OS thread ran.
 *   "M" metadata events name the processes and tracks and order them.
 * The JSON events are sorted by time (metadata first).
 *
 * Locking: mp->tracebuf and the buffer's words are written by its M only.
 * buf->pos is published with release, read with acquire by the flusher.
 * tracebufs is a CAS-pushed list. The no-M buffer is under nomlock. The
 * MAXPROCS changes (procs[]) are written under sched.lock (procresize is
 * always called with it) and published by a release store of nprocs.
 * tracestate moves OFF -> ON (init), ON -> FLUSHING -> DONE (one flusher)
 * by CAS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

atomic_u32 trace_on;

enum { TRACEBUF_WORDS = 8192 - 4 }; /* a buffer is 64 KiB */

struct tracebuf {
	struct tracebuf *link; /* tracebufs, newest first; set before the push */
	int64_t mid;           /* the M writing it, -1 for threads without one */
	uint32_t seq;          /* its place in that M's chain */
	atomic_u32 pos;        /* words written and published */
	uint8_t wakesrc;       /* owner only: who readies goroutines from g0 now */
	uint64_t w[TRACEBUF_WORDS];
};

enum ev {
	EV_GOSTART = 1, /* aux: P; w2: goid */
	EV_GOSTOP,      /* aux: enum trace_stop | waitreason << 8; w2: goid */
	EV_GOUNPARK,    /* aux: P | src << 16; w2: goid; w3: waker goid or 0 */
	EV_STEAL,       /* aux: P | victim << 16 | n << 32 */
	EV_TIMER,       /* aux: P | heap P << 16 */
	EV_HANDOFF,     /* aux: P */
	EV_SYSEXIT,     /* aux: P or NOP; w2: goid */
	EV_PREEMPT,     /* aux: P; w2: goid */
	EV_NETPOLL,     /* aux: P or NOP; w2: goid */
	EV_GOCREATE,    /* aux: P; w2: goid; w3: creator's goid; a name may follow */
};

enum wakesrc { SRC_SCHED, SRC_G, SRC_TIMER, SRC_NETPOLL };
static const char *const srcnames[] = {"scheduler", "goroutine", "timer", "netpoll"};

static const char *const stopnames[] = {
	[TRACE_STOP_YIELD] = "yield", [TRACE_STOP_BLOCK] = "block",
	[TRACE_STOP_EXIT] = "exit", [TRACE_STOP_PREEMPT] = "preempt",
	[TRACE_STOP_SYSCALL] = "syscall", [TRACE_STOP_RESIZE] = "resize",
};
#define STOP_RUNNING TRACE_STOP_NREASONS /* open when the trace ended */
#define STOP_UNKNOWN (TRACE_STOP_NREASONS + 1)

#define NOP 0xffffu     /* "no P" in an aux field */
#define NOPTID 9999     /* its track */
#define MAXNAME 255
#define CALIBRATE_NS (20 * GOR_MILLISECOND)
#define MAXPROCSCHANGES 4096

enum tracestate { TRACE_OFF, TRACE_ON, TRACE_FLUSHING, TRACE_DONE };
enum traceclock { CLOCK_MONO, CLOCK_TSC, CLOCK_CNTVCT };
static const char *const clocknames[] = {"monotonic", "tsc", "cntvct"};

static atomic_u32 tracestate;
static atomic_ptr tracebufs;
static atomic_u64 tracebytes;
static atomic_u64 truncatedtick; /* 0: not truncated */
static uint64_t tracelimit;
static int tracefd = -1;
static char *tracepath;
static enum traceclock traceclock;
static uint64_t tick0;
static int64_t ns0;
static gor_lock nomlock;
static struct tracebuf *nombuf; /* under nomlock */

static struct { uint64_t tick; uint32_t old, new_; } procs[MAXPROCSCHANGES];
static atomic_u32 nprocs;

/* ---- the clock -------------------------------------------------------- */

static inline uint64_t ticks(void)
{
#if defined(__x86_64__)
	if (likely(traceclock == CLOCK_TSC)) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		return (uint64_t)hi << 32 | lo;
	}
#elif defined(__aarch64__)
	if (likely(traceclock == CLOCK_CNTVCT)) {
		uint64_t v;
		__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
		return v;
	}
#endif
	return (uint64_t)nanotime();
}

static enum traceclock pickclock(void)
{
	const char *e = getenv("GOR_TRACE_CLOCK");
	if (e && strcmp(e, "monotonic") == 0)
		return CLOCK_MONO;
#if defined(__x86_64__)
	char cs[32] = "";
	int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, cs, sizeof cs - 1);
		close(fd);
		cs[n > 0 ? n : 0] = '\0';
	}
	if (strcmp(cs, "tsc\n") == 0 || (e && strcmp(e, "tsc") == 0))
		return CLOCK_TSC;
#elif defined(__aarch64__)
	return CLOCK_CNTVCT;
#endif
	return CLOCK_MONO;
}

/* ns since the start = (tick - tick0) * rate. */
static double tickrate(uint64_t tick1, int64_t ns1)
{
#if defined(__aarch64__)
	if (traceclock == CLOCK_CNTVCT) {
		uint64_t f;
		__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
		if (f)
			return 1e9 / (double)f;
	}
#endif
	if (traceclock == CLOCK_MONO || tick1 <= tick0)
		return 1.0;
	return (double)(ns1 - ns0) / (double)(tick1 - tick0);
}

/* ---- recording ------------------------------------------------------------ */

static void truncate_trace(void)
{
	if (!atomic_cas_u32(&trace_on, 1, 0))
		return;
	atomic_store_u64(&truncatedtick, ticks());
	fprintf(stderr, "gor: warning: the trace reached GOR_TRACE_LIMIT (%llu MiB): it ends here\n",
		(unsigned long long)(tracelimit >> 20));
}

/* Chains a new buffer behind *bp; NULL when over the limit or out of
 * memory (the event is dropped). */
static struct tracebuf *tracebufnew(struct tracebuf **bp, int64_t mid)
{
	if (atomic_add_u64(&tracebytes, sizeof(struct tracebuf)) > tracelimit) {
		truncate_trace();
		return NULL;
	}
	struct tracebuf *b = malloc(sizeof *b);
	if (b == NULL) {
		truncate_trace();
		return NULL;
	}
	struct tracebuf *old = *bp;
	b->mid = mid;
	b->seq = old ? old->seq + 1 : 0;
	b->wakesrc = old ? old->wakesrc : SRC_SCHED;
	atomic_store_u32(&b->pos, 0);
	b->link = atomic_load_ptr(&tracebufs);
	while (!atomic_cas_rel_ptr(&tracebufs, b->link, b))
		b->link = atomic_load_ptr(&tracebufs);
	*bp = b;
	return b;
}

/* Appends one event of n words (kind, aux, timestamp, then args) to *bp. */
static void emitbuf(struct tracebuf **bp, int64_t mid, enum ev kind, uint64_t aux,
		    const uint64_t *args, uint32_t nargs, const char *name, size_t namelen)
{
	uint32_t nname = name ? (uint32_t)(namelen / 8 + 1) : 0;
	uint32_t n = 2 + nargs + nname;
	struct tracebuf *b = *bp;
	uint32_t pos = b ? atomic_load_u32(&b->pos) : 0;
	if (b == NULL || pos + n > TRACEBUF_WORDS) {
		if ((b = tracebufnew(bp, mid)) == NULL)
			return;
		pos = 0;
	}
	uint64_t *w = &b->w[pos];
	w[0] = (uint64_t)kind | (uint64_t)n << 8 | aux << 16;
	w[1] = ticks();
	for (uint32_t i = 0; i < nargs; i++)
		w[2 + i] = args[i];
	if (name) {
		memset(&w[2 + nargs], 0, nname * 8);
		memcpy(&w[2 + nargs], name, namelen);
	}
	atomic_store_rel_u32(&b->pos, pos + n);
}

/* An event of the calling thread: into its M's buffer, or the shared
 * one for threads without an M. */
static void emit(struct gor_m *mp, enum ev kind, uint64_t aux, uint64_t a0, uint64_t a1, uint32_t nargs)
{
	uint64_t args[2] = {a0, a1};
	if (mp) {
		emitbuf(&mp->tracebuf, mp->id, kind, aux, args, nargs, NULL, 0);
		return;
	}
	lock(&nomlock);
	emitbuf(&nombuf, -1, kind, aux, args, nargs, NULL, 0);
	unlock(&nomlock);
}

static inline uint64_t pid_of(struct gor_p *pp)
{
	return pp ? (uint64_t)(uint32_t)pp->id : NOP;
}

static void setwakesrc(struct gor_m *mp, enum wakesrc src)
{
	if (mp && mp->tracebuf)
		mp->tracebuf->wakesrc = (uint8_t)src;
}

static struct gor_m *thism(void)
{
	return tls_m_offset ? getm() : NULL;
}

/* Tracing starts before any goroutine is made, so every named one's
 * name is in its creation event. */
void traceGoCreate(struct gor_g *gp)
{
	struct gor_m *mp = getm();
	uint64_t args[2] = {gp->goid, gp->parentgoid};
	emitbuf(&mp->tracebuf, mp->id, EV_GOCREATE, pid_of(mp->p), args, 2, gp->name,
		gp->name ? strnlen(gp->name, MAXNAME) : 0);
}

static void gostart(struct gor_m *mp, struct gor_g *gp, struct gor_p *pp)
{
	emit(mp, EV_GOSTART, pid_of(pp), gp->goid, 0, 1);
	setwakesrc(mp, SRC_SCHED);
}

static void gostop(struct gor_m *mp, struct gor_g *gp, enum trace_stop why)
{
	emit(mp, EV_GOSTOP, (uint64_t)why | (uint64_t)gp->waitreason << 8, gp->goid, 0, 1);
}

static enum trace_stop stopwhy(struct gor_g *gp, uint8_t after)
{
	if (after == AFTER_PARK || after == AFTER_PARKUNLOCK)
		return TRACE_STOP_BLOCK;
	if (after == AFTER_EXIT)
		return TRACE_STOP_EXIT;
	return atomic_load_u8(&gp->preempt) ? TRACE_STOP_PREEMPT : TRACE_STOP_YIELD;
}

void traceGoStop(struct gor_g *gp, uint8_t after)
{
	gostop(gp->m, gp, stopwhy(gp, after));
}

/* On a direct switch (gosched_from found the next goroutine at hand),
 * the goroutine switched away from is recorded here, so that the fast
 * path has one hook instead of two: mp->after is set only then. */
void traceGoStart(struct gor_g *gp)
{
	struct gor_m *mp = getm();
	if (mp->after != AFTER_NONE && mp->aftergp)
		gostop(mp, mp->aftergp, stopwhy(mp->aftergp, mp->after));
	gostart(mp, gp, mp->p);
}

void traceGoUnpark(struct gor_g *gp)
{
	struct gor_m *mp = thism();
	uint64_t by = mp && mp->curg ? mp->curg->goid : 0;
	uint64_t src = by ? SRC_G : (mp && mp->tracebuf ? mp->tracebuf->wakesrc : SRC_SCHED);
	emit(mp, EV_GOUNPARK, pid_of(mp ? mp->p : NULL) | src << 16, gp->goid, by, 2);
}

void traceProcSteal(struct gor_p *pp, struct gor_p *victim, uint32_t n)
{
	emit(thism(), EV_STEAL, pid_of(pp) | pid_of(victim) << 16 | (uint64_t)(n & 0xffff) << 32, 0, 0, 0);
}

void traceTimerFire(struct gor_p *pp)
{
	struct gor_m *mp = thism();
	emit(mp, EV_TIMER, pid_of(mp ? mp->p : NULL) | pid_of(pp) << 16, 0, 0, 0);
	setwakesrc(mp, SRC_TIMER);
}

void traceProcResize(struct gor_m *mp, uint32_t oldprocs, uint32_t newprocs)
{
	uint32_t i = atomic_load_u32(&nprocs);
	if (i < MAXPROCSCHANGES) {
		procs[i].tick = ticks();
		procs[i].old = oldprocs;
		procs[i].new_ = newprocs;
		atomic_store_rel_u32(&nprocs, i + 1);
	}
	/* The caller of gor_maxprocs runs on: it may have changed P. */
	if (mp->curg) {
		gostop(mp, mp->curg, TRACE_STOP_RESIZE);
		gostart(mp, mp->curg, mp->p);
	}
}

void traceProcHandoff(struct gor_p *pp)
{
	emit(thism(), EV_HANDOFF, pid_of(pp), 0, 0, 0);
}

void traceGoSysCall(struct gor_g *gp)
{
	gostop(gp->m, gp, TRACE_STOP_SYSCALL);
}

void traceGoSysExit(struct gor_g *gp, struct gor_p *pp)
{
	struct gor_m *mp = thism();
	emit(mp, EV_SYSEXIT, pid_of(pp), gp->goid, 0, 1);
	if (pp && mp)
		gostart(mp, gp, pp);
}

void traceGoPreempt(struct gor_g *gp)
{
	struct gor_m *mp = thism();
	emit(mp, EV_PREEMPT, pid_of(mp ? mp->p : NULL), gp->goid, 0, 1);
}

void traceNetpollWake(struct gor_g *gp)
{
	struct gor_m *mp = thism();
	emit(mp, EV_NETPOLL, pid_of(mp ? mp->p : NULL), gp->goid, 0, 1);
	setwakesrc(mp, SRC_NETPOLL);
}

/* ---- decoding, at the end ------------------------------------------------ */

struct slice {
	uint64_t t0, t1, goid;
	int64_t m;
	uint32_t p;
	uint8_t why, waitreason;
	int32_t wake; /* index in wakes of the wake-up before it, or -1 */
};

struct wake {
	uint64_t t, goid, by;
	uint32_t p;
	uint8_t src;
	uint32_t flow; /* 0: no matching slice */
};

struct inst {
	uint64_t t;
	uint8_t kind; /* enum ev, or EV_GOSTOP for "syscall" */
	uint32_t p;
	uint64_t a, b;
};

/* goid -> index, open addressing; goid 0 is never used. */
struct gmap {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, n;
};

struct decoded {
	struct slice *slices;
	size_t nslices, capslices;
	struct wake *wakes;
	size_t nwakes, capwakes;
	struct inst *insts;
	size_t ninsts, capinsts;
	char **names;            /* by gmap value */
	size_t nnames, capnames;
	struct gmap namemap;
	uint64_t end;            /* ticks */
	bool oom;
};

static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 1024;
	void *p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

#define PUSH(d, arr, n, cap) \
	(grow((void **)&(d)->arr, &(d)->cap, (d)->n, sizeof *(d)->arr) ? &(d)->arr[(d)->n++] : ((d)->oom = true, NULL))

static size_t gmap_slot(const struct gmap *m, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull) & (m->cap - 1);
	while (m->keys[i] != 0 && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static bool gmap_put(struct gmap *m, uint64_t key, uint32_t val)
{
	if (2 * (m->n + 1) > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 1024;
		struct gmap nm = {calloc(ncap, sizeof *nm.keys), calloc(ncap, sizeof *nm.vals), ncap, 0};
		if (nm.keys == NULL || nm.vals == NULL) {
			free(nm.keys);
			free(nm.vals);
			return false;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				gmap_put(&nm, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = nm;
	}
	size_t i = gmap_slot(m, key);
	if (m->keys[i] == 0)
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
	return true;
}

/* The value for key, or -1. */
static int64_t gmap_get(const struct gmap *m, uint64_t key)
{
	if (m->cap == 0)
		return -1;
	size_t i = gmap_slot(m, key);
	return m->keys[i] == key ? (int64_t)m->vals[i] : -1;
}

static void gmap_free(struct gmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

/* One M's running goroutine while its chain is decoded. */
struct mstate {
	int64_t m;
	bool running, stopped, preempted;
	uint64_t goid, t0, tstop;
	uint32_t p;
	uint8_t why, waitreason;
};

static void closeslice(struct decoded *d, struct mstate *s, uint64_t t, uint8_t why)
{
	struct slice *sl = PUSH(d, slices, nslices, capslices);
	if (sl) {
		*sl = (struct slice){.t0 = s->t0, .t1 = t < s->t0 ? s->t0 : t, .goid = s->goid,
				     .m = s->m, .p = s->p, .why = why,
				     .waitreason = s->waitreason, .wake = -1};
	}
	s->running = s->stopped = s->preempted = false;
}

static void addname(struct decoded *d, uint64_t goid, const uint64_t *w, uint32_t nwords)
{
	if (gmap_get(&d->namemap, goid) >= 0)
		return;
	char *name = strndup((const char *)w, nwords * 8);
	char **slot = PUSH(d, names, nnames, capnames);
	if (name == NULL || slot == NULL || !gmap_put(&d->namemap, goid, (uint32_t)(d->nnames - 1))) {
		free(name);
		if (slot)
			d->nnames--;
		d->oom = true;
		return;
	}
	*slot = name;
}

static void addinst(struct decoded *d, uint64_t t, uint8_t kind, uint32_t p, uint64_t a, uint64_t b)
{
	struct inst *in = PUSH(d, insts, ninsts, capinsts);
	if (in)
		*in = (struct inst){.t = t, .kind = kind, .p = p, .a = a, .b = b};
}

static void decodeevent(struct decoded *d, struct mstate *s, const uint64_t *w, uint32_t n)
{
	enum ev kind = (enum ev)(w[0] & 0xff);
	uint64_t aux = w[0] >> 16, t = w[1];
	uint32_t p = (uint32_t)(aux & 0xffff);
	if (t > d->end)
		return;
	switch (kind) {
	case EV_GOSTART:
		if (n < 3)
			return;
		if (s->running)
			closeslice(d, s, s->stopped ? s->tstop : t, s->stopped ? s->why : STOP_UNKNOWN);
		*s = (struct mstate){.m = s->m, .running = true, .goid = w[2], .t0 = t, .p = p};
		break;
	case EV_GOSTOP:
		if (n < 3 || !s->running || s->goid != w[2])
			return;
		s->stopped = true;
		s->tstop = t;
		s->why = (uint8_t)(aux & 0xff);
		if (s->why == TRACE_STOP_YIELD && s->preempted)
			s->why = TRACE_STOP_PREEMPT;
		s->waitreason = (uint8_t)(aux >> 8);
		if (s->why == TRACE_STOP_SYSCALL)
			addinst(d, t, EV_GOSTOP, s->p, w[2], 0);
		break;
	case EV_GOUNPARK: {
		if (n < 4)
			return;
		struct wake *wk = PUSH(d, wakes, nwakes, capwakes);
		if (wk)
			*wk = (struct wake){.t = t, .goid = w[2], .by = w[3], .p = p,
					    .src = (uint8_t)((aux >> 16) & 0xff)};
		break;
	}
	case EV_STEAL:
		addinst(d, t, kind, p, (aux >> 16) & 0xffff, (aux >> 32) & 0xffff);
		break;
	case EV_TIMER:
		addinst(d, t, kind, p, (aux >> 16) & 0xffff, 0);
		break;
	case EV_HANDOFF:
		addinst(d, t, kind, p, (uint64_t)s->m, 0);
		break;
	case EV_PREEMPT:
		if (s->running && n >= 3 && s->goid == w[2])
			s->preempted = true;
		/* fall through */
	case EV_SYSEXIT:
	case EV_NETPOLL:
		if (n >= 3)
			addinst(d, t, kind, p, w[2], 0);
		break;
	case EV_GOCREATE:
		if (n < 4)
			return;
		if (n > 4)
			addname(d, w[2], &w[4], n - 4);
		addinst(d, t, kind, p, w[2], w[3]);
		break;
	}
}

static int cmpbuf(const void *a, const void *b)
{
	const struct tracebuf *x = *(struct tracebuf *const *)a, *y = *(struct tracebuf *const *)b;
	if (x->mid != y->mid)
		return x->mid < y->mid ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Decodes every buffer: slices per M, wake-ups, instants. */
static void decodeall(struct decoded *d)
{
	size_t nb = 0;
	struct tracebuf *head = atomic_load_acq_ptr(&tracebufs);
	for (struct tracebuf *b = head; b; b = b->link)
		nb++;
	struct tracebuf **bufs = malloc((nb ? nb : 1) * sizeof *bufs);
	if (bufs == NULL) {
		d->oom = true;
		return;
	}
	nb = 0;
	for (struct tracebuf *b = head; b; b = b->link)
		bufs[nb++] = b;
	qsort(bufs, nb, sizeof *bufs, cmpbuf);
	struct mstate s = {.m = INT64_MIN};
	for (size_t i = 0; i < nb && !d->oom; i++) {
		struct tracebuf *b = bufs[i];
		if (b->mid != s.m) {
			if (s.running)
				closeslice(d, &s, s.stopped ? s.tstop : d->end, s.stopped ? s.why : STOP_RUNNING);
			s = (struct mstate){.m = b->mid};
		}
		uint32_t pos = atomic_load_acq_u32(&b->pos);
		for (uint32_t k = 0; k < pos;) {
			uint32_t n = (uint32_t)((b->w[k] >> 8) & 0xff);
			if (n < 2 || k + n > pos)
				break;
			decodeevent(d, &s, &b->w[k], n);
			k += n;
		}
	}
	if (s.running)
		closeslice(d, &s, s.stopped ? s.tstop : d->end, s.stopped ? s.why : STOP_RUNNING);
	free(bufs);
}

static int cmpslice(const void *a, const void *b)
{
	const struct slice *x = a, *y = b;
	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return x->p < y->p ? -1 : x->p > y->p;
}

static int cmpwake(const void *a, const void *b)
{
	const struct wake *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* Links each wake-up to the woken goroutine's next slice, in time order;
 * wake-ups by a goroutine get a flow id. */
static void linkwakes(struct decoded *d)
{
	qsort(d->slices, d->nslices, sizeof *d->slices, cmpslice);
	qsort(d->wakes, d->nwakes, sizeof *d->wakes, cmpwake);
	struct gmap pending = {0};
	uint32_t flow = 0;
	size_t i = 0, k = 0;
	while (k < d->nslices && !d->oom) {
		if (i < d->nwakes && d->wakes[i].t <= d->slices[k].t0) {
			if (!gmap_put(&pending, d->wakes[i].goid, (uint32_t)i + 1))
				d->oom = true;
			i++;
			continue;
		}
		struct slice *sl = &d->slices[k++];
		int64_t w = gmap_get(&pending, sl->goid) - 1; /* 0: consumed */
		if (w < 0)
			continue;
		sl->wake = (int32_t)w;
		if (d->wakes[w].by)
			d->wakes[w].flow = ++flow;
		gmap_put(&pending, sl->goid, 0);
	}
	gmap_free(&pending);
}

/* ---- writing the JSON ----------------------------------------------------- */

struct writer {
	FILE *f;
	double rate;       /* ns per tick */
	struct decoded *d;
	bool first;
};

/* Microseconds since the start with three decimals, from whole ns. */
static void putts(FILE *f, const char *key, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	fprintf(f, "\"%s\":%lld.%03lld", key, (long long)(ns / 1000), (long long)(ns % 1000));
}

static int64_t tons(const struct writer *wr, uint64_t t)
{
	return (int64_t)((double)(t - tick0) * wr->rate + 0.5);
}

/* A JSON string; invalid UTF-8 bytes become '?'. */
static void putstr(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			p++;
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			fputc(c, f);
			p++;
		} else {
			int len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
			bool ok = len > 0;
			for (int i = 1; ok && i < len; i++)
				ok = (p[i] & 0xc0) == 0x80;
			if (ok) {
				fwrite(p, 1, (size_t)len, f);
				p += len;
			} else {
				fputc('?', f);
				p++;
			}
		}
	}
	fputc('"', f);
}

static void begin(struct writer *wr)
{
	fputs(wr->first ? "\n" : ",\n", wr->f);
	wr->first = false;
}

static void putgname(struct writer *wr, uint64_t goid)
{
	int64_t i = gmap_get(&wr->d->namemap, goid);
	if (i >= 0) {
		putstr(wr->f, wr->d->names[i]);
		return;
	}
	fprintf(wr->f, "\"g%llu\"", (unsigned long long)goid);
}

static int tidof(uint32_t p)
{
	return p == NOP ? NOPTID : (int)p;
}

static void putslice(struct writer *wr, const struct slice *sl, bool mtrack)
{
	FILE *f = wr->f;
	int64_t t0 = tons(wr, sl->t0), t1 = tons(wr, sl->t1);
	begin(wr);
	fprintf(f, "{\"ph\":\"X\",\"cat\":\"g\",\"pid\":%d,\"tid\":%lld,", mtrack ? 2 : 1,
		mtrack ? (long long)sl->m : (long long)tidof(sl->p));
	putts(f, "ts", t0);
	fputc(',', f);
	putts(f, "dur", t1 - t0);
	fputs(",\"name\":", f);
	putgname(wr, sl->goid);
	fprintf(f, ",\"args\":{\"g\":%llu", (unsigned long long)sl->goid);
	if (mtrack) {
		fprintf(f, ",\"p\":%d}}", tidof(sl->p));
		return;
	}
	fprintf(f, ",\"m\":%lld,\"end\":\"%s\"", (long long)sl->m,
		sl->why < TRACE_STOP_NREASONS ? stopnames[sl->why] :
		sl->why == STOP_RUNNING ? "running" : "unknown");
	if (sl->why == TRACE_STOP_BLOCK && sl->waitreason < WAIT_NREASONS)
		fprintf(f, ",\"reason\":\"%s\"", waitreason_names[sl->waitreason]);
	if (sl->wake >= 0) {
		const struct wake *wk = &wr->d->wakes[sl->wake];
		if (wk->by)
			fprintf(f, ",\"woken_by\":%llu", (unsigned long long)wk->by);
		else
			fprintf(f, ",\"src\":\"%s\"", srcnames[wk->src < 4 ? wk->src : 0]);
	}
	fputs("}}", f);
}

static void putinstant(struct writer *wr, uint64_t t, uint32_t p, const char *name)
{
	begin(wr);
	fprintf(wr->f, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"sched\",\"pid\":1,\"tid\":%d,", tidof(p));
	putts(wr->f, "ts", tons(wr, t));
	fprintf(wr->f, ",\"name\":\"%s\",\"args\":{", name);
}

static void putwake(struct writer *wr, const struct wake *wk)
{
	putinstant(wr, wk->t, wk->p, "wake");
	fprintf(wr->f, "\"g\":%llu,\"by\":%llu,\"src\":\"%s\"}}", (unsigned long long)wk->goid,
		(unsigned long long)wk->by, srcnames[wk->src < 4 ? wk->src : 0]);
}

static void putflow(struct writer *wr, uint64_t t, uint32_t p, uint32_t id, bool end)
{
	begin(wr);
	fprintf(wr->f, "{\"ph\":\"%s\",%s\"cat\":\"wake\",\"name\":\"wake\",\"id\":%u,\"pid\":1,\"tid\":%d,",
		end ? "f" : "s", end ? "\"bp\":\"e\"," : "", id, tidof(p));
	putts(wr->f, "ts", tons(wr, t));
	fputc('}', wr->f);
}

static void putinst(struct writer *wr, const struct inst *in)
{
	static const char *const names[] = {
		[EV_GOSTOP] = "syscall", [EV_STEAL] = "steal", [EV_TIMER] = "timer",
		[EV_HANDOFF] = "handoff", [EV_SYSEXIT] = "sysexit",
		[EV_PREEMPT] = "preempt", [EV_NETPOLL] = "netpoll", [EV_GOCREATE] = "create",
	};
	putinstant(wr, in->t, in->p, names[in->kind]);
	switch (in->kind) {
	case EV_STEAL:
		fprintf(wr->f, "\"victim\":%llu,\"n\":%llu}}", (unsigned long long)in->a,
			(unsigned long long)in->b);
		break;
	case EV_TIMER:
		fprintf(wr->f, "\"heap\":%d}}", tidof((uint32_t)in->a));
		break;
	case EV_HANDOFF:
		fprintf(wr->f, "\"m\":%lld}}", (long long)in->a);
		break;
	case EV_GOCREATE:
		fprintf(wr->f, "\"g\":%llu,\"parent\":%llu}}", (unsigned long long)in->a,
			(unsigned long long)in->b);
		break;
	default:
		fprintf(wr->f, "\"g\":%llu}}", (unsigned long long)in->a);
		break;
	}
}

static void putprocs(struct writer *wr, uint32_t i)
{
	int64_t ns = tons(wr, procs[i].tick);
	begin(wr);
	fputs("{\"ph\":\"i\",\"s\":\"g\",\"cat\":\"sched\",\"name\":\"maxprocs\",\"pid\":1,\"tid\":0,", wr->f);
	putts(wr->f, "ts", ns);
	fprintf(wr->f, ",\"args\":{\"old\":%u,\"new\":%u}}", procs[i].old, procs[i].new_);
	begin(wr);
	fputs("{\"ph\":\"C\",\"cat\":\"sched\",\"name\":\"MAXPROCS\",\"pid\":1,", wr->f);
	putts(wr->f, "ts", ns);
	fprintf(wr->f, ",\"args\":{\"MAXPROCS\":%u}}", procs[i].new_);
}

static void putmeta(struct writer *wr, int pid, long long tid, const char *what, const char *key,
		    const char *sval, long long ival)
{
	begin(wr);
	fprintf(wr->f, "{\"ph\":\"M\",\"pid\":%d,", pid);
	if (tid >= 0)
		fprintf(wr->f, "\"tid\":%lld,", tid);
	fprintf(wr->f, "\"name\":\"%s\",\"args\":{\"%s\":", what, key);
	if (sval)
		fprintf(wr->f, "\"%s\"}}", sval);
	else
		fprintf(wr->f, "%lld}}", ival);
}

/* What goes out, in time order: a reference to a slice, wake or instant. */
struct outref {
	uint64_t t;
	uint32_t idx;
	uint8_t what;
};
/* At one time: a run before the wake-ups in it, a flow's start before its end
 * (a coarse clock, as under qemu, gives many equal times). */
enum { OUT_PROCS, OUT_SLICE_P, OUT_SLICE_M, OUT_WAKE, OUT_FLOW_S, OUT_FLOW_F, OUT_INST };

static int cmpout(const void *a, const void *b)
{
	const struct outref *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->what != y->what)
		return x->what < y->what ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void putmetadata(struct writer *wr, uint32_t maxp)
{
	struct decoded *d = wr->d;
	putmeta(wr, 1, -1, "process_name", "name", "Ps", 0);
	putmeta(wr, 1, -1, "process_sort_index", "sort_index", NULL, 1);
	putmeta(wr, 2, -1, "process_name", "name", "Ms", 0);
	putmeta(wr, 2, -1, "process_sort_index", "sort_index", NULL, 2);
	bool nop = false;
	for (size_t i = 0; i < d->nwakes; i++)
		nop |= d->wakes[i].p == NOP;
	for (size_t i = 0; i < d->ninsts; i++)
		nop |= d->insts[i].p == NOP;
	for (uint32_t p = 0; p < maxp; p++) {
		char name[16];
		snprintf(name, sizeof name, "P%u", p);
		putmeta(wr, 1, p, "thread_name", "name", name, 0);
		putmeta(wr, 1, p, "thread_sort_index", "sort_index", NULL, p);
	}
	if (nop) {
		putmeta(wr, 1, NOPTID, "thread_name", "name", "no P", 0);
		putmeta(wr, 1, NOPTID, "thread_sort_index", "sort_index", NULL, NOPTID);
	}
	struct gmap seen = {0};
	for (size_t i = 0; i < d->nslices; i++) {
		int64_t m = d->slices[i].m;
		if (gmap_get(&seen, (uint64_t)m + 2) >= 0)
			continue;
		gmap_put(&seen, (uint64_t)m + 2, 0);
		char name[24];
		snprintf(name, sizeof name, "M%lld", (long long)m);
		putmeta(wr, 2, m, "thread_name", "name", name, 0);
		putmeta(wr, 2, m, "thread_sort_index", "sort_index", NULL, m);
	}
	gmap_free(&seen);
}

static bool writejson(FILE *f, struct decoded *d, double rate, bool truncated)
{
	struct writer wr = {.f = f, .rate = rate, .d = d, .first = true};
	uint32_t np = atomic_load_acq_u32(&nprocs), maxp = 1;
	for (uint32_t i = 0; i < np; i++)
		if (procs[i].new_ > maxp)
			maxp = procs[i].new_;
	for (size_t i = 0; i < d->nslices; i++)
		if (d->slices[i].p != NOP && d->slices[i].p + 1 > maxp)
			maxp = d->slices[i].p + 1;
	size_t nout = np + 2 * d->nslices + d->ninsts;
	for (size_t i = 0; i < d->nwakes; i++)
		nout += d->wakes[i].flow ? 3 : 1; /* the wake, and a flow's two ends */
	struct outref *out = malloc((nout ? nout : 1) * sizeof *out);
	if (out == NULL)
		return false;
	size_t k = 0;
	for (uint32_t i = 0; i < np; i++)
		out[k++] = (struct outref){procs[i].tick, i, OUT_PROCS};
	for (size_t i = 0; i < d->nslices; i++) {
		const struct slice *sl = &d->slices[i];
		out[k++] = (struct outref){sl->t0, (uint32_t)i, OUT_SLICE_P};
		out[k++] = (struct outref){sl->t0, (uint32_t)i, OUT_SLICE_M};
		if (sl->wake >= 0 && d->wakes[sl->wake].flow)
			out[k++] = (struct outref){sl->t0, (uint32_t)i, OUT_FLOW_F};
	}
	for (size_t i = 0; i < d->nwakes; i++) {
		out[k++] = (struct outref){d->wakes[i].t, (uint32_t)i, OUT_WAKE};
		if (d->wakes[i].flow)
			out[k++] = (struct outref){d->wakes[i].t, (uint32_t)i, OUT_FLOW_S};
	}
	for (size_t i = 0; i < d->ninsts; i++)
		out[k++] = (struct outref){d->insts[i].t, (uint32_t)i, OUT_INST};
	qsort(out, k, sizeof *out, cmpout);

	fputs("{\"traceEvents\":[", f);
	putmetadata(&wr, maxp);
	for (size_t i = 0; i < k; i++) {
		const struct outref *o = &out[i];
		switch (o->what) {
		case OUT_PROCS:
			putprocs(&wr, o->idx);
			break;
		case OUT_SLICE_P:
		case OUT_SLICE_M:
			putslice(&wr, &d->slices[o->idx], o->what == OUT_SLICE_M);
			break;
		case OUT_FLOW_F: {
			const struct slice *sl = &d->slices[o->idx];
			putflow(&wr, sl->t0, sl->p, d->wakes[sl->wake].flow, true);
			break;
		}
		case OUT_WAKE:
			putwake(&wr, &d->wakes[o->idx]);
			break;
		case OUT_FLOW_S:
			putflow(&wr, d->wakes[o->idx].t, d->wakes[o->idx].p, d->wakes[o->idx].flow, false);
			break;
		case OUT_INST:
			putinst(&wr, &d->insts[o->idx]);
			break;
		}
	}
	free(out);
	fprintf(f, "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"producer\":\"gor\",\"format\":1,"
		   "\"clock\":\"%s\",\"maxprocs\":%u,\"ncpu\":%d,",
		clocknames[traceclock], np ? procs[0].new_ : maxp, gor_numcpu());
	putts(f, "end_us", tons(&wr, d->end));
	fprintf(f, ",\"truncated\":%s}}\n", truncated ? "true" : "false");
	return true;
}

static void freedecoded(struct decoded *d)
{
	for (size_t i = 0; i < d->nnames; i++)
		free(d->names[i]);
	free(d->names);
	free(d->slices);
	free(d->wakes);
	free(d->insts);
	gmap_free(&d->namemap);
}

/* Stops recording and writes the file. Only the one flusher runs it. */
static void traceflush(void)
{
	atomic_store_u32(&trace_on, 0);
	int64_t now = nanotime();
	if (traceclock == CLOCK_TSC && now - ns0 < CALIBRATE_NS) {
		struct timespec ts = {0, (long)(CALIBRATE_NS - (now - ns0))};
		nanosleep(&ts, NULL);
	}
	uint64_t tick1 = ticks();
	int64_t ns1 = nanotime();
	uint64_t tt = atomic_load_u64(&truncatedtick);
	struct decoded d = {.end = tt ? tt : tick1};
	decodeall(&d);
	if (!d.oom)
		linkwakes(&d);
	FILE *f = fdopen(tracefd, "w");
	bool ok = f != NULL && !d.oom;
	if (ok) {
		setvbuf(f, NULL, _IOFBF, 1 << 20);
		ok = writejson(f, &d, tickrate(tick1, ns1), tt != 0);
	}
	if (f ? fclose(f) != 0 : close(tracefd) != 0)
		ok = false;
	tracefd = -1;
	if (!ok)
		fprintf(stderr, "gor: warning: could not write the trace to %s\n", tracepath);
	freedecoded(&d);
	free(tracepath);
	tracepath = NULL;
}

void gor_trace_stop(void)
{
	if (atomic_cas_u32(&tracestate, TRACE_ON, TRACE_FLUSHING)) {
		traceflush();
		atomic_store_rel_u32(&tracestate, TRACE_DONE);
		return;
	}
	/* Someone else writes it: return once the file is complete (bounded,
	 * in case that thread died with the process half gone). */
	for (int i = 0; i < 60000 && atomic_load_acq_u32(&tracestate) == TRACE_FLUSHING; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static void traceatexit(void)
{
	gor_trace_stop();
}

/* A forked child neither records nor writes its parent's trace. */
static void tracechild(void)
{
	atomic_store_u32(&trace_on, 0);
	atomic_store_u32(&tracestate, TRACE_DONE);
	if (tracefd >= 0)
		close(tracefd);
	tracefd = -1;
}

void trace_init(void)
{
	const char *path = getenv("GOR_TRACE");
	if (path == NULL || *path == '\0')
		return;
	tracelimit = (uint64_t)64 << 20;
	const char *lim = getenv("GOR_TRACE_LIMIT");
	if (lim && *lim) {
		char *end;
		long long mb = strtoll(lim, &end, 10);
		if (*end == '\0' && mb > 0)
			tracelimit = (uint64_t)mb << 20;
		else
			fprintf(stderr, "gor: warning: ignoring GOR_TRACE_LIMIT=%s (want MiB, a positive integer)\n", lim);
	}
	tracepath = strdup(path);
	tracefd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (tracefd < 0 || tracepath == NULL) {
		fprintf(stderr, "gor: warning: cannot open the trace file %s: %s; not tracing\n", path,
			strerror(errno));
		if (tracefd >= 0)
			close(tracefd);
		tracefd = -1;
		free(tracepath);
		tracepath = NULL;
		return;
	}
	traceclock = pickclock();
	tick0 = ticks();
	ns0 = nanotime();
	pthread_atfork(NULL, NULL, tracechild);
	atexit(traceatexit);
	atomic_store_rel_u32(&tracestate, TRACE_ON);
	atomic_store_rel_u32(&trace_on, 1);
}
