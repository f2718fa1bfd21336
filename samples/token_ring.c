/*
 * token_ring.c - coordination-heavy work: a token passed around a ring of
 * RING goroutines, HOPS times, with a little work at each hop.
 *
 * Only the goroutine holding the token can do anything: the job is
 * sequential by nature, however many goroutines share it. So the ring can
 * never beat a plain loop doing the same work; it only adds the cost of a
 * hand-off (a channel send and receive, a goroutine switch) per hop. On
 * one P a hand-off is a cheap switch on the same thread. With more Ps, an
 * idle P may come looking for work and take the next goroutine, so the
 * token crosses between cores and threads: each crossing costs a wake-up,
 * and the caches warmed on one core are cold on the other. More Ps make
 * this job slower, not faster. The lab measures by how much.
 */
#include "lab.h"

enum { RING = 1000, HOPS = 100000, WORK_US = 1, TIMES = 5 };

static gor_chan *links[RING]; /* goroutine i receives on links[i] */
static gor_waitgroup wg;
static gor_chan *finished;
static uint64_t result;

static void member(void *arg)
{
	int i = (int)(intptr_t)arg;
	gor_chan *in = links[i], *out = links[(i + 1) % RING];
	struct { long left; uint64_t acc; } tok;
	while (gor_recv(in, &tok) == 1) {
		if (tok.left == 0) { /* the last hop: give the result to main */
			gor_send(finished, &tok.acc);
			continue;
		}
		tok.acc = lab_work(WORK_US, tok.acc);
		tok.left--;
		gor_send(out, &tok);
	}
	gor_wg_done(&wg);
}

static void sequential(void)
{
	uint64_t acc = 1;
	for (long h = 0; h < HOPS; h++)
		acc = lab_work(WORK_US, acc);
	result = acc;
}

static void ring(void)
{
	finished = gor_chan_make(sizeof(uint64_t), 0);
	lab_check(finished != NULL, "out of memory");
	for (int i = 0; i < RING; i++) {
		links[i] = gor_chan_make(sizeof(struct { long left; uint64_t acc; }), 0);
		lab_check(links[i] != NULL, "out of memory");
	}
	gor_wg_add(&wg, RING);
	gor_attr small = {.stack_size = 8192, .name = NULL}; /* shallow calls: a small stack will do */
	for (int i = 0; i < RING; i++)
		lab_check(gor_go_attr(&small, member, (void *)(intptr_t)i) == 0, "gor_go failed");
	struct { long left; uint64_t acc; } tok = {HOPS, 1};
	gor_send(links[0], &tok);
	gor_recv(finished, &result);
	for (int i = 0; i < RING; i++) /* every member waits to receive: let them go */
		gor_close(links[i]);
	gor_wg_wait(&wg);
	for (int i = 0; i < RING; i++)
		gor_chan_free(links[i]);
	gor_chan_free(finished);
}

static uint64_t want;

static void check(const struct lab_way *w)
{
	if (want == 0)
		want = result;
	lab_check(result == want && result != 0, "%s: the token came back with the wrong value", w->name);
	result = 0;
}

int main(int argc, char **argv)
{
	struct lab_way ways[] = {{"a loop", sequential, 0}, {"a ring", ring, 0}};
	if (lab_conc_only(argc, argv)) {
		ring(); /* it returns only once the token made its HOPS hops */
		lab_check(result != 0, "the token came back empty");
		return 0;
	}
	int procs = gor_maxprocs(0);
	printf("token_ring: %d goroutines, %d hops, ~%d us of work a hop, MAXPROCS=%d, fastest of %d runs\n", RING,
	       HOPS, WORK_US, procs, TIMES);
	lab_race(ways, 2, TIMES, check);
	printf("  a loop doing the same work: %7.1f ms\n", ways[0].ms);
	printf("  the ring:                   %7.1f ms  (%.2f us a hop)\n", ways[1].ms, ways[1].ms * 1000 / HOPS);
	double s = lab_result("token_ring", ways[0].ms, ways[1].ms);
	printf("verdict: %.2fx on %d P%s: only the token holder works; %s\n", s, procs, procs == 1 ? "" : "s",
	       procs == 1 ? "every hand-off is a switch on one thread"
			  : "compare with MAXPROCS=1: hand-offs between cores cost more than the extra cores give");
	return 0;
}
