/*
 * signing.c - "sign 1,000 messages with 1,000 goroutines" versus "with one
 * worker per CPU": CPU-bound work does not go faster with more goroutines
 * than cores.
 *
 * Signing stands for any CPU-heavy step: here a hash loop of about
 * SIGN_US µs per message. Three ways:
 *   1. sequentially, in main;
 *   2. one goroutine per message (MESSAGES goroutines);
 *   3. gor_numcpu() worker goroutines taking message numbers from a
 *      channel.
 * Both concurrent ways keep every P busy, so both take about the
 * sequential time divided by the number of Ps (and cores) that really
 * run. The 1,000 goroutines cost a little more (creating them, switching
 * between them) and gain nothing: a core runs one goroutine at a time, and
 * there are only so many cores. Goroutines are cheap, not free.
 */
#include "lab.h"

enum { MESSAGES = 1000, SIGN_US = 150, TIMES = 3 };

static uint64_t signatures[MESSAGES];
static gor_waitgroup wg;
static gor_chan *queue;

static uint64_t sign(int msg)
{
	return lab_work(SIGN_US, (uint64_t)msg * 0x100000001b3ull);
}

static void sequential(void)
{
	for (int i = 0; i < MESSAGES; i++)
		signatures[i] = sign(i);
}

static void signer(void *arg)
{
	int i = (int)(intptr_t)arg;
	signatures[i] = sign(i);
	gor_wg_done(&wg);
}

static void goroutine_per_message(void)
{
	gor_wg_add(&wg, MESSAGES);
	for (int i = 0; i < MESSAGES; i++)
		lab_check(gor_go(signer, (void *)(intptr_t)i) == 0, "gor_go failed");
	gor_wg_wait(&wg);
}

static void worker(void *arg)
{
	(void)arg;
	int i;
	while (gor_recv(queue, &i) == 1)
		signatures[i] = sign(i);
	gor_wg_done(&wg);
}

static void workers(void)
{
	int n = gor_numcpu();
	queue = gor_chan_make(sizeof(int), MESSAGES);
	lab_check(queue != NULL, "out of memory");
	for (int i = 0; i < MESSAGES; i++)
		gor_send(queue, &i);
	gor_close(queue);
	gor_wg_add(&wg, n);
	for (int w = 0; w < n; w++)
		lab_check(gor_go(worker, NULL) == 0, "gor_go failed");
	gor_wg_wait(&wg);
	gor_chan_free(queue);
}

static uint64_t want[MESSAGES];
static struct lab_ref ref = {want, MESSAGES, false};

static void check(const struct lab_way *w)
{
	lab_check_ref(&ref, w, signatures, "message");
}

int main(int argc, char **argv)
{
	struct lab_way ways[] = {
		{"sequential", sequential, 0},
		{"a goroutine per message", goroutine_per_message, 0},
		{"NumCPU workers", workers, 0},
	};
	if (lab_conc_only(argc, argv)) {
		goroutine_per_message();
		for (int i = 0; i < MESSAGES; i += 97) /* spot checks */
			lab_check(signatures[i] == sign(i), "message %d has a wrong signature", i);
		return 0;
	}
	int procs = gor_maxprocs(0), ncpu = gor_numcpu();
	printf("signing: %d messages, ~%d us of hashing each, MAXPROCS=%d, %d CPUs, fastest of %d runs\n", MESSAGES,
	       SIGN_US, procs, ncpu, TIMES);
	lab_race(ways, 3, TIMES, check);
	double seq = ways[0].ms, many = ways[1].ms, few = ways[2].ms;
	printf("  sequential:                 %7.1f ms\n", seq);
	printf("  %d goroutines, one each:  %7.1f ms  %5.2fx\n", MESSAGES, many, seq / many);
	printf("  %d workers (NumCPU):         %7.1f ms  %5.2fx\n", ncpu, few, seq / few);
	lab_result("signing", seq, many);
	double ratio = many / few;
	printf("verdict: %d goroutines took %.2f times as long as %d workers: %s\n", MESSAGES, ratio, ncpu,
	       ratio > 1.2   ? "the many goroutines lost; more goroutines than cores does not make CPU work faster"
	       : ratio < 0.83 ? "the many goroutines won this run (a noisy machine?); rerun before believing it"
			      : "about equal; more goroutines than cores does not make CPU work faster");
	return 0;
}
