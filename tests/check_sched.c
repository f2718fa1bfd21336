/*
 * check_sched.c - the scheduler's behaviour through the public API:
 * context switches that keep registers and FP state, the MAXPROCS cap
 * (main and adopted threads included), live resizing, many goroutines,
 * gor_sleep ordering, an idle runtime that burns no CPU, ids and counters,
 * gor_go/gor_go_attr arguments and stacks, gor_exit, adopted pthreads.
 *
 *   make lib build/tests/check_sched && build/tests/check_sched
 *
 * Each test runs in a fresh process (tu_srunner_run forces CK_FORK), so
 * each starts its own runtime; tests that set GOR_ variables or must see
 * the runtime start fork a child of their own (tu_child_run).
 *
 * The machine may be small and noisy and the suite runs under valgrind
 * and qemu too: time is asserted only as "at least", or with wide margins
 * and a retry that doubles the scale when the run was visibly disturbed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <fenv.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "testutil.h"

/* ---- the spin section ---------------------------------------------------- */

/*
 * Code between gor_ calls runs on a thread that holds a P, so at most
 * MAXPROCS goroutines can be inside a section (which calls nothing in the
 * runtime) at once. sec_max records the most seen together.
 */
static atomic_int sec_inside, sec_max;

static void section(int64_t spin_ns)
{
	int n = atomic_fetch_add(&sec_inside, 1) + 1;
	int m = atomic_load(&sec_max);
	while (n > m && !atomic_compare_exchange_weak(&sec_max, &m, n))
		;
	tu_spin_ns(spin_ns);
	atomic_fetch_sub(&sec_inside, 1);
}

static void section_reset(void)
{
	atomic_store(&sec_inside, 0);
	atomic_store(&sec_max, 0);
}

/* ---- (1) context switches keep FP control state and registers ---------- */

enum { FP_ITERS = 2000 };
static volatile double fp_in = 1.7; /* rint: 1 toward zero, 2 to nearest */
static atomic_int fp_bad_tz, fp_bad_near, fp_bad_start, fp_done;

static bool fp_mode_is(int mode)
{
	if (fegetround() != mode) /* the x87 control word on x86-64 */
		return false;
#if defined(__x86_64__)
	unsigned rc = _mm_getcsr() & 0x6000; /* MXCSR RC: 00 nearest, 11 zero */
	if (rc != (mode == FE_TOWARDZERO ? 0x6000u : 0u))
		return false;
#endif
	double r = rint(fp_in);
	return r == (mode == FE_TOWARDZERO ? 1.0 : 2.0);
}

/* A: rounds toward zero and must keep doing so across every yield. */
static void fp_towardzero(void *arg)
{
	(void)arg;
	fesetround(FE_TOWARDZERO);
	if (!fp_mode_is(FE_TOWARDZERO))
		atomic_fetch_add(&fp_bad_tz, 1000000); /* fesetround itself failed */
	for (int i = 0; i < FP_ITERS; i++) {
		gor_yield();
		if (!fp_mode_is(FE_TOWARDZERO))
			atomic_fetch_add(&fp_bad_tz, 1);
	}
	fesetround(FE_TONEAREST);
	atomic_fetch_add(&fp_done, 1);
}

/* B: never changes the mode and must always see round-to-nearest, from
 * its first instruction on (its creator, main, rounds to nearest: whether
 * a goroutine starts in its creator's FP environment or the default one,
 * that is round-to-nearest), and after every yield. */
static void fp_nearest(void *arg)
{
	(void)arg;
	if (!fp_mode_is(FE_TONEAREST))
		atomic_fetch_add(&fp_bad_start, 1);
	fesetround(FE_TONEAREST); /* from here on, what the switches keep */
	for (int i = 0; i < FP_ITERS; i++) {
		gor_yield();
		if (!fp_mode_is(FE_TONEAREST))
			atomic_fetch_add(&fp_bad_near, 1);
	}
	atomic_fetch_add(&fp_done, 1);
}

/* Whether this CPU (or emulator: valgrind ignores the rounding mode) rounds
 * as fesetround says; if not, the FP tests have nothing to observe. */
static bool fp_modes_work(void)
{
	bool ok = fesetround(FE_TOWARDZERO) == 0 && fp_mode_is(FE_TOWARDZERO);
	fesetround(FE_TONEAREST);
	ok = ok && fp_mode_is(FE_TONEAREST);
	if (!ok)
		fprintf(stderr, "check_sched: note: FE_TOWARDZERO does not take effect here "
				"(valgrind?); FP mode tests skipped\n");
	return ok;
}

/* Two A and two B goroutines, main being a third B, until all are done. */
static void fp_scenario(int procs)
{
	gor_maxprocs(procs);
	atomic_store(&fp_done, 0);
	atomic_store(&fp_bad_tz, 0);
	atomic_store(&fp_bad_near, 0);
	atomic_store(&fp_bad_start, 0);
	for (int i = 0; i < 2; i++) {
		TU_GO(fp_towardzero, NULL);
		TU_GO(fp_nearest, NULL);
	}
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (atomic_load(&fp_done) < 4) {
		if (!fp_mode_is(FE_TONEAREST))
			atomic_fetch_add(&fp_bad_near, 1);
		gor_yield();
		ck_assert_msg(tu_now() < dl, "FP goroutines: %d of 4 finished", atomic_load(&fp_done));
	}
}

START_TEST(test_switch_keeps_fp_mode)
{
	/* MAXPROCS=1: A and B alternate on one thread, so a switch that does
	 * not carry MXCSR / the x87 control word (FPCR on aarch64) with the
	 * goroutine leaks A's mode into B. MAXPROCS=2: goroutines also move
	 * between threads and must take their mode along. */
	if (!fp_modes_work())
		return;
	for (int procs = 1; procs <= 2; procs++) {
		fp_scenario(procs);
		ck_assert_msg(atomic_load(&fp_bad_tz) == 0,
			      "MAXPROCS=%d: a FE_TOWARDZERO goroutine saw another rounding mode %d times after gor_yield",
			      procs, atomic_load(&fp_bad_tz));
		ck_assert_msg(atomic_load(&fp_bad_near) == 0,
			      "MAXPROCS=%d: a round-to-nearest goroutine saw FE_TOWARDZERO %d times after gor_yield "
			      "(state leaked across a switch)",
			      procs, atomic_load(&fp_bad_near));
	}
}
END_TEST

