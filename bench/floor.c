/*
 * floor: what this machine's hardware and kernel cost, to read the other
 * numbers against. Each figure in ns, one line each:
 *   call      an empty noinline function call (loop of N calls)
 *   ctxswitch a bare register-saving context switch: gor_ctx_switch from
 *             runtime/context.h (asm/<arch>.S) between two contexts on one
 *             thread, no scheduler; ns per switch
 *   syscall   a trivial system call (getppid through syscall(2))
 *   pagefault first touch of a fresh anonymous 4 KiB page (mmap 64 MiB,
 *             write one byte per page)
 *   cacheline a cache-line round trip between two cores: two threads pinned
 *             to different CPUs take turns incrementing one atomic word
 *             (spinning; at most 0.5 s of it)
 *   futexwake wake-to-run latency across cores: one thread sleeps in
 *             FUTEX_WAIT (checked asleep via /proc), the other stamps the
 *             time and FUTEX_WAKEs it; the sleeper reads the clock when it
 *             runs. Median of the samples (min and p90 are printed too).
 * The two cross-core figures need two CPUs; with one they print "skipped".
 * Timed with CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "context.h"
#include "pthread_util.h"

/* ---- call --------------------------------------------------------------- */

static __attribute__((noinline)) void empty(void)
{
	__asm__ volatile("" ::: "memory");
}

static void floor_call(void)
{
	const long n = 200000000;
	int64_t t0 = bench_now();

	for (long i = 0; i < n; i++)
		empty();
	int64_t el = bench_now() - t0;
	printf("floor/call: %.2f ns/op calls=%ld\n", (double)el / (double)n, n);
}

/* ---- ctxswitch ---------------------------------------------------------- */

static gor_ctx main_ctx, co_ctx;
static long co_switches;

static void co_entry(void *arg)
{
	(void)arg;
	for (;;) {
		co_switches++;
		gor_ctx_switch(&co_ctx, &main_ctx, NULL);
	}
}

static void floor_ctxswitch(void)
{
	const long n = 20000000;
	const size_t size = 64 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (stack == MAP_FAILED)
		bench_fail("mmap: %s", strerror(errno));
	gor_ctx_make(&co_ctx, stack + size, co_entry, gor_ctx_fpstate());
	int64_t t0 = bench_now();
	for (long i = 0; i < n; i++)
		gor_ctx_switch(&main_ctx, &co_ctx, NULL);
	int64_t el = bench_now() - t0;
	if (co_switches != n)
		bench_fail("ctxswitch: the other side ran %ld times, want %ld", co_switches, n);
	printf("floor/ctxswitch: %.2f ns/op switches=%ld\n", (double)el / (2.0 * (double)n), 2 * n);
	/* co_ctx stays parked in its switch; its stack is left mapped. */
}

/* ---- syscall, pagefault ------------------------------------------------- */

static void floor_syscall(void)
{
	const long n = 2000000;
	pid_t want = getppid();
	int64_t t0 = bench_now();

	for (long i = 0; i < n; i++)
		if (syscall(SYS_getppid) != want)
			bench_fail("getppid changed");
	int64_t el = bench_now() - t0;
	printf("floor/syscall: %.2f ns/op calls=%ld\n", (double)el / (double)n, n);
}

static void floor_pagefault(void)
{
	const size_t size = 64 << 20, page = (size_t)sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		bench_fail("mmap: %s", strerror(errno));
	madvise(m, size, MADV_NOHUGEPAGE);
	int64_t t0 = bench_now();
	for (size_t off = 0; off < size; off += page)
		((volatile char *)m)[off] = 1;
	int64_t el = bench_now() - t0;
	munmap(m, size);
	printf("floor/pagefault: %.2f ns/op pages=%zu page_bytes=%zu\n",
	       (double)el / (double)(size / page), size / page, page);
}

/* ---- cross-core: cacheline, futexwake ------------------------------------ */

static int cpu_a = -1, cpu_b = -1;

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (pthread_setaffinity_np(pthread_self(), sizeof s, &s) != 0)
		bench_fail("pthread_setaffinity_np(%d) failed", cpu);
}

static void start(pthread_t *t, void *(*fn)(void *))
{
	int e = pthread_create(t, NULL, fn, NULL);

	if (e)
		bench_fail("pthread_create: %s", strerror(e));
}

static _Alignas(64) atomic_long line;

static void *line_pong(void *arg)
{
	(void)arg;
	pin(cpu_b);
	for (;;) {
		long v;

		while (((v = atomic_load_explicit(&line, memory_order_acquire)) & 1) == 0)
			;
		if (v < 0)
			return NULL;
		atomic_store_explicit(&line, v + 1, memory_order_release);
	}
}

