/*
 * check_sysmon.c - sysmon: cooperative preemption of a goroutine that
 * holds its P for long while calling the runtime (each entry point that
 * checks, with MAXPROCS=1, so that only a preemption lets anybody else
 * run), the preemption counter, preemption after sysmon's deep sleep, an
 * idle program that burns no CPU, also after sysmon has been busy, and
 * one that gives the pages of its freed stacks back (the scavenger).
 *
 * The property checked is "whether", never "how fast": with MAXPROCS=1,
 * main's gor_sleep can only return if the spinning goroutine yields, so
 * main running at all is the proof. A spinner gives up after a long
 * bounded time, so that a missing preemption is a failure, not a hang.
 */
#include "testutil.h"

enum { VIA_NOW, VIA_TRY_RECV, VIA_MUTEX, VIA_WAITGROUP, VIA_SELECT, VIA_N };
static const char *const via_names[VIA_N] = {"gor_now", "gor_try_recv", "gor_mutex_unlock",
					    "gor_wg_add", "gor_try_select"};

static atomic_int spin_started, spin_stop, spin_done, spin_gaveup;
static gor_chan *spin_chan;
static gor_mutex spin_mu;
static gor_waitgroup spin_wg;

/* Calls the runtime in a loop, never blocking, until told to stop. */
static void spinner(void *arg)
{
	int via = (int)(intptr_t)arg;
	atomic_store(&spin_started, 1);
	int64_t dl = tu_deadline(10);
	int64_t v;
	gor_case k = {spin_chan, GOR_RECV, &v, 0};
	while (!atomic_load(&spin_stop)) {
		if (tu_now() > dl) {
			atomic_store(&spin_gaveup, 1);
			break;
		}
		switch (via) {
		case VIA_NOW:
			(void)gor_now();
			break;
		case VIA_TRY_RECV:
			(void)gor_try_recv(spin_chan, &v);
			break;
		case VIA_MUTEX:
			gor_mutex_lock(&spin_mu);
			gor_mutex_unlock(&spin_mu);
			break;
		case VIA_WAITGROUP:
			gor_wg_add(&spin_wg, 1);
			gor_wg_done(&spin_wg);
			break;
		case VIA_SELECT:
			(void)gor_try_select(&k, 1);
			break;
		}
	}
	atomic_store(&spin_done, 1);
}

static void spin_reset(void)
{
	atomic_store(&spin_started, 0);
	atomic_store(&spin_stop, 0);
	atomic_store(&spin_done, 0);
	atomic_store(&spin_gaveup, 0);
	spin_chan = gor_chan_make(sizeof(int64_t), 1);
	ck_assert_ptr_nonnull(spin_chan);
}

/* Main sleeps 1 ms while the spinner holds the only P: it can only wake
 * if the spinner is preempted. */
static void expect_preempted(int via)
{
	gor_stats_t st0, st1;
	ck_assert_int_eq(gor_stats(&st0), 0);
	TU_GO(spinner, (void *)(intptr_t)via);
	int64_t t0 = tu_now();
	gor_sleep(GOR_MILLISECOND);
	int64_t waited = tu_now() - t0;
	ck_assert_int_eq(atomic_load(&spin_started), 1);
	ck_assert_msg(!atomic_load(&spin_done), "%s: main ran only once the spinner had given up (%lld ms)",
		      via_names[via], (long long)(waited / GOR_MILLISECOND));
	ck_assert_int_eq(gor_stats(&st1), 0);
	ck_assert_msg(st1.preemptions > st0.preemptions, "%s: preemptions %llu -> %llu", via_names[via],
		      (unsigned long long)st0.preemptions, (unsigned long long)st1.preemptions);
	atomic_store(&spin_stop, 1);
	TU_WAIT_UNTIL(atomic_load(&spin_done), "%s: the spinner never stopped", via_names[via]);
	ck_assert_int_eq(atomic_load(&spin_gaveup), 0);
}

START_TEST(test_preempt)
{
	gor_maxprocs(1);
	spin_reset();
	expect_preempted(_i);
	gor_chan_free(spin_chan);
}
END_TEST

/* After a long idle stretch (sysmon asleep: every P idle), a spinner is
 * still preempted: taking a P off the idle list woke sysmon. */
START_TEST(test_preempt_after_idle)
{
	gor_maxprocs(1);
	spin_reset();
	gor_chan *t = gor_after(100 * GOR_MILLISECOND);
	int64_t v;
	ck_assert_int_eq(gor_recv(t, &v), 1);
	gor_chan_free(t);
	expect_preempted(VIA_NOW);
	/* and once more after a second idle stretch */
	gor_chan_free(spin_chan);
	spin_reset();
	gor_sleep(100 * GOR_MILLISECOND);
	expect_preempted(VIA_TRY_RECV);
	gor_chan_free(spin_chan);
}
END_TEST

/* A goroutine that yields on its own is not counted as preempted. */
static atomic_int yielder_done;

static void yielder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		gor_yield();
	atomic_store(&yielder_done, 1);
}

