/*
 * check_syscall.c - gor_syscall_enter/exit (Go's entersyscall and
 * exitsyscall): a goroutine blocked in read(2) inside the bracket lets
 * the others run, even with MAXPROCS=1 (sysmon retakes its P); it gets
 * its data and goes on once the call returns, whether its old P is free,
 * another is, or none is (then it waits in the queue); many at once; the
 * main thread's own calls, which must stay on the main thread, and a
 * goroutine that runs on main's thread, which must not block it; calls
 * racing with gor_maxprocs; nesting and unbalanced calls; the dump; and
 * the deadlock detector, which must not fire while a goroutine sits in a
 * call and must still fire after it.
 *
 * Blocking is real: pipes nobody has written to yet. Waits are bounded
 * (TU_WAIT_UNTIL), and a test that could hang if the hand-off failed runs
 * in a child process with a timeout.
 */
#include <pthread.h>

#include "testutil.h"

static const char *const p1[] = {"GOR_MAXPROCS=1", NULL};
static const char *const p2[] = {"GOR_MAXPROCS=2", NULL};

/* ---- helpers ------------------------------------------------------------- */

/* A goroutine that reads one message from a pipe inside the bracket. */
struct reader {
	int fd;
	atomic_int entered;  /* about to block */
	atomic_int done;
	ssize_t n;
	char buf[32];
	atomic_int *watch;   /* if set, read right after the call returns */
	int watched;
};

static void reader_fn(void *arg)
{
	struct reader *r = arg;
	gor_syscall_enter();
	atomic_store(&r->entered, 1);
	r->n = read(r->fd, r->buf, sizeof r->buf - 1);
	gor_syscall_exit();
	if (r->watch)
		r->watched = atomic_load(r->watch);
	atomic_store(&r->done, 1);
}

/* Progress made by a goroutine that yields in a loop until told to stop. */
static atomic_long counter;
static atomic_int counter_stop, counter_done;

static void counter_fn(void *arg)
{
	(void)arg;
	while (!atomic_load(&counter_stop)) {
		atomic_fetch_add(&counter, 1);
		gor_yield();
	}
	atomic_store(&counter_done, 1);
}

static void counter_reset(void)
{
	atomic_store(&counter, 0);
	atomic_store(&counter_stop, 0);
	atomic_store(&counter_done, 0);
}

static void write_msg(int fd, const char *msg)
{
	ssize_t len = (ssize_t)strlen(msg);
	ck_assert_int_eq(write(fd, msg, (size_t)len), len);
}

/* ---- (1) a blocked call does not hold the P ------------------------------- */

START_TEST(test_blocked_read_lets_others_run)
{
	gor_maxprocs(_i + 1);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	static struct reader r;
	memset(&r, 0, sizeof r);
	r.fd = p[0];
	counter_reset();
	TU_GO(reader_fn, &r);
	TU_WAIT_UNTIL(atomic_load(&r.entered), "the reader never entered its call");
	TU_GO(counter_fn, NULL);
	/* With MAXPROCS=1 the only P is the reader's until sysmon retakes it. */
	TU_WAIT_UNTIL(atomic_load(&counter) >= 1000, "the counter is stuck at %ld while a goroutine is in read(2)",
		      atomic_load(&counter));
	ck_assert_int_eq(atomic_load(&r.done), 0);
	write_msg(p[1], "hello");
	TU_WAIT_UNTIL(atomic_load(&r.done), "the reader never came back from read(2)");
	ck_assert_int_eq(r.n, 5);
	r.buf[5] = '\0';
	ck_assert_str_eq(r.buf, "hello");
	atomic_store(&counter_stop, 1);
	TU_WAIT_UNTIL(atomic_load(&counter_done), "the counter never stopped");
	close(p[0]);
	close(p[1]);
}
END_TEST

/* ---- (2) many goroutines in calls at once; the dump -------------------------- */

enum { MANY = 24 };

