/*
 * check_fatal.c - the runtime's fatal reports, each in a child process
 * whose stderr and exit status are checked: a goroutine that overflows
 * its stack ("gor: fatal error: stack overflow", naming the goroutine,
 * exit 2, never a bare SIGSEGV), the main goroutine overflowing its
 * thread's own stack (it must die, not hang), and SIGQUIT (a dump of every
 * goroutine with its wait reason, exit 2).
 *
 *   make lib build/tests/check_fatal && build/tests/check_fatal
 */
#include "testutil.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif
#ifndef HAVE_VALGRIND_H
#define VALGRIND_DISABLE_ERROR_REPORTING ((void)0)
#endif

/* ---- stack overflow ------------------------------------------------------- */

/* Unbounded recursion that the compiler can neither turn into a loop nor
 * prove unbounded: a volatile array per frame, and a limit it cannot see
 * through that is never reached. */
static volatile int overflow_limit = 1 << 30;

static TU_NOINLINE int recurse(int n)
{
	volatile char buf[1024];
	buf[0] = (char)n;
	buf[sizeof buf - 1] = (char)n;
	if (n >= overflow_limit)
		return buf[0];
	return recurse(n + 1) + buf[sizeof buf - 1];
}

static void overflow_goroutine(void *arg)
{
	(void)arg;
	fprintf(stderr, "victim %" PRIu64 "\n", gor_self());
	gor_yield();
	recurse(0);
	fprintf(stderr, "recursion returned\n");
}

struct overflow_cfg {
	const char *name;  /* NULL: plain gor_go */
	size_t stack_size;
};

static int overflow_child(void *arg)
{
	const struct overflow_cfg *cfg = arg;
	int rc;
	if (cfg->name || cfg->stack_size) {
		gor_attr a = {.stack_size = cfg->stack_size, .name = cfg->name};
		rc = gor_go_attr(&a, overflow_goroutine, NULL);
	} else {
		rc = gor_go(overflow_goroutine, NULL);
	}
	TU_CHILD_CHECK(rc == 0, "gor_go: %s", strerror(errno));
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (tu_now() < dl)
		gor_sleep(10 * GOR_MILLISECOND);
	fprintf(stderr, "main: still alive after %d s\n", TU_WAIT_S);
	return 9;
}

/* Checks a child that overflowed a goroutine's stack: exit 2, the fatal
 * message, and the goroutine named by the id it printed (and its name). */
static void check_overflow_report(struct tu_child *c, const char *name)
{
	TU_ASSERT_CHILD_EXIT(c, 2);
	const char *fatal = strstr(c->err, "gor: fatal error: stack overflow");
	ck_assert_msg(fatal != NULL, "no \"gor: fatal error: stack overflow\"; stderr:\n%s", c->err);
	const char *v = strstr(c->err, "victim ");
	ck_assert_msg(v != NULL, "the victim never ran; stderr:\n%s", c->err);
	uint64_t id = strtoull(v + strlen("victim "), NULL, 10);
	ck_assert_msg(id > 1, "victim id %" PRIu64, id);
	char want[128];
	if (name)
		snprintf(want, sizeof want, "goroutine %" PRIu64 " \"%s\"", id, name);
	else
		snprintf(want, sizeof want, "goroutine %" PRIu64, id);
	/* named in the report: "goroutine <id>" not followed by a digit */
	bool named = false;
	for (const char *p = strstr(fatal, want); p; p = strstr(p + 1, want)) {
		char next = p[strlen(want)];
		if (next < '0' || next > '9') {
			named = true;
			break;
		}
	}
	ck_assert_msg(named, "the report does not name \"%s\"; stderr:\n%s", want, c->err);
	ck_assert_msg(strstr(c->err, "recursion returned") == NULL, "the recursion returned?");
}

START_TEST(test_overflow_default_stack)
{
	static const struct overflow_cfg cfg = {NULL, 0};
	const char *env[] = {"GOR_MAXPROCS=2", NULL};
	struct tu_child c;
	tu_child_run(&c, overflow_child, (void *)&cfg, env);
	check_overflow_report(&c, NULL);
	tu_child_free(&c);
}
END_TEST

START_TEST(test_overflow_named)
{
	/* a non-default size class, named, with MAXPROCS=1 so that it runs
	 * on main's own thread (which runs goroutines while main sleeps) */
	static const struct overflow_cfg cfg = {"deep", 128 * 1024};
	const char *env[] = {"GOR_MAXPROCS=1", NULL};
	struct tu_child c;
	tu_child_run(&c, overflow_child, (void *)&cfg, env);
	check_overflow_report(&c, "deep");
	tu_child_free(&c);
}
END_TEST

START_TEST(test_overflow_named_1mib)
{
	static const struct overflow_cfg cfg = {"deep", 1 << 20};
	const char *env[] = {"GOR_MAXPROCS=2", NULL};
	struct tu_child c;
	tu_child_run(&c, overflow_child, (void *)&cfg, env);
	check_overflow_report(&c, "deep");
	tu_child_free(&c);
}
END_TEST

