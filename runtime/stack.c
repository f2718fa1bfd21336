/*
 * stack.c - goroutine stacks: mmap'd, lazily committed, guarded, pooled.
 *
 * LAYOUT. A stack of class k is one "piece": a guard region of guardsz
 * bytes (max(page, 64 KiB)) directly below `size` usable bytes (small
 * classes differ: see SMALL STACKS), so
 *
 *	| guard (guardsz) | usable: lo ........................ hi |
 *
 * lo and hi are page aligned (hence 16-byte aligned), size = hi - lo is a
 * whole number of pages. The guard is 64 KiB rather than one page because a
 * frame larger than the guard can step over it without touching it; 64 KiB
 * is also what GCC's -fstack-clash-protection assumes on aarch64. Guards
 * cost no RAM, so only address space pays for the width.
 *
 * Pieces are made in batches of n = BATCH_BYTES / stride (1 <= n <=
 * BATCH_MAX), carved from a reservation (below), each guard installed as
 * the batch is made. Nothing is committed until touched, so a goroutine
 * that uses 3 KiB of its 256 KiB costs one page of RAM.
 *
 * RESERVATIONS. Address space comes from the kernel in reservations, each
 * one mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE):
 * RESERVE_MIN (64 MiB) first, then each twice the last, up to RESERVE_MAX
 * (1 GiB); batches and small slabs are cut from the current one in turn,
 * and the rest of one too short for the next request is left unused. A
 * request above RESERVE_MIN (a large class) gets a mapping of its own.
 * Where the kernel refuses a reservation (strict overcommit, RLIMIT_AS),
 * a half as large one is tried, down to the size of the request.
 * Why not one mmap per batch, as simple: an mmap takes the process's
 * mmap_lock for writing and grows the neighbouring mapping, so every
 * page fault on a stack of that mapping, on any thread, and every guard
 * install wait for it. At about 300 batches in a run of 80 ms (bench/
 * sleepers: 100,000 goroutines, up to 20,000 asleep at once) that convoy
 * cost 8 % of the run (docs/performance.md, "Stack address space").
 * In madvise mode the guards of a batch take one process_madvise call
 * rather than one madvise each, where the kernel allows it (>= 6.15).
 *
 * SIZE CLASSES. Class 0 is the default size: GOR_STACK=N bytes, or N with
 * a suffix k/K, m/M or g/G (KiB, MiB, GiB), else 256 KiB; clamped to
 * [64 KiB, 1 GiB] and rounded up to pages; a value that is not a number,
 * or out of range, is replaced with a one-line warning on stderr. Any
 * request above SMALL_MAX and up to the default gets a default stack.
 * Class k >= 1 is 2^(16+k) bytes and serves requests above the default, rounded up to the
 * next power of two; requests above STACK_MAX (1 GiB) fail with EINVAL.
 *
 * SMALL STACKS. A request of at most SMALL_MAX (16 KiB) gets a small
 * stack instead: 2, 4, 8 or 16 KiB (classes SMALL0.., the next power of
 * two of at least SMALL_MIN), carved back to back from SMALL_SLAB slabs
 * with one guard below each slab and none between pieces, canary-checked
 * at every switch. This is for programs that keep very many goroutines
 * parked (a parked goroutine then costs about half a page, as in Go);
 * the price is that an overflow is caught only at the goroutine's next
 * switch, after it has written over the top of its neighbour's stack.
 * Free small stacks stay warm in their pool (pages cannot be dropped for
 * a piece smaller than a page): the peak is kept and reused.
 *
 * GUARDS, chosen once by stack_init (GOR_STACK_GUARD=madvise|mprotect|canary
 * forces one, for tests):
 *  - madvise: MADV_GUARD_INSTALL (Linux >= 6.13) makes the guard fault
 *    without splitting the mapping, so guarded stacks cost no map at all.
 *    The default when a probe at stack_init shows that it works; else:
 *  - mprotect: a PROT_NONE guard splits the mapping, two maps per stack,
 *    and vm.max_map_count (65530 by default) bounds the maps of a process.
 *    The budget is max_map_count less a margin of max(max_map_count / 8,
 *    1024) maps left to the rest of the program (thread stacks, malloc
 *    arenas, libraries); once batches would exceed it, new stacks are
 *    made in canary mode and stderr says so once.
 *  - canary: no guard; STACK_CANARY is written at lo each time a stack is
 *    handed out and the scheduler checks it at every switch. The guard
 *    region is still left unused, so a small overrun lands there and not
 *    in the neighbouring stack before the check sees it.
 *
 * OVERFLOW. The SIGSEGV/SIGBUS handler runs on the thread's alternate
 * signal stack (stack_thread_init) because the faulting stack is full. The
 * rule: a kernel-generated fault on a thread running a goroutine
 * (proc_signal_goroutine) is that goroutine's overflow, and ends the
 * process through gor_fatal, when its address a satisfies
 * lo - guardsz <= a < lo, lo being that of the goroutine's stack, or when
 * the stack is a canary one and the faulting sp is below lo or the
 * canary is overwritten (see overflowed). Anything else restores the
 * handler that was there before stack_init and returns: a fault then
 * re-executes the faulting instruction and meets the old handler (or the
 * default action); a SIGSEGV sent by kill() is re-raised. The runtime's
 * handler is gone after that, which costs nothing when the process is
 * about to die, and leaves faults to the old handler if it handles them.
 *
 * POOLS. Free stacks of the default class and of each small class are
 * kept per P in struct stackcache (alloc pops, free pushes; an empty
 * cache takes STACKCACHE_MAX/2 stacks from the global pool at once, a full
 * one gives its oldest half back), then in the global pool, one per
 * class, a LIFO of "warm" stacks (pages left as they were, reused at once)
 * and one of "cold" stacks (no RAM; never a small one). Large classes
 * bypass the caches: they are rare and large.
 *
 * POOL POLICY, bounding what free stacks pin: the global pool keeps warm
 * stacks whose usable sizes add up to POOL_WARM_BYTES (64 MiB, 256
 * default stacks) for good. Above that, stacks that stay unused go cold:
 * sysmon calls stackscavenge every SCAVENGE_NS, which trims the part of
 * the excess that was never drawn on since its last call (the low-water
 * mark warm_low), and trims all of it before sysmon sleeps in an idle
 * program. A trim takes the oldest excess (up to TRIM_BATCH stacks),
 * drops their pages with as few madvise calls as adjacency allows, and
 * they go cold. Trimming on the way, while goroutines come and go, cost
 * a burst like skynet a fifth of its time in TLB shoot-downs and in page
 * faults on stacks reused just after; so the freeing thread itself trims
 * only when the warm stacks pass the budget by TRIM_SLACK (16 GiB). So
 * released stacks pin at most about 16 GiB of stack address range, of
 * which only the touched pages are RAM (plus 24 bytes of bookkeeping
 * each, plus STACKCACHE_MAX per P in the caches), and once they stay
 * unused for two of sysmon's looks only 64 MiB. Address space is never
 * returned: the peak is kept and reused (a batch is unmapped only on an
 * error path, before any piece leaves this file).
 *
 * INVARIANTS.
 *  I1 Each stack of class k ever created is, at any moment, handed out, in
 *     a cache, in pools[k], or in a pool_put between its two critical
 *     sections; pools[k].created counts all of them and cap >= created, so
 *     pushing on a pool never allocates and stackfree cannot fail.
 *  I2 pools[k].s holds the warm LIFO in [0, nwarm) and the cold LIFO in
 *     [cap - ncold, cap); nwarm + ncold <= created <= cap.
 *  I3 warm_bytes is the sum of the sizes of all warm stacks that are not
 *     small (small ones are never trimmed); outside a trim it is at most
 *     POOL_WARM_BYTES + TRIM_SLACK + one pool_put's worth.
 *  I4 guard_maps >= 2 x the mprotect-guarded stacks in existence.
 *  I5 warm_low is the least value warm_bytes has had since the last
 *     stackscavenge (pop lowers it, stackscavenge resets it): the warm
 *     bytes no stackalloc drew on in that period.
 *
 * LOCKING.
 *  - pagesz, guardsz, defsize, guard_mode, map_budget, old_segv, old_bus,
 *    vg_on: written once inside stack_init's pthread_once, read-only afterwards,
 *    read without a lock (the handler too): every other entry point runs
 *    after stack_init returned, on its thread or one created later.
 *  - pool_lock guards pools[], warm_bytes, warm_low and the one trim in
 *    progress (the trimming flag and the trim buffer). It is held for
 *    O(STACKCACHE_MAX) work, or a memmove of a trim, and at most one
 *    realloc, never across a system call.
 *  - reserve_lock guards resv_next, resv_end and resv_size. It is held
 *    across the mmap of a new reservation (a few per run), so taking it
 *    may wait for one; never taken with pool_lock held.
 *  - guard_maps, canary_warned and no_vector_madvise (set once, when
 *    process_madvise refuses): atomics (atomic.h), no lock.
 *  - struct stackcache: no lock; only the M holding its P touches it.
 *  - altstack: thread-local.
 *  - The signal handler takes no lock (the fault may come while this very
 *    thread holds pool_lock) and calls only async-signal-safe functions.
 *
 * TOOLS. With GOR_VALGRIND every piece is registered as a stack with
 * valgrind when carved (vgid); pieces are unmapped only before being
 * registered, so there is nothing to deregister. Memcheck is also told
 * that guards and free stacks are not accessible, and that a stack handed
 * out holds undefined bytes, as a fresh thread stack would: so it reports
 * a use of a freed stack, and its leak check at exit skips the pooled
 * address space rather than reading gigabytes of it. Under AddressSanitizer a
 * stack's whole usable range is unpoisoned each time it is handed out, as
 * the frames of its previous goroutine may have left redzones behind.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "stack.h"
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef GOR_VALGRIND
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>
/* A client request costs a few ns even natively: the hot path asks a flag. */
static bool vg_on;
#define VG_NOACCESS(p, n) \
	do { if (vg_on) (void)VALGRIND_MAKE_MEM_NOACCESS(p, n); } while (0)
