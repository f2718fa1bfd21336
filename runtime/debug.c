/*
 * debug.c - fatal errors and the goroutine dump (Go's throw, and the
 * traceback printed on SIGQUIT or a fatal error).
 *
 * The dump walks allglist, which is push-only and never unlinked, so it
 * needs no lock and is safe from a signal handler while other threads
 * keep running: what it prints for a goroutine that changes meanwhile may
 * be stale, never a crash. Fields are read once each.
 *
 * Output goes through a small buffered writer over write(2) (or a FILE
 * for gor_dump), formatting numbers by hand: no malloc and no stdio on the
 * fatal path, which may run in a SIGSEGV handler or with locks held.
 *
 * Unlike Go's traceback, the dump says which channel a goroutine waits on
 * (address, element size, len/cap, closed), read without the channel's
 * lock: a torn value in a dump is better than a dump that can deadlock.
 *
 * Stacks of goroutines that are not running are walked from their saved
 * context by frame pointers (the runtime is built with them; code built
 * without them ends the walk early). Each step is checked against the
 * goroutine's stack bounds and must move up the stack, so a corrupt chain
 * ends the walk instead of faulting or looping.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"
#include "chan.h"

const char *const waitreason_names[WAIT_NREASONS] = {
	[WAIT_NONE] = "",
	[WAIT_SLEEP] = "sleep",
	[WAIT_CHAN_RECV] = "chan receive",
	[WAIT_CHAN_SEND] = "chan send",
	[WAIT_CHAN_NIL] = "chan receive (nil chan)",
	[WAIT_CHAN_SEND_NIL] = "chan send (nil chan)",
	[WAIT_SELECT] = "select",
	[WAIT_SELECT_NOCASES] = "select (no cases)",
	[WAIT_MUTEX] = "sync.Mutex.Lock",
	[WAIT_RWMUTEX_R] = "sync.RWMutex.RLock",
	[WAIT_RWMUTEX_W] = "sync.RWMutex.Lock",
	[WAIT_WAITGROUP] = "sync.WaitGroup.Wait",
	[WAIT_COND] = "sync.Cond.Wait",
	[WAIT_ONCE] = "sync.Once.Do",
	[WAIT_IO] = "IO wait",
	[WAIT_STOPPED] = "stopped",
};

const char *const gstatus_names[G_DEAD + 1] = {
	[G_IDLE] = "idle", [G_RUNNABLE] = "runnable", [G_RUNNING] = "running",
	[G_WAITING] = "waiting", [G_SYSCALL] = "syscall", [G_DEAD] = "dead",
};

struct out {
	int fd;
	FILE *f;
	size_t n;
	char buf[1024];
};

static void flush(struct out *o)
{
	size_t off = 0;
	if (o->f) {
		fwrite(o->buf, 1, o->n, o->f);
	} else {
		while (off < o->n) {
			ssize_t w = write(o->fd, o->buf + off, o->n - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	o->n = 0;
}

static void puts_(struct out *o, const char *s)
{
	for (; *s; s++) {
		if (o->n == sizeof o->buf)
			flush(o);
		o->buf[o->n++] = *s;
	}
}

static void putu(struct out *o, uint64_t v, unsigned base)
{
	char tmp[24];
	int i = (int)sizeof tmp - 1;
	tmp[i] = '\0';
	do {
		tmp[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && i > 0);
	if (base == 16)
		puts_(o, "0x");
	puts_(o, tmp + i);
}

/* pc as "symbol+off (file+off)". Static functions have no dynamic symbol;
 * the file offset still lets `addr2line -e FILE OFF` name them. */
static void putsym(struct out *o, void *pc)
{
	Dl_info info;
	if (pc == NULL || !dladdr(pc, &info)) {
		putu(o, (uintptr_t)pc, 16);
		return;
	}
	if (info.dli_sname) {
		puts_(o, info.dli_sname);
		puts_(o, "+");
		putu(o, (uintptr_t)pc - (uintptr_t)info.dli_saddr, 16);
		puts_(o, " ");
	}
	puts_(o, "(");
	puts_(o, info.dli_fname ? info.dli_fname : "?");
	puts_(o, "+");
	putu(o, (uintptr_t)pc - (uintptr_t)info.dli_fbase, 16);
	puts_(o, ")");
}

/* The dump reads goroutines and channels that other threads change, on
 * purpose (see the top comment): ThreadSanitizer is told so. */
#ifdef GOR_TSAN
#define DUMP_RACY __attribute__((no_sanitize("thread")))
#else
#define DUMP_RACY
#endif

DUMP_RACY static void dumpchan(struct out *o, struct gor_chan *c)
{
	size_t elemsize, len, cap;
	bool closed;
	if (!chan_describe(c, &elemsize, &len, &cap, &closed))
		return;
	puts_(o, "\twaiting on channel ");
	putu(o, (uintptr_t)c, 16);
	puts_(o, " (elem ");
	putu(o, elemsize, 10);
	puts_(o, " bytes, len ");
	putu(o, len, 10);
	puts_(o, "/cap ");
	putu(o, cap, 10);
	puts_(o, closed ? ", closed)\n" : ")\n");
}

