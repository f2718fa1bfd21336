/*
 * spawn: gor_wg_add(N) once, then N times gor_go a goroutine whose only work
 * is gor_wg_done(), then gor_wg_wait(). The spawner never yields on purpose.
 * Timed (gor_now): from just before the first spawn until the wait returns.
 * Figure: ns per goroutine = elapsed / N; also peak_rss_kb (VmHWM after the
 * wait) and base_rss_kb (VmHWM before the loop), which show whether the
 * runtime ran new goroutines at once or queued them all.
 * Check: every gor_go succeeded and gor_stats counted N more goroutines.
 */
#include "bench.h"
#include "gor.h"

static gor_waitgroup wg;

static void task(void *arg)
{
	(void)arg;
	gor_wg_done(&wg);
}

int main(int argc, char **argv)
{
	long long p = 1, n = 1000000;
	gor_stats_t s0, s1;

	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "n", BENCH_INT, &n, "goroutines" });
	bench_positive("p", p);
	bench_positive("n", n);
	gor_maxprocs((int)p);

	long long base_hwm = bench_proc_kb("VmHWM");
	if (gor_stats(&s0) != 0)
		bench_fail("gor_stats: %s", strerror(errno));
	if (gor_wg_add(&wg, n) != 0)
		bench_fail("gor_wg_add: %s", strerror(errno));
	int64_t t0 = gor_now();
	for (long long i = 0; i < n; i++)
		if (gor_go(task, NULL) != 0)
			bench_fail("gor_go #%lld: %s", i, strerror(errno));
	gor_wg_wait(&wg);
	int64_t el = gor_now() - t0;
	long long hwm = bench_proc_kb("VmHWM");

	if (gor_stats(&s1) != 0)
		bench_fail("gor_stats: %s", strerror(errno));
	if (s1.goroutines_created - s0.goroutines_created != (uint64_t)n)
		bench_fail("gor_stats counted %llu goroutines created, want %lld",
			   (unsigned long long)(s1.goroutines_created - s0.goroutines_created), n);
	printf("spawn/P%lld: %.2f ns/op goroutines=%lld total_ms=%.1f peak_rss_kb=%lld base_rss_kb=%lld\n",
	       p, (double)el / (double)n, n, (double)el / 1e6, hwm, base_hwm);
	return 0;
}