#define VG_UNDEFINED(p, n) \
	do { if (vg_on) (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n); } while (0)
#else
static const bool vg_on = false;
#define VG_NOACCESS(p, n) ((void)0)
#define VG_UNDEFINED(p, n) ((void)0)
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOR_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GOR_ASAN 1
#endif
#ifdef GOR_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
/* The pidfd that means "this process" to process_madvise (Linux >= 6.15).
 * A real pidfd would do on 6.13 and 6.14 too, but a descriptor can be
 * closed behind our back and its number reused, for all we know by a
 * pidfd of another process; this one cannot. */
#ifndef PIDFD_SELF_THREAD_GROUP
#define PIDFD_SELF_THREAD_GROUP (-10001)
#endif

#define STACK_MIN	((size_t)64 << 10)
#define STACK_DEFAULT	((size_t)256 << 10)
#define STACK_MAX	((size_t)1 << 30)
#define GUARD_MIN	((size_t)64 << 10)
#define BATCH_BYTES	((size_t)16 << 20)
#define BATCH_MAX	64
#define RESERVE_MIN	((size_t)64 << 20)	/* the first reservation */
#define RESERVE_MAX	((size_t)1 << 30)	/* reservations double up to this */
#define POOL_WARM_BYTES	((size_t)64 << 20)
#define TRIM_SLACK	((size_t)16 << 30)	/* over budget before a trim */
#define TRIM_BATCH	4096			/* stacks per trim, at most */
/* Class 0 is the default; class k >= 1 is 2^(16+k) bytes, up to 2^30. */
#define CLASS_SHIFT	16
#define NCLASS		(30 - CLASS_SHIFT + 1)
/* Then the small classes: SMALL0 + j is SMALL_MIN << j bytes. */
#define SMALL_MIN	((size_t)2 << 10)
#define SMALL_MAX	((size_t)16 << 10)
#define NSMALL		STACK_NSMALL
#define SMALL0		NCLASS
#define SMALL_SLAB	((size_t)1 << 20)

