/*
 * sum.c - summing 10 million numbers: sequentially, or in two halves on
 * two goroutines.
 *
 * Splitting a job in halves is concurrency (two independent parts); it
 * becomes parallelism only when two cores run the halves at the same
 * time. On one P the halves take turns and the split gains nothing. On
 * two Ps it gains up to 2x: less when memory, not the CPU, sets the pace
 * (summing is light work), or when other programs hold a core. Starting
 * and waiting for two goroutines costs microseconds, nothing beside
 * milliseconds of adding. Measure it, do not assume it.
 */
#include "lab.h"

enum { COUNT = 10 * 1000 * 1000, TIMES = 7 };

static uint32_t *numbers;

struct half {
	const uint32_t *from;
	size_t n;
	uint64_t sum;
	gor_waitgroup *wg;
};

/* Not inlined, so that both versions run the same machine code: inlined
 * with a constant count, the compiler vectorizes the sequential loop
 * only, and the comparison would measure the compiler. */
static __attribute__((noinline)) uint64_t add(const uint32_t *a, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i];
	return s;
}

static void half(void *arg)
{
	struct half *h = arg;
	h->sum = add(h->from, h->n);
	gor_wg_done(h->wg);
}

static uint64_t total;

static void sequential(void)
{
	total = add(numbers, COUNT);
}

static void halves(void)
{
	gor_waitgroup wg = {0};
	struct half h[2] = {
		{numbers, COUNT / 2, 0, &wg},
		{numbers + COUNT / 2, COUNT - COUNT / 2, 0, &wg},
	};
	gor_wg_add(&wg, 2);
	for (int i = 0; i < 2; i++)
		lab_check(gor_go(half, &h[i]) == 0, "gor_go failed");
	gor_wg_wait(&wg);
	total = h[0].sum + h[1].sum;
}

static void check(const struct lab_way *w)
{
	uint64_t want = (uint64_t)COUNT * (COUNT - 1) / 2; /* 0 + 1 + ... + COUNT-1 */
	lab_check(total == want, "%s: sum = %llu, want %llu", w->name, (unsigned long long)total,
		  (unsigned long long)want);
	total = 0;
}

int main(int argc, char **argv)
{
	struct lab_way ways[] = {{"sequential", sequential, 0}, {"halves", halves, 0}};
	bool conc_only = lab_conc_only(argc, argv);
	numbers = malloc(COUNT * sizeof *numbers);
	lab_check(numbers != NULL, "out of memory");
	for (uint32_t i = 0; i < COUNT; i++) /* also maps every page before timing */
		numbers[i] = i;
	if (conc_only) {
		halves();
		check(&ways[1]);
		free(numbers);
		return 0;
	}
	int procs = gor_maxprocs(0);
	printf("sum: %d numbers, MAXPROCS=%d, fastest of %d runs\n", COUNT, procs, TIMES);
	lab_race(ways, 2, TIMES, check);
	printf("  sequential:               %6.2f ms\n", ways[0].ms);
	printf("  two halves, 2 goroutines: %6.2f ms\n", ways[1].ms);
	double s = lab_result("sum", ways[0].ms, ways[1].ms);
	printf("verdict: %.2fx with halves on %d P%s: %s\n", s, procs, procs == 1 ? "" : "s",
	       procs == 1 ? "on one P the halves take turns; splitting alone gains nothing"
	       : s >= 1.2 ? "the halves ran at the same time on two cores"
			  : "the halves could run at once, but memory or a busy machine held them back");
	free(numbers);
	return 0;
}
