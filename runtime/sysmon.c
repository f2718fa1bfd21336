/*
 * sysmon.c - the system monitor, after Go's sysmon in runtime/proc.go: a
 * thread of the runtime's that holds no P and runs no goroutine, started
 * with the runtime (schedinit). It does these things, each tick:
 *
 *   - retake: a P that has stayed in P_SYSCALL for a whole tick (its
 *     goroutine is blocked in a call bracketed by gor_syscall_enter/exit)
 *     is handed to another M if there is work for it (retakesyscall in
 *     proc.c, which owns the P_SYSCALL protocol);
 *   - preemption: a goroutine that has held its P for more than 10 ms
 *     (FORCE_PREEMPT_NS) is asked to yield (preemptone);
 *   - the netpoller's fallback poll, if no M has polled for 10 ms
 *     (netpoll_sysmon_poll, the netpoller's to define);
 *   - every 100 ms, and before it sleeps in an idle program, the stack
 *     scavenger (stackscavenge in stack.c).
 * Reading the clock every tick also keeps coarsetime() fresh, which the
 * switch's look at the timers relies on ("Is a timer due?" in time.c):
 * while any P runs, the tick never exceeds SYSMON_TICK_MAX.
 *
 * The tick, as Go's: 20 us while it finds something to do, doubling
 * after 50 idle ticks (1 ms) up to 10 ms. When every P is idle there is
 * nothing to watch: sysmon then sleeps on a note with no timeout, so an
 * idle program costs no CPU (Go sleeps likewise when npidle ==
 * gomaxprocs). A P leaves the idle list only through pidleget, which
 * wakes it (sysmonwake); procresize never makes a P busy while all are
 * idle, since its caller holds one.
 *
 * How long a P has run one goroutine, or been in one syscall, is measured
 * as Go's sysmontick does: sysmon remembers, per P, the last value seen
 * of a counter and when it changed. The goroutine counter is the P's
 * nswitch (bumped by execute_prep each time a goroutine starts on it,
 * Go's schedtick), the syscall counter pp->syscalltick (bumped by every
 * entersyscall). A P seen in another state last time starts afresh, since
 * a goroutine can come to it without execute_prep (an adopted thread's
 * own, or one back from a syscall).
 *
 * Preemption is cooperative: gp->preempt is only a request, honoured at
 * the goroutine's next call to a runtime entry point that checks it. They
 * are the entry points that do not park, where a loop that calls the
 * runtime but never blocks spends its time:
 *     gor_go, gor_go_attr            (proc.c, newproc)
 *     gor_send, gor_recv, gor_try_send, gor_try_recv (chan.c)
 *     gor_select, gor_try_select, gor_select_until   (select.c)
 * which have the current G at hand and check gp->preempt (preemptcheck:
 * one load and a branch that is almost never taken), and
 *     gor_now                        (time.c)
 *     gor_mutex_unlock               (mutex.c; after the release, so a
 *                                     goroutine never yields holding it)
 *     gor_wg_add, gor_wg_done        (waitgroup.c)
 * whose fast paths do not look the G up (that costs a TLS load and two
 * tests, more than the uncontended mutex itself): they check the global
 * preemptpending, which sysmon sets at each tick while some P has run one
 * goroutine for FORCE_PREEMPT_NS (until a request is honoured), and look
 * at the G only then (preemptcheck_self). A request is cleared when honoured, or when
 * entersyscall gives up the P; a goroutine that parks or yields by
 * itself before reaching a check keeps it, and yields once for nothing
 * at its next check (preemptone withdraws most such requests). A
 * goroutine that never calls into the runtime is not preempted: gor has
 * no signal-based preemption yet. The preempted goroutine goes to the tail of its P's
 * queue (gor_yield), where Go's goes to the global queue: the local tail
 * is already behind every goroutine its P has, costs no sched.lock, and
 * the 1-in-61 look at the global queue keeps that from starving.
 *
 * Locking: everything here belongs to the sysmon thread, except sysmonwait
 * and sysmonnote (under sched.lock: sysmon sets sysmonwait, whoever
 * clears it wakes the note) and preemptpending (an atomic hint: set by
 * sysmon each tick while a P has run one goroutine for 10 ms, cleared by
 * sysmon or by the goroutine that honours a request). preemptone reads pp->m and m->curg, which
 * their owners write without a lock: it holds sched.lock, under which an
 * M cannot be freed (dropm unlinks it under the lock first), and Gs are
 * never freed, so a stale read costs at most a request that is withdrawn
 * (see there); the reads are excluded from ThreadSanitizer, as the dump's.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

#define FORCE_PREEMPT_NS (10 * GOR_MILLISECOND)
#define LONG_SYSCALL_NS (10 * GOR_MILLISECOND)
/* How often free stacks that stayed unused go back to the kernel
 * (stackscavenge): rarely, since each trim interrupts every CPU running
 * one of our threads. */