struct pool {
	gor_stack *s;    /* I2: warm at the bottom, cold at the top */
	size_t cap, nwarm, ncold, created;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_errno;
static size_t pagesz, guardsz, defsize;
static enum stack_guard guard_mode;
static uint64_t map_budget;
static struct sigaction old_segv, old_bus;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool pools[NCLASS + NSMALL];
static size_t warm_bytes;
static size_t warm_low; /* least warm_bytes since stackscavenge */
static gor_stack trim[TRIM_BATCH]; /* the one trim in progress */
static bool trimming;

static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static char *resv_next, *resv_end; /* the unused rest of the reservation */
static size_t resv_size = RESERVE_MIN; /* of the next reservation */

static atomic_u64 guard_maps;
static atomic_u32 canary_warned;
static atomic_u32 no_vector_madvise;

static __thread gor_stack altstack; /* lo != NULL iff this thread owns it */

/* ---- Sizes ------------------------------------------------------------ */

static size_t round_page(size_t n)
{
	return (n + pagesz - 1) & ~(pagesz - 1); /* pagesz is a power of two */
}

static bool is_small(unsigned k)
{
	return k >= SMALL0;
}

static size_t class_size(unsigned k)
{
	if (is_small(k))
		return SMALL_MIN << (k - SMALL0);
	return k == 0 ? defsize : (size_t)1 << (CLASS_SHIFT + k);
}

static int size_class(size_t size, unsigned *k)
{
	if (size > STACK_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (size > 0 && size <= SMALL_MAX) {
		unsigned j = 0;
		while ((SMALL_MIN << j) < size)
			j++;
		*k = SMALL0 + j;
		return 0;
	}
	if (size <= defsize) {
		*k = 0;
		return 0;
	}
	/* size > defsize >= 2^16, so size - 1 > 0 and the ceiling log2 of
	 * size is in [17, 30]: k in [1, NCLASS - 1]. */
	*k = (unsigned)(64 - __builtin_clzll((unsigned long long)size - 1)) - CLASS_SHIFT;
	return 0;
}

size_t stack_default_size(void)
{
	return defsize;
}

/* ---- Configuration (stack_init only) ------------------------------------ */

static size_t env_stack_size(void)
{
	const char *e = getenv("GOR_STACK");
	if (e == NULL || *e == '\0')
		return STACK_DEFAULT;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(e, &end, 10);
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	/* strtoull would accept a sign or leading blanks: insist on a digit. */
	if (*e < '0' || *e > '9' || *end != '\0') {
		fprintf(stderr, "gor: warning: GOR_STACK=%s is not a size "
			"(bytes, or a number with suffix k, m or g); using %zu\n",
			e, STACK_DEFAULT);
		return STACK_DEFAULT;
	}
	if (errno == ERANGE || v > (STACK_MAX >> shift)) {
		fprintf(stderr, "gor: warning: GOR_STACK=%s is above the maximum; "
			"using %zu\n", e, STACK_MAX);
		return STACK_MAX;
	}
	if ((v << shift) < STACK_MIN) {
		fprintf(stderr, "gor: warning: GOR_STACK=%s is below the minimum; "
			"using %zu\n", e, STACK_MIN);
		return STACK_MIN;
	}
	return (size_t)v << shift;
}

/* A kernel without MADV_GUARD_INSTALL says EINVAL; but an emulator may
 * accept advice it ignores (qemu-user does), so the probe also checks that
 * the page has become one: the kernel's copy from a guard page fails with
 * EFAULT, which a write to a pipe shows without a fault. */
static bool madvise_guard_works(void)
{
	void *p = mmap(NULL, pagesz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	bool ok = false;
	int fd[2];
	if (madvise(p, pagesz, MADV_GUARD_INSTALL) == 0 && pipe2(fd, O_CLOEXEC) == 0) {
		ok = write(fd[1], p, 1) < 0 && errno == EFAULT;
		close(fd[0]);
		close(fd[1]);
	}
	munmap(p, pagesz);
	return ok;
}

static enum stack_guard pick_guard(void)
{
	/* Valgrind passes MADV_GUARD_INSTALL to the kernel but does not know
	 * the pages are gone, and crashes itself when it reads them. */
	bool can_madvise = !vg_on && madvise_guard_works();
	const char *e = getenv("GOR_STACK_GUARD");
	if (e != NULL && *e != '\0') {
		if (strcmp(e, "madvise") == 0 && can_madvise)
			return STACK_GUARD_MADVISE;
		if (strcmp(e, "madvise") == 0)
			fputs("gor: warning: GOR_STACK_GUARD=madvise: the kernel lacks "
			      "MADV_GUARD_INSTALL; using mprotect\n", stderr);
		else if (strcmp(e, "mprotect") == 0)
			return STACK_GUARD_MPROTECT;
		else if (strcmp(e, "canary") == 0)
			return STACK_GUARD_CANARY;
		else
			fprintf(stderr, "gor: warning: GOR_STACK_GUARD=%s is not "
				"madvise, mprotect or canary; ignored\n", e);
	}
	return can_madvise ? STACK_GUARD_MADVISE : STACK_GUARD_MPROTECT;
}

static uint64_t read_map_budget(void)
{
	unsigned long max = 65530; /* the kernel's default, if unreadable */
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	if (f != NULL) {
		if (fscanf(f, "%lu", &max) != 1)
			max = 65530;
		fclose(f);
	}
	unsigned long margin = max / 8 > 1024 ? max / 8 : 1024;
	return max > margin ? max - margin : 0;
}

/* ---- Overflow handler ------------------------------------------------- */

/* An async-signal-safe string builder: no malloc, no stdio. */
struct fbuf {
	char b[256];
	size_t n;
};

static void fput(struct fbuf *f, const char *s, size_t max)
{
	for (; *s != '\0' && max > 0 && f->n < sizeof f->b - 1; s++, max--)
		f->b[f->n++] = *s;
	f->b[f->n] = '\0';
}

static void fput_u64(struct fbuf *f, uint64_t v, unsigned base)
{
	char t[24];
	size_t i = sizeof t - 1;
	t[i] = '\0';
	do
		t[--i] = "0123456789abcdef"[v % base];
	while ((v /= base) != 0);
	fput(f, t + i, sizeof t);
}

/* The stack pointer when the fault was taken. */
static uintptr_t fault_sp(void *uc)
{
	const ucontext_t *u = uc;
#if defined(__x86_64__)
	return (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (uintptr_t)u->uc_mcontext.sp;
#endif
}

/* Whether a fault at addr with stack pointer sp, on a thread running a
 * goroutine on s, is that goroutine's overflow: the address is in the
 * guardsz bytes below lo (a guard page; for a small stack at the bottom of
 * its slab, the slab's guard); or s has no guard page and the goroutine
 * ran on through its neighbours' stacks until it hit something unmapped,
 * which shows as sp below lo or, failing that, as its canary gone. s is
 * mapped, so reading the canary cannot fault. */
static bool overflowed(const gor_stack *s, const void *addr, uintptr_t sp)
{
	uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)s->lo;
	if (a < lo && lo - a <= guardsz)
		return true;
	return s->guard == STACK_GUARD_CANARY &&
	       ((sp < lo && sp >= lo - SMALL_SLAB) || !stack_canary_ok(s));
}

static _Noreturn void overflow(uint64_t goid, const char *name,
			       const gor_stack *s, const void *addr)
{
	struct fbuf f = { .n = 0 };
	fput(&f, "goroutine ", SIZE_MAX);
	fput_u64(&f, goid, 10);
	if (name != NULL && *name != '\0') {
		fput(&f, " \"", SIZE_MAX);
		fput(&f, name, 64); /* so that the line fits */
		fput(&f, "\"", SIZE_MAX);
	}
	fput(&f, ": stack of ", SIZE_MAX);
	fput_u64(&f, stack_size(s), 10);
	fput(&f, " bytes exhausted (fault at 0x", SIZE_MAX);
	fput_u64(&f, (uintptr_t)addr, 16);
	fput(&f, ")", SIZE_MAX);
	gor_fatal("stack overflow", f.b);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uint64_t goid;
	const char *name;
	const gor_stack *s;
	/* si_addr is meaningful only for faults the kernel raised (si_code > 0). */
	if (si->si_code > 0 && proc_signal_goroutine(&goid, &name, &s) &&
	    s != NULL && overflowed(s, si->si_addr, fault_sp(uc)))
		overflow(goid, name, s, si->si_addr);
	sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
	/* A fault recurs by itself when the instruction re-executes; a signal
	 * sent by kill() does not, and must not be swallowed. It stays blocked
	 * until this handler returns, then meets the restored action. */
	if (si->si_code <= 0)
		raise(sig);
	errno = saved;
}

static int install_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) < 0)
		return -1;
	if (sigaction(SIGBUS, &sa, &old_bus) < 0) {
		sigaction(SIGSEGV, &old_segv, NULL);
		return -1;
	}
	return 0;
}

