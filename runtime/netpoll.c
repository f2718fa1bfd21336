/*
 * netpoll.c - the netpoller: goroutines parked on file descriptors, after
 * Go's runtime/netpoll.go. The kernel side is a backend (netpoll.h:
 * netpoll_epoll.c or netpoll_kqueue.c); the calls users make are in
 * io.c; the scheduler polls through netpoll() (proc.c, findrunnable and
 * sleep_without_p).
 *
 * pollDesc. Every fd a gor_ call has touched has one, found by the fd
 * number in a two-level table (leaves of 512, allocated on demand, never
 * freed: an fd's pollDesc outlives its file and serves the next file
 * with that number). On first use the fd is registered with the backend,
 * once, for both directions, and made non-blocking; regular files,
 * directories and block devices (which every poller reports as always
 * ready), and whatever the backend refuses with EPERM, are marked
 * blocking instead, and io.c runs their calls between
 * gor_syscall_enter/exit.
 *
 * seq counts the closes of the fd number. gor_fd_close bumps it, and
 * every wait compares it with the value it saw at the start: a change
 * means "closed under you", EBADF. The backend's key for the fd is
 * (seq << 32 | fd), so an event that was already on its way for a
 * closed file, and reaches the poller after a new file took the number,
 * is recognised as stale and dropped.
 *
 * rg and wg: Go's two binary semaphores, one per direction, holding
 *   PD_NIL    nothing pending;
 *   PD_READY  an edge arrived that nobody has consumed yet;
 *   PD_WAIT   a goroutine is about to park;
 *   a G       that goroutine is parked;
 *   a G|BOTH  that goroutine is parked on both directions at once
 *             (gor_wait_fd for reading and writing): the same value in
 *             rg and wg.
 * A waiter turns NIL into WAIT (or consumes READY and does not park),
 * parks, and its commit (run after the switch) turns WAIT into itself.
 * A waker (the poller with "ready", a deadline timer or a close with "not
 * ready") swaps the slot to READY or NIL and readies the G it took out.
 * A waker that finds WAIT sets READY or NIL, so the commit fails and the
 * goroutine does not sleep; one that finds NIL on a close or deadline
 * leaves it, since the waiter's own checks (seq, the clock) will see the
 * cause. Each side has at most one waiter: io.c serialises callers with
 * pd_lock, a parking mutex per direction, as Go's fdMutex does.
 *
 * Both directions at once. A G|BOTH value is only ever installed and
 * removed under pd->lock: the commit installs it in both slots together,
 * and a waker that meets it takes the lock and clears both slots before
 * readying the G, so exactly one waker gets it. The lock-free paths of
 * the other values never touch a G|BOTH slot.
 *
 * Deadlines. A wait with a deadline puts a timer (time.c) in its own
 * frame. The commit adds it before it publishes the G, so that the G
 * cannot be woken, return and let its frame go before addtimer has
 * read the timer. When the timer fires it wakes the G "not ready"; the G
 * deletes the timer (deltimer waits for a running one) before returning.
 *
 * Who polls: an M that runs out of work, without blocking (findrunnable);
 * the timed sleeper, blocking until the next timer (sleep_without_p); and
 * sysmon, without blocking, when nobody has polled for 10 ms while no M
 * blocks in the poller (netpoll_sysmon_poll), so that Ps kept busy by
 * goroutines that never run out of work do not starve the fds.
 *
 * netpollWaiters counts parked goroutines. The scheduler polls only
 * while it is not zero, and the deadlock check counts them as alive (a
 * goroutine waiting for a peer is not stuck). It is raised before a G is
 * published and lowered when a waker takes one out, so it never reads
 * low; when it drops to zero while a poller blocks, the poller is woken
 * to decide again whether anything is left to poll for (waiters_dec, and
 * netpoll, which looks at the count again once it counts itself blocked).
 *
 * Locking rules:
 *   pd->lock (a runtime lock, never held across a switch): state, issock
 *     and registration; seq increments; installing and removing G|BOTH
 *     values. It is innermost: the only lock taken under it is initlock
 *     (the first registration starts the backend), and goroutines are
 *     readied, timers added and the poller woken only after it is
 *     released. The system calls of registration (fstat, fcntl,
 *     netpoll_open/close) run under it. Deadline timers take it from
 *     their timer function, which runs with no lock held.
 *   state is published with release order after issock is written, and
 *     read with acquire order; seq is atomic; rg and wg are changed only
 *     by CAS or swap (full order).
 *   The table: lookups are lock-free (acquire loads); growing it and
 *     adding leaves happen under pdtablock. Replaced tables are kept (a
 *     lookup may still be reading one) on a list, and leaves are shared.
 *   netpollWaiters, netpollWakeSig, netpollblocked, lastpoll, inited:
 *     atomics. netpollWaiters and netpollblocked are a Dekker pair: each
 *     side changes its own by read-modify-write and then reads the other
 *     sequentially consistent (waiters_dec, netpoll).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netpoll.h"
#include "switch.h"

#define PD_NIL   ((void *)0)
#define PD_READY ((void *)1)
#define PD_WAIT  ((void *)2)
#define PD_BOTH  ((uintptr_t)4) /* Gs are 64-byte aligned: the low bits are free */

