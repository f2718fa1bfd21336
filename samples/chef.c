/*
 * chef.c - one chef, three dishes: waiting interleaved on one P.
 *
 * Most of cooking is waiting: for water to boil, a sauce to simmer, an
 * oven. A chef who stands by each pot until it is done cooks the dishes
 * one after another (sequential). A chef who starts the pasta water, then
 * chops onions for the sauce while it heats, then puts the roast in,
 * cooks all three at once (concurrent) - and is still one chef: one P,
 * one thread, doing one thing at a time. Each dish is a goroutine; each
 * wait is a gor_sleep, which parks the goroutine (the pot cooks on its
 * own) and lets the chef turn to another dish. The log below shows the
 * turns. A second chef (MAXPROCS=2) would hardly help: there is almost no
 * work to share, only waiting.
 */
#include "lab.h"

enum { STEPS = 3, LOGMAX = 3 * STEPS };

struct step {
	const char *what;
	int work_us; /* the chef busy (CPU) */
	int wait_ms; /* the pot busy, the chef free */
};

struct dish {
	const char *name;
	struct step steps[STEPS];
};

static const struct dish dishes[3] = {
	{"pasta", {{"boil the water", 200, 50}, {"cook the pasta", 300, 40}, {"drain and plate", 1000, 0}}},
	{"sauce", {{"chop the onions", 2000, 0}, {"simmer", 500, 80}, {"season and plate", 1000, 0}}},
	{"roast", {{"season the meat", 1500, 0}, {"roast", 200, 90}, {"carve and plate", 1500, 0}}},
};

struct entry {
	double at; /* ms since the start */
	int dish, step;
};

static struct entry cooklog[LOGMAX], shown[LOGMAX];
static int nlog;
static double t0;
static gor_mutex loglock;
static gor_waitgroup wg;

static void cook(int d)
{
	for (int s = 0; s < STEPS; s++) {
		const struct step *st = &dishes[d].steps[s];
		gor_mutex_lock(&loglock);
		lab_check(nlog < LOGMAX, "the log is full");
		cooklog[nlog++] = (struct entry){lab_ms() - t0, d, s};
		gor_mutex_unlock(&loglock);
		lab_work((uint64_t)st->work_us, (uint64_t)s);
		gor_sleep(st->wait_ms * GOR_MILLISECOND);
	}
}

static void sequential(void)
{
	t0 = lab_ms();
	for (int d = 0; d < 3; d++)
		cook(d);
}

static void dish(void *arg)
{
	cook((int)(intptr_t)arg);
	gor_wg_done(&wg);
}

static void concurrent(void)
{
	t0 = lab_ms();
	gor_wg_add(&wg, 3);
	for (int d = 0; d < 3; d++)
		lab_check(gor_go(dish, (void *)(intptr_t)d) == 0, "gor_go failed");
	gor_wg_wait(&wg);
}

/* Every step of every dish was done once, in its dish's order. */
static void check(const struct lab_way *w)
{
	int next[3] = {0, 0, 0};
	for (int i = 0; i < nlog; i++) {
		const struct entry *e = &cooklog[i];
		lab_check(e->step == next[e->dish], "%s: %s: step %d out of order", w->name, dishes[e->dish].name,
			  e->step);
		next[e->dish]++;
	}
	for (int d = 0; d < 3; d++)
		lab_check(next[d] == STEPS, "%s: %s is not finished", w->name, dishes[d].name);
	if (w->run == concurrent)
		memcpy(shown, cooklog, sizeof shown);
	nlog = 0;
}

int main(int argc, char **argv)
{
	struct lab_way ways[] = {{"one dish at a time", sequential, 0}, {"all three at once", concurrent, 0}};
	if (lab_conc_only(argc, argv)) {
		concurrent();
		check(&ways[1]);
		return 0;
	}
	int procs = gor_maxprocs(0);
	printf("chef: three dishes, MAXPROCS=%d; the chef's turns, all three at once:\n", procs);
	lab_race(ways, 2, 2, check);
	for (int i = 0; i < LOGMAX; i++) {
		const struct step *st = &dishes[shown[i].dish].steps[shown[i].step];
		printf("  %6.1f ms  %s: %-17s", shown[i].at, dishes[shown[i].dish].name, st->what);
		if (st->wait_ms)
			printf(" then waits %d ms\n", st->wait_ms);
		else
			printf("\n");
	}
	printf("  one dish at a time: %6.1f ms\n", ways[0].ms);
	printf("  all three at once:  %6.1f ms\n", ways[1].ms);
	double s = lab_result("chef", ways[0].ms, ways[1].ms);
	printf("verdict: %.2fx on %d P%s: the waits overlap, so one chef cooks three dishes in about the time of "
	       "the longest\n", s, procs, procs == 1 ? "" : "s");
	return 0;
}