/* A small stack (no guard page of its own): 2 KiB, or under a sanitizer,
 * whose own frames are larger, the largest small size. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TINY_STACK (16 * 1024)
#else
#define TINY_STACK 2048
#endif

/* Too small for stdio. */
static void say(const char *s, size_t n)
{
	if (write(2, s, n) < 0)
		return; /* the parent then reports the line missing */
}

static void announce_victim(void)
{
	char line[32] = "victim ", digits[24];
	size_t n = 0, len = strlen(line);
	for (uint64_t id = gor_self(); n == 0 || id > 0; id /= 10)
		digits[n++] = (char)('0' + id % 10);
	while (n > 0)
		line[len++] = digits[--n];
	line[len++] = '\n';
	say(line, len);
}

/* The overflows below write over the neighbouring pieces of the slab,
 * which valgrind rightly reports (free stacks are no-access to it): here
 * that is the point of the test, and the runtime's report is what counts.
 * valgrind's switch is per thread, so it is thrown by the goroutine
 * itself, on the thread it overflows on: after its last call into the
 * runtime, which could move it to another M. (Thrown by main, it missed
 * whenever the goroutine ran on another M: 30 of 160 runs of this tcase
 * under valgrind, two at a time.) */
static void small_recursion_goroutine(void *arg)
{
	(void)arg;
	announce_victim();
	gor_yield();
	VALGRIND_DISABLE_ERROR_REPORTING;
	recurse(0);
	say("recursion returned\n", 19);
}

/* Overflows by a bounded amount and then switches: the canary check at
 * the switch (or a fault in the slab's guard, for the bottom piece) must
 * report it. */
static TU_NOINLINE void overrun(void)
{
	volatile char buf[TINY_STACK + 1024];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)i;
}

static void small_overrun_goroutine(void *arg)
{
	(void)arg;
	announce_victim();
	gor_yield();
	VALGRIND_DISABLE_ERROR_REPORTING; /* see small_recursion_goroutine */
	overrun();
	gor_yield();
	say("recursion returned\n", 19);
}

static int small_child(void *arg)
{
	gor_attr a = {.stack_size = TINY_STACK, .name = "tiny"};
	TU_CHILD_CHECK(gor_go_attr(&a, (void (*)(void *))arg, NULL) == 0, "gor_go_attr: %s", strerror(errno));
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (tu_now() < dl)
		gor_sleep(10 * GOR_MILLISECOND);
	fprintf(stderr, "main: still alive after %d s\n", TU_WAIT_S);
	return 9;
}

START_TEST(test_overflow_small_recursion)
{
	const char *env[] = {"GOR_MAXPROCS=2", NULL};
	struct tu_child c;
	tu_child_run(&c, small_child, (void *)small_recursion_goroutine, env);
	check_overflow_report(&c, "tiny");
	tu_child_free(&c);
}
END_TEST

START_TEST(test_overflow_small_at_switch)
{
	const char *env[] = {"GOR_MAXPROCS=1", NULL};
	struct tu_child c;
	tu_child_run(&c, small_child, (void *)small_overrun_goroutine, env);
	check_overflow_report(&c, "tiny");
	tu_child_free(&c);
}
END_TEST

/* main overflows the thread's own stack: it must die (reported as a stack
 * overflow, or by the signal), never hang. */
static int main_overflow_child(void *arg)
{
	(void)arg;
	struct rlimit rl = {.rlim_cur = 8 << 20, .rlim_max = 8 << 20};
	struct rlimit cur;
	if (getrlimit(RLIMIT_STACK, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && cur.rlim_max < rl.rlim_max)
		rl.rlim_cur = rl.rlim_max = cur.rlim_max;
	setrlimit(RLIMIT_STACK, &rl); /* "unlimited" would only take longer */
	fprintf(stderr, "main %" PRIu64 "\n", gor_self());
	gor_yield();
	recurse(0);
	fprintf(stderr, "recursion returned\n");
	return 9;
}

START_TEST(test_overflow_main)
{
	struct tu_child c;
	tu_child_run(&c, main_overflow_child, NULL, NULL);
	char how[96];
	ck_assert_msg(!c.timedout, "main's stack overflow hung the process; stderr:\n%s", c.err);
	TU_ASSERT_STDERR_HAS(&c, "main 1\n");
	if (WIFEXITED(c.status)) {
		ck_assert_msg(WEXITSTATUS(c.status) == 2, "main's overflow: %s; stderr:\n%s",
			      tu_child_how(&c, how, sizeof how), c.err);
		TU_ASSERT_STDERR_HAS(&c, "gor: fatal error: stack overflow");
		TU_ASSERT_STDERR_HAS(&c, "goroutine 1");
	} else {
		ck_assert_msg(WIFSIGNALED(c.status) &&
				      (WTERMSIG(c.status) == SIGSEGV || WTERMSIG(c.status) == SIGBUS),
			      "main's overflow: %s; stderr:\n%s", tu_child_how(&c, how, sizeof how), c.err);
	}
	tu_child_free(&c);
}
END_TEST

/* ---- SIGQUIT ----------------------------------------------------------------- */

enum { QUIT_SLEEPERS = 3 };

static void quit_sleeper(void *arg)
{
	(void)arg;
	gor_sleep(60 * GOR_SECOND);
}

/* The first line of text that starts with prefix, or NULL. */
static const char *line_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return p;
	return NULL;
}

