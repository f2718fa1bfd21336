/*
 * check_stack.c - Check suite for runtime/stack.c, linked alone: this file
 * provides the two functions stack.c needs from proc.c.
 *
 * stack_init reads the environment once per process, and several tests
 * must die, so every test runs its body in a child of its own (run_child)
 * with a clean environment, an alarm, and stderr captured through a pipe.
 * The body reports a failed REQUIRE by exiting 1 with the line on stderr;
 * the Check side asserts on the exit status and the captured text. This
 * works the same with CK_FORK=no, which valgrind runs may use.
 *
 * Overflow tests run a recursion on an allocated stack with
 * makecontext/swapcontext (test-only: the runtime has its own switch), so
 * the handler must really run on the alternate signal stack.
 *
 * Build: gcc -O2 -g -Wall -Wextra -Werror -Iruntime tests/check_stack.c
 *        runtime/stack.c $(pkg-config --cflags --libs check) -pthread
 */
#define _GNU_SOURCE
#include "stack.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define ON_VALGRIND() RUNNING_ON_VALGRIND
/* For a deliberate invalid access that memcheck would report. */
#define QUIET_VALGRIND() VALGRIND_DISABLE_ERROR_REPORTING
#define LOUD_VALGRIND() VALGRIND_ENABLE_ERROR_REPORTING
#endif
#endif
#ifndef QUIET_VALGRIND
#define ON_VALGRIND() 0
#define QUIET_VALGRIND() ((void)0)
#define LOUD_VALGRIND() ((void)0)
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#endif
#ifndef TEST_TSAN
#define ON_TSAN 0
#endif
/* The tests check what the process dies of; a sanitizer's own SEGV report
 * would replace the default action that stack.c chains to. */
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0";
}
#endif
#ifdef TEST_TSAN
#define ON_TSAN 1
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0";
}
#endif

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* ---- What proc.c would provide ---------------------------------------- */

static const gor_stack *cur_stack;
static uint64_t cur_goid;
static const char *cur_name;

bool proc_signal_goroutine(uint64_t *goid, const char **name, const gor_stack **stk)
{
	if (cur_stack == NULL)
		return false;
	*goid = cur_goid;
	*name = cur_name;
	*stk = cur_stack;
	return true;
}

static void put(const char *s)
{
	if (write(2, s, strlen(s)) < 0)
		_exit(4);
}

_Noreturn void gor_fatal(const char *msg, const char *detail)
{
	put("gor: fatal error: ");
	put(msg);
	put("\n");
	if (detail != NULL) {
		put(detail);
		put("\n");
	}
	LOUD_VALGRIND(); /* balances QUIET_VALGRIND before an overflow */
	_exit(2);
}

/* ---- Children ----------------------------------------------------------- */

struct child {
	int status;
	char err[16384];
};

static _Noreturn void fail_child(int line, const char *what)
{
	dprintf(2, "check_stack.c:%d: REQUIRE(%s) failed (errno %d)\n", line, what, errno);
	_exit(1);
}
#define REQUIRE(c) do { if (!(c)) fail_child(__LINE__, #c); } while (0)

/* Runs fn(arg) in a child with env ("NAME=VALUE" strings, NULL-ended) on
 * top of an environment without GOR_STACK*, killed by SIGALRM after
 * seconds. The child exits 0 when fn returns. */
