/*
 * testutil.h - helpers shared by the Check suites that drive the runtime
 * through its public API (include/gor.h).
 *
 * The runtime is a per-process singleton: once a process has used it,
 * MAXPROCS, its threads and its counters stay. So:
 *  - the suites force CK_FORK (tu_srunner_run): every test starts in a
 *    fresh process whose runtime is not started yet, whatever CK_FORK
 *    says in the environment;
 *  - a test that must control the start itself (GOR_ env variables, the
 *    CPU affinity, "the first goroutine is 1") or that expects the process
 *    to die runs a function in a child of its own with tu_child_run, which
 *    captures the child's stderr and exit status and kills it after a
 *    timeout, so that a hang is a failure with a message. Call it before
 *    the test itself touches the runtime: fork() copies only the calling
 *    thread, and a runtime started in the parent would be half there in
 *    the child.
 *
 * Waits are bounded. There is no WaitGroup or channel yet, so goroutines
 * are joined with C11 atomics and TU_WAIT_UNTIL, which polls with
 * gor_sleep and fails the test with a message after TU_WAIT_S seconds
 * (scaled by CK_TIMEOUT_MULTIPLIER, like Check's own timeouts, for runs
 * under valgrind or qemu). Goroutines never call ck_assert themselves:
 * they record what they saw in atomics and the test body asserts.
 */
#ifndef GOR_TESTUTIL_H
#define GOR_TESTUTIL_H

/* memmem, strsignal, pthread_timedjoin_np, sched_getaffinity, CPU_*: a
 * suite includes this header before any other (or defines it itself). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, pthread_getattr_np, CPU_COUNT */
#endif

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gor.h"

#ifdef GOR_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define TU_NOINLINE __attribute__((noinline))

/* Check's per-test timeout, seconds (scaled by CK_TIMEOUT_MULTIPLIER). */
#define TU_TCASE_TIMEOUT 120
/* A bounded wait gives up after this many seconds (scaled). */
#define TU_WAIT_S 30
/* A child of tu_child_run is killed after this many seconds (scaled). */
#define TU_CHILD_S 60

/* ---- time, scale, CPU ------------------------------------------------- */

/* The monotonic clock without touching the runtime (gor_now would start
 * it, and adopt the calling thread). */
static inline int64_t tu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CK_TIMEOUT_MULTIPLIER, as Check applies it to tcase timeouts. */
static inline double tu_scale(void)
{
	const char *e = getenv("CK_TIMEOUT_MULTIPLIER");
	double m = e ? strtod(e, NULL) : 1.0;
	return m >= 1.0 ? m : 1.0;
}

/* True under valgrind (or GOR_TEST_SLOW=1): loosen "how much" bounds that
 * the instrumentation itself inflates, never "whether" properties. */
static inline bool tu_slow(void)
{
#ifdef GOR_VALGRIND
	if (RUNNING_ON_VALGRIND)
		return true;
#endif
	const char *e = getenv("GOR_TEST_SLOW");
	return e && *e && *e != '0';
}

static inline int64_t tu_deadline(double secs)
{
	return tu_now() + (int64_t)(secs * tu_scale() * 1e9);
}

/* Burns the CPU for ns nanoseconds without calling into the runtime, so
 * that the calling goroutine keeps its thread (and its P) throughout. */
static inline void tu_spin_ns(int64_t ns)
{
	int64_t end = tu_now() + ns;
	while (tu_now() < end) {
#if defined(__x86_64__)
		__asm__ volatile("pause");
#elif defined(__aarch64__)
		__asm__ volatile("yield");
#endif
	}
}

/* User + system CPU time of the whole process, nanoseconds. */
static inline int64_t tu_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* ---- bounded waits -------------------------------------------------- */

/* Polls cond every millisecond (gor_sleep: parks the caller, so other
 * goroutines run even with MAXPROCS=1); after TU_WAIT_S seconds fails the
 * test with the printf-style message that follows. */
/* A wait that timed out: the goroutine dump goes to stderr first, so that
 * a hang (a lost wake-up, say) shows where everybody was. */
static inline void tu_wait_expired(void)
{
	fputs("testutil: a bounded wait expired; the goroutines now:\n", stderr);
	gor_dump(stderr);
}