static void init(void)
{
#ifdef GOR_VALGRIND
	vg_on = RUNNING_ON_VALGRIND != 0;
#endif
	pagesz = (size_t)sysconf(_SC_PAGESIZE);
	guardsz = pagesz > GUARD_MIN ? pagesz : GUARD_MIN;
	defsize = round_page(env_stack_size());
	guard_mode = pick_guard();
	map_budget = read_map_budget();
	if (install_handler() < 0)
		init_errno = errno;
}

int stack_init(void)
{
	pthread_once(&init_once, init);
	if (init_errno != 0) {
		errno = init_errno;
		return -1;
	}
	return 0;
}

int stack_thread_init(void)
{
	stack_t cur;
	if (sigaltstack(NULL, &cur) < 0)
		return -1;
	/* One already set up (ours, or a sanitizer's) serves as well. */
	if (!(cur.ss_flags & SS_DISABLE))
		return 0;
	if (stackalloc(NULL, 0, &altstack) < 0)
		return -1;
	stack_t ss = { .ss_sp = altstack.lo, .ss_size = stack_size(&altstack), .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) < 0) {
		int e = errno;
		stackfree(NULL, &altstack);
		altstack.lo = NULL;
		errno = e;
		return -1;
	}
	return 0;
}

void stack_thread_exit(void)
{
	if (altstack.lo == NULL)
		return;
	stack_t ss = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
	sigaltstack(&ss, NULL);
	stackfree(NULL, &altstack);
	altstack.lo = NULL;
}