static void run_child(void (*fn)(void *), void *arg, const char *const *env,
		      unsigned seconds, struct child *r)
{
	int fd[2];
	ck_assert_int_eq(pipe(fd), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		close(fd[1]);
		unsetenv("GOR_STACK");
		unsetenv("GOR_STACK_GUARD");
		for (; env != NULL && *env != NULL; env++)
			putenv((char *)*env);
		alarm(ON_VALGRIND() ? seconds * 10 : seconds);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	size_t n = 0;
	for (;;) {
		char tmp[4096];
		ssize_t k = read(fd[0], tmp, sizeof tmp);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		size_t room = sizeof r->err - 1 - n;
		size_t m = (size_t)k < room ? (size_t)k : room;
		memcpy(r->err + n, tmp, m);
		n += m;
	}
	r->err[n] = '\0';
	close(fd[0]);
	while (waitpid(pid, &r->status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
}

/* A child exits SKIP when the machine lacks what the test is about (an
 * emulator without guard pages or address-space limits, say). */
#define SKIP 77

static bool skipped(const struct child *r, const char *why)
{
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != SKIP)
		return false;
	fprintf(stderr, "check_stack: skipped: %s\n", why);
	return true;
}

static void expect_exit(const struct child *r, int code)
{
	ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == code,
		      "child status %#x, expected exit %d; its stderr:\n%s",
		      r->status, code, r->err);
}

static void expect_signal(const struct child *r, int sig)
{
	ck_assert_msg(WIFSIGNALED(r->status) && WTERMSIG(r->status) == sig,
		      "child status %#x, expected signal %d; its stderr:\n%s",
		      r->status, sig, r->err);
	ck_assert_msg(strstr(r->err, "gor: fatal") == NULL, "stderr:\n%s", r->err);
}

static size_t count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	REQUIRE(f != NULL);
	size_t n = 0;
	int ch;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static bool resident(const char *p)
{
	unsigned char vec;
	char *pg = (char *)((uintptr_t)p & ~(page() - 1));
	REQUIRE(mincore(pg, page(), &vec) == 0);
	return vec & 1;
}

static void init_all(void)
{
	REQUIRE(stack_init() == 0);
	REQUIRE(stack_thread_init() == 0);
}

/* Writes and checks every usable byte. */
static void fill(const gor_stack *s)
{
	memset(s->lo, 0xa5, stack_size(s));
	for (size_t i = 0; i < stack_size(s); i += 997)
		REQUIRE((unsigned char)s->lo[i] == 0xa5);
	REQUIRE((unsigned char)s->hi[-1] == 0xa5);
}

static void check_shape(const gor_stack *s, size_t atleast)
{
	REQUIRE(stack_size(s) >= atleast);
	REQUIRE((uintptr_t)s->lo % page() == 0);
	REQUIRE((uintptr_t)s->hi % 16 == 0);
	REQUIRE(stack_size(s) % page() == 0);
	REQUIRE(stack_canary_ok(s));
}

/* ---- Sizes ---------------------------------------------------------------- */

static void body_default(void *arg)
{
	(void)arg;
	init_all();
	size_t d = stack_default_size();
	REQUIRE(d == 256 * KiB);
	gor_stack s;
	REQUIRE(stackalloc(NULL, 0, &s) == 0);
	check_shape(&s, d);
	REQUIRE(stack_size(&s) == d);
	REQUIRE(s.guard == STACK_GUARD_MADVISE || s.guard == STACK_GUARD_MPROTECT);
	fill(&s);
	stackfree(NULL, &s);

	/* Just above the small stacks: a default one. */
	REQUIRE(stackalloc(NULL, 16 * KiB + 1, &s) == 0);
	REQUIRE(stack_size(&s) == d);
	stackfree(NULL, &s);

	/* Above the default: the next power of two. */
	REQUIRE(stackalloc(NULL, d + 1, &s) == 0);
	check_shape(&s, d + 1);
	REQUIRE(stack_size(&s) == 512 * KiB);
	REQUIRE(s.sizeclass != 0);
	fill(&s);
	stackfree(NULL, &s);

	REQUIRE(stackalloc(NULL, 3 * MiB, &s) == 0);
	REQUIRE(stack_size(&s) == 4 * MiB);
	fill(&s);
	stackfree(NULL, &s);

	/* The maximum itself is allowed (only touched pages cost). */
	REQUIRE(stackalloc(NULL, GiB, &s) == 0);
	check_shape(&s, GiB);
	s.lo[0] = 1;
	s.hi[-1] = 1;
	stackfree(NULL, &s);
}

START_TEST(test_default_size)
{
	struct child r;
	run_child(body_default, NULL, NULL, 20, &r);
	expect_exit(&r, 0);
	ck_assert_str_eq(r.err, "");
}
END_TEST

/* Requests up to 16 KiB: small stacks, packed, canary-guarded. */
static void body_small(void *arg)
{
	(void)arg;
	init_all();
	static const size_t req[][2] = {
		{1, 2 * KiB}, {2 * KiB, 2 * KiB}, {2 * KiB + 1, 4 * KiB},
		{5000, 8 * KiB}, {16 * KiB, 16 * KiB},
	};
	for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
		enum { N = 600 }; /* more than one slab's worth of 2 KiB pieces */
		static gor_stack v[N];
		for (size_t j = 0; j < N; j++) {
			REQUIRE(stackalloc(NULL, req[i][0], &v[j]) == 0);
			REQUIRE(stack_size(&v[j]) == req[i][1]);
			REQUIRE((uintptr_t)v[j].lo % 16 == 0);
			REQUIRE(v[j].guard == STACK_GUARD_CANARY);
			REQUIRE(stack_canary_ok(&v[j]));
			/* everything above the canary is the goroutine's */
			memset(v[j].lo + 8, 0x5a, stack_size(&v[j]) - 8);
		}
		/* no two overlap: each is still whole after all were written */
		for (size_t j = 0; j < N; j++) {
			REQUIRE(stack_canary_ok(&v[j]));
			REQUIRE((unsigned char)v[j].lo[8] == 0x5a && (unsigned char)v[j].hi[-1] == 0x5a);
		}
		/* a broken canary is seen */
		v[0].lo[0] ^= 1;
		REQUIRE(!stack_canary_ok(&v[0]));
		for (size_t j = 0; j < N; j++)
			stackfree(NULL, &v[j]);
		/* freed pieces come back, canary rewritten */
		gor_stack again;
		REQUIRE(stackalloc(NULL, req[i][0], &again) == 0);
		REQUIRE(stack_size(&again) == req[i][1] && stack_canary_ok(&again));
		stackfree(NULL, &again);
	}
}