/* Up to 2,000,000 round trips, or 0.5 s of them on a busy machine. */
static void floor_cacheline(void)
{
	const long max = 2000000, warm = 1000;
	pthread_t t;
	int64_t t0 = 0, deadline = 0;
	long i;

	pin(cpu_a);
	start(&t, line_pong);
	for (i = 0; i < max; i++) {
		if (i == warm) { /* the other thread surely runs by now */
			t0 = bench_now();
			deadline = t0 + 500000000;
		}
		if (i > warm && i % 1024 == 0 && bench_now() > deadline)
			break;
		atomic_store_explicit(&line, 2 * i + 1, memory_order_release);
		while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 2)
			;
	}
	int64_t el = bench_now() - t0;
	atomic_store(&line, -1);
	pthread_join(t, NULL);
	printf("floor/cacheline: %.2f ns/op roundtrips=%ld cpus=%d,%d\n",
	       (double)el / (double)(i - warm), i - warm, cpu_a, cpu_b);
}

#define FUTEX_SAMPLES 1000

static _Alignas(64) atomic_uint fword;
static atomic_int sleeper_tid, sleeper_round = -1, sleeper_ack = -1;
static _Atomic int64_t wake_stamp;
static int64_t lat[FUTEX_SAMPLES];

static long futex(atomic_uint *w, int op, unsigned val)
{
	return syscall(SYS_futex, (unsigned *)w, op, val, NULL, NULL, 0);
}

static void *futex_sleeper(void *arg)
{
	(void)arg;
	pin(cpu_b);
	atomic_store(&sleeper_tid, (int)syscall(SYS_gettid));
	for (int i = 0; i < FUTEX_SAMPLES; i++) {
		atomic_store(&sleeper_round, i);
		while (atomic_load(&fword) == 0)
			futex(&fword, FUTEX_WAIT_PRIVATE, 0);
		lat[i] = bench_now() - atomic_load(&wake_stamp);
		atomic_store(&fword, 0);
		atomic_store(&sleeper_ack, i);
	}
	return NULL;
}

/* The state letter of thread tid ('S' when asleep in FUTEX_WAIT). */
static char thread_state(int fd)
{
	char buf[512], *p;
	ssize_t r = pread(fd, buf, sizeof buf - 1, 0);

	if (r <= 0)
		bench_fail("reading the sleeper's /proc stat failed");
	buf[r] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void floor_futexwake(void)
{
	pthread_t t;
	char path[64];
	int fd;

	pin(cpu_a);
	start(&t, futex_sleeper);
	while (atomic_load(&sleeper_tid) == 0)
		sched_yield();
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", atomic_load(&sleeper_tid));
	if ((fd = open(path, O_RDONLY)) < 0)
		bench_fail("open %s: %s", path, strerror(errno));
	for (int i = 0; i < FUTEX_SAMPLES; i++) {
		int64_t deadline = bench_now() + 5 * 1000000000LL;

		while (atomic_load(&sleeper_round) != i)
			;
		/* Wait until it is really asleep in the kernel, not about to be. */
		while (thread_state(fd) != 'S')
			if (bench_now() > deadline)
				bench_fail("futexwake: the sleeper never went to sleep");
		atomic_store(&wake_stamp, bench_now());
		atomic_store(&fword, 1);
		futex(&fword, FUTEX_WAKE_PRIVATE, 1);
		while (atomic_load(&sleeper_ack) != i)
			;
	}
	pthread_join(t, NULL);
	close(fd);
	qsort(lat, FUTEX_SAMPLES, sizeof lat[0], cmp64);
	printf("floor/futexwake: %.2f ns/op samples=%d min_ns=%lld p90_ns=%lld cpus=%d,%d\n",
	       (double)lat[FUTEX_SAMPLES / 2], FUTEX_SAMPLES, (long long)lat[0],
	       (long long)lat[FUTEX_SAMPLES * 9 / 10], cpu_a, cpu_b);
}

int main(int argc, char **argv)
{
	cpu_set_t have;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: floor (no arguments)\n");
		return 2;
	}
	floor_call();
	floor_ctxswitch();
	floor_syscall();
	floor_pagefault();
	if (sched_getaffinity(0, sizeof have, &have) != 0)
		bench_fail("sched_getaffinity: %s", strerror(errno));
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &have)) {
			if (cpu_a < 0)
				cpu_a = c;
			else if (cpu_b < 0)
				cpu_b = c;
		}
	if (cpu_b < 0) {
		printf("floor/cacheline: skipped (one CPU)\n");
		printf("floor/futexwake: skipped (one CPU)\n");
		return 0;
	}
	floor_cacheline();
	floor_futexwake();
	return 0;
}