enum pdstate {
	PD_NEW,      /* not registered: the next call registers it */
	PD_POLLED,   /* registered with the backend, non-blocking */
	PD_BLOCKING, /* regular file or refused: the blocking-call path */
	PD_CLOSING,  /* gor_fd_close is between waking the waiters and close(2) */
};

struct pollDesc {
	gor_lock lock;
	atomic_u32 state;   /* enum pdstate */
	atomic_u32 seq;     /* closes of this fd number */
	bool issock;        /* written under lock before state is published */
	atomic_ptr rg, wg;  /* see the header */
	gor_mutex rmu, wmu; /* one reader, one writer at a time (io.c) */
} __attribute__((aligned(64)));

/* ---- the fd -> pollDesc table ------------------------------------------- */

enum { LEAFSHIFT = 9, LEAFSIZE = 1 << LEAFSHIFT };

struct pdtab {
	uint32_t nleaves;
	struct pdtab *prev; /* the table this one replaced */
	atomic_ptr leaf[];  /* struct pollDesc[LEAFSIZE], or NULL */
};

static atomic_ptr pdtab;
static gor_lock pdtablock;

/* fd's pollDesc if it has one. */
static struct pollDesc *pd_lookup(int fd)
{
	struct pdtab *t = atomic_load_acq_ptr(&pdtab);
	uint32_t i = (uint32_t)fd >> LEAFSHIFT;
	if (t == NULL || i >= t->nleaves)
		return NULL;
	struct pollDesc *leaf = atomic_load_acq_ptr(&t->leaf[i]);
	return leaf ? &leaf[fd & (LEAFSIZE - 1)] : NULL;
}

/* fd's pollDesc, made if need be; NULL when out of memory. fd >= 0. */
static struct pollDesc *pd_alloc(int fd)
{
	struct pollDesc *pd = pd_lookup(fd);
	if (pd)
		return pd;
	uint32_t i = (uint32_t)fd >> LEAFSHIFT;
	lock(&pdtablock);
	struct pdtab *t = atomic_load_ptr(&pdtab);
	if (t == NULL || i >= t->nleaves) {
		uint32_t n = t ? t->nleaves : 0, want = n ? 2 * n : 16;
		while (want <= i)
			want *= 2;
		struct pdtab *nt = calloc(1, sizeof *nt + want * sizeof nt->leaf[0]);
		if (nt == NULL) {
			unlock(&pdtablock);
			return NULL;
		}
		nt->nleaves = want;
		nt->prev = t;
		for (uint32_t j = 0; j < n; j++)
			atomic_store_ptr(&nt->leaf[j], atomic_load_ptr(&t->leaf[j]));
		atomic_store_rel_ptr(&pdtab, nt);
		t = nt;
	}
	struct pollDesc *leaf = atomic_load_ptr(&t->leaf[i]);
	if (leaf == NULL) {
		if (posix_memalign((void **)&leaf, 64, LEAFSIZE * sizeof *leaf) != 0) {
			unlock(&pdtablock);
			return NULL;
		}
		memset(leaf, 0, LEAFSIZE * sizeof *leaf);
		atomic_store_rel_ptr(&t->leaf[i], leaf);
	}
	unlock(&pdtablock);
	return &leaf[fd & (LEAFSIZE - 1)];
}