START_TEST(test_small_sizes)
{
	struct child r;
	run_child(body_small, NULL, NULL, 20, &r);
	expect_exit(&r, 0);
	ck_assert_str_eq(r.err, "");
}
END_TEST

struct envcase {
	const char *env;   /* "GOR_STACK=..." */
	size_t want;       /* before rounding to pages */
	bool warns;
};

static void body_env(void *arg)
{
	const struct envcase *c = arg;
	REQUIRE(stack_init() == 0);
	size_t want = (c->want + page() - 1) / page() * page();
	REQUIRE(stack_default_size() == want);
	struct stackcache cache = { .n = 0 };
	gor_stack s;
	REQUIRE(stackalloc(&cache, 0, &s) == 0);
	REQUIRE(stack_size(&s) == want);
	stackfree(&cache, &s);
	stackcache_flush(&cache);
}

START_TEST(test_env_size)
{
	static const struct envcase cases[] = {
		{ "GOR_STACK=1M", MiB, false },
		{ "GOR_STACK=1048576", MiB, false },
		{ "GOR_STACK=100000", 100000, false },
		{ "GOR_STACK=300k", 300 * KiB, false },
		{ "GOR_STACK=64K", 64 * KiB, false },
		{ "GOR_STACK=1g", GiB, false },
		{ "GOR_STACK=", 256 * KiB, false },
		{ "GOR_STACK=1k", 64 * KiB, true },
		{ "GOR_STACK=0", 64 * KiB, true },
		{ "GOR_STACK=abc", 256 * KiB, true },
		{ "GOR_STACK=-5", 256 * KiB, true },
		{ "GOR_STACK= 5", 256 * KiB, true },
		{ "GOR_STACK=12q", 256 * KiB, true },
		{ "GOR_STACK=1kk", 256 * KiB, true },
		{ "GOR_STACK=5G", GiB, true },
		{ "GOR_STACK=1073741825", GiB, true },
		{ "GOR_STACK=99999999999999999999999", GiB, true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *env[] = { cases[i].env, NULL };
		struct child r;
		run_child(body_env, (void *)&cases[i], env, 20, &r);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
			      "%s: status %#x, stderr:\n%s", cases[i].env, r.status, r.err);
		bool warned = strstr(r.err, "gor: warning: GOR_STACK=") != NULL;
		ck_assert_msg(warned == cases[i].warns, "%s: stderr \"%s\"", cases[i].env, r.err);
		/* One line, when there is one. */
		ck_assert_msg(!warned || strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
			      "%s: stderr \"%s\"", cases[i].env, r.err);
	}
}
END_TEST

static void body_einval(void *arg)
{
	(void)arg;
	init_all();
	struct stackcache c = { .n = 0 };
	gor_stack s;
	REQUIRE(stackalloc(&c, 0, &s) == 0);
	stackfree(&c, &s);
	uint32_t n = c.n;
	size_t maps = count_maps();
	const size_t bad[] = { GiB + 1, 2 * GiB, SIZE_MAX / 2, SIZE_MAX };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		REQUIRE(stackalloc(&c, bad[i], &s) == -1);
		REQUIRE(errno == EINVAL);
		errno = 0;
		REQUIRE(stackalloc(NULL, bad[i], &s) == -1);
		REQUIRE(errno == EINVAL);
	}
	REQUIRE(c.n == n);
	REQUIRE(count_maps() == maps);
	stackcache_flush(&c);
}