/* ---- Batches from the kernel ------------------------------------------ */

struct batch {
	char *base;
	size_t stride;
	unsigned n, k;
	uint8_t guard;
};

/* The guard kind for a batch of n, reserving its maps in mprotect mode. */
static uint8_t batch_guard(unsigned n)
{
	if (guard_mode != STACK_GUARD_MPROTECT)
		return (uint8_t)guard_mode;
	if (atomic_add_u64(&guard_maps, 2 * (int64_t)n) <= map_budget)
		return STACK_GUARD_MPROTECT;
	/* Racing reservations may both fail near the limit; only a few
	 * stacks lose their guard for it. */
	atomic_add_u64(&guard_maps, -2 * (int64_t)n);
	if (atomic_cas_u32(&canary_warned, 0, 1))
		fputs("gor: warning: vm.max_map_count leaves no room for more "
		      "guard pages; new goroutine stacks are unguarded "
		      "(canary checked at each switch)\n", stderr);
	return STACK_GUARD_CANARY;
}

static void *map_noreserve(size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

/* len bytes (a multiple of the page) of fresh address space for stacks,
 * or NULL. See RESERVATIONS: a request larger than a reservation gets a
 * mapping of its own and leaves the current one alone. */
static char *reserve(size_t len)
{
	if (len > RESERVE_MIN) {
		void *p = map_noreserve(len);
		return p == MAP_FAILED ? NULL : p;
	}
	pthread_mutex_lock(&reserve_lock);
	if ((size_t)(resv_end - resv_next) < len) {
		/* A strict overcommit policy (vm.overcommit_memory=2) charges
		 * the whole mapping, MAP_NORESERVE or not, and RLIMIT_AS
		 * counts it: settle for less, down to the request itself. */
		size_t size = resv_size;
		void *p;
		while ((p = map_noreserve(size)) == MAP_FAILED && size / 2 >= len)
			size /= 2;
		if (p == MAP_FAILED) {
			pthread_mutex_unlock(&reserve_lock);
			return NULL;
		}
		VG_NOACCESS(p, size); /* else memcheck's leak check reads it all */
		resv_next = p;
		resv_end = resv_next + size;
		resv_size = size * 2 <= RESERVE_MAX ? size * 2 : size;
	}
	char *p = resv_next;
	resv_next += len;
	pthread_mutex_unlock(&reserve_lock);
	return p;
}

/* Only for an error path: the hole is never reused (it stays unmapped). */
static void batch_unmap(const struct batch *b)
{
	munmap(b->base, b->n * b->stride);
	if (b->guard == STACK_GUARD_MPROTECT)
		atomic_add_u64(&guard_maps, -2 * (int64_t)b->n);
}

static int install_guard(char *g, uint8_t guard)
{
	if (guard == STACK_GUARD_MADVISE)
		return madvise(g, guardsz, MADV_GUARD_INSTALL);
	if (guard == STACK_GUARD_MPROTECT)
		return mprotect(g, guardsz, PROT_NONE);
	return 0;
}

/* The guards of a madvise batch with one system call, as far as the
 * kernel takes them (it may stop short); returns how many it installed.
 * A kernel before 6.15 knows no PIDFD_SELF_THREAD_GROUP, one before 6.13
 * takes no guard advice from process_madvise: both refuse the first call,
 * and every batch after that takes the guards one by one. */
static unsigned install_guards_vector(const struct batch *b)
{
	if (atomic_load_u32(&no_vector_madvise))
		return 0;
	struct iovec v[BATCH_MAX];
	for (unsigned i = 0; i < b->n; i++) {
		v[i].iov_base = b->base + i * b->stride;
		v[i].iov_len = guardsz;
	}
	long done = syscall(SYS_process_madvise, PIDFD_SELF_THREAD_GROUP, v,
			    (size_t)b->n, MADV_GUARD_INSTALL, 0u);
	if (done < 0) {
		atomic_store_u32(&no_vector_madvise, 1);
		return 0;
	}
	return (unsigned)((size_t)done / guardsz);
}

static int batch_map(unsigned k, struct batch *b)
{
	b->k = k;
	b->stride = guardsz + class_size(k);
	size_t n = BATCH_BYTES / b->stride;
	b->n = n < 1 ? 1 : n > BATCH_MAX ? BATCH_MAX : (unsigned)n;
	b->guard = batch_guard(b->n);
	b->base = reserve(b->n * b->stride);
	if (b->base == NULL) {
		if (b->guard == STACK_GUARD_MPROTECT)
			atomic_add_u64(&guard_maps, -2 * (int64_t)b->n);
		errno = ENOMEM;
		return -1;
	}
	unsigned i = b->guard == STACK_GUARD_MADVISE ? install_guards_vector(b) : 0;
	for (; i < b->n; i++) {
		if (install_guard(b->base + i * b->stride, b->guard) < 0) {
			batch_unmap(b);
			errno = ENOMEM;
			return -1;
		}
	}
	VG_NOACCESS(b->base, b->n * b->stride);
	return 0;
}

static gor_stack batch_piece(const struct batch *b, unsigned i)
{
	char *lo = b->base + i * b->stride + guardsz;
	size_t size = b->stride - guardsz;
	gor_stack s = {
		.lo = lo, .hi = lo + size,
		.guard = b->guard, .sizeclass = (uint8_t)b->k, .vgid = 0,
	};
#ifdef GOR_VALGRIND
	s.vgid = VALGRIND_STACK_REGISTER(s.lo, s.hi);
#endif
	return s;
}

/* ---- The global pool (callers hold pool_lock) ------------------------- */

/* Makes room for n more stacks of the class, keeping I1 and I2. */
static bool pool_grow(struct pool *p, size_t n)
{
	size_t need = p->created + n;
	if (need > p->cap) {
		size_t cap = p->cap * 2 > need ? p->cap * 2 : need;
		gor_stack *s = realloc(p->s, cap * sizeof *s);
		if (s == NULL)
			return false;
		memmove(s + cap - p->ncold, s + p->cap - p->ncold, p->ncold * sizeof *s);
		p->s = s;
		p->cap = cap;
	}
	p->created = need;
	return true;
}

/* By I1, s is counted in created but in no list: there is a free slot. */
static void push_warm(struct pool *p, const gor_stack *s)
{
	p->s[p->nwarm++] = *s;
	if (!is_small(s->sizeclass)) /* never trimmed: see SMALL STACKS */
		warm_bytes += stack_size(s);
}

static void push_cold(struct pool *p, const gor_stack *s)
{
	p->s[p->cap - ++p->ncold] = *s;
}

static bool pop(struct pool *p, gor_stack *out)
{
	if (p->nwarm > 0) {
		*out = p->s[--p->nwarm];
		if (!is_small(out->sizeclass)) {
			warm_bytes -= stack_size(out);
			if (warm_bytes < warm_low)
				warm_low = warm_bytes;
		}
		return true;
	}
	if (p->ncold > 0) {
		*out = p->s[p->cap - p->ncold--];
		return true;
	}
	return false;
}

/* ---- Moving stacks between the pool, the caches and the kernel --------- */

static int by_address(const void *a, const void *b)
{
	const char *x = ((const gor_stack *)a)->lo, *y = ((const gor_stack *)b)->lo;
	return x < y ? -1 : x > y;
}

/* Drops the pages of v[0..n), sorted by address, with one madvise per run
 * of neighbours: two stacks of one batch are a guard apart, and guards
 * survive MADV_DONTNEED (checked for both guard kinds; canaries are
 * rewritten when a stack is handed out). Each madvise costs a TLB
 * shoot-down on every CPU that runs one of our threads, an inter-
 * processor interrupt that a VM pays dearly for: so, few and large. */
static void drop_pages(gor_stack *v, size_t n)
{
	qsort(v, n, sizeof *v, by_address);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1].lo - v[j].hi == (ptrdiff_t)guardsz)
			j++;
		/* A failure would only leave pages committed: nothing to undo. */
		madvise(v[i].lo, (size_t)(v[j].hi - v[i].lo), MADV_DONTNEED);
		i = j + 1;
	}
}

