/*
 * pingpong: two unbuffered int64 channels, ping and pong. Goroutine B loops
 * N times: v = recv(ping); send(pong, v). Main loops N times: send(ping, i);
 * sum += recv(pong).
 * Timed (gor_now): from just before B is spawned until main's loop ends.
 * Figure: ns per round trip (two rendezvous handoffs) = elapsed / N.
 * Check: sum == N(N-1)/2.
 * -timer D (not in the anchor): one timer pending D ahead; see pending.h.
 */
#include "bench.h"
#include "gor.h"
#include "pending.h"

static long long n;
static gor_chan *ping, *pong;

static void b_task(void *arg)
{
	(void)arg;
	for (long long i = 0; i < n; i++) {
		int64_t v;

		if (gor_recv(ping, &v) != 1)
			bench_fail("B: recv(ping) failed at %lld", i);
		if (gor_send(pong, &v) != 0)
			bench_fail("B: send(pong) failed at %lld: %s", i, strerror(errno));
	}
}

int main(int argc, char **argv)
{
	long long p = 1;
	int64_t timer = 0;

	n = 5000000;
	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "n", BENCH_INT, &n, "round trips" },
		    { "timer", BENCH_DURATION, &timer, "a timer pending this far ahead (0: none)" });
	bench_positive("p", p);
	bench_positive("n", n);
	gor_maxprocs((int)p);
	gor_chan *pending = bench_pending_timer(timer);

	ping = gor_chan_make(sizeof(int64_t), 0);
	pong = gor_chan_make(sizeof(int64_t), 0);
	if (!ping || !pong)
		bench_fail("gor_chan_make: %s", strerror(errno));
	int64_t sum = 0;
	int64_t t0 = gor_now();
	if (gor_go(b_task, NULL) != 0)
		bench_fail("gor_go: %s", strerror(errno));
	for (int64_t i = 0; i < n; i++) {
		int64_t v;

		if (gor_send(ping, &i) != 0)
			bench_fail("main: send(ping) failed at %lld: %s", (long long)i, strerror(errno));
		if (gor_recv(pong, &v) != 1)
			bench_fail("main: recv(pong) failed at %lld", (long long)i);
		sum += v;
	}
	int64_t el = gor_now() - t0;

	bench_check_pending(pending);
	if (sum != (int64_t)n * (n - 1) / 2)
		bench_fail("sum %lld, want %lld", (long long)sum, n * (n - 1) / 2);
	printf("pingpong/P%lld: %.2f ns/op roundtrips=%lld total_ms=%.1f%s\n",
	       p, (double)el / (double)n, n, (double)el / 1e6, bench_timer_key(timer));
	return 0;
}