#define TU_WAIT_UNTIL(cond, ...)                                             \
	do {                                                                 \
		int64_t tu_dl_ = tu_deadline(TU_WAIT_S);                     \
		while (!(cond)) {                                            \
			if (tu_now() > tu_dl_) {                             \
				tu_wait_expired();                           \
				ck_abort_msg(__VA_ARGS__);                   \
			}                                                    \
			gor_sleep(GOR_MILLISECOND);                          \
		}                                                            \
	} while (0)

/* The same, polling with gor_yield: the caller stays runnable. */
#define TU_WAIT_YIELD(cond, ...)                                             \
	do {                                                                 \
		int64_t tu_dl_ = tu_deadline(TU_WAIT_S);                     \
		while (!(cond)) {                                            \
			if (tu_now() > tu_dl_) {                             \
				tu_wait_expired();                           \
				ck_abort_msg(__VA_ARGS__);                   \
			}                                                    \
			gor_yield();                                         \
		}                                                            \
	} while (0)

/* gor_dump's output as a malloc'd string (the caller frees it). */
static inline char *tu_dump(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	gor_dump(f);
	fclose(f);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* Starts a goroutine, failing the test if gor_go does. */
#define TU_GO(fn, arg)                                                       \
	do {                                                                 \
		int tu_rc_ = gor_go((fn), (arg));                            \
		ck_assert_msg(tu_rc_ == 0, "gor_go(%s) = %d, errno %d",      \
			      #fn, tu_rc_, errno);                           \
	} while (0)

/* ---- running a function in a child process ----------------------------- */

/* Runs in the child; its return value is the child's exit status. It must
 * not use ck_assert (Check's reporting belongs to the test process): use
 * TU_CHILD_CHECK, which prints to stderr and exits 3. */
typedef int (*tu_child_fn)(void *arg);

#define TU_CHILD_CHECK(cond, ...)                                            \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "CHILD CHECK FAILED %s:%d: %s: ",    \
				__FILE__, __LINE__, #cond);                  \
			fprintf(stderr, __VA_ARGS__);                        \
			fprintf(stderr, "\n");                               \
			fflush(stderr);                                      \
			_exit(3);                                            \
		}                                                            \
	} while (0)

struct tu_child {
	pid_t pid;
	int fd;          /* read end of the child's stderr */
	int status;      /* waitpid status, valid when done */
	bool done;
	bool timedout;   /* killed with SIGKILL after the timeout */
	char *err;       /* captured stderr, NUL-terminated */
	size_t len, cap;
};

#define TU_CAPTURE_MAX (4u << 20)

/* Forks; the child sets env ("NAME=VALUE" strings, NULL-terminated; may
 * be NULL) before anything else, sends its stderr to the parent and exits
 * with fn(arg). The parent then calls tu_child_wait (or tu_child_read_until
 * first). */
static inline void tu_child_start(struct tu_child *c, tu_child_fn fn, void *arg,
				  const char *const *env)
{
	int p[2];
	memset(c, 0, sizeof *c);
	ck_assert_int_eq(pipe(p), 0);
	fflush(NULL);
	c->pid = fork();
	ck_assert_msg(c->pid >= 0, "fork: %s", strerror(errno));
	if (c->pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		close(p[1]);
		setvbuf(stderr, NULL, _IONBF, 0);
		for (const char *const *e = env; e && *e; e++) {
			char name[128];
			const char *eq = strchr(*e, '=');
			size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
			if (n >= sizeof name)
				n = sizeof name - 1;
			memcpy(name, *e, n);
			name[n] = '\0';
			setenv(name, eq ? eq + 1 : "", 1);
		}
		int rc = fn(arg);
		fflush(NULL);
		_exit(rc);
	}
	close(p[1]);
	c->fd = p[0];
	c->cap = 4096;
	c->err = malloc(c->cap);
	ck_assert_ptr_nonnull(c->err);
	c->err[0] = '\0';
}

/* Reads what the child wrote until `until` (absolute tu_now time). False
 * at EOF (the child closed stderr, normally by exiting) or the deadline. */
static inline bool tu_child_read_some(struct tu_child *c, int64_t until)
{
	if (c->fd < 0)
		return false;
	int64_t left = until - tu_now();
	if (left <= 0)
		return false;
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int ms = (int)(left / 1000000) + 1;
	int r = poll(&pfd, 1, ms);
	if (r < 0 && errno == EINTR)
		return true;
	if (r <= 0)
		return false;
	char buf[4096];
	ssize_t n = read(c->fd, buf, sizeof buf);
	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	if (c->len + (size_t)n + 1 > c->cap && c->cap < TU_CAPTURE_MAX) {
		size_t ncap = c->cap;
		while (ncap < c->len + (size_t)n + 1 && ncap < TU_CAPTURE_MAX)
			ncap *= 2;
		char *p = realloc(c->err, ncap);
		ck_assert_ptr_nonnull(p);
		c->err = p;
		c->cap = ncap;
	}
	size_t room = c->cap - 1 - c->len;
	size_t take = (size_t)n < room ? (size_t)n : room;
	memcpy(c->err + c->len, buf, take);
	c->len += take;
	c->err[c->len] = '\0';
	return true;
}