/* ---- poller state ------------------------------------------------------ */

static atomic_u32 inited;
static gor_lock initlock;
static atomic_u32 netpollWaiters;
static atomic_u32 netpollWakeSig; /* a netpoll_break is on its way */
static atomic_u32 netpollblocked; /* Ms waiting in the backend */
static atomic_u64 lastpoll;       /* nanotime() of the last netpoll */

bool netpollinited(void)
{
	return atomic_load_acq_u32(&inited) != 0;
}

bool netpollAnyWaiters(void)
{
	return atomic_load_u32(&netpollWaiters) != 0;
}

bool netpollBlocked(void)
{
	return atomic_load_u32(&netpollblocked) != 0;
}

static int netpollGenericInit(void)
{
	if (netpollinited())
		return 0;
	int e = 0;
	lock(&initlock);
	if (!atomic_load_u32(&inited)) {
		e = netpoll_init();
		if (e == 0)
			atomic_store_rel_u32(&inited, 1);
	}
	unlock(&initlock);
	return e;
}

void netpollBreak(void)
{
	if (!netpollinited())
		return;
	/* One wake-up at a time: the blocked poller clears the flag when it
	 * consumes it, and a second one would only wake it twice. */
	if (atomic_load_u32(&netpollWakeSig) || !atomic_cas_u32(&netpollWakeSig, 0, 1))
		return;
	netpoll_break();
}

/* A poller about to block counts itself in netpollblocked and then looks
 * at netpollWaiters; we lower netpollWaiters and then look at
 * netpollblocked. Read-modify-writes and sequentially consistent loads on
 * both sides: one of us sees the other, so the last waiter's leaving
 * never lets a poller sleep on with nothing to poll for (which hid a
 * deadlock, on arm64 where a plain load may pass the decrement). */
static void waiters_dec(void)
{
	if (atomic_add_u32(&netpollWaiters, -1) == 0 && atomic_load_sc_u32(&netpollblocked) != 0)
		netpollBreak();
}

/* ---- registration ----------------------------------------------------------- */

static inline uint64_t pd_key(int fd, uint32_t seq)
{
	return (uint64_t)seq << 32 | (uint32_t)fd;
}

/* Registers fd, whose pollDesc is NEW and locked. kind < 0: unknown, look
 * (fstat) and make it non-blocking; otherwise a non-blocking fd the
 * runtime made, a socket if kind > 0. 0 or an errno value. */
static int pd_register(struct pollDesc *pd, int fd, int kind)
{
	bool issock = kind > 0;
	if (kind < 0) {
		struct stat st;
		if (fstat(fd, &st) != 0)
			return errno;
		if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
			atomic_store_rel_u32(&pd->state, PD_BLOCKING);
			return 0;
		}
		issock = S_ISSOCK(st.st_mode);
	}
	int e = netpollGenericInit();
	if (e != 0)
		return e;
	e = netpoll_open(fd, pd_key(fd, atomic_load_u32(&pd->seq)));
	if (e == EPERM) {
		atomic_store_rel_u32(&pd->state, PD_BLOCKING);
		return 0;
	}
	if (e != 0)
		return e;
	if (kind < 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)) {
			e = errno;
			netpoll_close(fd);
			return e;
		}
	}
	pd->issock = issock;
	atomic_store_rel_u32(&pd->state, PD_POLLED);
	return 0;
}

int pd_prepare(int fd, struct pollDesc **pdp, uint32_t *seq)
{
	if (fd < 0)
		return EBADF;
	struct pollDesc *pd = pd_alloc(fd);
	if (pd == NULL)
		return ENOMEM;
	for (;;) {
		uint32_t st = atomic_load_acq_u32(&pd->state);
		if (st == PD_POLLED || st == PD_BLOCKING)
			break;
		if (st == PD_CLOSING) {
			/* A close runs now; once it is done the number is free
			 * or names a new file. It takes microseconds. */
			sched_yield();
			continue;
		}
		lock(&pd->lock);
		int e = atomic_load_u32(&pd->state) == PD_NEW ? pd_register(pd, fd, -1) : 0;
		unlock(&pd->lock);
		if (e != 0)
			return e;
	}
	*seq = atomic_load_acq_u32(&pd->seq);
	*pdp = pd;
	return 0;
}

