/*
 * fib_demo.c - CPU-bound work gains from parallelism only.
 *
 * Eight goroutines each compute fib(32) by naive recursion. With
 * MAXPROCS=1 they take turns on one thread (concurrency: all eight are in
 * progress, one runs at a time); with MAXPROCS=N they run on N threads at
 * once (parallelism). The ratio of the wall times is the speedup.
 */
#include <stdio.h>
#include <stdlib.h>

#include "gor.h"

enum { TASKS = 8, N = 32 };

static gor_waitgroup wg;

static __attribute__((noinline)) long fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void worker(void *arg)
{
	long *result = arg;
	*result = fib(N);
	gor_wg_done(&wg);
}

/* Runs the eight goroutines at MAXPROCS=procs; returns wall ms. */
static double run(int procs)
{
	long results[TASKS];
	gor_maxprocs(procs);
	gor_wg_add(&wg, TASKS);
	int64_t t0 = gor_now();
	for (int i = 0; i < TASKS; i++)
		if (gor_go(worker, &results[i]) != 0) {
			perror("gor_go");
			exit(1);
		}
	gor_wg_wait(&wg); /* parks main: it uses no CPU meanwhile */
	double ms = (double)(gor_now() - t0) / GOR_MILLISECOND;
	for (int i = 0; i < TASKS; i++)
		if (results[i] != 2178309) {
			fprintf(stderr, "fib(%d) = %ld, want 2178309\n", N, results[i]);
			exit(1);
		}
	return ms;
}

int main(void)
{
	int ncpu = gor_numcpu();
	printf("gor demo: %d goroutines x fib(%d), %d CPUs\n", TASKS, N, ncpu);
	run(1); /* warm up: threads, stacks */
	double one = run(1);
	double all = run(ncpu);
	printf("  MAXPROCS=1: %7.1f ms   (concurrency: one thread takes turns)\n", one);
	printf("  MAXPROCS=%d: %7.1f ms   (parallelism: %d threads at once)\n", ncpu, all, ncpu);
	printf("  speedup:    %7.2fx  (ideal %d.00x)\n", one / all, ncpu);
	return 0;
}
