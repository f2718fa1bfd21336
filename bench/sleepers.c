/*
 * sleepers: gor_wg_add(N), then N times spawn a goroutine doing
 * gor_sleep(d); gor_wg_done(), then gor_wg_wait(). N = 100,000, d = 10 ms.
 * Timed (gor_now): from before the spawn loop until the wait returns.
 * Figures: total_ms (ideal: about d plus the spawn time), spawn_ms (the
 * spawn loop alone), overshoot_ms = total - d; ns/op = total / N.
 * Check: every sleeper finished (the wait returned) and not before d.
 */
#include "bench.h"
#include "gor.h"

static gor_waitgroup wg;
static int64_t d;

static void sleeper(void *arg)
{
	(void)arg;
	gor_sleep(d);
	gor_wg_done(&wg);
}

int main(int argc, char **argv)
{
	long long p = 1, n = 100000, stack = 0;

	d = 10 * GOR_MILLISECOND;
	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "n", BENCH_INT, &n, "sleepers" },
		    { "d", BENCH_DURATION, &d, "sleep (Go duration: 10ms)" },
		    { "stack", BENCH_INT, &stack, "gor_attr.stack_size (0: the default)" });
	bench_positive("p", p);
	bench_positive("n", n);
	if (stack < 0)
		bench_fail("-stack must be >= 0");
	gor_attr attr = {.stack_size = (size_t)stack, .name = NULL};
	gor_maxprocs((int)p);

	if (gor_wg_add(&wg, n) != 0)
		bench_fail("gor_wg_add: %s", strerror(errno));
	int64_t t0 = gor_now();
	for (long long i = 0; i < n; i++)
		if (gor_go_attr(&attr, sleeper, NULL) != 0)
			bench_fail("gor_go #%lld: %s", i, strerror(errno));
	int64_t spawn = gor_now() - t0;
	gor_wg_wait(&wg);
	int64_t el = gor_now() - t0;

	if (el < d)
		bench_fail("all done in %lld ns, less than the sleep %lld", (long long)el, (long long)d);
	printf("sleepers/P%lld: %.2f ns/op total_ms=%.2f spawn_ms=%.2f overshoot_ms=%.2f sleepers=%lld stack=%lld\n",
	       p, (double)el / (double)n, (double)el / 1e6, (double)spawn / 1e6,
	       (double)(el - d) / 1e6, n, stack);
	return 0;
}
