/*
 * pthread-spawn: the spawn workload on plain threads, as the baseline for
 * goroutine creation. N times pthread_create a thread whose only work is
 * an atomic increment (the wg.Done of spawn), then pthread_join it: one
 * thread at a time, since N live threads would exhaust the system. Default
 * N = 100,000. -p N limits the process to the first N CPUs.
 * Timed (CLOCK_MONOTONIC): from before the first create until the last
 * join. Figure: ns per thread = elapsed / N; peak_rss_kb and base_rss_kb
 * (VmHWM after and before). Check: the counter reached N.
 */
#define _GNU_SOURCE
#include <stdatomic.h>

#include "pthread_util.h"

static atomic_llong done;

static void *task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&done, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	long long p = 1, n = 100000;

	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "CPUs the threads may use" },
		    { "n", BENCH_INT, &n, "threads" });
	bench_positive("p", p);
	bench_positive("n", n);
	bench_limit_cpus(p);

	long long base = bench_proc_kb("VmHWM");
	int64_t t0 = bench_now();
	for (long long i = 0; i < n; i++) {
		pthread_t t;
		int e = pthread_create(&t, NULL, task, NULL);

		if (e)
			bench_fail("pthread_create #%lld: %s", i, strerror(e));
		pthread_join(t, NULL);
	}
	int64_t el = bench_now() - t0;
	long long hwm = bench_proc_kb("VmHWM");

	if (atomic_load(&done) != n)
		bench_fail("%lld threads ran, want %lld", (long long)atomic_load(&done), n);
	printf("pthread-spawn/P%lld: %.2f ns/op threads=%lld total_ms=%.1f peak_rss_kb=%lld base_rss_kb=%lld\n",
	       p, (double)el / (double)n, n, (double)el / 1e6, hwm, base);
	return 0;
}