START_TEST(test_many_in_syscalls)
{
	gor_maxprocs(_i + 1);
	static struct reader rs[MANY];
	static int pipes[MANY][2];
	memset(rs, 0, sizeof rs);
	counter_reset();
	for (int i = 0; i < MANY; i++) {
		ck_assert_int_eq(pipe(pipes[i]), 0);
		rs[i].fd = pipes[i][0];
		TU_GO(reader_fn, &rs[i]);
	}
	TU_WAIT_UNTIL(({
			      int e = 0;
			      for (int i = 0; i < MANY; i++)
				      e += atomic_load(&rs[i].entered);
			      e == MANY;
		      }),
		      "not every reader entered its call");
	TU_GO(counter_fn, NULL);
	TU_WAIT_UNTIL(atomic_load(&counter) >= 1000, "the counter is stuck at %ld with %d goroutines in read(2)",
		      atomic_load(&counter), MANY);

	/* the dump shows goroutines in a call as such */
	char *dump = tu_dump();
	ck_assert_msg(strstr(dump, "[syscall]") != NULL, "the dump shows no goroutine in a syscall:\n%s", dump);
	free(dump);

	for (int i = 0; i < MANY; i++) {
		char msg[16];
		snprintf(msg, sizeof msg, "msg%d", i);
		write_msg(pipes[i][1], msg);
	}
	for (int i = 0; i < MANY; i++) {
		TU_WAIT_UNTIL(atomic_load(&rs[i].done), "reader %d never came back", i);
		rs[i].buf[rs[i].n > 0 ? rs[i].n : 0] = '\0';
		char want[16];
		snprintf(want, sizeof want, "msg%d", i);
		ck_assert_str_eq(rs[i].buf, want);
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	atomic_store(&counter_stop, 1);
	TU_WAIT_UNTIL(atomic_load(&counter_done), "the counter never stopped");
	TU_WAIT_UNTIL(gor_numgoroutine() == 1, "%d goroutines left", gor_numgoroutine());
}
END_TEST

/* ---- (3) back from a call with every P taken -------------------------------- */

/*
 * The reader blocks; as many spinners as there are Ps take them all (one
 * needs sysmon to retake the reader's P), and the first writes the pipe
 * once all spin. They then spin without calling the runtime, so the
 * reader comes back to find no P at all: it must wait in the queue, and
 * so it can only go on once a spinner is done. The reader is a goroutine
 * (_i < 2), or main itself, which must also stay on its thread.
 */
static struct reader taken_r;
static int taken_pipe[2];
static atomic_int spin_started, spin_holding, spin_done, spin_timeout;
static int spin_procs;

static void spinner(void *arg)
{
	int first = (int)(intptr_t)arg;
	atomic_fetch_add(&spin_started, 1);
	int64_t dl = tu_deadline(TU_WAIT_S);
	/* Until all have started, yield: the spawner may be main, bound to
	 * the thread this spinner took over when main yielded (preempted by
	 * sysmon, which a slow run under valgrind makes likely), and a
	 * spinner that never calls the runtime would keep main off its own
	 * thread for good (cooperative scheduling; see README). */
	while (atomic_load(&spin_started) < spin_procs) {
		if (tu_now() > dl) {
			atomic_store(&spin_timeout, 1);
			break;
		}
		gor_yield();
	}
	/* From here on none calls the runtime, so each holds its P; the
	 * first writes once all hold one. */
	atomic_fetch_add(&spin_holding, 1);
	while (first && atomic_load(&spin_holding) < spin_procs && !atomic_load(&spin_timeout)) {
		if (tu_now() > dl) {
			atomic_store(&spin_timeout, 1);
			break;
		}
	}
	if (first)
		write_msg(taken_pipe[1], "late");
	tu_spin_ns(50 * GOR_MILLISECOND);
	atomic_fetch_add(&spin_done, 1);
}

START_TEST(test_exit_finds_no_p)
{
	bool mainreads = _i >= 2;
	spin_procs = _i % 2 + 1;
	gor_maxprocs(spin_procs);
	ck_assert_int_eq(pipe(taken_pipe), 0);
	memset(&taken_r, 0, sizeof taken_r);
	taken_r.fd = taken_pipe[0];
	taken_r.watch = &spin_done;
	atomic_store(&spin_started, 0);
	atomic_store(&spin_holding, 0);
	atomic_store(&spin_done, 0);
	atomic_store(&spin_timeout, 0);
	if (!mainreads) {
		TU_GO(reader_fn, &taken_r);
		TU_WAIT_UNTIL(atomic_load(&taken_r.entered), "the reader never entered its call");
	}
	for (int i = 0; i < spin_procs; i++)
		TU_GO(spinner, (void *)(intptr_t)(i == 0));
	if (mainreads) {
		pthread_t self = pthread_self();
		reader_fn(&taken_r);
		ck_assert_msg(pthread_equal(self, pthread_self()), "main came back on another thread");
	}
	TU_WAIT_UNTIL(atomic_load(&taken_r.done), "the reader never came back");
	ck_assert_int_eq(atomic_load(&spin_timeout), 0);
	ck_assert_int_eq(taken_r.n, 4);
	ck_assert_msg(taken_r.watched >= 1, "the reader ran while all %d spinners held the Ps", spin_procs);
	close(taken_pipe[0]);
	close(taken_pipe[1]);
}
END_TEST

/* ---- (4) the main thread's own calls; others on the main thread ------------- */

static int main_pipe[2];

static void late_writer(void *arg)
{
	(void)arg;
	while (atomic_load(&counter) < 200) {
		atomic_fetch_add(&counter, 1);
		gor_yield();
	}
	write_msg(main_pipe[1], "to main");
}

START_TEST(test_main_syscall)
{
	gor_maxprocs(_i + 1);
	ck_assert_int_eq(pipe(main_pipe), 0);
	counter_reset();
	pthread_t self = pthread_self();
	TU_GO(late_writer, NULL);
	char buf[16] = {0};
	gor_syscall_enter();
	ssize_t n = read(main_pipe[0], buf, sizeof buf - 1);
	gor_syscall_exit();
	ck_assert_int_eq(n, 7);
	ck_assert_str_eq(buf, "to main");
	ck_assert_int_ge(atomic_load(&counter), 200);
	ck_assert_msg(pthread_equal(self, pthread_self()), "main came back on another thread");
	/* and the runtime works as before */
	gor_chan *c = gor_chan_make(sizeof(int), 1);
	int v = 3;
	ck_assert_int_eq(gor_send(c, &v), 0);
	ck_assert_int_eq(gor_recv(c, &v), 1);
	gor_chan_free(c);
	close(main_pipe[0]);
	close(main_pipe[1]);
}
END_TEST

/*
 * With MAXPROCS=1, main parks and its thread runs the reader, which then
 * blocks in read(2). If it blocked on main's thread, main could not run
 * when its timer fires, and nobody would write the pipe: the child hangs.
 * The reader must have moved to another thread before blocking.
 */
static pthread_t mainthread;
static atomic_int guest_on_main;

static void guest_reader(void *arg)
{
	struct reader *r = arg;
	gor_syscall_enter();
	atomic_store(&guest_on_main, pthread_equal(pthread_self(), mainthread) ? 1 : 2);
	atomic_store(&r->entered, 1);
	r->n = read(r->fd, r->buf, sizeof r->buf - 1);
	gor_syscall_exit();
	atomic_store(&r->done, 1);
}

static int guest_child(void *arg)
{
	(void)arg;
	static struct reader r;
	int p[2];
	TU_CHILD_CHECK(pipe(p) == 0, "pipe");
	r.fd = p[0];
	mainthread = pthread_self();
	TU_CHILD_CHECK(gor_go(guest_reader, &r) == 0, "gor_go");
	gor_chan *t = gor_after(50 * GOR_MILLISECOND);
	int64_t v;
	TU_CHILD_CHECK(gor_recv(t, &v) == 1, "gor_recv of the timer");
	gor_chan_free(t);
	TU_CHILD_CHECK(pthread_equal(pthread_self(), mainthread), "main moved to another thread");
	int64_t dl = gor_now() + 30 * GOR_SECOND;
	while (!atomic_load(&r.entered) && gor_now() < dl)
		gor_sleep(GOR_MILLISECOND);
	TU_CHILD_CHECK(atomic_load(&guest_on_main) == 2, "the reader blocked on main's thread (%d)",
		       atomic_load(&guest_on_main));
	TU_CHILD_CHECK(write(p[1], "x", 1) == 1, "write");
	while (!atomic_load(&r.done) && gor_now() < dl)
		gor_sleep(GOR_MILLISECOND);
	TU_CHILD_CHECK(atomic_load(&r.done) && r.n == 1, "the reader: done %d, n %zd", atomic_load(&r.done), r.n);
	return 0;
}

START_TEST(test_guest_on_main_thread)
{
	struct tu_child c;
	tu_child_run(&c, guest_child, NULL, _i ? p2 : p1);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	tu_child_free(&c);
}
END_TEST

/* ---- (5) calls during gor_maxprocs changes ---------------------------------- */

enum { RESIZE_WORKERS = 6, RESIZE_ROUNDS = 200 };
static atomic_int resize_done;
static atomic_long resize_calls;

static void resize_worker(void *arg)
{
	int long_calls = (int)(intptr_t)arg;
	for (int i = 0; i < RESIZE_ROUNDS; i++) {
		gor_syscall_enter();
		usleep(long_calls && i % 20 == 0 ? 20000 : 100);
		gor_syscall_exit();
		atomic_fetch_add(&resize_calls, 1);
		if (i % 8 == 0)
			gor_yield();
	}
	atomic_fetch_add(&resize_done, 1);
}

START_TEST(test_syscalls_during_resize)
{
	static const int sizes[] = {1, 3, 2, 4, 1, 2};
	atomic_store(&resize_done, 0);
	atomic_store(&resize_calls, 0);
	gor_maxprocs(2);
	for (int i = 0; i < RESIZE_WORKERS; i++)
		TU_GO(resize_worker, (void *)(intptr_t)(i % 2));
	int64_t dl = tu_deadline(TU_WAIT_S);
	int resizes = 0;
	while (atomic_load(&resize_done) < RESIZE_WORKERS) {
		ck_assert_msg(tu_now() < dl, "workers done: %d of %d after %d resizes", atomic_load(&resize_done),
			      RESIZE_WORKERS, resizes);
		int want = sizes[resizes % (sizeof sizes / sizeof *sizes)];
		gor_maxprocs(want);
		ck_assert_int_eq(gor_maxprocs(0), want);
		resizes++;
		gor_sleep(GOR_MILLISECOND);
	}
	ck_assert_int_eq(atomic_load(&resize_calls), RESIZE_WORKERS * RESIZE_ROUNDS);
	ck_assert_int_gt(resizes, 0);
	/* the main thread's own call across a resize done by another goroutine */
	gor_maxprocs(1);
	ck_assert_int_eq(gor_maxprocs(0), 1);
}
END_TEST

/* ---- (6) nesting, unbalanced calls, ending inside a bracket ------------------ */

static atomic_int ended_inside;

static void ends_inside(void *arg)
{
	(void)arg;
	gor_syscall_enter();
	gor_syscall_enter();
	atomic_fetch_add(&ended_inside, 1);
	/* returns inside the bracket: gor_exit leaves it */
}

static void *thread_ends_inside(void *arg)
{
	(void)arg;
	gor_syscall_enter(); /* adopts the thread */
	atomic_fetch_add(&ended_inside, 1);
	return NULL; /* the thread exits inside the bracket */
}

START_TEST(test_nesting_and_unbalanced)
{
	gor_maxprocs(_i + 1);
	gor_syscall_exit(); /* nothing to match: no-op */
	gor_syscall_enter();
	gor_syscall_enter();
	ck_assert_int_eq(usleep(1000), 0);
	gor_syscall_exit();
	gor_syscall_exit();
	gor_syscall_exit(); /* one too many: no-op */
	gor_yield();
	atomic_store(&ended_inside, 0);
	for (int i = 0; i < 8; i++)
		TU_GO(ends_inside, NULL);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, thread_ends_inside, NULL), 0);
	TU_WAIT_UNTIL(atomic_load(&ended_inside) == 9, "ended inside: %d of 9", atomic_load(&ended_inside));
	gor_syscall_enter();
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	gor_syscall_exit();
	TU_WAIT_UNTIL(gor_numgoroutine() == 1, "%d goroutines left", gor_numgoroutine());
	/* everything still runs: a round of channel hand-offs */
	counter_reset();
	TU_GO(counter_fn, NULL);
	TU_WAIT_UNTIL(atomic_load(&counter) >= 100, "the counter is stuck at %ld", atomic_load(&counter));
	atomic_store(&counter_stop, 1);
	TU_WAIT_UNTIL(atomic_load(&counter_done), "the counter never stopped");
}
END_TEST

