/*
 * cpupar: G = 8 goroutines each compute fib(K = 32) with the naive recursion
 * fib(n) = n < 2 ? n : fib(n-1) + fib(n-2), fib marked noinline (2178309,
 * about 7.0 M calls); main waits on a gor_waitgroup.
 * Timed (gor_now): from before the spawn loop until the wait returns.
 * Figures: wall_ms; ns/op = wall / G (ns per task). Run at P1 and P2:
 * run.sh prints the speedup wall(P1) / wall(P2) (ideal 2.0 on 2 cores).
 * Check: every result equals fib(K) computed iteratively.
 */
#include "bench.h"
#include "gor.h"

static long long k;
static gor_waitgroup wg;

static __attribute__((noinline)) long long fib(long long x)
{
	if (x < 2)
		return x;
	return fib(x - 1) + fib(x - 2);
}

static void task(void *arg)
{
	*(long long *)arg = fib(k);
	gor_wg_done(&wg);
}

int main(int argc, char **argv)
{
	long long p = 1, g = 8;

	k = 32;
	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "g", BENCH_INT, &g, "goroutines" },
		    { "k", BENCH_INT, &k, "fib argument" });
	bench_positive("p", p);
	bench_positive("g", g);
	if (k < 0 || k > 90)
		bench_fail("-k must be in 0..90");
	gor_maxprocs((int)p);

	long long *res = calloc((size_t)g, sizeof *res);
	if (!res)
		bench_fail("calloc: %s", strerror(errno));
	if (gor_wg_add(&wg, g) != 0)
		bench_fail("gor_wg_add: %s", strerror(errno));
	int64_t t0 = gor_now();
	for (long long i = 0; i < g; i++)
		if (gor_go(task, &res[i]) != 0)
			bench_fail("gor_go: %s", strerror(errno));
	gor_wg_wait(&wg);
	int64_t el = gor_now() - t0;

	long long a = 0, b = 1;
	for (long long i = 0; i < k; i++) {
		long long t = a + b;
		a = b;
		b = t;
	}
	for (long long i = 0; i < g; i++)
		if (res[i] != a)
			bench_fail("task %lld: fib(%lld) = %lld, want %lld", i, k, res[i], a);
	printf("cpupar/P%lld: %.2f ns/op wall_ms=%.1f tasks=%lld fib=%lld\n",
	       p, (double)el / (double)g, (double)el / 1e6, g, k);
	free(res);
	return 0;
}
