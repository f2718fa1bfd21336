/*
 * pthread-pingpong: the pingpong workload on two plain threads, as the
 * baseline for channel handoffs. One mutex and two condition variables make
 * a rendezvous slot: main puts i in it and signals B, then waits for the
 * reply; B takes the value and hands it back. N round trips, two handoffs
 * each; a waiting thread sleeps in the kernel. Default N = 200,000, since a
 * trip costs microseconds. -p 1 pins both threads to one CPU, -p 2 lets
 * them use two.
 * Timed (CLOCK_MONOTONIC): from just before B is created until main's loop
 * ends. Figure: ns per round trip = elapsed / N. Check: sum == N(N-1)/2.
 */
#define _GNU_SOURCE
#include "pthread_util.h"

static long long n;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t to_b = PTHREAD_COND_INITIALIZER;
static pthread_cond_t to_a = PTHREAD_COND_INITIALIZER;
static int turn; /* 0: main's; 1: a value for B; 2: B's reply for main */
static int64_t slot;

static void *b_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (long long i = 0; i < n; i++) {
		while (turn != 1)
			pthread_cond_wait(&to_b, &mu);
		turn = 2; /* B's reply is the value it got, left in the slot */
		pthread_cond_signal(&to_a);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	long long p = 1;
	pthread_t b;
	int64_t sum = 0;

	n = 200000;
	BENCH_FLAGS(argc, argv,
		    { "p", BENCH_INT, &p, "CPUs the two threads may use" },
		    { "n", BENCH_INT, &n, "round trips" });
	bench_positive("p", p);
	bench_positive("n", n);
	bench_limit_cpus(p);

	int64_t t0 = bench_now();
	int e = pthread_create(&b, NULL, b_thread, NULL);
	if (e)
		bench_fail("pthread_create: %s", strerror(e));
	pthread_mutex_lock(&mu);
	for (int64_t i = 0; i < n; i++) {
		slot = i;
		turn = 1;
		pthread_cond_signal(&to_b);
		while (turn != 2)
			pthread_cond_wait(&to_a, &mu);
		sum += slot;
		turn = 0;
	}
	pthread_mutex_unlock(&mu);
	int64_t el = bench_now() - t0;
	pthread_join(b, NULL);

	if (sum != (int64_t)n * (n - 1) / 2)
		bench_fail("sum %lld, want %lld", (long long)sum, n * (n - 1) / 2);
	printf("pthread-pingpong/P%lld: %.2f ns/op roundtrips=%lld total_ms=%.1f\n",
	       p, (double)el / (double)n, n, (double)el / 1e6);
	return 0;
}
