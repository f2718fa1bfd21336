/*
 * threadring (Benchmarks Game thread-ring): 503 goroutines numbered 1..503,
 * each owning an unbuffered int64 inbound channel. Goroutine k loops:
 * t = recv(in[k]); if t == 0 it sends k to main and returns, otherwise
 * send(in[k % 503 + 1], t - 1). Main sends the token N to goroutine 1 and
 * waits for the id; the other 502 stay blocked at exit, as in Go.
 * Timed (gor_now): from before the channels and goroutines are created until
 * main receives the id. Figures: ns per hop = elapsed / N, total ms.
 * Check: id == N mod 503 + 1 (361 for N = 10,000,000).
 */
#include "bench.h"
#include "gor.h"

#define RING 503

static gor_chan *in[RING + 1], *done;

static void member(void *arg)
{
	int64_t k = (int64_t)(intptr_t)arg;
	gor_chan *mine = in[k], *next = in[k % RING + 1];

	for (;;) {
		int64_t t;

		if (gor_recv(mine, &t) != 1)
			bench_fail("task %lld: recv failed", (long long)k);
		if (t == 0) {
			if (gor_send(done, &k) != 0)
				bench_fail("task %lld: send(done): %s", (long long)k, strerror(errno));
			return;
		}
		t--;
		if (gor_send(next, &t) != 0)
			bench_fail("task %lld: send: %s", (long long)k, strerror(errno));
	}
}

int main(int argc, char **argv)
{
	long long p = 1, n = 10000000;
	int64_t id;

	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "n", BENCH_INT, &n, "token value (hops)" });
	bench_positive("p", p);
	bench_positive("n", n);
	gor_maxprocs((int)p);

	int64_t t0 = gor_now();
	done = gor_chan_make(sizeof(int64_t), 0);
	if (!done)
		bench_fail("gor_chan_make: %s", strerror(errno));
	for (int k = 1; k <= RING; k++)
		if (!(in[k] = gor_chan_make(sizeof(int64_t), 0)))
			bench_fail("gor_chan_make: %s", strerror(errno));
	for (int k = 1; k <= RING; k++)
		if (gor_go(member, (void *)(intptr_t)k) != 0)
			bench_fail("gor_go: %s", strerror(errno));
	int64_t token = n;
	if (gor_send(in[1], &token) != 0)
		bench_fail("send(in[1]): %s", strerror(errno));
	if (gor_recv(done, &id) != 1)
		bench_fail("recv(done) failed");
	int64_t el = gor_now() - t0;

	if (id != n % RING + 1)
		bench_fail("answer %lld, want %lld", (long long)id, n % RING + 1);
	printf("threadring/P%lld: %.2f ns/op hops=%lld total_ms=%.1f answer=%lld\n",
	       p, (double)el / (double)n, n, (double)el / 1e6, (long long)id);
	return 0;
}