START_TEST(test_new_goroutine_fp_mode)
{
	/* A B goroutine's first run often follows an A's yield on the same
	 * thread; it must not start in the A's mode. */
	if (!fp_modes_work())
		return;
	for (int procs = 1; procs <= 2; procs++) {
		fp_scenario(procs);
		ck_assert_msg(atomic_load(&fp_bad_start) == 0,
			      "MAXPROCS=%d: %d of 2 new goroutines started in FE_TOWARDZERO, the mode of the goroutine "
			      "that ran before them, not of their creator (main, round-to-nearest)",
			      procs, atomic_load(&fp_bad_start));
	}
}
END_TEST

/* Many values live across gor_yield; under -O2 they sit in callee-saved
 * registers and spill slots. The same arithmetic with a no-op instead of
 * the yield gives the reference result. */
static void noop(void)
{
}

static void (*volatile yieldfn)(void) = gor_yield;

static TU_NOINLINE uint64_t regs_body(uint64_t seed, int iters, void (*y)(void))
{
	uint64_t a = seed * 3 + 1, b = seed ^ 0x9e3779b97f4a7c15ull, c = seed + 7,
		 d = seed * seed, e = ~seed, f = seed << 3, g = seed >> 1,
		 h = seed * 0x100000001b3ull, i2 = seed + 0x1234, j = seed * 11,
		 k = seed ^ 0xdeadbeef, l = seed | 1;
	double x = (double)seed * 0.5, w = 1.0 / ((double)seed + 3.0), z = 3.25;
	for (int it = 0; it < iters; it++) {
		y();
		a = a * 6364136223846793005ull + b;
		b ^= c << 7;
		c += d >> 3;
		d = d * 31 + e;
		e ^= f + (uint64_t)it;
		f += g * 3;
		g ^= h >> 11;
		h = h * 0x100000001b3ull ^ i2;
		i2 += j;
		j ^= k * 5;
		k += l;
		l = l * 7 + a;
		x = x * 0.999 + w;
		w = w * 1.001 - z * 1e-6;
		z = z + x * 1e-9;
	}
	return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i2 ^ j ^ k ^ l ^
	       (uint64_t)(x * 1e6) ^ (uint64_t)(w * 1e9) ^ (uint64_t)(z * 1e6);
}

enum { REGS_G = 8, REGS_ITERS = 500 };
static uint64_t regs_got[REGS_G];
static atomic_int regs_done;

static void regs_worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	regs_got[i] = regs_body(1000 + i, REGS_ITERS, yieldfn);
	atomic_fetch_add_explicit(&regs_done, 1, memory_order_release);
}

START_TEST(test_switch_keeps_registers)
{
	for (int procs = 1; procs <= 2; procs++) {
		gor_maxprocs(procs);
		atomic_store(&regs_done, 0);
		memset(regs_got, 0, sizeof regs_got);
		for (uintptr_t i = 0; i < REGS_G; i++)
			TU_GO(regs_worker, (void *)i);
		/* main interleaves its own live values with the workers' */
		uint64_t mine = regs_body(77, REGS_ITERS, yieldfn);
		ck_assert_uint_eq(mine, regs_body(77, REGS_ITERS, noop));
		TU_WAIT_UNTIL(atomic_load_explicit(&regs_done, memory_order_acquire) == REGS_G,
			      "register workers: %d of %d finished", atomic_load(&regs_done), REGS_G);
		for (uintptr_t i = 0; i < REGS_G; i++)
			ck_assert_msg(regs_got[i] == regs_body(1000 + i, REGS_ITERS, noop),
				      "MAXPROCS=%d: goroutine %d computed %#" PRIx64 " across yields, %#" PRIx64 " without",
				      procs, (int)i, regs_got[i], regs_body(1000 + i, REGS_ITERS, noop));
	}
}
END_TEST

/* ---- (2) the MAXPROCS cap ----------------------------------------------- */

struct cap_run {
	int workers, iters;
	int64_t spin_ns;
	atomic_int done;
};

static void cap_worker(void *arg)
{
	struct cap_run *r = arg;
	for (int i = 0; i < r->iters; i++) {
		section(r->spin_ns);
		gor_yield();
	}
	atomic_fetch_add(&r->done, 1);
}

/* Workers and main enter sections until every worker is through; returns
 * the most seen inside at once, or -1 if the workers did not finish in
 * time (a hang). Usable in a child: no ck_assert. */
static int cap_round(int workers, int iters, int64_t spin_ns)
{
	static struct cap_run r;
	r.workers = workers;
	r.iters = iters;
	r.spin_ns = spin_ns;
	atomic_store(&r.done, 0);
	section_reset();
	for (int i = 0; i < workers; i++)
		if (gor_go(cap_worker, &r) != 0)
			return -2;
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (atomic_load(&r.done) < workers) {
		if (tu_now() > dl)
			return -1;
		section(spin_ns);
		gor_yield();
	}
	return atomic_load(&sec_max);
}

/* With MAXPROCS=2, tries rounds with longer sections until two goroutines
 * were seen inside at once; returns the most seen in any round (never
 * more than 2 if the cap holds), or a negative cap_round error. */
static int cap_reach_two(void)
{
	int most = 0;
	int64_t dl = tu_deadline(TU_WAIT_S);
	for (int64_t spin = 5 * GOR_MICROSECOND; most < 2 && tu_now() < dl;
	     spin = spin < 2 * GOR_MILLISECOND ? spin * 2 : spin) {
		int m = cap_round(8, 50, spin);
		if (m < 0)
			return m;
		if (m > most)
			most = m;
	}
	return most;
}

START_TEST(test_maxprocs1_cap)
{
	gor_maxprocs(1);
	int m = cap_round(16, 300, 5 * GOR_MICROSECOND);
	ck_assert_msg(m != -1, "MAXPROCS=1: workers did not finish");
	ck_assert_msg(m == 1, "MAXPROCS=1: %d goroutines ran at once (main included)", m);
}
END_TEST

START_TEST(test_maxprocs2_cap)
{
	gor_maxprocs(2);
	int m = cap_round(16, 300, 5 * GOR_MICROSECOND);
	ck_assert_msg(m != -1, "MAXPROCS=2: workers did not finish");
	ck_assert_msg(m >= 1 && m <= 2, "MAXPROCS=2: %d goroutines ran at once (main included)", m);
	m = cap_reach_two();
	ck_assert_msg(m != -1, "MAXPROCS=2: workers did not finish");
	ck_assert_msg(m <= 2, "MAXPROCS=2: %d goroutines ran at once (main included)", m);
	ck_assert_msg(m == 2, "MAXPROCS=2: two goroutines never ran at once in %d s", TU_WAIT_S);
}
END_TEST