static struct gor_g *netpollunblock(struct pollDesc *pd, atomic_ptr *gpp, bool ioready);

/* Readies the goroutines parked on pd, which see seq changed. */
static void pd_wakeall(struct pollDesc *pd)
{
	struct gor_g *r = netpollunblock(pd, &pd->rg, false);
	struct gor_g *w = netpollunblock(pd, &pd->wg, false);
	if (r)
		goready(r, false);
	if (w)
		goready(w, false);
}

int pd_prepare_new(int fd, bool issock, struct pollDesc **pdp, uint32_t *seq)
{
	struct pollDesc *pd = pd_alloc(fd);
	if (pd == NULL)
		return ENOMEM;
	lock(&pd->lock);
	while (atomic_load_u32(&pd->state) == PD_CLOSING) {
		/* the close of the file that had this number has not quite
		 * finished (see pd_prepare) */
		unlock(&pd->lock);
		sched_yield();
		lock(&pd->lock);
	}
	/* A file under this number that was closed with plain close(2):
	 * whatever waited on it waits in vain, and its registration died
	 * with it. */
	bool stale = atomic_load_u32(&pd->state) != PD_NEW;
	if (stale) {
		atomic_add_u32(&pd->seq, 1);
		atomic_store_u32(&pd->state, PD_NEW);
	}
	int e = pd_register(pd, fd, issock);
	unlock(&pd->lock);
	if (stale)
		pd_wakeall(pd);
	if (e != 0)
		return e;
	*seq = atomic_load_acq_u32(&pd->seq);
	*pdp = pd;
	return 0;
}

bool pd_blocking(const struct pollDesc *pd)
{
	return atomic_load_u32(&pd->state) == PD_BLOCKING;
}

bool pd_socket(const struct pollDesc *pd)
{
	return pd->issock;
}

bool pd_closed(const struct pollDesc *pd, uint32_t seq)
{
	return atomic_load_acq_u32(&pd->seq) != seq;
}

void pd_lock(struct pollDesc *pd, int mode)
{
	if (mode & NETPOLL_READ)
		gor_mutex_lock(&pd->rmu);
	if (mode & NETPOLL_WRITE)
		gor_mutex_lock(&pd->wmu);
}

void pd_unlock(struct pollDesc *pd, int mode)
{
	if (mode & NETPOLL_WRITE)
		gor_mutex_unlock(&pd->wmu);
	if (mode & NETPOLL_READ)
		gor_mutex_unlock(&pd->rmu);
}

void pd_close(int fd)
{
	struct pollDesc *pd = fd >= 0 ? pd_lookup(fd) : NULL;
	if (pd == NULL)
		return;
	lock(&pd->lock);
	uint32_t st = atomic_load_u32(&pd->state);
	if (st == PD_NEW || st == PD_CLOSING) {
		unlock(&pd->lock);
		return;
	}
	atomic_add_u32(&pd->seq, 1);
	atomic_store_u32(&pd->state, PD_CLOSING);
	if (st == PD_POLLED)
		netpoll_close(fd); /* a dup of fd would keep it registered */
	unlock(&pd->lock);
	pd_wakeall(pd);
}

void pd_close_done(int fd)
{
	struct pollDesc *pd = fd >= 0 ? pd_lookup(fd) : NULL;
	if (pd == NULL)
		return;
	lock(&pd->lock);
	if (atomic_load_u32(&pd->state) == PD_CLOSING)
		atomic_store_rel_u32(&pd->state, PD_NEW);
	unlock(&pd->lock);
}

/* ---- parking and waking ----------------------------------------------------- */

static inline bool isg(void *v)
{
	return (uintptr_t)v > (uintptr_t)PD_WAIT;
}

static inline bool isboth(void *v)
{
	return isg(v) && ((uintptr_t)v & PD_BOTH);
}

/* Takes the G out of a G|BOTH pair; NULL if it is gone (the caller looks
 * at the slot again). */