enum { MAXFRAMES = 32 };

/* Walks a switched-out goroutine's frame-pointer chain. */
DUMP_RACY static void dumpstack(struct out *o, struct gor_g *gp)
{
	if (gp->ctx.sp == NULL || gp->stack.lo == NULL)
		return;
	char *lo = gp->stack.lo, *hi = gp->stack.hi;
	if ((char *)gp->ctx.sp < lo || (char *)gp->ctx.sp >= hi)
		return;
	void *pc, *fp;
	gor_ctx_frame(&gp->ctx, &pc, &fp);
	for (int i = 0; i < MAXFRAMES && pc; i++) {
		puts_(o, "\t");
		putsym(o, pc);
		puts_(o, "\n");
		char *f = fp;
		if (f < (char *)gp->ctx.sp || f + 2 * sizeof(void *) > hi || ((uintptr_t)f & 7))
			break;
		void *next = ((void **)f)[0];
		pc = ((void **)f)[1];
		if ((char *)next <= f)
			break;
		fp = next;
	}
}

DUMP_RACY static void dumpg(struct out *o, struct gor_g *gp, int64_t now)
{
	uint32_t st = atomic_load_u32(&gp->status);
	if (st == G_DEAD || st == G_IDLE)
		return;
	puts_(o, "goroutine ");
	putu(o, gp->goid, 10);
	const char *name = gp->name;
	if (name) {
		puts_(o, " \"");
		puts_(o, name);
		puts_(o, "\"");
	}
	puts_(o, " [");
	puts_(o, st < sizeof gstatus_names / sizeof *gstatus_names ? gstatus_names[st] : "?");
	uint16_t wr = gp->waitreason;
	if (st == G_WAITING && wr < WAIT_NREASONS && wr != WAIT_NONE) {
		puts_(o, ": ");
		puts_(o, waitreason_names[wr]);
		int64_t since = gp->waitsince;
		if (since > 0 && now > since) {
			puts_(o, ", ");
			putu(o, (uint64_t)(now - since) / GOR_MILLISECOND, 10);
			puts_(o, " ms");
		}
	}
	puts_(o, "]");
	if (gp->lockedm)
		puts_(o, " (bound to its thread)");
	puts_(o, ":\n");
	if (st == G_WAITING && gp->waiting && (wr == WAIT_CHAN_RECV || wr == WAIT_CHAN_SEND))
		dumpchan(o, gp->waiting);
	if (st == G_WAITING && wr == WAIT_SELECT)
		for (struct sudog *sg = gp->waitsudogs; sg; sg = sg->waitlink)
			if (sg->c)
				dumpchan(o, sg->c);
	if (st == G_WAITING || st == G_RUNNABLE)
		dumpstack(o, gp);
	if (gp->createdpc) {
		puts_(o, "\tcreated by goroutine ");
		putu(o, gp->parentgoid, 10);
		puts_(o, " at ");
		putsym(o, gp->createdpc);
		puts_(o, "\n");
	} else if (gp->nativestack) {
		puts_(o, "\tan adopted thread\n");
	}
	puts_(o, "\n");
}

static void dumpall(struct out *o)
{
	if (!runtime_is_started())
		return;
	int64_t now = nanotime();
	/* allglist is newest first; print oldest first, as Go does, by
	 * walking it once per id range would cost O(n^2): print in list
	 * order, which is what a reader scanning for one goroutine needs. */
	for (struct gor_g *gp = atomic_load_acq_ptr(&allglist); gp; gp = gp->alllink)
		dumpg(o, gp, now);
	flush(o);
}

void dumpgoroutines(int fd)
{
	struct out o = {.fd = fd};
	dumpall(&o);
}

void gor_dump(FILE *f)
{
	if (f == NULL)
		return;
	struct out o = {.f = f};
	dumpall(&o);
	fflush(f);
}

_Noreturn void gor_fatal(const char *msg, const char *detail)
{
	fatal_off_small_stack(msg, detail);
	struct out o = {.fd = 2};
	puts_(&o, "gor: fatal error: ");
	puts_(&o, msg);
	puts_(&o, "\n");
	if (detail) {
		puts_(&o, detail);
		puts_(&o, "\n");
	}
	puts_(&o, "\n");
	flush(&o);
	dumpgoroutines(2);
	_exit(2);
}

/* SIGQUIT: print every goroutine and exit 2, as Go does. */
static void sigquit(int sig)
{
	(void)sig;
	struct out o = {.fd = 2};
	puts_(&o, "SIGQUIT: quit\n\n");
	flush(&o);
	dumpgoroutines(2);
	_exit(2);
}

void debug_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sigquit;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_ONSTACK;
	struct sigaction old;
	/* Leave a handler the program installed itself alone. */
	if (sigaction(SIGQUIT, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		sigaction(SIGQUIT, &sa, NULL);
}
