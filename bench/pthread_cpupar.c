/*
 * pthread-cpupar: the cpupar workload on plain threads, as the baseline for
 * its speedup. P threads (pinned to the first P CPUs) share G = 8 tasks of
 * fib(K = 32) (the same noinline naive recursion) through an atomic index.
 * Timed (CLOCK_MONOTONIC): from before the threads are created until all
 * are joined. Figures: wall_ms; ns/op = wall / G. run.sh prints the speedup
 * wall(P1) / wall(P2). Check: every result equals fib(K) computed
 * iteratively.
 */
#define _GNU_SOURCE
#include <stdatomic.h>

#include "pthread_util.h"

static long long k, g;
static long long *res;
static atomic_llong next_task;

static __attribute__((noinline)) long long fib(long long x)
{
	if (x < 2)
		return x;
	return fib(x - 1) + fib(x - 2);
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		long long i = atomic_fetch_add(&next_task, 1);

		if (i >= g)
			return NULL;
		res[i] = fib(k);
	}
}

int main(int argc, char **argv)
{
	long long p = 1;

	g = 8;
	k = 32;
	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "threads (and CPUs they may use)" },
		    { "g", BENCH_INT, &g, "tasks" },
		    { "k", BENCH_INT, &k, "fib argument" });
	bench_positive("p", p);
	bench_positive("g", g);
	if (k < 0 || k > 90)
		bench_fail("-k must be in 0..90");
	bench_limit_cpus(p);

	res = calloc((size_t)g, sizeof *res);
	pthread_t *th = calloc((size_t)p, sizeof *th);
	if (!res || !th)
		bench_fail("calloc: %s", strerror(errno));
	int64_t t0 = bench_now();
	for (long long i = 0; i < p; i++) {
		int e = pthread_create(&th[i], NULL, worker, NULL);

		if (e)
			bench_fail("pthread_create: %s", strerror(e));
	}
	for (long long i = 0; i < p; i++)
		pthread_join(th[i], NULL);
	int64_t el = bench_now() - t0;

	long long a = 0, b = 1;
	for (long long i = 0; i < k; i++) {
		long long t = a + b;
		a = b;
		b = t;
	}
	for (long long i = 0; i < g; i++)
		if (res[i] != a)
			bench_fail("task %lld: fib(%lld) = %lld, want %lld", i, k, res[i], a);
	printf("pthread-cpupar/P%lld: %.2f ns/op wall_ms=%.1f tasks=%lld fib=%lld\n",
	       p, (double)el / (double)g, (double)el / 1e6, g, k);
	free(th);
	free(res);
	return 0;
}