/* Takes up to TRIM_BATCH of the oldest warm stacks, class by class from
 * class 0 up, until the warm stacks are within target bytes, into out;
 * under pool_lock. */
static size_t take_excess(gor_stack *out, size_t target)
{
	size_t n = 0;
	for (unsigned k = 0; k < NCLASS && warm_bytes > target; k++) {
		struct pool *p = &pools[k];
		size_t m = 0;
		while (m < p->nwarm && n < TRIM_BATCH && warm_bytes > target) {
			out[n++] = p->s[m++];
			warm_bytes -= stack_size(&out[n - 1]);
		}
		memmove(p->s, p->s + m, (p->nwarm - m) * sizeof *p->s);
		p->nwarm -= m;
	}
	return n;
}

/* Drops the pages of trim[0..n), taken under pool_lock with trimming
 * set, outside the lock, and files them cold. */
static void trim_finish(size_t n)
{
	drop_pages(trim, n);
	pthread_mutex_lock(&pool_lock);
	for (size_t i = 0; i < n; i++)
		push_cold(&pools[trim[i].sizeclass], &trim[i]);
	trimming = false;
	pthread_mutex_unlock(&pool_lock);
}

/* Gives back n <= STACKCACHE_MAX stacks, warm. When the warm stacks pass
 * the budget by TRIM_SLACK, the caller trims them back to it (I3): a
 * trim takes many stacks at once so that drop_pages can merge them. */
