/*
 * coffee_shop.c - a mixed workload (mostly waiting, some CPU) served four
 * ways.
 *
 * Each order is four steps: grind the beans (CPU work), brew (waiting for
 * the espresso machine: a sleep), steam the milk (waiting again), pour
 * (a little CPU). The shop serves ORDERS orders:
 *   1. one barista, one order after another (sequential);
 *   2. a goroutine per order: every order in progress at once;
 *   3. a bounded pool of BARISTAS goroutines taking orders from a channel;
 *   4. a pipeline: two grinder goroutines hand ground coffee over a
 *      channel to MACHINES brewer goroutines, which brew, steam and pour.
 * Waiting overlaps on any number of Ps: that is what concurrency buys,
 * even on one core. The grinding (CPU) overlaps only on several Ps: that
 * is what parallelism adds. The pool and the pipeline are bounded: they
 * serve at the pace of their slowest part (BARISTAS at a time, or
 * MACHINES brews at a time), which is the price of not starting one
 * goroutine per order, and what keeps a real shop from being swamped.
 */
#include "lab.h"

enum {
	ORDERS = 12,
	GRIND_US = 4000, BREW_MS = 12, STEAM_MS = 6, POUR_US = 1000,
	BARISTAS = 3, GRINDERS = 2, MACHINES = 3,
};

static uint64_t cups[ORDERS]; /* what each order got: checked at the end */
static gor_waitgroup wg;

static uint64_t grind(int order)
{
	return lab_work(GRIND_US, (uint64_t)order);
}

/* brew, steam, pour: the rest of an order, once ground */
static void finish(int order, uint64_t ground)
{
	gor_sleep(BREW_MS * GOR_MILLISECOND);
	gor_sleep(STEAM_MS * GOR_MILLISECOND);
	cups[order] = lab_work(POUR_US, ground);
}

static void one_barista(void)
{
	for (int i = 0; i < ORDERS; i++)
		finish(i, grind(i));
}

static void order(void *arg)
{
	int i = (int)(intptr_t)arg;
	finish(i, grind(i));
	gor_wg_done(&wg);
}

static void goroutine_per_order(void)
{
	gor_wg_add(&wg, ORDERS);
	for (int i = 0; i < ORDERS; i++)
		lab_check(gor_go(order, (void *)(intptr_t)i) == 0, "gor_go failed");
	gor_wg_wait(&wg);
}

/* A pool, or one stage of the pipeline: goroutines that take work from
 * `in` until it is closed, and pass what they make to `out`. */
struct stage {
	gor_chan *in, *out;
	gor_waitgroup done;
};

struct ground {
	int order;
	uint64_t coffee;
};

static void barista(void *arg)
{
	struct stage *st = arg;
	int i;
	while (gor_recv(st->in, &i) == 1)
		finish(i, grind(i));
	gor_wg_done(&st->done);
}

static void grinder(void *arg)
{
	struct stage *st = arg;
	int i;
	while (gor_recv(st->in, &i) == 1) {
		struct ground g = {i, grind(i)};
		gor_send(st->out, &g);
	}
	gor_wg_done(&st->done);
}

static void brewer(void *arg)
{
	struct stage *st = arg;
	struct ground g;
	while (gor_recv(st->in, &g) == 1)
		finish(g.order, g.coffee);
	gor_wg_done(&st->done);
}

static void start(struct stage *st, int n, void (*fn)(void *))
{
	gor_wg_add(&st->done, n);
	for (int i = 0; i < n; i++)
		lab_check(gor_go(fn, st) == 0, "gor_go failed");
}

/* The orders are all known up front: they fit in the channel's buffer. */
static gor_chan *take_orders(void)
{
	gor_chan *c = gor_chan_make(sizeof(int), ORDERS);
	lab_check(c != NULL, "out of memory");
	for (int i = 0; i < ORDERS; i++)
		gor_send(c, &i);
	gor_close(c);
	return c;
}

static void pool(void)
{
	struct stage baristas = {take_orders(), NULL, {0}};
	start(&baristas, BARISTAS, barista);
	gor_wg_wait(&baristas.done);
	gor_chan_free(baristas.in);
}

static void pipeline(void)
{
	gor_chan *grounds = gor_chan_make(sizeof(struct ground), 0);
	lab_check(grounds != NULL, "out of memory");
	struct stage grinding = {take_orders(), grounds, {0}};
	struct stage brewing = {grounds, NULL, {0}};
	start(&grinding, GRINDERS, grinder);
	start(&brewing, MACHINES, brewer);
	gor_wg_wait(&grinding.done); /* all ground: tell the brewers */
	gor_close(grounds);
	gor_wg_wait(&brewing.done);
	gor_chan_free(grinding.in);
	gor_chan_free(grounds);
}

static uint64_t want[ORDERS];
static struct lab_ref ref = {want, ORDERS, false};

static void check(const struct lab_way *w)
{
	lab_check_ref(&ref, w, cups, "order");
}

int main(int argc, char **argv)
{
	struct lab_way ways[] = {
		{"one barista", one_barista, 0},
		{"a goroutine per order", goroutine_per_order, 0},
		{"a pool", pool, 0},
		{"a pipeline", pipeline, 0},
	};
	if (lab_conc_only(argc, argv)) {
		goroutine_per_order();
		for (int i = 0; i < ORDERS; i += ORDERS - 1) /* spot checks: the first and last cups */
			lab_check(cups[i] == lab_work(POUR_US, grind(i)), "order %d got the wrong cup", i);
		return 0;
	}
	int procs = gor_maxprocs(0);
	printf("coffee_shop: %d orders; each: grind %d ms CPU, brew %d ms + steam %d ms waiting, pour %d ms CPU; "
	       "MAXPROCS=%d\n", ORDERS, GRIND_US / 1000, BREW_MS, STEAM_MS, POUR_US / 1000, procs);
	lab_race(ways, 4, 2, check);
	double seq = ways[0].ms;
	printf("  one barista, order after order:    %6.1f ms\n", seq);
	printf("  a goroutine per order (%2d):        %6.1f ms  %5.2fx\n", ORDERS, ways[1].ms, seq / ways[1].ms);
	printf("  a pool of %d baristas:              %6.1f ms  %5.2fx\n", BARISTAS, ways[2].ms, seq / ways[2].ms);
	printf("  pipeline, %d grinders, %d machines: %6.1f ms  %5.2fx\n", GRINDERS, MACHINES, ways[3].ms,
	       seq / ways[3].ms);
	double s = lab_result("coffee_shop", seq, ways[1].ms);
	printf("verdict: %.2fx with a goroutine per order on %d P%s: the waits overlap on any P count%s\n", s, procs,
	       procs == 1 ? "" : "s",
	       procs == 1 ? "; the grinding takes turns on one core" : ", the grinding also on several cores");
	return 0;
}
