/*
 * idlemem: memory and creation cost of N idle goroutines.
 * Before timing the handle array is allocated and touched (C has no GC to
 * run; touching keeps the array's own pages out of the figure), then VmRSS
 * is read (rss0). Timed "create": N times make an unbuffered channel and
 * spawn a goroutine doing started.Done(); recv(ch); finished.Done(); then
 * started.Wait(). Then sleep 50 ms and read VmRSS (rss1).
 * Figures: bytes_per_g = (rss1 - rss0) * 1024 / N (a goroutine plus its
 * channel); ns/op = create time / N. Timed "release": close all N channels
 * and finished.Wait(); release_ns_per_g = that / N.
 * Check: every goroutine saw its channel closed (recv returned 0).
 */
#include <stdatomic.h>

#include "bench.h"
#include "gor.h"

static gor_waitgroup started, finished;
static atomic_long bad;

static void idler(void *arg)
{
	gor_chan *ch = arg;

	gor_wg_done(&started);
	if (gor_recv(ch, NULL) != 0)
		atomic_fetch_add(&bad, 1);
	gor_wg_done(&finished);
}

int main(int argc, char **argv)
{
	long long p = 1, n = 100000, stack = 0;

	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "n", BENCH_INT, &n, "goroutines" },
		    { "stack", BENCH_INT, &stack, "gor_attr.stack_size (0: the default)" });
	bench_positive("p", p);
	bench_positive("n", n);
	if (stack < 0)
		bench_fail("-stack must be >= 0");
	gor_attr attr = {.stack_size = (size_t)stack, .name = NULL};
	gor_maxprocs((int)p);

	gor_chan **chans = malloc((size_t)n * sizeof *chans);
	if (!chans)
		bench_fail("malloc: %s", strerror(errno));
	memset(chans, 0, (size_t)n * sizeof *chans);
	if (gor_wg_add(&started, n) != 0 || gor_wg_add(&finished, n) != 0)
		bench_fail("gor_wg_add: %s", strerror(errno));
	long long rss0 = bench_proc_kb("VmRSS");
	int64_t t0 = gor_now();
	for (long long i = 0; i < n; i++) {
		gor_chan *ch = gor_chan_make(0, 0);

		if (!ch)
			bench_fail("gor_chan_make #%lld: %s", i, strerror(errno));
		chans[i] = ch;
		if (gor_go_attr(&attr, idler, ch) != 0)
			bench_fail("gor_go #%lld: %s", i, strerror(errno));
	}
	gor_wg_wait(&started);
	int64_t create = gor_now() - t0;
	gor_sleep(50 * GOR_MILLISECOND);
	long long rss1 = bench_proc_kb("VmRSS");

	int64_t t1 = gor_now();
	for (long long i = 0; i < n; i++)
		if (gor_close(chans[i]) != 0)
			bench_fail("gor_close #%lld: %s", i, strerror(errno));
	gor_wg_wait(&finished);
	int64_t release = gor_now() - t1;

	if (atomic_load(&bad) != 0)
		bench_fail("%ld goroutines got a value instead of a close", atomic_load(&bad));
	double nn = (double)n;
	printf("idlemem/P%lld: %.2f ns/op goroutines=%lld bytes_per_g=%.0f stack=%lld create_ms=%.1f release_ns_per_g=%.1f rss_before_kb=%lld rss_after_kb=%lld\n",
	       p, (double)create / nn, n, (double)(rss1 - rss0) * 1024 / nn,
	       stack, (double)create / 1e6, (double)release / nn, rss0, rss1);
	for (long long i = 0; i < n; i++)
		gor_chan_free(chans[i]);
	free(chans);
	return 0;
}