START_TEST(test_einval)
{
	struct child r;
	run_child(body_einval, NULL, NULL, 20, &r);
	expect_exit(&r, 0);
}
END_TEST

static size_t vm_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long vmpages = 0;
	REQUIRE(f != NULL && fscanf(f, "%lu", &vmpages) == 1);
	fclose(f);
	return vmpages * page();
}

/* Lowers RLIMIT_AS to what is mapped now plus extra bytes and returns the
 * limit; the child exits SKIP where the limit is not enforced (a 512 MiB
 * mapping still succeeds). */
static size_t limit_address_space(size_t extra)
{
	struct rlimit rl;
	REQUIRE(getrlimit(RLIMIT_AS, &rl) == 0);
	size_t limit = vm_bytes() + extra;
	rl.rlim_cur = limit;
	REQUIRE(setrlimit(RLIMIT_AS, &rl) == 0);
	void *p = mmap(NULL, 512 * MiB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED)
		_exit(SKIP);
	return limit;
}

/* Runs body in a child under limit_address_space; valgrind manages the
 * client's address space itself, so there it runs nothing. */
static void expect_rlimit_child_ok(void (*body)(void *))
{
	if (ON_VALGRIND())
		return;
	struct child r;
	run_child(body, NULL, NULL, 20, &r);
	if (!skipped(&r, "RLIMIT_AS not enforced"))
		expect_exit(&r, 0);
}

/* The kernel refusing: ENOMEM, and nothing left behind. */
static void body_enomem(void *arg)
{
	(void)arg;
	init_all();
	size_t maps = count_maps();
	/* Room for a default batch (16 MiB) but not for a 512 MiB stack. */
	limit_address_space(64 * MiB);
	gor_stack s;
	errno = 0;
	REQUIRE(stackalloc(NULL, 512 * MiB, &s) == -1);
	REQUIRE(errno == ENOMEM);
	REQUIRE(count_maps() == maps);
	REQUIRE(stackalloc(NULL, 0, &s) == 0);
	stackfree(NULL, &s);
}

START_TEST(test_enomem)
{
	expect_rlimit_child_ok(body_enomem);
}
END_TEST

/* Under RLIMIT_AS, a reservation the limit refuses is halved until it
 * fits (stack.c, RESERVATIONS): stacks keep coming until the address
 * space is nearly all used, not only until the next 64 MiB or more. */
static void body_reserve_fallback(void *arg)
{
	(void)arg;
	init_all();
	size_t limit = limit_address_space(100 * MiB);
	enum { N = 2000 }; /* 625 MiB of default stacks: more than fits */
	static gor_stack v[N];
	int n = 0;
	while (n < N && stackalloc(NULL, 0, &v[n]) == 0)
		n++;
	REQUIRE(n < N && errno == ENOMEM);
	/* What is left is less than a batch (16 MiB) and the malloc of the
	 * pool's growth: a reservation that only doubled would have stopped
	 * at the first one not to fit, with tens of MiB to spare. */
	REQUIRE(vm_bytes() + 24 * MiB >= limit);
	for (int i = 0; i < n; i++)
		stackfree(NULL, &v[i]);
}

START_TEST(test_reserve_fallback)
{
	expect_rlimit_child_ok(body_reserve_fallback);
}
END_TEST

/* ---- Pools ------------------------------------------------------------------ */

