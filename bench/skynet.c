/*
 * skynet (github.com/atemerev/skynet, the Go version's algorithm):
 * skynet(c, num, size, div): if size == 1, send num on c; otherwise make an
 * unbuffered channel rc, spawn div children skynet(rc, num + i*(size/div),
 * size/div, div), receive div values from rc, and send their sum on c.
 * The root skynet(c, 0, 1000000, 10) is spawned from main, which receives
 * the result: 1,111,111 goroutines. A parent passes each child its arguments
 * in an array on its own stack (it outlives them, as it waits for all div
 * sums), and a child copies them first, as Go copies a go statement's args.
 * rc is never freed: when its last value arrives, that child's gor_send may
 * still be returning, and a channel may be freed only when no call on it is
 * in progress (Go's GC frees it some time later). So peak_rss_kb includes
 * 111,111 small channels.
 * Timed (gor_now): from just before spawning the root until the result
 * arrives. Figures: total ms, ns/op = elapsed / 1,111,111, peak_rss_kb.
 * Check: result == 499999500000.
 */
#include "bench.h"
#include "gor.h"

#define DIV 10

struct sky {
	gor_chan *c;
	int64_t num, size, div;
};

static void skynet(void *arg)
{
	struct sky a = *(struct sky *)arg;

	if (a.size == 1) {
		if (gor_send(a.c, &a.num) != 0)
			bench_fail("leaf send: %s", strerror(errno));
		return;
	}
	gor_chan *rc = gor_chan_make(sizeof(int64_t), 0);
	struct sky kids[DIV];
	int64_t sum = 0, v;

	if (!rc)
		bench_fail("gor_chan_make: %s", strerror(errno));
	if (a.div > DIV)
		bench_fail("div %lld > %d", (long long)a.div, DIV);
	for (int64_t i = 0; i < a.div; i++) {
		kids[i] = (struct sky){ rc, a.num + i * (a.size / a.div), a.size / a.div, a.div };
		if (gor_go(skynet, &kids[i]) != 0)
			bench_fail("gor_go: %s", strerror(errno));
	}
	for (int64_t i = 0; i < a.div; i++) {
		if (gor_recv(rc, &v) != 1)
			bench_fail("recv failed");
		sum += v;
	}
	if (gor_send(a.c, &sum) != 0)
		bench_fail("send: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	long long p = 1;
	int64_t result;

	BENCH_FLAGS(argc, argv, { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" });
	bench_positive("p", p);
	gor_maxprocs((int)p);

	gor_chan *c = gor_chan_make(sizeof(int64_t), 0);
	if (!c)
		bench_fail("gor_chan_make: %s", strerror(errno));
	struct sky root = { c, 0, 1000000, DIV };
	int64_t t0 = gor_now();
	if (gor_go(skynet, &root) != 0)
		bench_fail("gor_go: %s", strerror(errno));
	if (gor_recv(c, &result) != 1)
		bench_fail("recv(result) failed");
	int64_t el = gor_now() - t0;

	if (result != 499999500000LL)
		bench_fail("bad result %lld, want 499999500000", (long long)result);
	printf("skynet/P%lld: %.2f ns/op total_ms=%.1f result=%lld goroutines=1111111 peak_rss_kb=%lld\n",
	       p, (double)el / 1111111, (double)el / 1e6, (long long)result,
	       bench_proc_kb("VmHWM"));
	return 0;
}