static struct gor_g *netpollunblock_both(struct pollDesc *pd, atomic_ptr *gpp, bool ioready)
{
	lock(&pd->lock);
	void *old = atomic_load_ptr(gpp);
	if (!isboth(old)) {
		unlock(&pd->lock);
		return NULL;
	}
	atomic_ptr *other = gpp == &pd->rg ? &pd->wg : &pd->rg;
	atomic_xchg_ptr(gpp, ioready ? PD_READY : PD_NIL);
	atomic_xchg_ptr(other, PD_NIL);
	unlock(&pd->lock);
	waiters_dec();
	return (struct gor_g *)((uintptr_t)old & ~PD_BOTH);
}

/* Go's netpollunblock: the G parked in *gpp, which the caller must ready,
 * or NULL. ioready: an edge arrived (leave READY behind); otherwise a
 * deadline or a close (leave NIL). */
static struct gor_g *netpollunblock(struct pollDesc *pd, atomic_ptr *gpp, bool ioready)
{
	for (;;) {
		void *old = atomic_load_ptr(gpp);
		if (old == PD_READY)
			return NULL;
		if (old == PD_NIL && !ioready)
			return NULL;
		if (isboth(old)) {
			struct gor_g *gp = netpollunblock_both(pd, gpp, ioready);
			if (gp)
				return gp;
			continue;
		}
		if (atomic_cas_ptr(gpp, old, ioready ? PD_READY : PD_NIL)) {
			if (!isg(old))
				return NULL;
			waiters_dec();
			return old;
		}
	}
}

/* A wait in progress, in the waiting goroutine's frame. */
struct pollwait {
	struct pollDesc *pd;
	int mode;
	struct timer *timer; /* the deadline, or NULL */
};

/* gopark's unlockf: publishes the G, or returns false (do not sleep) if a
 * waker changed a slot since it was set to WAIT. */
static bool netpollblockcommit(struct gor_g *gp, void *arg)
{
	struct pollwait *w = arg;
	struct pollDesc *pd = w->pd;
	if (w->timer)
		addtimer(getm()->p, w->timer);
	atomic_add_u32(&netpollWaiters, 1);
	bool ok;
	if (w->mode == (NETPOLL_READ | NETPOLL_WRITE)) {
		void *both = (void *)((uintptr_t)gp | PD_BOTH);
		lock(&pd->lock);
		ok = atomic_cas_ptr(&pd->rg, PD_WAIT, both);
		if (ok && !atomic_cas_ptr(&pd->wg, PD_WAIT, both)) {
			atomic_xchg_ptr(&pd->rg, PD_WAIT);
			ok = false;
		}
		unlock(&pd->lock);
	} else {
		ok = atomic_cas_ptr(w->mode == NETPOLL_READ ? &pd->rg : &pd->wg, PD_WAIT, gp);
	}
	if (!ok)
		waiters_dec();
	return ok;
}

/* The deadline's timer function: wakes the waiter "not ready". */
static void netpolldeadline(void *arg, int64_t now)
{
	struct pollwait *w = arg;
	struct gor_g *gp = NULL;
	(void)now;
	if (w->mode & NETPOLL_READ)
		gp = netpollunblock(w->pd, &w->pd->rg, false);
	if (gp == NULL && (w->mode & NETPOLL_WRITE))
		gp = netpollunblock(w->pd, &w->pd->wg, false);
	if (gp)
		goready(gp, false);
}

/* Empties the slots of a wait that is over: NIL, READY or WAIT (a commit
 * that failed) may be left; a G would mean two waiters on one side. */
static void pd_clearwait(atomic_ptr **sides, int n)
{
	for (int i = 0; i < n; i++)
		if (isg(atomic_xchg_ptr(sides[i], PD_NIL)))
			gor_fatal("netpoll: corrupted pollDesc", "a goroutine still parked after its wait");
}

