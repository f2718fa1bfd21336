/*
 * check_deadlock.c - Go's checkdead and the goroutine dump, in child
 * processes: a program whose goroutines all block with nothing left to
 * wake them must say "all goroutines are asleep - deadlock!", dump every
 * goroutine with the channel it waits on, and exit 2; programs that only
 * look stuck (a timer pending, a thread running its own code) must not.
 */
#include <pthread.h>

#include "testutil.h"

static int64_t nevercome;

/* main blocks receiving from a channel nobody sends on. */
static int recv_forever_child(void *arg)
{
	(void)arg;
	gor_chan *c = gor_chan_make(sizeof(int64_t), 0);
	gor_recv(c, &nevercome);
	return 0; /* not reached: deadlock */
}

static void blocked_sender(void *arg)
{
	int v = 7;
	gor_send(arg, &v);
}

static void blocked_selecter(void *arg)
{
	gor_chan **cs = arg;
	gor_case cases[2] = {{cs[0], GOR_RECV, NULL, 0}, {cs[1], GOR_RECV, NULL, 0}};
	gor_select(cases, 2);
}

/* Several goroutines blocked on different things, then main too. */
static int many_blocked_child(void *arg)
{
	(void)arg;
	static gor_chan *cs[2];
	gor_chan *full = gor_chan_make(sizeof(int), 1);
	int v = 1;
	gor_send(full, &v);
	cs[0] = gor_chan_make(0, 0);
	cs[1] = gor_chan_make(sizeof(int), 4);
	gor_attr a = {0, "stuck-sender"};
	TU_CHILD_CHECK(gor_go_attr(&a, blocked_sender, full) == 0, "gor_go_attr");
	TU_CHILD_CHECK(gor_go(blocked_selecter, cs) == 0, "gor_go");
	gor_sleep(20 * GOR_MILLISECOND);
	gor_waitgroup wg = {0};
	gor_wg_add(&wg, 1);
	gor_wg_wait(&wg);
	return 0;
}

/* main calls gor_exit; the others finish: nothing is left at all. */
static void finisher(void *arg)
{
	(void)arg;
	gor_sleep(5 * GOR_MILLISECOND);
}

static int main_exits_child(void *arg)
{
	(void)arg;
	TU_CHILD_CHECK(gor_go(finisher, NULL) == 0, "gor_go");
	gor_exit();
}

/* Not a deadlock: main waits for a goroutine that sleeps first. */
static void late_sender(void *arg)
{
	gor_sleep(50 * GOR_MILLISECOND);
	int v = 42;
	gor_send(arg, &v);
}

static int timer_pending_child(void *arg)
{
	(void)arg;
	gor_chan *c = gor_chan_make(sizeof(int), 0);
	TU_CHILD_CHECK(gor_go(late_sender, c) == 0, "gor_go");
	int v = 0;
	TU_CHILD_CHECK(gor_recv(c, &v) == 1 && v == 42, "got %d", v);
	return 0;
}

/* Not a deadlock: an adopted thread busy in its own code will send. */
static gor_chan *threadchan;
static atomic_int thread_adopted;

static void *busy_thread(void *arg)
{
	(void)arg;
	gor_self(); /* adopted: it holds a P while it runs its own code */
	atomic_store(&thread_adopted, 1);
	tu_spin_ns(100 * GOR_MILLISECOND);
	int v = 9;
	gor_send(threadchan, &v);
	return NULL;
}

static int thread_busy_child(void *arg)
{
	(void)arg;
	threadchan = gor_chan_make(sizeof(int), 0);
	pthread_t th;
	TU_CHILD_CHECK(pthread_create(&th, NULL, busy_thread, NULL) == 0, "pthread_create");
	/* Once adopted the thread is an M that does not sleep; before that
	 * only the count of the process's threads speaks for it. */
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (!atomic_load(&thread_adopted)) {
		TU_CHILD_CHECK(tu_now() < dl, "the busy thread never called into gor");
		gor_sleep(GOR_MILLISECOND);
	}
	int v = 0;
	TU_CHILD_CHECK(gor_recv(threadchan, &v) == 1 && v == 9, "got %d", v);
	/* Not joined: a thread blocked in pthread_join would keep its P, and
	 * the sender, still to be scheduled, needs one to return. */
	TU_CHILD_CHECK(pthread_detach(th) == 0, "pthread_detach");
	return 0;
}

/* A goroutine blocked on a NULL channel counts as blocked for ever. */
static int nil_chan_child(void *arg)
{
	(void)arg;
	gor_send(NULL, &nevercome);
	return 0;
}

static const char *const p1[] = {"GOR_MAXPROCS=1", NULL};
static const char *const p2[] = {"GOR_MAXPROCS=2", NULL};

static void expect_deadlock(tu_child_fn fn, const char *const *env, const char *msg)
{
	struct tu_child c;
	tu_child_run(&c, fn, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, msg);
	tu_child_free(&c);
}

START_TEST(test_recv_forever)
{
	const char *const *env = _i ? p2 : p1;
	struct tu_child c;
	tu_child_run(&c, recv_forever_child, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, "gor: fatal error: all goroutines are asleep - deadlock!");
	TU_ASSERT_STDERR_HAS(&c, "goroutine 1 [waiting: chan receive");
	TU_ASSERT_STDERR_HAS(&c, "waiting on channel 0x");
	TU_ASSERT_STDERR_HAS(&c, "(elem 8 bytes, len 0/cap 0)");
	tu_child_free(&c);
}
END_TEST

START_TEST(test_many_blocked)
{
	const char *const *env = _i ? p2 : p1;
	struct tu_child c;
	tu_child_run(&c, many_blocked_child, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, "all goroutines are asleep - deadlock!");
	TU_ASSERT_STDERR_HAS(&c, "\"stuck-sender\" [waiting: chan send");
	TU_ASSERT_STDERR_HAS(&c, "(elem 4 bytes, len 1/cap 1)");
	TU_ASSERT_STDERR_HAS(&c, "[waiting: select");
	TU_ASSERT_STDERR_HAS(&c, "(elem 0 bytes, len 0/cap 0)");
	TU_ASSERT_STDERR_HAS(&c, "(elem 4 bytes, len 0/cap 4)");
	TU_ASSERT_STDERR_HAS(&c, "goroutine 1 [waiting: sync.WaitGroup.Wait");
	TU_ASSERT_STDERR_HAS(&c, "created by goroutine 1 at");
	tu_child_free(&c);
}
END_TEST

START_TEST(test_main_exits)
{
	expect_deadlock(main_exits_child, _i ? p2 : p1, "no goroutines (main called gor_exit) - deadlock!");
}
END_TEST

START_TEST(test_nil_chan)
{
	expect_deadlock(nil_chan_child, _i ? p2 : p1, "all goroutines are asleep - deadlock!");
}
END_TEST

START_TEST(test_not_deadlocked)
{
	const char *const *env = _i ? p2 : p1;
	struct tu_child c;
	tu_child_run(&c, timer_pending_child, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	tu_child_free(&c);
	tu_child_run(&c, thread_busy_child, NULL, env);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	tu_child_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("deadlock");
	TCase *tc = tu_tcase(s, "checkdead");
	tcase_add_loop_test(tc, test_recv_forever, 0, 2);
	tcase_add_loop_test(tc, test_many_blocked, 0, 2);
	tcase_add_loop_test(tc, test_main_exits, 0, 2);
	tcase_add_loop_test(tc, test_nil_chan, 0, 2);
	tcase_add_loop_test(tc, test_not_deadlocked, 0, 2);
	return tu_srunner_run(s);
}