/* The same, MAXPROCS from the environment of a fresh process. */
static int cap_env_child(void *arg)
{
	int want = (int)(intptr_t)arg;
	int got = gor_maxprocs(0);
	TU_CHILD_CHECK(got == want, "GOR_MAXPROCS=%d but gor_maxprocs(0) = %d", want, got);
	gor_stats_t st;
	TU_CHILD_CHECK(gor_stats(&st) == 0 && st.maxprocs == (uint64_t)want,
		       "gor_stats maxprocs %" PRIu64, st.maxprocs);
	int m = cap_round(16, 300, 5 * GOR_MICROSECOND);
	TU_CHILD_CHECK(m >= 1, "cap_round: %d (workers did not finish)", m);
	TU_CHILD_CHECK(m <= want, "MAXPROCS=%d: %d ran at once", want, m);
	if (want == 2) {
		m = cap_reach_two();
		TU_CHILD_CHECK(m == 2, "MAXPROCS=2: most at once %d", m);
	}
	return 0;
}

START_TEST(test_maxprocs_env)
{
	struct tu_child c;
	const char *env1[] = {"GOR_MAXPROCS=1", NULL};
	tu_child_run(&c, cap_env_child, (void *)(intptr_t)1, env1);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	tu_child_free(&c);
	const char *env2[] = {"GOR_MAXPROCS=2", NULL};
	tu_child_run(&c, cap_env_child, (void *)(intptr_t)2, env2);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	tu_child_free(&c);
}
END_TEST

/* ---- (3) resizing live under load ------------------------------------ */

enum { RS_WORKERS = 8, RS_ITERS = 10000, RS_CYCLES = 8 };
static long rs_count[RS_WORKERS];
static atomic_long rs_total;
static atomic_int rs_done;

static void rs_worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	for (int k = 0; k < RS_ITERS; k++) {
		rs_count[i]++;
		atomic_fetch_add(&rs_total, 1);
		section(GOR_MICROSECOND);
		gor_yield();
	}
	atomic_fetch_add_explicit(&rs_done, 1, memory_order_release);
}

START_TEST(test_resize_live)
{
	int cur = gor_maxprocs(0);
	ck_assert_int_ge(cur, 1);
	ck_assert_int_eq(gor_maxprocs(-7), cur); /* n <= 0 only queries */
	ck_assert_int_eq(gor_maxprocs(0), cur);
	ck_assert_int_eq(gor_maxprocs(1), cur);
	ck_assert_int_eq(gor_maxprocs(0), 1);
	section_reset();
	for (uintptr_t i = 0; i < RS_WORKERS; i++)
		TU_GO(rs_worker, (void *)i);
	int overlapped = 0;
	for (int cyc = 0; cyc < RS_CYCLES; cyc++) {
		int prev = gor_maxprocs(2);
		ck_assert_msg(prev == 1, "cycle %d: gor_maxprocs(2) returned %d, want 1", cyc, prev);
		gor_sleep(2 * GOR_MILLISECOND);
		prev = gor_maxprocs(1);
		ck_assert_msg(prev == 2, "cycle %d: gor_maxprocs(1) returned %d, want 2", cyc, prev);
		/* "A lowered value is in force on return": main holds the only
		 * P now, so nobody else can be inside a section. */
		int in = atomic_load(&sec_inside);
		ck_assert_msg(in == 0, "cycle %d: %d goroutines still running after gor_maxprocs(1) returned", cyc, in);
		atomic_store(&sec_max, 0);
		gor_sleep(2 * GOR_MILLISECOND);
		int m = atomic_load(&sec_max);
		ck_assert_msg(m <= 1, "cycle %d: %d goroutines ran at once with MAXPROCS=1", cyc, m);
		if (atomic_load(&rs_done) < RS_WORKERS)
			overlapped++;
	}
	ck_assert_int_eq(gor_maxprocs(0), 1);
	TU_WAIT_UNTIL(atomic_load_explicit(&rs_done, memory_order_acquire) == RS_WORKERS,
		      "resize: %d of %d workers finished", atomic_load(&rs_done), RS_WORKERS);
	for (int i = 0; i < RS_WORKERS; i++)
		ck_assert_msg(rs_count[i] == RS_ITERS, "worker %d ran %ld iterations, want %d", i,
			      rs_count[i], RS_ITERS);
	ck_assert_int_eq(atomic_load(&rs_total), (long)RS_WORKERS * RS_ITERS);
	if (overlapped == 0)
		fprintf(stderr, "check_sched: note: workers finished before the resizes\n");
	/* and back up, with the world running normally afterwards */
	ck_assert_int_eq(gor_maxprocs(2), 1);
	gor_stats_t st;
	ck_assert_int_eq(gor_stats(&st), 0);
	ck_assert_uint_eq(st.maxprocs, 2);
}
END_TEST

/* ---- (4) 100,000 goroutines ----------------------------------------------- */

/* 100,000; a fifth under ThreadSanitizer, which makes every goroutine a
 * fiber of its own and runs them ~5x slower than Check's timeout allows. */
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifdef TU_TSAN
enum { MANY = 20000 };
#else
enum { MANY = 100000 };
#endif
static atomic_long many_sum, many_done;

static void many_worker(void *arg)
{
	atomic_fetch_add(&many_sum, (long)(uintptr_t)arg);
	atomic_fetch_add(&many_done, 1);
}