static void pool_put(const gor_stack *v, size_t n)
{
	size_t ntrim = 0;

	pthread_mutex_lock(&pool_lock);
	for (size_t i = 0; i < n; i++)
		push_warm(&pools[v[i].sizeclass], &v[i]);
	if (warm_bytes > POOL_WARM_BYTES + TRIM_SLACK && !trimming) {
		trimming = true;
		ntrim = take_excess(trim, POOL_WARM_BYTES);
	}
	pthread_mutex_unlock(&pool_lock);
	if (ntrim != 0)
		trim_finish(ntrim);
}

void stackscavenge(bool all)
{
	size_t ntrim = 0;

	pthread_mutex_lock(&pool_lock);
	size_t unused = warm_low < warm_bytes ? warm_low : warm_bytes;
	if (!trimming && (all ? warm_bytes : unused) > POOL_WARM_BYTES) {
		trimming = true;
		ntrim = take_excess(trim, all ? POOL_WARM_BYTES : warm_bytes - (unused - POOL_WARM_BYTES));
	}
	warm_low = warm_bytes;
	pthread_mutex_unlock(&pool_lock);
	if (ntrim != 0)
		trim_finish(ntrim);
}

/* Fills v[0..want) from a fresh batch, the rest of which goes cold (its
 * pages were never touched). */
static int pool_fresh(unsigned k, gor_stack *v, size_t want, size_t *got)
{
	struct batch b;
	if (batch_map(k, &b) < 0)
		return -1;
	if (want > b.n)
		want = b.n;
	pthread_mutex_lock(&pool_lock);
	if (!pool_grow(&pools[k], b.n)) {
		pthread_mutex_unlock(&pool_lock);
		batch_unmap(&b);
		errno = ENOMEM;
		return -1;
	}
	for (unsigned i = (unsigned)want; i < b.n; i++) {
		gor_stack s = batch_piece(&b, i);
		push_cold(&pools[k], &s);
	}
	pthread_mutex_unlock(&pool_lock);
	for (unsigned i = 0; i < want; i++)
		v[i] = batch_piece(&b, i);
	*got = want;
	return 0;
}

/* A small class's slab: one guard at the bottom (nothing of ours lies
 * below it), then pieces back to back. v[0..want) are handed out, the
 * rest go to the pool warm: none has been touched, so none costs RAM yet. */