/* ---- (7) the deadlock detector and calls -------------------------------------- */

static void sleep_in_syscall(void *arg)
{
	gor_syscall_enter();
	usleep(200000);
	gor_syscall_exit();
	int v = 1;
	gor_send(arg, &v);
}

static void blocked_forever(void *arg)
{
	(void)arg;
	gor_chan *c = gor_chan_make(0, 0);
	gor_recv(c, NULL);
}

/* Every goroutine but the sleeper is blocked for 200 ms: not a deadlock. */
static int syscall_alive_child(void *arg)
{
	(void)arg;
	gor_chan *c = gor_chan_make(sizeof(int), 0);
	TU_CHILD_CHECK(gor_go(blocked_forever, NULL) == 0, "gor_go");
	TU_CHILD_CHECK(gor_go(sleep_in_syscall, c) == 0, "gor_go");
	int v = 0;
	TU_CHILD_CHECK(gor_recv(c, &v) == 1 && v == 1, "got %d", v);
	return 0;
}

/* The same from main itself, then a real deadlock once the call is over. */
static int syscall_then_dead_child(void *arg)
{
	(void)arg;
	TU_CHILD_CHECK(gor_go(blocked_forever, NULL) == 0, "gor_go");
	gor_sleep(GOR_MILLISECOND);
	gor_syscall_enter();
	usleep(200000);
	gor_syscall_exit();
	fprintf(stderr, "main is back\n");
	gor_chan *c = gor_chan_make(0, 0);
	gor_recv(c, NULL);
	return 0;
}