START_TEST(test_100k_goroutines)
{
	int base = gor_numgoroutine();
	ck_assert_int_eq(base, 1);
	gor_stats_t before, after;
	ck_assert_int_eq(gor_stats(&before), 0);
	for (uintptr_t i = 1; i <= MANY; i++)
		TU_GO(many_worker, (void *)i);
	long want = (long)MANY * (MANY + 1) / 2;
	/* bounded by progress: fails if no goroutine finishes for TU_WAIT_S */
	long last = -1;
	int64_t dl = 0;
	while (atomic_load(&many_done) < MANY) {
		long d = atomic_load(&many_done);
		if (d != last) {
			last = d;
			dl = tu_deadline(TU_WAIT_S);
		}
		ck_assert_msg(tu_now() < dl, "no progress for %d s: %ld of %d goroutines ran", TU_WAIT_S, d, MANY);
		gor_sleep(GOR_MILLISECOND);
	}
	ck_assert_int_eq(atomic_load(&many_sum), want); /* each ran exactly once */
	TU_WAIT_UNTIL(gor_numgoroutine() == base, "gor_numgoroutine() = %d, want %d after the joins",
		      gor_numgoroutine(), base);
	ck_assert_int_eq(gor_stats(&after), 0);
	ck_assert_uint_eq(after.goroutines_created - before.goroutines_created, MANY);
	ck_assert_uint_ge(after.context_switches - before.context_switches, MANY);
	/* and the runtime still works */
	TU_GO(many_worker, (void *)1);
	TU_WAIT_UNTIL(atomic_load(&many_sum) == want + 1, "one more goroutine did not run");
}
END_TEST

/* ---- (5) gor_sleep ---------------------------------------------------------- */

enum { NSLEEP = 5 };
struct sleeper {
	int64_t dur, t0, t1;
	int ticket;
};
static struct sleeper sleepers[NSLEEP];
static atomic_int sleep_ticket, sleep_done;

static void sleeper(void *arg)
{
	struct sleeper *s = arg;
	s->t0 = gor_now();
	gor_sleep(s->dur);
	s->t1 = gor_now();
	s->ticket = atomic_fetch_add(&sleep_ticket, 1);
	atomic_fetch_add(&sleep_done, 1); /* publishes t0, t1, ticket */
}

START_TEST(test_sleep_order)
{
	/* Sleeps of 5u, 4u, 3u, 2u, u started in that order wake shortest
	 * first. A run where some goroutine started or woke more than u/2
	 * late proves nothing about the order and is retried with twice the
	 * unit; a wrong order with punctual wake-ups is a failure. */
	int64_t unit = 10 * GOR_MILLISECOND;
	for (int attempt = 0;; attempt++, unit *= 2) {
		atomic_store(&sleep_ticket, 0);
		atomic_store(&sleep_done, 0);
		for (int i = 0; i < NSLEEP; i++) {
			sleepers[i] = (struct sleeper){.dur = (NSLEEP - i) * unit, .ticket = -1};
			TU_GO(sleeper, &sleepers[i]);
		}
		TU_WAIT_UNTIL(atomic_load(&sleep_done) == NSLEEP, "sleepers: %d of %d woke",
			      atomic_load(&sleep_done), NSLEEP);
		int64_t t0min = INT64_MAX, t0max = 0, late = 0;
		bool ordered = true;
		char desc[512];
		size_t off = 0;
		for (int i = 0; i < NSLEEP; i++) {
			struct sleeper *s = &sleepers[i];
			ck_assert_msg(s->t1 - s->t0 >= s->dur, "gor_sleep(%" PRId64 " ns) returned after %" PRId64 " ns",
				      s->dur, s->t1 - s->t0);
			if (s->ticket != NSLEEP - 1 - i)
				ordered = false;
			t0min = s->t0 < t0min ? s->t0 : t0min;
			t0max = s->t0 > t0max ? s->t0 : t0max;
			int64_t l = s->t1 - s->t0 - s->dur;
			late = l > late ? l : late;
			off += (size_t)snprintf(desc + off, sizeof desc - off, " [%" PRId64 " ms: woke #%d, %" PRId64 " us late]",
						s->dur / GOR_MILLISECOND, s->ticket, l / 1000);
		}
		if (ordered)
			break;
		bool noisy = t0max - t0min > unit / 2 || late > unit / 2;
		ck_assert_msg(noisy, "sleepers woke out of order although all were punctual:%s", desc);
		ck_assert_msg(attempt < 5, "sleepers woke out of order, runs too noisy to tell:%s", desc);
	}
}
END_TEST

START_TEST(test_sleep_nonpositive)
{
	gor_stats_t a, b;
	ck_assert_int_eq(gor_stats(&a), 0);
	int64_t t0 = gor_now();
	gor_sleep(0);
	gor_sleep(-1);
	gor_sleep(-GOR_SECOND);
	gor_sleep(INT64_MIN);
	int64_t t1 = gor_now();
	ck_assert_int_eq(gor_stats(&b), 0);
	ck_assert_msg(b.parks == a.parks, "gor_sleep(<= 0) parked (%" PRIu64 " parks)", b.parks - a.parks);
	ck_assert_msg(t1 - t0 < GOR_SECOND, "gor_sleep(<= 0) took %" PRId64 " ns", t1 - t0);
	/* and a short positive sleep sleeps at least that long */
	t0 = gor_now();
	gor_sleep(3 * GOR_MILLISECOND);
	ck_assert_int_ge(gor_now() - t0, 3 * GOR_MILLISECOND);
	ck_assert_int_ge(gor_now(), t1); /* monotonic */
}
END_TEST

/* ---- (6) an idle runtime burns no CPU ------------------------------------- */

static atomic_int idle_done;

static void idle_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++)
		gor_yield();
	gor_sleep(GOR_MILLISECOND);
	atomic_fetch_add(&idle_done, 1);
}

static void idle_bg_sleeper(void *arg)
{
	(void)arg;
	gor_sleep(GOR_SECOND);
	atomic_fetch_add(&idle_done, 1);
}

/* The least CPU the process used over three 200 ms sleeps of main: a
 * thread that spins or polls shows in every one of them. */
static int64_t idle_cpu_over_200ms(int64_t *elapsed)
{
	int64_t best = INT64_MAX;
	for (int i = 0; i < 3; i++) {
		int64_t c0 = tu_cpu_ns(), t0 = tu_now();
		gor_sleep(200 * GOR_MILLISECOND);
		int64_t c = tu_cpu_ns() - c0;
		*elapsed = tu_now() - t0;
		if (c < best)
			best = c;
	}
	return best;
}