int netpollblock(struct pollDesc *pd, int mode, int64_t deadline, uint32_t seq)
{
	if (pd_closed(pd, seq))
		return EBADF;
	if (deadline != GOR_NEVER && deadline <= nanotime())
		return ETIMEDOUT;
	atomic_ptr *sides[2];
	int n = 0;
	if (mode & NETPOLL_READ)
		sides[n++] = &pd->rg;
	if (mode & NETPOLL_WRITE)
		sides[n++] = &pd->wg;
	for (int i = 0; i < n; i++) {
		for (;;) {
			if (atomic_cas_ptr(sides[i], PD_READY, PD_NIL)) {
				pd_clearwait(sides, i); /* the sides already set to WAIT */
				return 0;
			}
			if (atomic_cas_ptr(sides[i], PD_NIL, PD_WAIT))
				break;
			if (atomic_load_ptr(sides[i]) != PD_READY)
				gor_fatal("netpoll: two goroutines wait on one direction of an fd", NULL);
		}
	}
	/* A close that bumped seq before we set WAIT found nothing to wake:
	 * look now. One after finds WAIT and makes the commit fail. */
	if (pd_closed(pd, seq)) {
		pd_clearwait(sides, n);
		return EBADF;
	}
	struct timer t = {0};
	struct pollwait w = {.pd = pd, .mode = mode, .timer = NULL};
	if (deadline != GOR_NEVER) {
		t.when = deadline;
		t.f = netpolldeadline;
		t.arg = &w;
		w.timer = &t;
	}
	gopark(netpollblockcommit, &w, WAIT_IO, NULL);
	if (w.timer)
		deltimer(w.timer); /* before the frame holding it goes */
	pd_clearwait(sides, n);
	return 0;
}

/* ---- the scheduler's side ------------------------------------------------------ */

struct gor_g *netpoll(int64_t delay)
{
	if (!netpollinited())
		return NULL;
	struct netpoll_event ev[128];
	bool woken;
	bool block = delay != 0;
	if (block) {
		atomic_add_u32(&netpollblocked, 1);
		/* The caller saw waiters, but the last may have left since,
		 * before we counted ourselves blocked, and then nobody would
		 * wake us (waiters_dec is the other half). */
		if (atomic_load_sc_u32(&netpollWaiters) == 0)
			delay = 0;
	}
	int n = netpoll_wait(delay, ev, (int)(sizeof ev / sizeof ev[0]), &woken);
	if (block)
		atomic_add_u32(&netpollblocked, -1);
	if (woken)
		atomic_store_u32(&netpollWakeSig, 0);
	atomic_store_u64(&lastpoll, (uint64_t)nanotime());
	struct gor_g *list = NULL;
	int64_t nready = 0;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)ev[i].key;
		struct pollDesc *pd = pd_lookup(fd);
		if (pd == NULL || atomic_load_u32(&pd->seq) != (uint32_t)(ev[i].key >> 32))
			continue; /* for a file closed since */
		struct gor_g *gp;
		if ((ev[i].mode & NETPOLL_READ) && (gp = netpollunblock(pd, &pd->rg, true)) != NULL) {
			gp->schedlink = list;
			list = gp;
			nready++;
		}
		if ((ev[i].mode & NETPOLL_WRITE) && (gp = netpollunblock(pd, &pd->wg, true)) != NULL) {
			gp->schedlink = list;
			list = gp;
			nready++;
		}
	}
	if (nready)
		atomic_add_u64(&counters.netpoll, nready);
	return list;
}

/* sysmon's part (Go's sysmon netpoll): while every P stays busy nobody
 * polls, so the goroutines whose fds are ready would wait for a P to run
 * out of work. If nobody has polled for 10 ms and no M blocks in the
 * poller, poll without blocking and queue what is ready.
 *
 * From the moment netpoll takes a goroutine's edge (netpollWaiters drops)
 * until injectglist has made it runnable, sysmon alone knows of it, and
 * sysmon is no M: an M going idle meanwhile, the last one awake, would
 * find every goroutine waiting, no fd waiter and no running M, and
 * declare a deadlock (seen once in 338 suite runs under qemu). So sysmon
 * counts as a running M (incidlelocked, as Go's sysmon does around
 * injectglist) from before the poll until the goroutines are queued. */
void netpoll_sysmon_poll(int64_t now)
{
	if (!netpollAnyWaiters() || netpollBlocked())
		return;
	uint64_t last = atomic_load_u64(&lastpoll);
	if ((int64_t)last + 10 * GOR_MILLISECOND > now || !atomic_cas_u64(&lastpoll, last, (uint64_t)now))
		return;
	incidlelocked(-1);
	struct gor_g *list = netpoll(0);
	if (list)
		injectglist(NULL, list);
	incidlelocked(1);
}