/* Reads the child's stderr until it contains `needle`; false if the child
 * closed it or `secs` (scaled) went by first. */
static inline bool tu_child_read_until(struct tu_child *c, const char *needle, double secs)
{
	int64_t dl = tu_deadline(secs);
	while (strstr(c->err, needle) == NULL) {
		if (!tu_child_read_some(c, dl))
			return strstr(c->err, needle) != NULL;
	}
	return true;
}

static inline const char *tu_child_how(const struct tu_child *c, char *buf, size_t n);

/* Collects the child's stderr and exit status, killing it (SIGKILL) if it
 * has not exited within `secs` (scaled) from now. */
static inline void tu_child_wait(struct tu_child *c, double secs)
{
	int64_t dl = tu_deadline(secs);
	while (c->fd >= 0 && tu_now() < dl)
		tu_child_read_some(c, dl);
	for (;;) {
		pid_t w = waitpid(c->pid, &c->status, WNOHANG);
		if (w == c->pid)
			break;
		if (w < 0 && errno != EINTR)
			ck_abort_msg("waitpid: %s", strerror(errno));
		if (tu_now() >= dl && !c->timedout) {
			c->timedout = true;
			kill(c->pid, SIGKILL);
		}
		usleep(1000);
	}
	/* drain what is left (a killed child's last words) */
	while (c->fd >= 0 && tu_child_read_some(c, tu_now() + 100000000))
		;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->done = true;
	if (getenv("TU_VERBOSE")) { /* show what each child said */
		char how[96];
		fprintf(stderr, "---- child %d: %s; stderr:\n%s----\n", (int)c->pid,
			tu_child_how(c, how, sizeof how), c->err);
	}
}

static inline void tu_child_free(struct tu_child *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->err);
	c->err = NULL;
}

/* tu_child_start + tu_child_wait(TU_CHILD_S). */
static inline void tu_child_run(struct tu_child *c, tu_child_fn fn, void *arg,
				const char *const *env)
{
	tu_child_start(c, fn, arg, env);
	tu_child_wait(c, TU_CHILD_S);
}

/* Human-readable status for messages. */
static inline const char *tu_child_how(const struct tu_child *c, char *buf, size_t n)
{
	if (c->timedout)
		snprintf(buf, n, "HUNG: killed after the timeout");
	else if (WIFEXITED(c->status))
		snprintf(buf, n, "exited %d", WEXITSTATUS(c->status));
	else if (WIFSIGNALED(c->status))
		snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(c->status),
			 strsignal(WTERMSIG(c->status)));
	else
		snprintf(buf, n, "status 0x%x", c->status);
	return buf;
}

/* Asserts the child exited (not hung, not signalled) with `code`. */
#define TU_ASSERT_CHILD_EXIT(c, code)                                        \
	do {                                                                 \
		char tu_how_[96];                                            \
		ck_assert_msg(!(c)->timedout && WIFEXITED((c)->status) &&    \
				      WEXITSTATUS((c)->status) == (code),    \
			      "child: want exit %d, got %s; stderr:\n%s",    \
			      (code), tu_child_how((c), tu_how_, sizeof tu_how_), \
			      (c)->err);                                     \
	} while (0)

/* Asserts the captured stderr contains the string. */
#define TU_ASSERT_STDERR_HAS(c, needle)                                      \
	ck_assert_msg(strstr((c)->err, (needle)) != NULL,                    \
		      "child stderr lacks \"%s\"; stderr:\n%s", (needle),    \
		      (c)->err)

/* ---- running a suite ------------------------------------------------------ */

/* A test case with the suites' common timeout, added to s. */
static inline TCase *tu_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, TU_TCASE_TIMEOUT);
	suite_add_tcase(s, tc);
	return tc;
}

/* Runs the suite in fork mode (see the top), printing Check's normal
 * report; returns the process exit status. */
static inline int tu_srunner_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* GOR_TESTUTIL_H */