START_TEST(test_no_preemption_without_need)
{
	gor_maxprocs(1);
	gor_stats_t st0, st1;
	ck_assert_int_eq(gor_stats(&st0), 0);
	atomic_store(&yielder_done, 0);
	TU_GO(yielder, NULL);
	TU_WAIT_UNTIL(atomic_load(&yielder_done), "the yielder never finished");
	ck_assert_int_eq(gor_stats(&st1), 0);
	ck_assert_uint_eq(st1.preemptions, st0.preemptions);
}
END_TEST

/* ---- an idle program burns no CPU ---------------------------------------- */

/* CPU used while main waits 300 ms on a timer channel; the least of
 * three tries, so that one disturbed run does not decide. */
static int64_t idle_cpu_300ms(void)
{
	int64_t best = INT64_MAX;
	for (int i = 0; i < 3; i++) {
		gor_chan *t = gor_after(300 * GOR_MILLISECOND);
		int64_t c0 = tu_cpu_ns(), v;
		ck_assert_int_eq(gor_recv(t, &v), 1);
		int64_t c = tu_cpu_ns() - c0;
		gor_chan_free(t);
		if (c < best)
			best = c;
		if (best < 5 * GOR_MILLISECOND)
			break;
	}
	return best;
}

static void busy_then_done(void *arg)
{
	(void)arg;
	gor_syscall_enter();
	usleep(30000);
	gor_syscall_exit();
	atomic_store(&spin_done, 1);
}

START_TEST(test_idle_no_cpu)
{
	int64_t limit = (tu_slow() ? 100 : 30) * GOR_MILLISECOND;
	int64_t cpu = idle_cpu_300ms();
	ck_assert_msg(cpu < limit, "idle: %lld us of CPU over 300 ms", (long long)(cpu / 1000));

	/* after sysmon has had work: a preemption and a retaken syscall */
	gor_maxprocs(1);
	spin_reset();
	expect_preempted(VIA_NOW);
	atomic_store(&spin_done, 0);
	TU_GO(busy_then_done, NULL);
	TU_WAIT_UNTIL(atomic_load(&spin_done), "the goroutine in a syscall never came back");
	gor_chan_free(spin_chan);
	cpu = idle_cpu_300ms();
	ck_assert_msg(cpu < limit, "idle after work: %lld us of CPU over 300 ms", (long long)(cpu / 1000));
}
END_TEST

/* The scavenger: stacks freed by a burst of goroutines lose all but the
 * pool's budget once the program is idle (sysmon scavenges before it
 * sleeps). RSS is compared with its peak, read while every goroutine
 * still holds its stack: the periodic scavenger may trim some of them
 * while the burst is still ending (under TSan the ending takes long
 * enough), so a reading taken after the burst can be already low. */
enum { DEEP = 32 * 1024, NDEEP = 3000 };
static gor_chan *deep_hold;
static atomic_int deep_started, deep_ended;

/* Out of line, so that buf is a real DEEP bytes of the caller's frame:
 * clang packs a local array whose address does not escape. */
static __attribute__((noinline)) void touch(volatile char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 1024)
		p[i] = 1;
}

static void deep_then_wait(void *arg)
{
	(void)arg;
	char buf[DEEP];
	touch(buf, DEEP);
	atomic_fetch_add(&deep_started, 1);
	int64_t v;
	gor_recv(deep_hold, &v);
	atomic_fetch_add(&deep_ended, 1);
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

START_TEST(test_scavenge_when_idle)
{
	deep_hold = gor_chan_make(sizeof(int64_t), 0);
	ck_assert_ptr_nonnull(deep_hold);
	for (int i = 0; i < NDEEP; i++)
		TU_GO(deep_then_wait, NULL);
	TU_WAIT_UNTIL(atomic_load(&deep_started) == NDEEP, "%d of %d goroutines started",
		      atomic_load(&deep_started), NDEEP);
	long touched = (long)NDEEP * DEEP / 1024, peak = rss_kb(), now = peak;
	ck_assert_msg(peak > touched, "VmRSS %ld kB with %ld kB of stacks touched", peak, touched);
	gor_close(deep_hold);
	TU_WAIT_UNTIL(atomic_load(&deep_ended) == NDEEP, "%d of %d goroutines ended",
		      atomic_load(&deep_ended), NDEEP);
	/* Idle (main asleep on a timer): sysmon sleeps, scavenging first. */
	int64_t dl = tu_deadline(10);
	while (tu_now() < dl && peak - now < touched / 2) {
		gor_sleep(50 * GOR_MILLISECOND);
		now = rss_kb();
	}
	ck_assert_msg(peak - now >= touched / 2,
		      "VmRSS %ld kB at the peak -> %ld kB: the %ld kB of freed stacks were not given back",
		      peak, now, touched);
	gor_chan_free(deep_hold);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sysmon");
	TCase *tc = tu_tcase(s, "sysmon");
	tcase_add_loop_test(tc, test_preempt, 0, VIA_N);
	tcase_add_test(tc, test_preempt_after_idle);
	tcase_add_test(tc, test_no_preemption_without_need);
	tcase_add_test(tc, test_idle_no_cpu);
	tcase_add_test(tc, test_scavenge_when_idle);
	return tu_srunner_run(s);
}