START_TEST(test_deadlock_and_syscalls)
{
	const char *const *env = _i ? p2 : p1;
	struct tu_child c;
	tu_child_run(&c, syscall_alive_child, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	tu_child_free(&c);

	int64_t t0 = tu_now();
	tu_child_run(&c, syscall_then_dead_child, NULL, env);
	int64_t took = tu_now() - t0;
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, "main is back");
	TU_ASSERT_STDERR_HAS(&c, "all goroutines are asleep - deadlock!");
	TU_ASSERT_STDERR_HAS(&c, "goroutine 1 [waiting: chan receive");
	ck_assert_msg(took >= 200 * GOR_MILLISECOND, "the child died after %lld ms, inside its 200 ms call",
		      (long long)(took / GOR_MILLISECOND));
	tu_child_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("syscall");
	TCase *tc = tu_tcase(s, "syscall");
	tcase_add_loop_test(tc, test_blocked_read_lets_others_run, 0, 2);
	tcase_add_loop_test(tc, test_many_in_syscalls, 0, 2);
	tcase_add_loop_test(tc, test_exit_finds_no_p, 0, 4);
	tcase_add_loop_test(tc, test_main_syscall, 0, 2);
	tcase_add_loop_test(tc, test_guest_on_main_thread, 0, 2);
	tcase_add_test(tc, test_syscalls_during_resize);
	tcase_add_loop_test(tc, test_nesting_and_unbalanced, 0, 2);
	tcase_add_loop_test(tc, test_deadlock_and_syscalls, 0, 2);
	return tu_srunner_run(s);
}