static bool contains(char *const *v, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

static void body_cache(void *arg)
{
	(void)arg;
	init_all();
	struct stackcache c = { .n = 0 };
	gor_stack a, b;
	REQUIRE(stackalloc(&c, 0, &a) == 0);
	a.hi[-1] = 42; /* touched, as a goroutine would */
	stackfree(&c, &a);
	REQUIRE(stackalloc(&c, 0, &b) == 0);
	REQUIRE(b.lo == a.lo && b.hi == a.hi);
	REQUIRE(resident(b.hi - 1)); /* warm: its pages were left alone */
	stackfree(&c, &b);

	/* Fill past the cache: a full cache spills half. */
	enum { N = 3 * STACKCACHE_MAX };
	static gor_stack v[N];
	static char *lo[N];
	for (int i = 0; i < N; i++) {
		REQUIRE(stackalloc(&c, 0, &v[i]) == 0);
		lo[i] = v[i].lo;
		REQUIRE(c.n <= STACKCACHE_MAX);
	}
	bool spilled = false;
	for (int i = 0; i < N; i++) {
		uint32_t before = c.n;
		stackfree(&c, &v[i]);
		REQUIRE(c.n <= STACKCACHE_MAX);
		spilled |= c.n < before;
	}
	REQUIRE(spilled);
	REQUIRE(c.n > 0);

	/* Flushed and spilled stacks are warm in the global pool, served
	 * first: with no cache, the next N allocations are exactly them
	 * plus whatever the cache held before (at most STACKCACHE_MAX). */
	stackcache_flush(&c);
	REQUIRE(c.n == 0);
	size_t reused = 0;
	for (int i = 0; i < N; i++) {
		REQUIRE(stackalloc(NULL, 0, &v[i]) == 0);
		reused += contains(lo, N, v[i].lo);
	}
	REQUIRE(reused >= N - STACKCACHE_MAX);
	for (int i = 0; i < N; i++)
		stackfree(NULL, &v[i]);

	/* Other classes bypass the cache. */
	REQUIRE(stackalloc(&c, 2 * MiB, &a) == 0);
	REQUIRE(c.n == 0);
	stackfree(&c, &a);
	REQUIRE(c.n == 0);
	REQUIRE(stackalloc(NULL, 2 * MiB, &b) == 0);
	REQUIRE(b.lo == a.lo);
	stackfree(NULL, &b);
}

START_TEST(test_cache_reuse)
{
	struct child r;
	run_child(body_cache, NULL, NULL, 20, &r);
	expect_exit(&r, 0);
}
END_TEST

/* Beyond the warm budget (64 MiB: 256 default stacks), freed stacks lose
 * their pages once they have stayed unused from one scavenge to the next
 * (sysmon's, every 100 ms), or at once when the program goes idle. */
static size_t count_warm(const gor_stack *v, size_t n)
{
	size_t warm = 0;
	for (size_t i = 0; i < n; i++)
		warm += resident(v[i].hi - 1);
	return warm;
}

static void body_bound(void *arg)
{
	(void)arg;
	init_all();
	enum { N = 1200 };
	static gor_stack v[N];
	size_t budget = 64 * MiB / stack_default_size();
	for (int i = 0; i < N; i++) {
		REQUIRE(stackalloc(NULL, 0, &v[i]) == 0);
		v[i].hi[-1] = 1;
	}
	for (int i = 0; i < N; i++)
		stackfree(NULL, &v[i]);
	/* Freed since the last scavenge: kept, they may be wanted soon. */
	stackscavenge(false);
	REQUIRE(count_warm(v, N) == N);
	/* Unused for a whole period: back to the budget. */
	stackscavenge(false);
	size_t warm = count_warm(v, N);
	REQUIRE(warm <= budget);
	REQUIRE(warm > 0);
	/* Cold ones come back as usable as ever; those drawn on in a period
	 * are not trimmed at its end. */
	for (int i = 0; i < N; i++) {
		REQUIRE(stackalloc(NULL, 0, &v[i]) == 0);
		v[i].hi[-1] = 2;
		v[i].lo[0] = 2;
	}
	for (int i = 0; i < N; i++)
		stackfree(NULL, &v[i]);
	stackscavenge(false);
	REQUIRE(count_warm(v, N) == N);
	/* An idle program keeps only the budget. */
	stackscavenge(true);
	REQUIRE(count_warm(v, N) <= budget);
}

START_TEST(test_pool_bound)
{
	struct child r;
	run_child(body_bound, NULL, NULL, 30, &r);
	expect_exit(&r, 0);
}
END_TEST

/* 40,000 live guarded stacks: far beyond what mprotect guards allow, and
 * with madvise guards barely more maps than none. */
static void body_many(void *arg)
{
	(void)arg;
	init_all();
	/* Memcheck's shadow memory makes 40,000 slow: a tenth shows the same. */
	const int N = ON_VALGRIND() ? 4000 : 40000;
	gor_stack *v = calloc((size_t)N, sizeof *v);
	REQUIRE(v != NULL);
	struct stackcache c = { .n = 0 };
	size_t maps = count_maps();
	for (int i = 0; i < N; i++) {
		REQUIRE(stackalloc(&c, 0, &v[i]) == 0);
		if (v[i].guard != STACK_GUARD_MADVISE)
			_exit(SKIP);
		if (i % 97 == 0)
			v[i].hi[-1] = 1;
	}
	/* TSan's shadow memory maps as it goes. */
	REQUIRE(ON_TSAN || count_maps() < maps + 200);
	for (int i = 0; i < N; i++)
		stackfree(&c, &v[i]);
	stackcache_flush(&c);
	free(v);
}

START_TEST(test_many_madvise)
{
	const char *env[] = { "GOR_STACK_GUARD=madvise", NULL };
	struct child r;
	run_child(body_many, NULL, env, 60, &r);
	if (skipped(&r, "no MADV_GUARD_INSTALL"))
		return;
	expect_exit(&r, 0);
	ck_assert_str_eq(r.err, "");
}
END_TEST

/* mprotect guards until the map budget runs out, then canaries, said once. */
static void body_budget(void *arg)
{
	(void)arg;
	init_all();
	unsigned long max = 0;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	REQUIRE(f != NULL && fscanf(f, "%lu", &max) == 1);
	fclose(f);
	/* Two maps a stack: N is past the budget whatever the margin. */
	size_t N = max / 2 + 1000;
	gor_stack *v = calloc(N, sizeof *v);
	REQUIRE(v != NULL);
	int guarded = 0, canary = 0;
	for (size_t i = 0; i < N; i++) {
		REQUIRE(stackalloc(NULL, 0, &v[i]) == 0);
		if (v[i].guard == STACK_GUARD_MPROTECT)
			REQUIRE(canary == 0 && ++guarded);
		else
			REQUIRE(v[i].guard == STACK_GUARD_CANARY && ++canary);
		REQUIRE(stack_canary_ok(&v[i]));
	}
	REQUIRE(guarded > (int)(max / 2 * 3 / 4) && canary > 0);
	REQUIRE(count_maps() < max);
	for (size_t i = 0; i < N; i++)
		stackfree(NULL, &v[i]);
	free(v);
}

START_TEST(test_mprotect_budget)
{
	/* valgrind cannot track that many mappings. */
	if (ON_VALGRIND())
		return;
	/* Only where the budget is reachable in reasonable time. */
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned long max = 0;
	ck_assert(f != NULL && fscanf(f, "%lu", &max) == 1);
	fclose(f);
	if (max > 300000)
		return;
	const char *env[] = { "GOR_STACK_GUARD=mprotect", NULL };
	struct child r;
	run_child(body_budget, NULL, env, 60, &r);
	expect_exit(&r, 0);
	const char *w = strstr(r.err, "gor: warning: vm.max_map_count");
	ck_assert_msg(w != NULL, "stderr: %s", r.err);
	ck_assert_msg(strstr(w + 1, "gor: warning") == NULL, "stderr: %s", r.err);
}
END_TEST

static void body_canary(void *arg)
{
	(void)arg;
	init_all();
	struct stackcache c = { .n = 0 };
	gor_stack s;
	REQUIRE(stackalloc(&c, 0, &s) == 0);
	REQUIRE(s.guard == STACK_GUARD_CANARY);
	REQUIRE(stack_canary_ok(&s));
	fill(&s); /* an overrun, as the scheduler would see it */
	REQUIRE(!stack_canary_ok(&s));
	stackfree(&c, &s);
	REQUIRE(stackalloc(&c, 0, &s) == 0);
	REQUIRE(stack_canary_ok(&s));
	stackfree(&c, &s);
	stackcache_flush(&c);
}

START_TEST(test_canary_mode)
{
	const char *env[] = { "GOR_STACK_GUARD=canary", NULL };
	struct child r;
	run_child(body_canary, NULL, env, 20, &r);
	expect_exit(&r, 0);
	ck_assert_str_eq(r.err, "");
}
END_TEST

/* Threads with caches of their own, sharing the global pool. */
static void *thread_churn(void *arg)
{
	(void)arg;
	REQUIRE(stack_thread_init() == 0);
	struct stackcache c = { .n = 0 };
	gor_stack v[50];
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 50; i++) {
			REQUIRE(stackalloc(round % 3 ? &c : NULL, 0, &v[i]) == 0);
			v[i].hi[-1] = (char)i;
		}
		for (int i = 0; i < 50; i++) {
			REQUIRE(v[i].hi[-1] == (char)i);
			stackfree(round % 2 ? &c : NULL, &v[i]);
		}
	}
	stackcache_flush(&c);
	stack_thread_exit();
	return NULL;
}