#define SCAVENGE_NS (100 * GOR_MILLISECOND)
enum {
	TICK_MIN_US = 20,
	TICK_MAX_US = SYSMON_TICK_MAX / 1000,
	IDLE_TICKS_BEFORE_BACKOFF = 50,
	SYSMON_STACK = 256 * 1024,
};

atomic_u32 sysmonwait;
static note sysmonnote;
atomic_u32 preemptpending;

/* What sysmon saw of one P last time (Go's sysmontick). */
struct sysmontick {
	uint32_t status;
	uint64_t schedtick;
	int64_t schedwhen;
	uint32_t syscalltick;
	int64_t syscallwhen;
};

static struct sysmontick ticks[GOR_MAXPROCS_LIMIT];

/* allp as sysmon last copied it, under sched.lock: procresize writes allp
 * under that lock, and a P, once made, is never freed. */
static struct gor_p *ps[GOR_MAXPROCS_LIMIT];
static uint32_t nps;

__attribute__((weak)) void netpoll_sysmon_poll(int64_t now)
{
	(void)now;
}

void sysmonwake(void)
{
	atomic_store_u32(&sysmonwait, 0);
	notewakeup(&sysmonnote);
}

void gopreempt(struct gor_g *gp)
{
	struct gor_m *mp = gp->m;
	if (mp->syscalldepth)
		return; /* no P to give up inside a bracket: after it */
	struct gor_p *pp = mp->p;
	atomic_store_u64(&pp->npreempt, atomic_load_u64(&pp->npreempt) + 1);
	atomic_store_u8(&gp->preempt, 0);
	/* Others' long runs set it again at sysmon's next tick. */
	atomic_store_u32(&preemptpending, 0);
	/* A goroutine bound to its thread (main) that yields lets its M run
	 * the others, and if one of them then runs without calling the
	 * runtime, the bound goroutine cannot run anywhere else until it
	 * stops. While a P is idle, waking an M for the queued work gives
	 * them the CPU without putting the bound goroutine behind them. */
	if (gp->lockedm != NULL && atomic_load_u32(&sched.npidle) > 0) {
		wakep();
		return;
	}
	if (unlikely(trace_enabled())) traceGoPreempt(gp);
	gor_yield();
}

void preemptcheck_slow(void)
{
	struct gor_g *gp = getg();
	if (gp != NULL)
		preemptcheck(gp);
}

#ifdef GOR_TSAN
#define SYSMON_RACY __attribute__((no_sanitize("thread")))
#else
#define SYSMON_RACY
#endif

/*
 * Asks the goroutine running on pp to yield (Go's preemptone). tick is
 * the nswitch that has not moved for FORCE_PREEMPT_NS. If it has moved by
 * the time the request is made, the goroutine read may have been switched
 * out already, and the request is withdrawn: a stale one would make it
 * yield for nothing later. This is a best effort (no fence orders the
 * re-check after the request): what slips through costs one yield.
 */
