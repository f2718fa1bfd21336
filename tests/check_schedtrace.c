/*
 * check_schedtrace.c - GOR_DEBUG=schedtrace=MS and scheddetail=1 (Go's
 * SCHED lines on stderr), and GOR_STATS=PATH (gor_stats as JSON at exit).
 *
 * Each test runs a child with the variables set. The SCHED lines are
 * parsed field by field; their number is only bounded from below loosely
 * (a loaded machine may print fewer), and no value that depends on
 * timing is asserted beyond its range. The printer thread must not hide
 * a deadlock from checkdead, which counts the process's threads.
 */
#include "testutil.h"

#include <pthread.h>

#include <jansson.h>

static gor_waitgroup wg;

static void sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++)
		gor_sleep(10 * GOR_MILLISECOND);
	gor_wg_done(&wg);
}

static void yielder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		gor_yield();
	gor_wg_done(&wg);
}

/* At least 300 ms of goroutines sleeping and yielding. */
static int child_work(void *arg)
{
	(void)arg;
	gor_wg_add(&wg, 6);
	gor_attr a = {.name = "sleeper"};
	for (int i = 0; i < 4; i++)
		TU_CHILD_CHECK(gor_go_attr(&a, sleeper, NULL) == 0, "gor_go_attr");
	for (int i = 0; i < 2; i++)
		TU_CHILD_CHECK(gor_go(yielder, NULL) == 0, "gor_go");
	gor_wg_wait(&wg);
	gor_sleep(250 * GOR_MILLISECOND);
	exit(0);
}

/* Parses one SCHED line; false if it does not have Go's shape. */
static bool parse_sched(const char *line, long long *ms, int *procs, int *idle)
{
	int threads, spinning, idlethreads, runq, used = 0;
	if (sscanf(line, "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%d%n",
		   ms, procs, idle, &threads, &spinning, &idlethreads, &runq, &used) != 7)
		return false;
	return *procs > 0 && *idle >= 0 && *idle <= *procs && threads >= 1 && spinning >= 0 &&
	       idlethreads >= 0 && runq >= 0 && used > 0;
}

START_TEST(test_schedtrace)
{
	struct tu_child c;
	const char *env[] = {"GOR_DEBUG=schedtrace=10", "GOR_MAXPROCS=2", NULL};
	int64_t t0 = tu_now();
	tu_child_run(&c, child_work, NULL, env);
	int64_t ms = (tu_now() - t0) / 1000000;
	TU_ASSERT_CHILD_EXIT(&c, 0);
	int lines = 0;
	long long last = -1;
	for (char *line = c.err; (line = strstr(line, "SCHED ")) != NULL; line++) {
		long long at;
		int procs, idle;
		ck_assert_msg(parse_sched(line, &at, &procs, &idle), "bad SCHED line: %.120s", line);
		ck_assert_int_eq(procs, 2);
		ck_assert_msg(at >= last, "time went back: %lld after %lld", at, last);
		last = at;
		/* the per-P run queue lengths: "[n n]" */
		char *br = strchr(line, '['), *nl = strchr(line, '\n');
		ck_assert_msg(br && nl && br < nl && nl[-1] == ']', "no [queues] in %.120s", line);
		int a, b;
		ck_assert_int_eq(sscanf(br, "[%d %d]", &a, &b), 2);
		lines++;
	}
	/* loosely: a loaded machine may run the printer late, never not at all */
	ck_assert_msg(lines >= 2, "%d SCHED lines in %lld ms at 10 ms:\n%s", lines, (long long)ms, c.err);
	tu_child_free(&c);
}
END_TEST

