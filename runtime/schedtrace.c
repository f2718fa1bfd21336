/*
 * schedtrace.c - the scheduler's state, printed now and then and at exit:
 * GOR_DEBUG=schedtrace=MS (Go's GODEBUG=schedtrace), scheddetail=1, and
 * GOR_STATS=PATH (the gor_stats counters as JSON when the process exits).
 *
 * schedtrace=MS prints, every MS milliseconds on stderr, Go's line
 *   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 idlethreads=2 runqueue=0 [0 0]
 * (time since the runtime started; Ps; idle Ps; Ms alive; spinning Ms;
 * idle Ms; the global run queue; each P's local queue). With
 * scheddetail=1 the bracket list gives way to a line per P, M and live
 * goroutine with its state, as Go's schedtrace(detailed):
 *   SCHED 0ms: gomaxprocs=2 ... runqueue=0 gcwaiting=0 nmidlelocked=0 stopwait=0
 *     P0: status=1(running) switches=12 m=0 runqsize=0 runnext=-1 gfreecnt=3 timerslen=1
 *     M0: p=0 curg=1 schedtick=40 spinning=false blocked=false lockedg=1
 *     G1: status=2(running) m=0 lockedm=0
 *     G5: status=3(chan receive) m=-1 lockedm=-1
 * Dead and never-started goroutines are left out. Names are too: a
 * goroutine's name is freed when it exits, which it may do while the
 * line is being written. (The goroutine dump of debug.c prints names
 * and has that race; it is meant as a last word, this runs all along.)
 *
 * The printer is a small thread of its own that sleeps on an absolute
 * deadline (no drift), with every signal blocked. It belongs in sysmon,
 * once sysmon exists: then this thread goes away. Until then it is
 * counted in nhelperthreads so that checkdead, which compares the
 * process's threads with the Ms it knows, still sees a deadlock.
 *
 * Locking: as Go's schedtrace, the state is read while it changes: Ps,
 * Gs and their counters without locks (a line may be slightly stale, a
 * value torn between two moments, never a crash: Ps and Gs are never
 * freed), the M list under sched.lock, because dropm frees an M after
 * unlinking it under that lock. The text is built in memory and written
 * after the lock is released, so a slow stderr never holds the scheduler.
 * GOR_STATS reads the counters through readschedstats, which, unlike
 * gor_stats, does not adopt the calling thread: at exit that may be a
 * thread the runtime has never seen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

atomic_u32 nhelperthreads;

static int64_t schedtrace_ns;
static bool scheddetail;
static int64_t starttime;
static char *statspath;

/* The state is read racily on purpose (see the top): ThreadSanitizer is
 * told so. */
#ifdef GOR_TSAN
#define SCHED_RACY __attribute__((no_sanitize("thread")))
#else
#define SCHED_RACY
#endif

static const char *const pstatus_names[] = {
	[P_IDLE] = "idle", [P_RUNNING] = "running", [P_SYSCALL] = "syscall",
	[P_STOPPED] = "stopped", [P_DEAD] = "dead",
};

/* A growing text buffer; on allocation failure it keeps what it has. */
struct text {
	char *s;
	size_t n, cap;
};

static void __attribute__((format(printf, 2, 3))) textf(struct text *t, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = t->cap - t->n;
		int k = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? room : 0, fmt, ap);
		va_end(ap);
		if (k < 0)
			return;
		if ((size_t)k < room) {
			t->n += (size_t)k;
			return;
		}
		size_t ncap = t->cap ? t->cap * 2 : 4096;
		while (ncap < t->n + (size_t)k + 1)
			ncap *= 2;
		char *s = realloc(t->s, ncap);
		if (s == NULL)
			return;
		t->s = s;
		t->cap = ncap;
	}
}

static uint32_t runqlen(struct gor_p *pp)
{
	uint32_t head = atomic_load_acq_u32(&pp->runqhead);
	uint32_t tail = atomic_load_acq_u32(&pp->runqtail);
	uint32_t n = tail - head;
	return n > RUNQ_SIZE ? 0 : n; /* head and tail read at different times */
}

SCHED_RACY static long long goidof(struct gor_g *gp)
{
	return gp ? (long long)gp->goid : -1;
}

SCHED_RACY static void detailp(struct text *t, struct gor_p *pp)
{
	uint32_t st = atomic_load_u32(&pp->status);
	struct gor_m *mp = pp->m;
	textf(t, "  P%d: status=%u(%s) switches=%llu m=%lld runqsize=%u runnext=%lld gfreecnt=%d timerslen=%u\n",
	      pp->id, st, st <= P_DEAD ? pstatus_names[st] : "?",
	      (unsigned long long)atomic_load_u64(&pp->nswitch),
	      mp ? (long long)mp->id : -1LL, runqlen(pp), goidof(atomic_load_ptr(&pp->runnext)),
	      pp->gfreecnt, pp->timers.n);
}

SCHED_RACY static void detailm(struct text *t, struct gor_m *mp)
{
	struct gor_p *pp = mp->p;
	textf(t, "  M%lld: p=%d curg=%lld schedtick=%u spinning=%s blocked=%s lockedg=%lld\n", (long long)mp->id,
	      pp ? pp->id : -1, goidof(mp->curg), mp->schedtick, mp->spinning ? "true" : "false",
	      mp->idle ? "true" : "false", goidof(mp->lockedg));
}