SYSMON_RACY static void preemptone(struct gor_p *pp, uint64_t tick)
{
	lock(&sched.lock);
	struct gor_m *mp = pp->m;
	struct gor_g *gp = mp ? mp->curg : NULL;
	if (gp && atomic_load_u32(&gp->status) == G_RUNNING && !atomic_load_u8(&gp->preempt)) {
		atomic_store_u8(&gp->preempt, 1);
		if (atomic_load_u64(&pp->nswitch) != tick ||
		    atomic_load_u32(&pp->status) != P_RUNNING || pp->m != mp || mp->curg != gp)
			atomic_store_u8(&gp->preempt, 0);
	}
	unlock(&sched.lock);
}

/* Go's retake: returns how many Ps it took from syscalls. */
static uint32_t retake(int64_t now)
{
	if (atomic_load_u32(&gomaxprocs) != nps) {
		lock(&sched.lock);
		nps = atomic_load_u32(&gomaxprocs);
		memcpy(ps, allp, nps * sizeof *ps);
		unlock(&sched.lock);
	}
	uint32_t n = 0;
	bool pending = false;
	for (uint32_t i = 0; i < nps; i++) {
		struct gor_p *pp = ps[i];
		struct sysmontick *t = &ticks[i];
		uint32_t st = atomic_load_u32(&pp->status);
		if (st == P_RUNNING) {
			uint64_t tick = atomic_load_u64(&pp->nswitch);
			if (t->status != P_RUNNING || t->schedtick != tick) {
				t->schedtick = tick;
				t->schedwhen = now;
			} else if (now - t->schedwhen >= FORCE_PREEMPT_NS) {
				preemptone(pp, tick);
				pending = true;
			}
		} else if (st == P_SYSCALL) {
			uint32_t tick = atomic_load_u32(&pp->syscalltick);
			if (t->status != P_SYSCALL || t->syscalltick != tick) {
				t->syscalltick = tick;
				t->syscallwhen = now;
			} else if (retakesyscall(pp, now - t->syscallwhen >= LONG_SYSCALL_NS)) {
				n++;
				st = P_IDLE;
			}
		}
		t->status = st;
	}
	if (atomic_load_u32(&preemptpending) != pending)
		atomic_store_u32(&preemptpending, pending);
	return n;
}

/* Sleeps while every P is idle, until pidleget wakes it. True if it slept. */
static bool sysmon_idle(void)
{
	if (atomic_load_u32(&sched.npidle) != atomic_load_u32(&gomaxprocs))
		return false;
	lock(&sched.lock);
	if (atomic_load_u32(&sched.npidle) != atomic_load_u32(&gomaxprocs)) {
		unlock(&sched.lock);
		return false;
	}
	noteclear(&sysmonnote);
	atomic_store_u32(&sysmonwait, 1);
	unlock(&sched.lock);
	stackscavenge(true); /* nothing will draw on them while we sleep */
	notesleep(&sysmonnote);
	return true;
}

__attribute__((noreturn)) static void *sysmon(void *arg)
{
	(void)arg;
	uint32_t idle = 0, delay = 0;
	int64_t lastscavenge = 0;
	for (;;) {
		if (idle == 0)
			delay = TICK_MIN_US;
		else if (idle > IDLE_TICKS_BEFORE_BACKOFF)
			delay *= 2;
		if (delay > TICK_MAX_US)
			delay = TICK_MAX_US;
		usleep(delay);
		if (sysmon_idle()) {
			idle = 0;
			continue;
		}
		int64_t now = nanotime();
		netpoll_sysmon_poll(now);
		if (now - lastscavenge >= SCAVENGE_NS) {
			stackscavenge(false);
			lastscavenge = now;
		}
		if (retake(now) != 0)
			idle = 0;
		else
			idle++;
	}
}

/* sysmon runs no user code: every signal goes to the program's threads. */
void sysmon_start(void)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SYSMON_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	atomic_add_u32(&nhelperthreads, 1); /* for checkdead's thread count */
	int err = pthread_create(&th, &attr, sysmon, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		char detail[64];
		snprintf(detail, sizeof detail, "pthread_create: %s", strerror(err));
		gor_fatal("cannot start sysmon", detail);
	}
	pthread_setname_np(th, "gor-sysmon");
}
