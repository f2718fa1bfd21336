/*
 * yield: two goroutines each call gor_yield() N times (runtime.Gosched);
 * main waits for both on a gor_waitgroup.
 * Timed (gor_now): from just before the first spawn until the wait returns.
 * Figure: ns per switch = elapsed / (2N). Check: both goroutines counted all
 * their N yields.
 * -timer D (not in the anchor): one timer pending D ahead; see pending.h.
 */
#include "bench.h"
#include "gor.h"
#include "pending.h"

static long long n;
static gor_waitgroup wg;
static long long done_yields[2];

static void worker(void *arg)
{
	long long *count = arg, i;

	for (i = 0; i < n; i++)
		gor_yield();
	*count = i;
	gor_wg_done(&wg);
}

int main(int argc, char **argv)
{
	long long p = 1;
	int64_t timer = 0;

	n = 10000000;
	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "n", BENCH_INT, &n, "gor_yield calls per goroutine" },
		    { "timer", BENCH_DURATION, &timer, "a timer pending this far ahead (0: none)" });
	bench_positive("p", p);
	bench_positive("n", n);
	gor_maxprocs((int)p);
	gor_chan *pending = bench_pending_timer(timer);

	if (gor_wg_add(&wg, 2) != 0)
		bench_fail("gor_wg_add: %s", strerror(errno));
	int64_t t0 = gor_now();
	for (int i = 0; i < 2; i++)
		if (gor_go(worker, &done_yields[i]) != 0)
			bench_fail("gor_go: %s", strerror(errno));
	gor_wg_wait(&wg);
	int64_t el = gor_now() - t0;

	bench_check_pending(pending);
	for (int i = 0; i < 2; i++)
		if (done_yields[i] != n)
			bench_fail("worker %d did %lld yields, want %lld", i, done_yields[i], n);
	double sw = 2.0 * (double)n;
	printf("yield/P%lld: %.2f ns/op switches=%lld total_ms=%.1f%s\n",
	       p, (double)el / sw, 2 * n, (double)el / 1e6, bench_timer_key(timer));
	return 0;
}
