/*
 * check_timer.c - gor_after and gor_tick: values and timing (with
 * generous bounds: the machine is shared), a far timer firing while
 * goroutines only yield, stopping a timer by freeing its channel before
 * it fires, and the race of freeing it while another M is running it,
 * which must neither crash nor deliver into freed memory.
 */
#include "testutil.h"

START_TEST(test_after)
{
	gor_maxprocs(_i + 1);
	int64_t t0 = gor_now();
	gor_chan *c = gor_after(20 * GOR_MILLISECOND);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(gor_chan_cap(c), 1);
	int64_t v = 0;
	ck_assert_int_eq(gor_recv(c, &v), 1);
	int64_t t1 = gor_now();
	ck_assert_msg(v >= t0 + 20 * GOR_MILLISECOND && v <= t1, "stamp %lld not in [%lld, %lld]",
		      (long long)v, (long long)(t0 + 20 * GOR_MILLISECOND), (long long)t1);
	/* once only */
	gor_sleep(30 * GOR_MILLISECOND);
	ck_assert_int_eq(gor_try_recv(c, &v), -1);
	ck_assert_int_eq(errno, EAGAIN);
	gor_chan_free(c);
}
END_TEST

START_TEST(test_after_zero_and_negative)
{
	int64_t v;
	gor_chan *c = gor_after(0);
	ck_assert_int_eq(gor_recv(c, &v), 1);
	gor_chan_free(c);
	c = gor_after(-5);
	ck_assert_int_eq(gor_recv(c, &v), 1);
	gor_chan_free(c);
}
END_TEST

START_TEST(test_tick)
{
	gor_maxprocs(_i + 1);
	int64_t t0 = gor_now(), prev = 0, v; /* before the timer is armed */
	gor_chan *c = gor_tick(5 * GOR_MILLISECOND);
	ck_assert_ptr_nonnull(c);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(gor_recv(c, &v), 1);
		ck_assert_msg(v > prev, "tick %d: %lld after %lld", i, (long long)v, (long long)prev);
		prev = v;
	}
	ck_assert_msg(gor_now() - t0 >= 45 * GOR_MILLISECOND, "10 ticks of 5 ms in %lld ns",
		      (long long)(gor_now() - t0));
	gor_chan_free(c);
}
END_TEST

START_TEST(test_tick_drops_when_full)
{
	gor_chan *c = gor_tick(2 * GOR_MILLISECOND);
	gor_sleep(30 * GOR_MILLISECOND);
	ck_assert_uint_eq(gor_chan_len(c), 1); /* buffer 1: the rest dropped */
	gor_chan_free(c);
}
END_TEST

START_TEST(test_tick_invalid)
{
	errno = 0;
	ck_assert_ptr_null(gor_tick(0));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(gor_tick(-1));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Freed before firing: nothing happens later (ASan/valgrind would see a
 * send into freed memory). */
START_TEST(test_free_before_fire)
{
	for (int i = 0; i < 100; i++) {
		gor_chan_free(gor_after(5 * GOR_MILLISECOND));
		gor_chan_free(gor_tick(GOR_MILLISECOND));
	}
	gor_sleep(30 * GOR_MILLISECOND);
	ck_assert_int_eq(gor_numgoroutine(), 1);
}
END_TEST

/* A timer further ahead than TIMER_LEAD (21 ms) fires while goroutines
 * only yield and nobody reads the runtime's clock: the switch's cheap
 * look at the timers then depends on sysmon's clock reads (time.c, "Is a
 * timer due?"). The waits poll the raw clock (tu_now), not gor_now. */
static atomic_int far_done;
static int64_t far_stamp;

static void far_receiver(void *arg)
{
	if (gor_recv(arg, &far_stamp) != 1)
		far_stamp = -1;
	atomic_fetch_add(&far_done, 1);
}

static void far_yielder(void *arg)
{
	(void)arg;
	TU_WAIT_YIELD(atomic_load(&far_done) > 0, "yielder: the 100 ms timer has not fired");
	atomic_fetch_add(&far_done, 1);
}

START_TEST(test_far_timer_while_yielding)
{
	gor_maxprocs(_i + 1);
	atomic_store(&far_done, 0);
	int64_t t0 = gor_now();
	gor_chan *c = gor_after(100 * GOR_MILLISECOND);
	ck_assert_ptr_nonnull(c);
	TU_GO(far_receiver, c);
	TU_GO(far_yielder, NULL);
	TU_WAIT_YIELD(atomic_load(&far_done) == 2,
		      "a 100 ms timer has not fired while goroutines yield (%d of 2 done)",
		      atomic_load(&far_done));
	ck_assert_msg(far_stamp >= t0 + 100 * GOR_MILLISECOND, "stamp %lld, timer set at %lld",
		      (long long)far_stamp, (long long)t0);
	gor_chan_free(c);
}
END_TEST

static atomic_int racers_done;

static void free_racer(void *arg)
{
	int rounds = (int)(intptr_t)arg;
	for (int i = 0; i < rounds; i++) {
		/* due at once or nearly: another M may be running it as we free */
		gor_chan *c = (i & 1) ? gor_after(i % 3 * GOR_MICROSECOND) : gor_tick(GOR_MICROSECOND);
		if (i % 5 == 0)
			gor_yield();
		gor_chan_free(c);
	}
	atomic_fetch_add(&racers_done, 1);
}

START_TEST(test_free_while_firing)
{
	gor_maxprocs(2);
	enum { RACERS = 4 };
	int rounds = tu_slow() ? 300 : 5000;
	atomic_store(&racers_done, 0);
	for (int i = 0; i < RACERS; i++)
		TU_GO(free_racer, (void *)(intptr_t)rounds);
	TU_WAIT_UNTIL(atomic_load(&racers_done) == RACERS, "racers done: %d of %d",
		      atomic_load(&racers_done), RACERS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tu_tcase(s, "timer");
	tcase_add_loop_test(tc, test_after, 0, 2);
	tcase_add_test(tc, test_after_zero_and_negative);
	tcase_add_loop_test(tc, test_tick, 0, 2);
	tcase_add_test(tc, test_tick_drops_when_full);
	tcase_add_test(tc, test_tick_invalid);
	tcase_add_test(tc, test_free_before_fire);
	tcase_add_loop_test(tc, test_far_timer_while_yielding, 0, 2);
	tcase_add_test(tc, test_free_while_firing);
	return tu_srunner_run(s);
}