SCHED_RACY static void detailg(struct text *t, struct gor_g *gp)
{
	uint32_t st = atomic_load_u32(&gp->status);
	if (st == G_DEAD || st == G_IDLE)
		return;
	uint16_t wr = gp->waitreason;
	const char *what = st == G_WAITING && wr > WAIT_NONE && wr < WAIT_NREASONS ? waitreason_names[wr] :
			   st <= G_DEAD ? gstatus_names[st] : "?";
	struct gor_m *mp = st == G_RUNNING ? gp->m : NULL;
	textf(t, "  G%llu: status=%u(%s) m=%lld lockedm=%lld\n", (unsigned long long)gp->goid, st, what,
	      mp ? (long long)mp->id : -1LL, gp->lockedm ? (long long)gp->lockedm->id : -1LL);
}

/* Go's schedtrace(detailed). */
SCHED_RACY static void schedtrace(bool detailed)
{
	struct text t = {0};
	uint32_t procs = atomic_load_u32(&gomaxprocs);
	lock(&sched.lock);
	textf(&t, "SCHED %lldms: gomaxprocs=%u idleprocs=%u threads=%d spinningthreads=%u idlethreads=%d runqueue=%u",
	      (long long)((nanotime() - starttime) / GOR_MILLISECOND), procs,
	      atomic_load_u32(&sched.npidle), sched.mcount, atomic_load_u32(&sched.nmspinning),
	      sched.nmidle, atomic_load_u32(&sched.runqsize));
	if (detailed) {
		textf(&t, " gcwaiting=%u nmidlelocked=%d stopwait=%d\n", atomic_load_u32(&sched.gcwaiting),
		      sched.nmidlelocked, sched.stopwait);
		for (uint32_t i = 0; i < procs; i++)
			detailp(&t, allp[i]);
		for (struct gor_m *mp = sched.allm; mp; mp = mp->alllink)
			detailm(&t, mp);
	} else {
		textf(&t, " [");
		for (uint32_t i = 0; i < procs; i++)
			textf(&t, i ? " %u" : "%u", runqlen(allp[i]));
		textf(&t, "]\n");
	}
	unlock(&sched.lock);
	if (detailed)
		for (struct gor_g *gp = atomic_load_acq_ptr(&allglist); gp; gp = gp->alllink)
			detailg(&t, gp);
	for (size_t off = 0; off < t.n;) {
		ssize_t w = write(2, t.s + off, t.n - off);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += (size_t)w;
	}
	free(t.s);
}

static void *schedtracer(void *arg)
{
	(void)arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		int64_t ns = next.tv_nsec + schedtrace_ns;
		next.tv_sec += ns / GOR_SECOND;
		next.tv_nsec = ns % GOR_SECOND;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		schedtrace(scheddetail);
	}
	return NULL;
}

static void startschedtracer(void)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	atomic_add_u32(&nhelperthreads, 1);
	int err = pthread_create(&th, &attr, schedtracer, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		atomic_add_u32(&nhelperthreads, -1);
		fprintf(stderr, "gor: warning: no schedtrace: pthread_create: %s\n", strerror(err));
		return;
	}
	pthread_setname_np(th, "gor-schedtrace");
}

/* GOR_STATS: the counters as one JSON object, at exit. */
static void writestats(void)
{
	gor_stats_t st;
	readschedstats(&st);
	FILE *f = fopen(statspath, "w");
	if (f == NULL) {
		fprintf(stderr, "gor: warning: cannot write GOR_STATS=%s: %s\n", statspath, strerror(errno));
		return;
	}
	fprintf(f,
		"{\"goroutines_created\":%llu,\"context_switches\":%llu,\"steals\":%llu,\"parks\":%llu,"
		"\"threads\":%llu,\"idle_procs\":%llu,\"netpoll_wakeups\":%llu,\"preemptions\":%llu,"
		"\"maxprocs\":%llu,\"goroutines\":%llu}\n",
		(unsigned long long)st.goroutines_created, (unsigned long long)st.context_switches,
		(unsigned long long)st.steals, (unsigned long long)st.parks, (unsigned long long)st.threads,
		(unsigned long long)st.idle_procs, (unsigned long long)st.netpoll_wakeups,
		(unsigned long long)st.preemptions, (unsigned long long)st.maxprocs,
		(unsigned long long)st.goroutines);
	if (fclose(f) != 0)
		fprintf(stderr, "gor: warning: cannot write GOR_STATS=%s: %s\n", statspath, strerror(errno));
}

/* One comma-separated GOR_DEBUG item. Unknown names are ignored, as Go
 * ignores unknown GODEBUG settings. */
static void debugitem(const char *item, size_t len)
{
	char buf[64];
	if (len >= sizeof buf)
		return;
	memcpy(buf, item, len);
	buf[len] = '\0';
	char *eq = strchr(buf, '=');
	if (eq == NULL)
		return;
	*eq = '\0';
	char *end;
	long long v = strtoll(eq + 1, &end, 10);
	bool ok = eq[1] != '\0' && *end == '\0' && v >= 0;
	if (strcmp(buf, "schedtrace") == 0 && ok && v <= 3600 * 1000)
		schedtrace_ns = v * GOR_MILLISECOND;
	else if (strcmp(buf, "scheddetail") == 0 && ok)
		scheddetail = v != 0;
	else if (strcmp(buf, "schedtrace") == 0 || strcmp(buf, "scheddetail") == 0)
		fprintf(stderr, "gor: warning: ignoring GOR_DEBUG item %s=%s\n", buf, eq + 1);
}

void schedtrace_init(void)
{
	starttime = nanotime();
	const char *dbg = getenv("GOR_DEBUG");
	while (dbg && *dbg) {
		size_t len = strcspn(dbg, ",");
		debugitem(dbg, len);
		dbg += len + (dbg[len] == ',');
	}
	if (schedtrace_ns > 0)
		startschedtracer();
	const char *stats = getenv("GOR_STATS");
	if (stats && *stats && (statspath = strdup(stats)) != NULL)
		atexit(writestats);
}