START_TEST(test_idle_no_cpu)
{
	gor_maxprocs(2);
	for (int i = 0; i < 20; i++)
		TU_GO(idle_worker, NULL);
	TU_WAIT_UNTIL(atomic_load(&idle_done) == 20, "idle workers: %d of 20", atomic_load(&idle_done));
	gor_sleep(20 * GOR_MILLISECOND); /* let spinning threads give up */
	int64_t limit = (tu_slow() ? 60 : 20) * GOR_MILLISECOND;
	int64_t elapsed;
	int64_t cpu = idle_cpu_over_200ms(&elapsed);
	ck_assert_msg(cpu < limit, "idle runtime: %" PRId64 " us of CPU over %" PRId64 " ms of sleep",
		      cpu / 1000, elapsed / GOR_MILLISECOND);

	/* a goroutine asleep for longer than main's sleeps: one timer is
	 * pending throughout, which must not make any thread poll */
	atomic_store(&idle_done, 0);
	TU_GO(idle_bg_sleeper, NULL);
	gor_sleep(5 * GOR_MILLISECOND);
	int64_t t0 = tu_now();
	int64_t c0 = tu_cpu_ns();
	gor_sleep(200 * GOR_MILLISECOND);
	cpu = tu_cpu_ns() - c0;
	elapsed = tu_now() - t0;
	if (cpu >= limit && atomic_load(&idle_done) == 0) { /* once more, in case of a hiccup */
		c0 = tu_cpu_ns();
		t0 = tu_now();
		gor_sleep(200 * GOR_MILLISECOND);
		cpu = tu_cpu_ns() - c0;
		elapsed = tu_now() - t0;
	}
	ck_assert_msg(cpu < limit, "runtime with a sleeping goroutine: %" PRId64 " us of CPU over %" PRId64 " ms",
		      cpu / 1000, elapsed / GOR_MILLISECOND);
	TU_WAIT_UNTIL(atomic_load(&idle_done) == 1, "the 1 s sleeper never woke");
}
END_TEST

/* ---- (7) ids, counts, CPUs, stats ------------------------------------------ */

static int first_id_child(void *arg)
{
	(void)arg;
	uint64_t id = gor_self();
	TU_CHILD_CHECK(id == 1, "the first goroutine (main) has id %" PRIu64, id);
	TU_CHILD_CHECK(gor_self() == 1, "main's id changed");
	int n = gor_numgoroutine();
	TU_CHILD_CHECK(n == 1, "gor_numgoroutine() = %d with only main", n);
	return 0;
}

START_TEST(test_main_is_1)
{
	struct tu_child c;
	tu_child_run(&c, first_id_child, NULL, NULL);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	tu_child_free(&c);
}
END_TEST

enum { IDS = 64 };
static uint64_t ids[IDS];
static atomic_int ids_ready, ids_go, ids_bad, ids_done;

static void id_worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	ids[i] = gor_self();
	atomic_fetch_add(&ids_ready, 1);
	while (!atomic_load(&ids_go))
		gor_sleep(GOR_MILLISECOND);
	for (int k = 0; k < 5; k++) {
		gor_yield();
		if (gor_self() != ids[i])
			atomic_fetch_add(&ids_bad, 1);
	}
	atomic_fetch_add(&ids_done, 1);
}

START_TEST(test_ids_and_counts)
{
	gor_maxprocs(2);
	uint64_t me = gor_self();
	int base = gor_numgoroutine();
	ck_assert_int_eq(base, 1); /* main counts */
	for (uintptr_t i = 0; i < IDS; i++)
		TU_GO(id_worker, (void *)i);
	TU_WAIT_UNTIL(atomic_load(&ids_ready) == IDS, "id workers: %d of %d started", atomic_load(&ids_ready), IDS);
	/* all of them are parked or runnable now: they exist */
	ck_assert_int_eq(gor_numgoroutine(), base + IDS);
	atomic_store(&ids_go, 1);
	TU_WAIT_UNTIL(atomic_load(&ids_done) == IDS, "id workers: %d of %d done", atomic_load(&ids_done), IDS);
	ck_assert_int_eq(atomic_load(&ids_bad), 0);
	for (int i = 0; i < IDS; i++) {
		ck_assert_msg(ids[i] != 0 && ids[i] != me, "goroutine %d has id %" PRIu64, i, ids[i]);
		for (int j = 0; j < i; j++)
			ck_assert_msg(ids[i] != ids[j], "goroutines %d and %d share id %" PRIu64, i, j, ids[i]);
	}
	ck_assert_uint_eq(gor_self(), me);
	TU_WAIT_UNTIL(gor_numgoroutine() == base, "gor_numgoroutine() = %d after all exited, want %d",
		      gor_numgoroutine(), base);
}
END_TEST

START_TEST(test_numcpu)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
	ck_assert_int_eq(gor_numcpu(), CPU_COUNT(&set));
}
END_TEST

/* In a fresh process bound to one CPU: numcpu is 1, and so is the default
 * MAXPROCS. */
static int one_cpu_child(void *arg)
{
	(void)arg;
	cpu_set_t set, one;
	TU_CHILD_CHECK(sched_getaffinity(0, sizeof set, &set) == 0, "sched_getaffinity");
	CPU_ZERO(&one);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set)) {
			CPU_SET(i, &one);
			break;
		}
	TU_CHILD_CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity");
	TU_CHILD_CHECK(gor_numcpu() == 1, "gor_numcpu() = %d with one CPU", gor_numcpu());
	TU_CHILD_CHECK(gor_maxprocs(0) == 1, "default MAXPROCS %d with one CPU", gor_maxprocs(0));
	return 0;
}