static void body_threads(void *arg)
{
	(void)arg;
	REQUIRE(stack_init() == 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, thread_churn, NULL) == 0);
	for (int i = 0; i < 4; i++)
		REQUIRE(pthread_join(t[i], NULL) == 0);
	/* The alternate stacks went back to the pool: init/exit cycles do not
	 * map anything new. */
	init_all();
	stack_thread_exit();
	size_t maps = count_maps();
	for (int i = 0; i < 100; i++) {
		REQUIRE(stack_thread_init() == 0);
		stack_thread_exit();
	}
	REQUIRE(count_maps() == maps);
}

START_TEST(test_threads)
{
	struct child r;
	run_child(body_threads, NULL, NULL, 30, &r);
	expect_exit(&r, 0);
	ck_assert_str_eq(r.err, "");
}
END_TEST

/* A goroutine that never returns leaves its frames behind; under ASan
 * their redzones stay poisoned (the runtime's own switch, unlike ASan's
 * swapcontext interceptor, does not clean them), and the next user of the
 * stack must not trip on them. */
static void body_abandon(void *arg)
{
	(void)arg;
	init_all();
	struct stackcache c = { .n = 0 };
	gor_stack s, t;
	REQUIRE(stackalloc(&c, 0, &s) == 0);
#ifdef TEST_ASAN
	ASAN_POISON_MEMORY_REGION(s.hi - 4096, 64);
	REQUIRE(__asan_region_is_poisoned(s.lo, stack_size(&s)) != NULL);
#endif
	stackfree(&c, &s);
	REQUIRE(stackalloc(&c, 0, &t) == 0);
	REQUIRE(t.lo == s.lo);
	fill(&t);
	stackfree(&c, &t);
	stackcache_flush(&c);
}

