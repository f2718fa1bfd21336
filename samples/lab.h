/*
 * lab.h - what the lab's samples share: a clock, a unit of CPU work, a
 * fair best-of-N timer, a self-check, and the result line that `make demo`
 * (tools/gor-demo) reads.
 *
 * Every sample compares a sequential version of some job with a
 * concurrent one, in the same process, at whatever MAXPROCS it was
 * started with (GOR_MAXPROCS; default: every CPU). It prints its measured
 * numbers, a one-line verdict, and one machine-readable line:
 *
 *   lab: NAME procs=P seq_ms=S conc_ms=C speedup=X verdict=WORD
 *
 * speedup is S / C: above 1 the concurrent version finished sooner. The
 * verdict word is lab_verdict's, so every sample and the lab's decision
 * matrix use the same words for the same ranges.
 *
 * Started as `SAMPLE conc`, a sample runs its concurrent version once and
 * nothing else: that is what `gor-lab sweep -- build/samples/SAMPLE conc`
 * and the lab's traces want.
 *
 * A sample checks its own result (the sum, the signatures, the replies)
 * after every run, and exits 1 when it is wrong. It never fails on
 * timing: the machine may be shared and slow; it then says what it
 * measured.
 */
#ifndef GOR_LAB_H
#define GOR_LAB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gor.h"

/* Milliseconds on gor's monotonic clock. */
static inline double lab_ms(void)
{
	return (double)gor_now() / GOR_MILLISECOND;
}

/* About 1 µs of CPU work on a 2.6 GHz x86-64 core (1.65 ns an
 * iteration): a chain of multiplies the compiler cannot shorten. The work
 * is fixed, not the time, so that two goroutines sharing one core take
 * twice as long, as real work does. Stands in for hashing, signing,
 * grinding coffee: anything that keeps a CPU busy. */
enum { LAB_ITERS_PER_US = 600 };

static __attribute__((noinline, unused)) uint64_t lab_work(uint64_t us, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (uint64_t i = 0; i < us * LAB_ITERS_PER_US; i++) {
		x ^= x >> 31;
		x *= 0x9e3779b97f4a7c15ull;
		x ^= i;
	}
	/* an opaque use: without it the compiler, seeing a pure function,
	 * deletes calls whose result is ignored (the chef's steps) */
	__asm__ volatile("" : : "r"(x) : "memory");
	return x;
}

/* A wrong result ends the sample with status 1. */
static __attribute__((format(printf, 2, 3), unused)) void lab_check(bool ok, const char *fmt, ...)
{
	if (ok)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "WRONG RESULT: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* One way of doing a sample's job; ms is filled in by lab_race. */
struct lab_way {
	const char *name;
	void (*run)(void);
	double ms;
};

/* Runs each of the n ways `times` times, taking turns (1 2 3 1 2 3 ...),
 * calls check after each run, and keeps each way's fastest time. Taking
 * turns spreads a burst of load from other programs over all the ways;
 * the fastest run is the one the machine disturbed least. */
static __attribute__((unused)) void lab_race(struct lab_way *w, int n, int times,
					     void (*check)(const struct lab_way *))
{
	for (int r = 0; r < times; r++)
		for (int i = 0; i < n; i++) {
			double t0 = lab_ms();
			w[i].run();
			double t = lab_ms() - t0;
			check(&w[i]);
			if (r == 0 || t < w[i].ms)
				w[i].ms = t;
		}
}

/* The results of a sample's first run (its sequential way, which runs
 * first), against which every later run is checked. */
struct lab_ref {
	uint64_t *want;
	size_t n;
	bool have;
};

/* Checks got[0..n) against the first run's, then zeroes it for the next
 * run. `what` names one result in the message ("order", "message"). */
static __attribute__((unused)) void lab_check_ref(struct lab_ref *ref, const struct lab_way *w, uint64_t *got,
						  const char *what)
{
	if (!ref->have) {
		memcpy(ref->want, got, ref->n * sizeof *got);
		ref->have = true;
	}
	for (size_t i = 0; i < ref->n; i++)
		lab_check(got[i] == ref->want[i], "%s: %s %zu: wrong result", w->name, what, i);
	memset(got, 0, ref->n * sizeof *got);
}

/* "faster", "same" or "slower": within 20% counts as the same. */
static inline const char *lab_verdict(double speedup)
{
	return speedup >= 1.2 ? "faster" : speedup > 0.83 ? "same" : "slower";
}

/* True if the sample was started as `SAMPLE conc`; exits 2 on any
 * other argument. */
static __attribute__((unused)) bool lab_conc_only(int argc, char **argv)
{
	if (argc == 1)
		return false;
	if (argc == 2 && strcmp(argv[1], "conc") == 0)
		return true;
	fprintf(stderr, "usage: %s [conc]\n  conc: run the concurrent version once, nothing else\n", argv[0]);
	exit(2);
}

/* Prints the machine-readable line and returns the speedup. */
static __attribute__((unused)) double lab_result(const char *name, double seq_ms, double conc_ms)
{
	double speedup = seq_ms / conc_ms;
	printf("lab: %s procs=%d seq_ms=%.1f conc_ms=%.1f speedup=%.2f verdict=%s\n", name, gor_maxprocs(0),
	       seq_ms, conc_ms, speedup, lab_verdict(speedup));
	return speedup;
}

#endif /* GOR_LAB_H */