START_TEST(test_numcpu_affinity)
{
	struct tu_child c;
	const char *env[] = {"GOR_MAXPROCS=", NULL}; /* empty: the default */
	tu_child_run(&c, one_cpu_child, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	tu_child_free(&c);
}
END_TEST

enum { STATS_N = 50 };
static atomic_int stats_done;

static void stats_worker(void *arg)
{
	(void)arg;
	gor_yield();
	gor_sleep(GOR_MILLISECOND);
	gor_yield();
	atomic_fetch_add(&stats_done, 1);
}

START_TEST(test_stats)
{
	errno = 0;
	ck_assert_int_eq(gor_stats(NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	gor_maxprocs(2);
	gor_stats_t a, b;
	ck_assert_int_eq(gor_stats(&a), 0);
	ck_assert_uint_eq(a.maxprocs, 2);
	ck_assert_uint_ge(a.threads, 1);
	ck_assert_uint_eq(a.goroutines, 1);
	for (int i = 0; i < STATS_N; i++)
		TU_GO(stats_worker, NULL);
	TU_WAIT_UNTIL(atomic_load(&stats_done) == STATS_N, "stats workers: %d of %d", atomic_load(&stats_done), STATS_N);
	TU_WAIT_UNTIL(gor_numgoroutine() == 1, "gor_numgoroutine() = %d", gor_numgoroutine());
	ck_assert_int_eq(gor_stats(&b), 0);
	ck_assert_uint_eq(b.goroutines_created - a.goroutines_created, STATS_N);
	ck_assert_uint_ge(b.context_switches - a.context_switches, STATS_N);
	ck_assert_uint_ge(b.parks - a.parks, STATS_N); /* each slept once */
	ck_assert_uint_ge(b.threads, a.threads);
	ck_assert_uint_ge(b.threads, 1);
	ck_assert_uint_le(b.idle_procs, 2);
	ck_assert_uint_eq(b.maxprocs, (uint64_t)gor_maxprocs(0));
	ck_assert_uint_eq(b.goroutines, 1);
	gor_maxprocs(1);
	ck_assert_int_eq(gor_stats(&b), 0);
	ck_assert_uint_eq(b.maxprocs, 1);
}
END_TEST

/* ---- (8) gor_go / gor_go_attr arguments and stacks -------------------------- */

static atomic_int attr_ran;
static atomic_int attr_hold;

static void attr_noop(void *arg)
{
	(void)arg;
	atomic_fetch_add(&attr_ran, 1);
}

START_TEST(test_go_invalid)
{
	errno = 0;
	ck_assert_int_eq(gor_go(NULL, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	gor_attr a = {.stack_size = 0, .name = "x"};
	errno = 0;
	ck_assert_int_eq(gor_go_attr(&a, NULL, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	a.stack_size = (size_t)1 << 40;
	errno = 0;
	ck_assert_int_eq(gor_go_attr(&a, attr_noop, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	a.stack_size = SIZE_MAX;
	errno = 0;
	ck_assert_int_eq(gor_go_attr(&a, attr_noop, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* none of the failures made a goroutine */
	ck_assert_int_eq(gor_numgoroutine(), 1);
	gor_stats_t st;
	ck_assert_int_eq(gor_stats(&st), 0);
	ck_assert_uint_eq(st.goroutines_created, 0);
	gor_sleep(10 * GOR_MILLISECOND);
	ck_assert_int_eq(atomic_load(&attr_ran), 0);
	/* and a good call after them works */
	a.stack_size = 0;
	ck_assert_int_eq(gor_go_attr(&a, attr_noop, NULL), 0);
	TU_WAIT_UNTIL(atomic_load(&attr_ran) == 1, "goroutine did not run");
}
END_TEST

/* Recursion in 4 KiB frames: stores the lowest address touched in *lo;
 * returns 0 if every frame kept its contents. */
static TU_NOINLINE int deep(int depth, uintptr_t *lo)
{
	volatile char buf[4096];
	buf[0] = (char)depth;
	buf[sizeof buf - 1] = (char)depth;
	int bad = 0;
	if (depth <= 1)
		*lo = (uintptr_t)&buf[0];
	else
		bad = deep(depth - 1, lo);
	return bad + (buf[0] != (char)depth) + (buf[sizeof buf - 1] != (char)depth);
}

struct stackuse {
	int frames, bad;
	atomic_int measured;
	uintptr_t top, lo;
	atomic_int done;
};

static void stack_worker(void *arg)
{
	struct stackuse *u = arg;
	volatile char here = 0;
	u->top = (uintptr_t)&here;
	uintptr_t lo = 0;
	u->bad = deep(u->frames, &lo);
	u->lo = lo;
	atomic_store(&u->measured, 1); /* publishes top, lo, bad */
	/* stay visible to gor_dump until told to go */
	while (atomic_load(&attr_hold))
		gor_sleep(GOR_MILLISECOND);
	atomic_store(&u->done, 1);
}

START_TEST(test_go_attr_big_stack)
{
	char name[16];
	strcpy(name, "bigstack");
	gor_attr a = {.stack_size = 1 << 20, .name = name};
	static struct stackuse u = {.frames = 900 / 4};
	atomic_store(&attr_hold, 1);
	ck_assert_int_eq(gor_go_attr(&a, stack_worker, &u), 0);
	strcpy(name, "clobbered"); /* the name was copied */
	TU_WAIT_UNTIL(atomic_load(&u.measured), "the 1 MiB goroutine did not get through its recursion");
	ck_assert_msg(u.top - u.lo >= 880 * 1024, "used only %zu KiB of stack", (size_t)(u.top - u.lo) / 1024);
	ck_assert_int_eq(u.bad, 0);

	char *dump = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&dump, &len);
	ck_assert_ptr_nonnull(f);
	gor_dump(f);
	fclose(f);
	ck_assert_msg(strstr(dump, "\"bigstack\"") != NULL, "gor_dump does not show the name:\n%s", dump);
	ck_assert_msg(strstr(dump, "clobbered") == NULL, "the name was not copied:\n%s", dump);
	free(dump);
	atomic_store(&attr_hold, 0);
	TU_WAIT_UNTIL(atomic_load(&u.done), "the 1 MiB goroutine did not finish");
}
END_TEST

START_TEST(test_default_stack_64k)
{
	/* The contract: the default stack gives at least 64 KiB. */
	static struct stackuse u = {.frames = 56 / 4};
	atomic_store(&attr_hold, 0);
	TU_GO(stack_worker, &u);
	TU_WAIT_UNTIL(atomic_load(&u.done), "a default goroutine could not use 56 KiB of stack");
	ck_assert_uint_ge(u.top - u.lo, 52 * 1024);
	ck_assert_int_eq(u.bad, 0);
	/* and with a default-size attribute too, by gor_go_attr(stack 64 KiB) */
	static struct stackuse v = {.frames = 56 / 4};
	gor_attr a = {.stack_size = 64 * 1024, .name = NULL};
	ck_assert_int_eq(gor_go_attr(&a, stack_worker, &v), 0);
	TU_WAIT_UNTIL(atomic_load(&v.done), "a 64 KiB goroutine could not use 56 KiB of stack");
}
END_TEST

/* Goroutines on small stacks (2 KiB; sanitizers need more room for their
 * own frames) pass a token around a ring, sleep, select and lock: the
 * runtime's own paths on a goroutine's stack must fit. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SMALL_STACK (16 * 1024)
#else
#define SMALL_STACK 2048
#endif
enum { RING = 500, LAPS = 20 };
static gor_chan *ring[RING];
static gor_mutex ring_mu;
static long ring_sum;
static gor_waitgroup ring_wg;

static void ring_worker(void *arg)
{
	size_t k = (size_t)(uintptr_t)arg;
	gor_chan *in = ring[k], *out = ring[(k + 1) % RING];
	long v;
	for (int lap = 0; lap < LAPS; lap++) {
		gor_case cs[2] = {{in, GOR_RECV, &v, 0}, {NULL, GOR_RECV, NULL, 0}};
		if (gor_select(cs, 2) != 0 || !cs[0].ok)
			break;
		if (lap == 0)
			gor_sleep(GOR_MICROSECOND);
		gor_mutex_lock(&ring_mu);
		ring_sum++;
		gor_mutex_unlock(&ring_mu);
		if (k == RING - 1 && lap == LAPS - 1)
			break; /* the last hop of the last lap goes nowhere */
		gor_send(out, &v);
	}
	gor_wg_done(&ring_wg);
}

START_TEST(test_small_stacks)
{
	int old = gor_maxprocs(0);
	for (int procs = 1; procs <= 2; procs++) {
		gor_maxprocs(procs);
		ring_sum = 0;
		for (size_t k = 0; k < RING; k++)
			ck_assert_ptr_nonnull(ring[k] = gor_chan_make(sizeof(long), 0));
		ck_assert_int_eq(gor_wg_add(&ring_wg, RING), 0);
		gor_attr a = {.stack_size = SMALL_STACK, .name = "small"};
		for (size_t k = 0; k < RING; k++)
			ck_assert_int_eq(gor_go_attr(&a, ring_worker, (void *)(uintptr_t)k), 0);
		long token = 1;
		ck_assert_int_eq(gor_send(ring[0], &token), 0);
		gor_wg_wait(&ring_wg);
		ck_assert_int_eq(ring_sum, (long)RING * LAPS);
		for (size_t k = 0; k < RING; k++)
			gor_chan_free(ring[k]);
	}
	gor_maxprocs(old);
}
END_TEST

/* ---- (9) gor_exit ------------------------------------------------------- */

static volatile int exit_really = 1;
static atomic_int exit_before, exit_after, exit_clean;

static TU_NOINLINE void exit_inner(void)
{
	atomic_fetch_add(&exit_before, 1);
	if (exit_really)
		gor_exit();
}

static TU_NOINLINE void exit_middle(void)
{
	exit_inner();
	atomic_fetch_add(&exit_after, 1); /* must never run */
}

static void exit_worker(void *arg)
{
	(void)arg;
	gor_yield();
	exit_middle();
	atomic_fetch_add(&exit_after, 1); /* nor this */
}

static void return_worker(void *arg)
{
	(void)arg;
	gor_yield();
	atomic_fetch_add(&exit_clean, 1);
}

START_TEST(test_exit_nested)
{
	gor_maxprocs(2);
	for (int round = 0; round < 3; round++) { /* the dead Gs are reused */
		for (int i = 0; i < 20; i++) {
			TU_GO(exit_worker, NULL);
			TU_GO(return_worker, NULL);
		}
		TU_WAIT_UNTIL(atomic_load(&exit_before) == 20 * (round + 1) &&
				      atomic_load(&exit_clean) == 20 * (round + 1),
			      "round %d: %d exits, %d returns", round, atomic_load(&exit_before),
			      atomic_load(&exit_clean));
		TU_WAIT_UNTIL(gor_numgoroutine() == 1, "gor_numgoroutine() = %d after exits", gor_numgoroutine());
	}
	gor_sleep(10 * GOR_MILLISECOND);
	ck_assert_msg(atomic_load(&exit_after) == 0, "code after gor_exit ran %d times", atomic_load(&exit_after));
}
END_TEST

/* main calls gor_exit: the other goroutines go on. Their last one ends
 * the process itself (nothing else would: there is no deadlock check). */
enum { MX_WORKERS = 4 };
static atomic_int mx_done;

static void mx_worker(void *arg)
{
	int i = (int)(intptr_t)arg;
	gor_sleep((20 + 10 * i) * GOR_MILLISECOND);
	for (int k = 0; k < 10; k++)
		gor_yield();
	fprintf(stderr, "worker %d done\n", i);
	if (atomic_fetch_add(&mx_done, 1) + 1 == MX_WORKERS) {
		fprintf(stderr, "all workers done, %d goroutines\n", gor_numgoroutine());
		fflush(stderr);
		_exit(7);
	}
}

static int main_exit_child(void *arg)
{
	(void)arg;
	for (int i = 0; i < MX_WORKERS; i++)
		TU_CHILD_CHECK(gor_go(mx_worker, (void *)(intptr_t)i) == 0, "gor_go");
	fprintf(stderr, "main exits\n");
	gor_exit();
}

START_TEST(test_main_gor_exit)
{
	struct tu_child c;
	tu_child_run(&c, main_exit_child, NULL, NULL);
	TU_ASSERT_CHILD_EXIT(&c, 7);
	TU_ASSERT_STDERR_HAS(&c, "main exits\n");
	char line[64];
	for (int i = 0; i < MX_WORKERS; i++) {
		snprintf(line, sizeof line, "worker %d done\n", i);
		TU_ASSERT_STDERR_HAS(&c, line);
	}
	/* main is gone, the last worker is still running */
	TU_ASSERT_STDERR_HAS(&c, "all workers done, 1 goroutines\n");
	tu_child_free(&c);
}
END_TEST

/* ---- (10) adopted pthreads ------------------------------------------------- */

struct adoptee {
	uint64_t id, id_after_sleep;
	int64_t slept;
	atomic_int adopted, release, finished, child_ran;
};

static void adoptee_child(void *arg)
{
	struct adoptee *a = arg;
	atomic_store(&a->child_ran, 1);
}

static void *adoptee_thread(void *arg)
{
	struct adoptee *a = arg;
	a->id = gor_self();
	gor_yield();
	int64_t t0 = gor_now();
	gor_sleep(20 * GOR_MILLISECOND); /* parks this thread's goroutine */
	a->slept = gor_now() - t0;
	a->id_after_sleep = gor_self();
	gor_go(adoptee_child, a);
	atomic_store(&a->adopted, 1);
	/* wait through the runtime, never by blocking the thread outright:
	 * this thread holds a P while it runs */
	while (!atomic_load(&a->release))
		gor_sleep(GOR_MILLISECOND);
	atomic_store(&a->finished, 1);
	return NULL;
}

static void join_bounded(pthread_t t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(TU_WAIT_S * tu_scale());
	int rc = pthread_timedjoin_np(t, NULL, &ts);
	ck_assert_msg(rc == 0, "pthread_timedjoin_np: %s", strerror(rc));
}

START_TEST(test_adopted_threads)
{
	for (int procs = 1; procs <= 2; procs++) {
		gor_maxprocs(procs);
		int base = gor_numgoroutine();
		ck_assert_int_eq(base, 1);
		static struct adoptee ad[2];
		memset(ad, 0, sizeof ad);
		pthread_t t[2];
		for (int i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, adoptee_thread, &ad[i]), 0);
		TU_WAIT_UNTIL(atomic_load(&ad[0].adopted) && atomic_load(&ad[1].adopted),
			      "MAXPROCS=%d: adopted threads did not get through gor_sleep", procs);
		TU_WAIT_UNTIL(atomic_load(&ad[0].child_ran) && atomic_load(&ad[1].child_ran),
			      "goroutines started by adopted threads did not run");
		TU_WAIT_UNTIL(gor_numgoroutine() == base + 2, "gor_numgoroutine() = %d with two adopted threads, want %d",
			      gor_numgoroutine(), base + 2);
		for (int i = 0; i < 2; i++) {
			ck_assert_msg(ad[i].id != 0 && ad[i].id != 1 && ad[i].id != gor_self(),
				      "adopted thread %d has id %" PRIu64, i, ad[i].id);
			ck_assert_uint_eq(ad[i].id_after_sleep, ad[i].id);
			ck_assert_int_ge(ad[i].slept, 20 * GOR_MILLISECOND);
		}
		ck_assert_uint_ne(ad[0].id, ad[1].id);
		for (int i = 0; i < 2; i++)
			atomic_store(&ad[i].release, 1);
		TU_WAIT_UNTIL(atomic_load(&ad[0].finished) && atomic_load(&ad[1].finished),
			      "adopted threads did not finish");
		for (int i = 0; i < 2; i++)
			join_bounded(t[i]);
		TU_WAIT_UNTIL(gor_numgoroutine() == base, "gor_numgoroutine() = %d after the threads exited, want %d",
			      gor_numgoroutine(), base);
	}
}
END_TEST

static atomic_int adcap_done;

static void *adcap_thread(void *arg)
{
	(void)arg;
	gor_yield(); /* adopted: from here on it runs only holding a P */
	for (int i = 0; i < 300; i++) {
		section(5 * GOR_MICROSECOND);
		gor_yield();
	}
	atomic_fetch_add(&adcap_done, 1);
	return NULL;
}

START_TEST(test_adopted_threads_cap)
{
	gor_maxprocs(1);
	section_reset();
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, adcap_thread, NULL), 0);
	/* a few goroutines too, for company */
	static struct cap_run r = {.workers = 4, .iters = 100, .spin_ns = 5 * GOR_MICROSECOND};
	for (int i = 0; i < r.workers; i++)
		TU_GO(cap_worker, &r);
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (atomic_load(&adcap_done) < 2 || atomic_load(&r.done) < r.workers) {
		ck_assert_msg(tu_now() < dl, "adopted threads: %d of 2 done, workers %d of %d",
			      atomic_load(&adcap_done), atomic_load(&r.done), r.workers);
		section(5 * GOR_MICROSECOND);
		gor_yield();
	}
	for (int i = 0; i < 2; i++)
		join_bounded(t[i]);
	int m = atomic_load(&sec_max);
	ck_assert_msg(m == 1, "MAXPROCS=1 with two adopted threads: %d ran at once", m);
	TU_WAIT_UNTIL(gor_numgoroutine() == 1, "gor_numgoroutine() = %d", gor_numgoroutine());
}
END_TEST

/* ---- (11) the go macro ---------------------------------------------------- */

static atomic_int macro_ran;

static void macro_fn(void *arg)
{
	atomic_fetch_add(&macro_ran, *(int *)arg);
}

START_TEST(test_go_macro)
{
	static int five = 5;
	ck_assert_int_eq(go(macro_fn, &five), 0);
	TU_WAIT_UNTIL(atomic_load(&macro_ran) == 5, "go(fn, arg) did not run fn(arg)");
}
END_TEST

/* ---- the suite ------------------------------------------------------------ */

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tu_tcase(s, "switch");
	tcase_add_test(tc, test_switch_keeps_fp_mode);
	tcase_add_test(tc, test_new_goroutine_fp_mode);
	tcase_add_test(tc, test_switch_keeps_registers);
	tc = tu_tcase(s, "maxprocs");
	tcase_add_test(tc, test_maxprocs1_cap);
	tcase_add_test(tc, test_maxprocs2_cap);
	tcase_add_test(tc, test_maxprocs_env);
	tcase_add_test(tc, test_resize_live);
	tc = tu_tcase(s, "many");
	tcase_add_test(tc, test_100k_goroutines);
	tc = tu_tcase(s, "sleep");
	tcase_add_test(tc, test_sleep_order);
	tcase_add_test(tc, test_sleep_nonpositive);
	tcase_add_test(tc, test_idle_no_cpu);
	tc = tu_tcase(s, "ids");
	tcase_add_test(tc, test_main_is_1);
	tcase_add_test(tc, test_ids_and_counts);
	tcase_add_test(tc, test_numcpu);
	tcase_add_test(tc, test_numcpu_affinity);
	tcase_add_test(tc, test_stats);
	tc = tu_tcase(s, "go");
	tcase_add_test(tc, test_go_invalid);
	tcase_add_test(tc, test_go_attr_big_stack);
	tcase_add_test(tc, test_default_stack_64k);
	tcase_add_test(tc, test_small_stacks);
	tcase_add_test(tc, test_go_macro);
	tc = tu_tcase(s, "exit");
	tcase_add_test(tc, test_exit_nested);
	tcase_add_test(tc, test_main_gor_exit);
	tc = tu_tcase(s, "adopt");
	tcase_add_test(tc, test_adopted_threads);
	tc = tu_tcase(s, "adopt_cap");
	tcase_add_test(tc, test_adopted_threads_cap);
	return s;
}

int main(void)
{
	return tu_srunner_run(sched_suite());
}