START_TEST(test_reuse_abandoned)
{
	struct child r;
	run_child(body_abandon, NULL, NULL, 20, &r);
	expect_exit(&r, 0);
}
END_TEST

/* ---- Overflow ---------------------------------------------------------------- */

static volatile int depth_limit = 1 << 30;

__attribute__((noinline)) static int recurse(int depth)
{
	volatile char frame[1000];
	frame[0] = (char)depth;
	frame[sizeof frame - 1] = (char)depth;
	if (depth > depth_limit)
		return 0;
	return recurse(depth + 1) + frame[0];
}

static ucontext_t main_uc, co_uc;

static void co_entry(void)
{
	recurse(0);
}

static void run_on(const gor_stack *s)
{
	REQUIRE(getcontext(&co_uc) == 0);
	co_uc.uc_stack.ss_sp = s->lo;
	co_uc.uc_stack.ss_size = stack_size(s);
	co_uc.uc_link = &main_uc;
	makecontext(&co_uc, co_entry, 0);
	swapcontext(&main_uc, &co_uc);
}

struct ovf {
	size_t size;
	uint64_t goid;
	const char *name;
};

static void body_overflow(void *arg)
{
	const struct ovf *o = arg;
	init_all();
	static gor_stack s;
	REQUIRE(stackalloc(NULL, o->size, &s) == 0);
	cur_goid = o->goid;
	cur_name = o->name;
	cur_stack = &s;
	QUIET_VALGRIND(); /* memcheck flags the PROT_NONE guard */
	run_on(&s);
	fail_child(__LINE__, "the recursion returned");
}

static void expect_overflow(const struct child *r, const char *detail)
{
	expect_exit(r, 2);
	ck_assert_msg(strstr(r->err, "gor: fatal error: stack overflow\n") != NULL,
		      "stderr:\n%s", r->err);
	char want[200];
	snprintf(want, sizeof want, "\n%s bytes exhausted (fault at 0x", detail);
	ck_assert_msg(strstr(r->err, want) != NULL, "want \"%s\"; stderr:\n%s",
		      want + 1, r->err);
}