START_TEST(test_scheddetail)
{
	struct tu_child c;
	const char *env[] = {"GOR_DEBUG=schedtrace=10,scheddetail=1", "GOR_MAXPROCS=2", NULL};
	tu_child_run(&c, child_work, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	TU_ASSERT_STDERR_HAS(&c, "SCHED ");
	TU_ASSERT_STDERR_HAS(&c, " gcwaiting=");
	TU_ASSERT_STDERR_HAS(&c, "\n  P0: status=");
	TU_ASSERT_STDERR_HAS(&c, "\n  P1: status=");
	TU_ASSERT_STDERR_HAS(&c, "\n  M0: p=");
	TU_ASSERT_STDERR_HAS(&c, "\n  G1: status=");
	TU_ASSERT_STDERR_HAS(&c, "(sleep) m=-1");
	tu_child_free(&c);
}
END_TEST

static int child_deadlock(void *arg)
{
	(void)arg;
	gor_chan *ch = gor_chan_make(sizeof(int), 0);
	gor_recv(ch, NULL); /* nobody will send */
	return 0;
}

START_TEST(test_schedtrace_keeps_deadlock_detection)
{
	struct tu_child c;
	const char *env[] = {"GOR_DEBUG=schedtrace=20", NULL};
	tu_child_run(&c, child_deadlock, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, "all goroutines are asleep - deadlock!");
	tu_child_free(&c);
}
END_TEST

static int child_quick(void *arg)
{
	(void)arg;
	gor_yield();
	exit(0);
}

START_TEST(test_debug_bad_values)
{
	struct tu_child c;
	const char *env[] = {"GOR_DEBUG=foo=1,schedtrace=abc,scheddetail=,bare", NULL};
	tu_child_run(&c, child_quick, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	TU_ASSERT_STDERR_HAS(&c, "ignoring GOR_DEBUG item schedtrace=abc");
	TU_ASSERT_STDERR_HAS(&c, "ignoring GOR_DEBUG item scheddetail=");
	ck_assert_msg(strstr(c.err, "foo") == NULL, "unknown items are ignored silently:\n%s", c.err);
	ck_assert_msg(strstr(c.err, "SCHED") == NULL, "no SCHED lines without a period");
	tu_child_free(&c);
}
END_TEST

static char statspath[64];

static void check_stats_file(const char *path, int procs, int created_at_least)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	ck_assert_msg(root != NULL, "GOR_STATS file is not JSON: %s", err.text);
	static const char *const keys[] = {
		"goroutines_created", "context_switches", "steals", "parks", "threads", "idle_procs",
		"netpoll_wakeups", "preemptions", "maxprocs", "goroutines",
	};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		ck_assert_msg(json_is_integer(json_object_get(root, keys[i])), "no integer %s", keys[i]);
	ck_assert_int_eq(json_integer_value(json_object_get(root, "maxprocs")), procs);
	ck_assert_int_ge(json_integer_value(json_object_get(root, "goroutines_created")), created_at_least);
	ck_assert_int_ge(json_integer_value(json_object_get(root, "threads")), 1);
	ck_assert_int_gt(json_integer_value(json_object_get(root, "context_switches")), 0);
	json_decref(root);
}

/* Runs fn in a child with GOR_STATS and MAXPROCS procs; checks the file. */
static void run_stats(tu_child_fn fn, int procs, int created_at_least)
{
	strcpy(statspath, "/tmp/gor-stats-XXXXXX");
	int fd = mkstemp(statspath);
	ck_assert_int_ge(fd, 0);
	close(fd);
	char envstats[96], envprocs[32];
	snprintf(envstats, sizeof envstats, "GOR_STATS=%s", statspath);
	snprintf(envprocs, sizeof envprocs, "GOR_MAXPROCS=%d", procs);
	const char *env[] = {envstats, envprocs, NULL};
	struct tu_child c;
	tu_child_run(&c, fn, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	check_stats_file(statspath, procs, created_at_least);
	unlink(statspath);
	tu_child_free(&c);
}

START_TEST(test_stats)
{
	run_stats(child_work, 2, 6);
}
END_TEST

static void *plain_exit(void *arg)
{
	(void)arg;
	usleep(20000);
	exit(0); /* from a thread the runtime has never seen */
}

static int child_foreign_exit(void *arg)
{
	(void)arg;
	gor_wg_add(&wg, 2);
	for (int i = 0; i < 2; i++)
		TU_CHILD_CHECK(gor_go(yielder, NULL) == 0, "gor_go");
	gor_wg_wait(&wg);
	pthread_t th;
	TU_CHILD_CHECK(pthread_create(&th, NULL, plain_exit, NULL) == 0, "pthread_create");
	/* Busy on its own stack until the exit (parked, main's pointers
	 * would be on a stack LeakSanitizer does not scan at exit). */
	tu_spin_ns(20 * 1000000000LL);
	return 3;
}

START_TEST(test_stats_exit_from_foreign_thread)
{
	run_stats(child_foreign_exit, 1, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("schedtrace");
	TCase *tc = tu_tcase(s, "schedtrace");
	tcase_add_test(tc, test_schedtrace);
	tcase_add_test(tc, test_scheddetail);
	tcase_add_test(tc, test_schedtrace_keeps_deadlock_detection);
	tcase_add_test(tc, test_debug_bad_values);
	tc = tu_tcase(s, "stats");
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_stats_exit_from_foreign_thread);
	return tu_srunner_run(s);
}
