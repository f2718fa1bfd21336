/*
 * pthread_util.h - for the pthread baselines: -p N means "the first N
 * CPUs of this process's affinity mask", the nearest thing plain threads
 * have to MAXPROCS. Also the monotonic clock, as gor_now reads it.
 */
#ifndef GOR_BENCH_PTHREAD_UTIL_H
#define GOR_BENCH_PTHREAD_UTIL_H

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "bench.h"

static inline int64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Restricts the whole process (threads made later inherit it) to the first
 * p CPUs it may use; with fewer than p it keeps them all and says so. */
static __attribute__((unused)) void bench_limit_cpus(long long p)
{
	cpu_set_t have, want;
	long long got = 0;

	if (sched_getaffinity(0, sizeof have, &have) != 0)
		bench_fail("sched_getaffinity: %s", strerror(errno));
	CPU_ZERO(&want);
	for (int c = 0; c < CPU_SETSIZE && got < p; c++)
		if (CPU_ISSET(c, &have)) {
			CPU_SET(c, &want);
			got++;
		}
	if (got < p)
		fprintf(stderr, "note: -p %lld but only %lld CPUs: using them all\n", p, got);
	if (sched_setaffinity(0, sizeof want, &want) != 0)
		bench_fail("sched_setaffinity: %s", strerror(errno));
}

#endif /* GOR_BENCH_PTHREAD_UTIL_H */
