/*
 * mutex: G = 4 goroutines each do N = 15,000,000 times
 * { gor_mutex_lock(&mu); counter++; gor_mutex_unlock(&mu); } on one shared
 * gor_mutex and plain counter; main waits on a gor_waitgroup.
 * Timed (gor_now): from before spawning until the wait returns.
 * Figure: ns per lock = elapsed / (G*N). Check: counter == G*N (a broken
 * mutex loses increments). Primary config P2.
 */
#include "bench.h"
#include "gor.h"

static long long n;
static gor_mutex mu;
static long long counter;
static gor_waitgroup wg;

static void worker(void *arg)
{
	(void)arg;
	for (long long j = 0; j < n; j++) {
		gor_mutex_lock(&mu);
		counter++;
		gor_mutex_unlock(&mu);
	}
	gor_wg_done(&wg);
}

int main(int argc, char **argv)
{
	long long p = 2, g = 4;

	n = 15000000;
	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "g", BENCH_INT, &g, "goroutines" },
		    { "n", BENCH_INT, &n, "locks per goroutine" });
	bench_positive("p", p);
	bench_positive("g", g);
	bench_positive("n", n);
	gor_maxprocs((int)p);

	if (gor_wg_add(&wg, g) != 0)
		bench_fail("gor_wg_add: %s", strerror(errno));
	int64_t t0 = gor_now();
	for (long long i = 0; i < g; i++)
		if (gor_go(worker, NULL) != 0)
			bench_fail("gor_go: %s", strerror(errno));
	gor_wg_wait(&wg);
	int64_t el = gor_now() - t0;

	if (counter != g * n)
		bench_fail("counter %lld, want %lld", counter, g * n);
	double tot = (double)g * (double)n;
	printf("mutex/P%lld: %.2f ns/op locks=%lld total_ms=%.1f\n",
	       p, (double)el / tot, g * n, (double)el / 1e6);
	return 0;
}
