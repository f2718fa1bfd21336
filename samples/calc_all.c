/*
 * calc_all.c - CPU-bound work: concurrency alone gains nothing,
 * parallelism gains up to one time per core.
 *
 * The job: TASKS calculations, each fib(N) by naive recursion, ROUNDS
 * times over. Sequentially, main does them one after another. Concurrently,
 * each task is a goroutine. With MAXPROCS=1 the goroutines take turns on
 * one thread (all are in progress, one runs at a time: concurrency), so
 * the job takes as long as the sequential one. With MAXPROCS=N they run
 * on N threads at the same instant (parallelism) and the job is up to N
 * times faster, if N cores are free.
 *
 * Each task yields between rounds, so that on one P the turns interleave
 * (A B C ... A B C ...) instead of running each task to the end; Go's
 * scheduler would preempt a long computation in the same way. Watch it:
 *   GOR_MAXPROCS=1 GOR_TRACE=t1.json build/samples/calc_all conc
 *   build/tools/gor-trace t1.json
 */
#include "lab.h"

enum { TASKS = 4, ROUNDS = 4, N = 31, TIMES = 5 };

static long results[TASKS];
static gor_waitgroup wg;

static __attribute__((noinline)) long fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void task(void *arg)
{
	long *result = arg;
	for (int r = 0; r < ROUNDS; r++) {
		*result = fib(N);
		gor_yield(); /* let the other tasks have a turn */
	}
	gor_wg_done(&wg);
}

static void sequential(void)
{
	for (int t = 0; t < TASKS; t++)
		for (int r = 0; r < ROUNDS; r++)
			results[t] = fib(N);
}

static void concurrent(void)
{
	gor_wg_add(&wg, TASKS);
	for (int t = 0; t < TASKS; t++)
		lab_check(gor_go(task, &results[t]) == 0, "gor_go failed");
	gor_wg_wait(&wg); /* parks main: it takes no CPU meanwhile */
}

static void check(const struct lab_way *w)
{
	long a = 0, b = 1; /* fib by iteration, to check the recursion */
	for (int i = 0; i < N; i++) {
		long c = a + b;
		a = b;
		b = c;
	}
	for (int t = 0; t < TASKS; t++)
		lab_check(results[t] == a, "%s: task %d: fib(%d) = %ld, want %ld", w->name, t, N, results[t], a);
	memset(results, 0, sizeof results);
}

int main(int argc, char **argv)
{
	struct lab_way ways[] = {{"sequential", sequential, 0}, {"goroutines", concurrent, 0}};
	if (lab_conc_only(argc, argv)) {
		concurrent();
		check(&ways[1]);
		return 0;
	}
	int procs = gor_maxprocs(0);
	printf("calc_all: %d tasks x %d rounds of fib(%d), MAXPROCS=%d, %d CPUs, fastest of %d runs\n", TASKS, ROUNDS,
	       N, procs, gor_numcpu(), TIMES);
	lab_race(ways, 2, TIMES, check);
	printf("  sequential, in main:       %7.1f ms\n", ways[0].ms);
	printf("  %d goroutines, MAXPROCS=%d: %7.1f ms\n", TASKS, procs, ways[1].ms);
	double s = lab_result("calc_all", ways[0].ms, ways[1].ms);
	if (procs == 1)
		printf("verdict: %.2fx on one P: CPU work only takes turns, concurrency alone does not speed it up\n", s);
	else
		printf("verdict: %.2fx on %d Ps (at best %d.00x, with %d free cores): CPU work gains from parallelism\n",
		       s, procs, procs < TASKS ? procs : TASKS, procs);
	return 0;
}