static int small_fresh(unsigned k, gor_stack *v, size_t want, size_t *got)
{
	size_t size = class_size(k), n = (SMALL_SLAB - guardsz) / size;
	/* the slab is a batch of one piece, for batch_unmap */
	struct batch b = {.stride = SMALL_SLAB, .n = 1, .k = k};
	b.guard = guard_mode == STACK_GUARD_MPROTECT ? batch_guard(1) : (uint8_t)guard_mode;
	char *base = reserve(SMALL_SLAB);
	if (base == NULL) {
		if (b.guard == STACK_GUARD_MPROTECT)
			atomic_add_u64(&guard_maps, -2);
		errno = ENOMEM;
		return -1;
	}
	b.base = base;
	if (install_guard(base, b.guard) < 0) {
		batch_unmap(&b);
		errno = ENOMEM;
		return -1;
	}
	VG_NOACCESS(base, SMALL_SLAB);
	pthread_mutex_lock(&pool_lock);
	if (!pool_grow(&pools[k], n)) {
		pthread_mutex_unlock(&pool_lock);
		batch_unmap(&b);
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = n; i-- > 0;) {
		char *lo = base + guardsz + i * size;
		gor_stack st = {
			.lo = lo, .hi = lo + size,
			.guard = STACK_GUARD_CANARY, .sizeclass = (uint8_t)k, .vgid = 0,
		};
#ifdef GOR_VALGRIND
		st.vgid = VALGRIND_STACK_REGISTER(st.lo, st.hi);
#endif
		if (i < want)
			v[i] = st;
		else
			push_warm(&pools[k], &st);
	}
	pthread_mutex_unlock(&pool_lock);
	*got = want < n ? want : n;
	return 0;
}

/* 1 <= *got <= want stacks of class k into v: from the pool, else fresh. */
static int pool_take(unsigned k, gor_stack *v, size_t want, size_t *got)
{
	size_t n = 0;
	pthread_mutex_lock(&pool_lock);
	while (n < want && pop(&pools[k], &v[n]))
		n++;
	pthread_mutex_unlock(&pool_lock);
	if (n == 0)
		return is_small(k) ? small_fresh(k, v, want, got) : pool_fresh(k, v, want, got);
	*got = n;
	return 0;
}

/* ---- The interface ------------------------------------------------------ */

static void handout(gor_stack *s)
{
	VG_UNDEFINED(s->lo, stack_size(s));
#ifdef GOR_ASAN
	ASAN_UNPOISON_MEMORY_REGION(s->lo, stack_size(s));
#endif
	/* Rewritten each time: MADV_DONTNEED zeroes a cold stack's pages. */
	if (s->guard == STACK_GUARD_CANARY)
		*(uint64_t *)s->lo = STACK_CANARY;
}

/* The cache of class k in c: its count and array, or NULL when the class
 * bypasses the caches (large ones, rare). */
static gor_stack *cachefor(struct stackcache *c, unsigned k, uint32_t **n)
{
	if (c == NULL)
		return NULL;
	if (k == 0) {
		*n = &c->n;
		return c->s;
	}
	if (is_small(k)) {
		*n = &c->small[k - SMALL0].n;
		return c->small[k - SMALL0].s;
	}
	return NULL;
}

int stackalloc(struct stackcache *c, size_t size, gor_stack *out)
{
	unsigned k;
	uint32_t *n;
	gor_stack *v;
	if (size_class(size, &k) < 0)
		return -1;
	if ((v = cachefor(c, k, &n)) != NULL) {
		if (*n == 0) {
			size_t got;
			if (pool_take(k, v, STACKCACHE_MAX / 2, &got) < 0)
				return -1;
			*n = (uint32_t)got;
		}
		*out = v[--*n];
	} else {
		size_t got;
		if (pool_take(k, out, 1, &got) < 0)
			return -1;
	}
	handout(out);
	return 0;
}

void stackfree(struct stackcache *c, gor_stack *s)
{
	uint32_t *n;
	gor_stack *v;
	VG_NOACCESS(s->lo, stack_size(s));
	if ((v = cachefor(c, s->sizeclass, &n)) == NULL) {
		pool_put(s, 1);
		return;
	}
	if (*n == STACKCACHE_MAX) {
		/* The oldest half goes: the newest are likelier in CPU caches. */
		pool_put(v, STACKCACHE_MAX / 2);
		memmove(v, v + STACKCACHE_MAX / 2, (STACKCACHE_MAX / 2) * sizeof v[0]);
		*n -= STACKCACHE_MAX / 2;
	}
	v[(*n)++] = *s;
}

void stackcache_flush(struct stackcache *c)
{
	pool_put(c->s, c->n);
	c->n = 0;
	for (unsigned j = 0; j < NSMALL; j++) {
		pool_put(c->small[j].s, c->small[j].n);
		c->small[j].n = 0;
	}
}