START_TEST(test_overflow_madvise)
{
	static const struct ovf o = { 0, 7, "worker" };
	const char *env[] = { "GOR_STACK_GUARD=madvise", NULL };
	struct child r;
	run_child(body_overflow, (void *)&o, env, 20, &r);
	expect_overflow(&r, "goroutine 7 \"worker\": stack of 262144");
}
END_TEST

START_TEST(test_overflow_mprotect)
{
	static const struct ovf o = { 0, 12, "" };
	const char *env[] = { "GOR_STACK_GUARD=mprotect", NULL };
	struct child r;
	run_child(body_overflow, (void *)&o, env, 20, &r);
	expect_overflow(&r, "goroutine 12: stack of 262144");
}
END_TEST

START_TEST(test_overflow_sizes)
{
	static const struct ovf big = { 600 * KiB, 18446744073709551615ull, NULL };
	const char *env[] = { "GOR_STACK=64k", NULL };
	struct child r;
	run_child(body_overflow, (void *)&big, env, 20, &r);
	expect_overflow(&r, "goroutine 18446744073709551615: stack of 1048576");

	static const struct ovf small = { 0, 3, "a-rather-long-goroutine-name" };
	run_child(body_overflow, (void *)&small, env, 20, &r);
	expect_overflow(&r, "goroutine 3 \"a-rather-long-goroutine-name\": stack of 65536");
}
END_TEST

/* ---- Faults that are not overflows --------------------------------------- */

static volatile int *volatile null_int;

enum foreign { NULL_DEREF, OTHER_GUARD, NO_GOROUTINE, KILLED };

static void body_foreign(void *arg)
{
	enum foreign how = *(const enum foreign *)arg;
	init_all();
	static gor_stack a, b;
	REQUIRE(stackalloc(NULL, 0, &a) == 0);
	REQUIRE(stackalloc(NULL, 0, &b) == 0);
	cur_goid = 5;
	cur_stack = how == NO_GOROUTINE ? NULL : &b;
	if (how != KILLED)
		QUIET_VALGRIND(); /* memcheck would report the invalid write */
	switch (how) {
	case NULL_DEREF:
		*null_int = 1;
		break;
	case OTHER_GUARD:
	case NO_GOROUTINE:
		*(volatile char *)(a.lo - 1) = 1;
		break;
	case KILLED:
		kill(getpid(), SIGSEGV);
		break;
	}
	fail_child(__LINE__, "survived");
}

START_TEST(test_foreign_faults)
{
	static const enum foreign how[] = { NULL_DEREF, OTHER_GUARD, NO_GOROUTINE, KILLED };
	for (size_t i = 0; i < sizeof how / sizeof how[0]; i++) {
		struct child r;
		run_child(body_foreign, (void *)&how[i], NULL, 20, &r);
		expect_signal(&r, SIGSEGV);
	}
}
END_TEST

static void old_handler(int sig)
{
	(void)sig;
	put("old handler\n");
	_exit(3);
}

static void body_chain(void *arg)
{
	(void)arg;
	REQUIRE(signal(SIGSEGV, old_handler) != SIG_ERR);
	init_all();
	QUIET_VALGRIND();
	*null_int = 1;
	fail_child(__LINE__, "survived");
}

START_TEST(test_chain_old_handler)
{
	struct child r;
	run_child(body_chain, NULL, NULL, 20, &r);
	expect_exit(&r, 3);
	ck_assert_str_eq(r.err, "old handler\n");
}
END_TEST

static Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("stack");
	tcase_set_timeout(tc, ON_VALGRIND() ? 600 : 60);
	tcase_add_test(tc, test_default_size);
	tcase_add_test(tc, test_small_sizes);
	tcase_add_test(tc, test_env_size);
	tcase_add_test(tc, test_einval);
	tcase_add_test(tc, test_enomem);
	tcase_add_test(tc, test_reserve_fallback);
	tcase_add_test(tc, test_cache_reuse);
	tcase_add_test(tc, test_pool_bound);
	tcase_add_test(tc, test_many_madvise);
	tcase_add_test(tc, test_mprotect_budget);
	tcase_add_test(tc, test_canary_mode);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_reuse_abandoned);
	tcase_add_test(tc, test_overflow_madvise);
	tcase_add_test(tc, test_overflow_mprotect);
	tcase_add_test(tc, test_overflow_sizes);
	tcase_add_test(tc, test_foreign_faults);
	tcase_add_test(tc, test_chain_old_handler);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stack_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