/* Goroutines other than main that gor_dump shows asleep. */
static int dumped_sleepers(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL)
		return -1;
	gor_dump(f);
	fclose(f);
	int n = 0;
	for (const char *p = line_starting(text, "goroutine "); p; p = line_starting(p + 1, "goroutine ")) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		if (strncmp(p, "goroutine 1 ", 12) != 0 && memmem(p, l, "sleep", 5) != NULL)
			n++;
	}
	free(text);
	return n;
}

static int sigquit_child(void *arg)
{
	(void)arg;
	for (int i = 0; i < QUIT_SLEEPERS; i++) {
		gor_attr a = {.stack_size = 0, .name = i == 0 ? "napper" : NULL};
		TU_CHILD_CHECK(gor_go_attr(&a, quit_sleeper, NULL) == 0, "gor_go_attr");
	}
	/* until every sleeper is parked for its 60 s */
	int64_t dl = tu_deadline(TU_WAIT_S);
	int n;
	while ((n = dumped_sleepers()) < QUIT_SLEEPERS) {
		TU_CHILD_CHECK(tu_now() < dl, "gor_dump shows %d of %d sleepers asleep", n, QUIT_SLEEPERS);
		gor_sleep(GOR_MILLISECOND);
	}
	fprintf(stderr, "READY %d\n", gor_numgoroutine());
	for (;;)
		gor_sleep(60 * GOR_SECOND);
}

START_TEST(test_sigquit_dump)
{
	struct tu_child c;
	tu_child_start(&c, sigquit_child, NULL, NULL);
	bool ready = tu_child_read_until(&c, "READY", TU_CHILD_S);
	if (!ready) {
		tu_child_wait(&c, 1);
		ck_abort_msg("the child never got ready; stderr:\n%s", c.err);
	}
	usleep(100 * 1000);
	ck_assert_int_eq(kill(c.pid, SIGQUIT), 0);
	tu_child_wait(&c, TU_CHILD_S);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, "READY 4\n");
	/* main, asleep too */
	const char *main_line = line_starting(c.err, "goroutine 1 ");
	ck_assert_msg(main_line != NULL, "no goroutine 1 in the dump:\n%s", c.err);
	/* every sleeper, with its wait reason; one of them by name */
	int sleeping = 0;
	bool named = false;
	for (const char *p = strstr(c.err, "goroutine "); p; p = strstr(p + 1, "goroutine ")) {
		if (p != c.err && p[-1] != '\n')
			continue; /* "created by goroutine N" */
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[256];
		snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
		if (strncmp(line, "goroutine 1 ", 12) == 0)
			continue;
		if (strstr(line, "sleep")) {
			sleeping++;
			if (strstr(line, "\"napper\""))
				named = true;
		}
	}
	ck_assert_msg(sleeping == QUIT_SLEEPERS, "%d goroutines shown asleep, want %d:\n%s", sleeping,
		      QUIT_SLEEPERS, c.err);
	ck_assert_msg(named, "the sleeper named \"napper\" is not named in the dump:\n%s", c.err);
	/* main's own line: asleep, unless the signal caught it on its way
	 * into gor_sleep (runnable or running) on a loaded machine */
	const char *eol = strchr(main_line, '\n');
	size_t ml = eol ? (size_t)(eol - main_line) : strlen(main_line);
	ck_assert_msg(memmem(main_line, ml, "sleep", 5) != NULL || memmem(main_line, ml, "[runn", 5) != NULL,
		      "goroutine 1 (in gor_sleep) is shown neither asleep nor runnable:\n%s", c.err);
	tu_child_free(&c);
}
END_TEST

/* ---- the suite --------------------------------------------------------------- */

static Suite *fatal_suite(void)
{
	Suite *s = suite_create("fatal");
	TCase *tc = tu_tcase(s, "overflow");
	tcase_add_test(tc, test_overflow_default_stack);
	tcase_add_test(tc, test_overflow_named);
	tcase_add_test(tc, test_overflow_named_1mib);
	tcase_add_test(tc, test_overflow_main);
	tcase_add_test(tc, test_overflow_small_recursion);
	tcase_add_test(tc, test_overflow_small_at_switch);
	tc = tu_tcase(s, "sigquit");
	tcase_add_test(tc, test_sigquit_dump);
	return s;
}

int main(void)
{
	return tu_srunner_run(fatal_suite());
}
