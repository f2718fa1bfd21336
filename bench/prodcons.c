/*
 * prodcons: one int64 channel of capacity 128. A producer goroutine sends
 * 0..N-1, then closes it; main consumes until gor_recv reports closed and
 * drained (Go's `for v := range ch`).
 * Timed (gor_now): from just before the producer is spawned until the
 * consumer's loop ends. Figure: ns per item = elapsed / N.
 * Check: sum == N(N-1)/2 and exactly N items arrived. Primary config P2.
 */
#include "bench.h"
#include "gor.h"

static long long n;
static gor_chan *ch;

static void producer(void *arg)
{
	(void)arg;
	for (int64_t i = 0; i < n; i++)
		if (gor_send(ch, &i) != 0)
			bench_fail("producer: send failed at %lld: %s", (long long)i, strerror(errno));
	if (gor_close(ch) != 0)
		bench_fail("producer: close: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	long long p = 2, items = 0;
	int64_t sum = 0, v;

	n = 20000000;
	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "n", BENCH_INT, &n, "items" });
	bench_positive("p", p);
	bench_positive("n", n);
	gor_maxprocs((int)p);

	ch = gor_chan_make(sizeof(int64_t), 128);
	if (!ch)
		bench_fail("gor_chan_make: %s", strerror(errno));
	int64_t t0 = gor_now();
	if (gor_go(producer, NULL) != 0)
		bench_fail("gor_go: %s", strerror(errno));
	while (gor_recv(ch, &v) == 1) {
		sum += v;
		items++;
	}
	int64_t el = gor_now() - t0;

	if (items != n || sum != (int64_t)n * (n - 1) / 2)
		bench_fail("got %lld items summing to %lld, want %lld summing to %lld",
			   items, (long long)sum, n, n * (n - 1) / 2);
	printf("prodcons/P%lld: %.2f ns/op items=%lld total_ms=%.1f\n",
	       p, (double)el / (double)n, n, (double)el / 1e6);
	return 0;
}
