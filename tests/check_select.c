/*
 * check_select.c - gor_select, gor_try_select and gor_select_until
 * (runtime/select.c): ready cases and their ok flags, the default case,
 * argument errors, fairness among ready cases, blocking and being woken
 * by a value or a close, the same channel in two cases, deadlines (and a
 * ready case preferred to an expired one), deadlines racing senders,
 * NULL channels, zero-size elements, selects with many cases, and
 * selects on both ends of a hand-off with an exactly-once checksum.
 *
 *   make lib build/tests/check_select && build/tests/check_select
 *
 * White-box: chan.h to see that a select leaves no sudog queued behind
 * it. Every wait is bounded (testutil.h); deadlines are asserted only as
 * "not before".
 */
#include "testutil.h"
#include "chan.h"

#define NCASES(a) (sizeof(a) / sizeof *(a))

static size_t waiters(gor_chan *c)
{
	size_t n = 0;
	lock(&c->lock);
	for (struct sudog *sg = atomic_load_ptr(&c->recvq.first); sg; sg = sg->next)
		n++;
	for (struct sudog *sg = atomic_load_ptr(&c->sendq.first); sg; sg = sg->next)
		n++;
	unlock(&c->lock);
	return n;
}

static gor_chan *mkchan(size_t elemsize, size_t cap)
{
	gor_chan *c = gor_chan_make(elemsize, cap);
	ck_assert_msg(c != NULL, "gor_chan_make(%zu, %zu): errno %d", elemsize, cap, errno);
	return c;
}

/* ---- ready cases, default, errors ------------------------------------------ */

START_TEST(test_ready_cases)
{
	gor_chan *a = mkchan(sizeof(int64_t), 1), *b = mkchan(sizeof(int64_t), 1);
	int64_t in = 0, out = 11;
	gor_case cs[] = {
		{NULL, GOR_RECV, &in, -1},
		{a, GOR_RECV, &in, -1},
		{b, GOR_SEND, &out, -1},
		{NULL, GOR_SEND, &out, -1},
	};
	/* a is empty: only the send on b can proceed */
	ck_assert_int_eq(gor_select(cs, NCASES(cs)), 2);
	ck_assert_int_eq(cs[2].ok, 1);
	ck_assert_uint_eq(gor_chan_len(b), 1);
	/* now b is full and a gets a value: only the receive */
	int64_t v = 22;
	ck_assert_int_eq(gor_send(a, &v), 0);
	ck_assert_int_eq(gor_select(cs, NCASES(cs)), 1);
	ck_assert_int_eq(cs[1].ok, 1);
	ck_assert_int_eq(in, 22);
	ck_assert_int_eq(cs[0].ok, -1); /* NULL-channel cases are not touched */
	ck_assert_int_eq(cs[3].ok, -1);
	/* a receive on a closed channel is ready: ok 0, elem zeroed */
	gor_close(a);
	in = 5;
	ck_assert_int_eq(gor_select(cs, NCASES(cs)), 1);
	ck_assert_int_eq(cs[1].ok, 0);
	ck_assert_int_eq(in, 0);
	/* a receive case's elem may be NULL */
	gor_case one[] = {{b, GOR_RECV, NULL, -1}, {a, GOR_SEND, &out, -1}};
	gor_case drain[] = {{b, GOR_RECV, NULL, -1}};
	ck_assert_int_eq(gor_select(drain, 1), 0);
	ck_assert_int_eq(drain[0].ok, 1);
	/* a send on a closed channel: ready, ok 0, nothing delivered */
	ck_assert_int_eq(gor_select(one, NCASES(one)), 1);
	ck_assert_int_eq(one[1].ok, 0);
	gor_chan_free(a);
	gor_chan_free(b);
}
END_TEST

START_TEST(test_try_select)
{
	gor_chan *a = mkchan(sizeof(int64_t), 0), *b = mkchan(sizeof(int64_t), 1);
	int64_t v = 3, w = 0;
	gor_case cs[] = {{a, GOR_RECV, &w, 0}, {a, GOR_SEND, &v, 0}, {b, GOR_RECV, &w, 0}};
	errno = 0;
	ck_assert_int_eq(gor_try_select(cs, NCASES(cs)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	errno = 0;
	ck_assert_int_eq(gor_try_select(NULL, 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	gor_case nils[] = {{NULL, GOR_RECV, &w, 0}, {NULL, GOR_SEND, &v, 0}};
	errno = 0;
	ck_assert_int_eq(gor_try_select(nils, NCASES(nils)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* one live case (the single-operation path) */
	gor_case single[] = {{NULL, GOR_RECV, &w, 0}, {b, GOR_RECV, &w, 0}};
	errno = 0;
	ck_assert_int_eq(gor_try_select(single, NCASES(single)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(gor_try_send(b, &v), 0);
	ck_assert_int_eq(gor_try_select(single, NCASES(single)), 1);
	ck_assert_int_eq(single[1].ok, 1);
	ck_assert_int_eq(w, 3);
	ck_assert_int_eq(gor_try_send(b, &v), 0);
	w = 0;
	ck_assert_int_eq(gor_try_select(cs, NCASES(cs)), 2);
	ck_assert_int_eq(w, 3);
	ck_assert_uint_eq(waiters(a) + waiters(b), 0);
	gor_chan_free(a);
	gor_chan_free(b);
}
END_TEST

START_TEST(test_invalid)
{
	gor_chan *a = mkchan(sizeof(int64_t), 1);
	int64_t v = 0;
	errno = 0;
	ck_assert_int_eq(gor_select(NULL, 2), -1);
	ck_assert_int_eq(errno, EINVAL);
	gor_case bad[] = {{a, 7, &v, 0}};
	errno = 0;
	ck_assert_int_eq(gor_try_select(bad, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	gor_case nullsend[] = {{a, GOR_SEND, NULL, 0}, {a, GOR_RECV, &v, 0}};
	errno = 0;
	ck_assert_int_eq(gor_select(nullsend, 2), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(gor_chan_len(a), 0);
	gor_chan_free(a);
}
END_TEST

/* ---- fairness ----------------------------------------------------------------- */

enum { FAIR_ROUNDS = 30000 };

/* Three cases that are always ready (two receives kept full, one send
 * kept empty): each must win a third of the time, within 10%. */
START_TEST(test_fairness)
{
	gor_chan *r1 = mkchan(sizeof(int64_t), 1), *r2 = mkchan(sizeof(int64_t), 1);
	gor_chan *s1 = mkchan(sizeof(int64_t), 1);
	int64_t v = 1, got;
	gor_send(r1, &v);
	gor_send(r2, &v);
	gor_case cs[] = {{r1, GOR_RECV, &got, 0}, {s1, GOR_SEND, &v, 0}, {r2, GOR_RECV, &got, 0}};
	int count[3] = {0};
	for (int i = 0; i < FAIR_ROUNDS; i++) {
		int k = gor_select(cs, NCASES(cs));
		ck_assert_msg(k >= 0 && k < 3, "select returned %d", k);
		count[k]++;
		if (k == 1)
			ck_assert_int_eq(gor_try_recv(s1, NULL), 1);
		else
			ck_assert_int_eq(gor_try_send(cs[k].chan, &v), 0);
	}
	for (int k = 0; k < 3; k++)
		ck_assert_msg(count[k] >= FAIR_ROUNDS / 3 * 9 / 10 && count[k] <= FAIR_ROUNDS / 3 * 11 / 10,
			      "case %d won %d of %d times: %d/%d/%d", k, count[k], FAIR_ROUNDS, count[0],
			      count[1], count[2]);
	gor_chan_free(r1);
	gor_chan_free(r2);
	gor_chan_free(s1);
}
END_TEST

/* ---- blocking -------------------------------------------------------------- */

struct partner {
	gor_chan *c;
	int op;         /* what the partner does: GOR_SEND or GOR_RECV */
	int64_t value;  /* sent, or received */
	int64_t delay;  /* ns before acting */
	atomic_int done;
};

static void partner_fn(void *arg)
{
	struct partner *p = arg;
	if (p->delay)
		gor_sleep(p->delay);
	if (p->op == GOR_SEND)
		gor_send(p->c, &p->value);
	else
		gor_recv(p->c, &p->value);
	atomic_store(&p->done, 1);
}

enum { BLOCK_ROUNDS = 200 };

/* The select parks on three unbuffered channels; a partner completes one
 * of them, chosen per round, by a send or by a receive. */
static void block_run(int procs)
{
	gor_maxprocs(procs);
	gor_chan *c[3] = {mkchan(sizeof(int64_t), 0), mkchan(sizeof(int64_t), 0),
			  mkchan(sizeof(int64_t), 0)};
	for (int round = 0; round < BLOCK_ROUNDS; round++) {
		int which = round % 3;
		int64_t in = -1, out = 1000 + round;
		/* case 1 sends: the partner on c[1] receives */
		gor_case cs[] = {{c[0], GOR_RECV, &in, -1}, {c[1], GOR_SEND, &out, -1},
				 {c[2], GOR_RECV, &in, -1}};
		struct partner p = {.c = c[which], .op = which == 1 ? GOR_RECV : GOR_SEND,
				    .value = round, .delay = round % 2 ? 100 * GOR_MICROSECOND : 0};
		TU_GO(partner_fn, &p);
		int k = gor_select(cs, NCASES(cs));
		ck_assert_msg(k == which, "MAXPROCS=%d round %d: case %d won, want %d", procs, round, k,
			      which);
		ck_assert_int_eq(cs[k].ok, 1);
		TU_WAIT_UNTIL(atomic_load(&p.done), "round %d: the partner never returned", round);
		ck_assert_int_eq(which == 1 ? p.value : in, which == 1 ? out : round);
		for (int i = 0; i < 3; i++)
			ck_assert_msg(waiters(c[i]) == 0, "round %d: a sudog left on channel %d", round, i);
	}
	for (int i = 0; i < 3; i++)
		gor_chan_free(c[i]);
}

START_TEST(test_block_and_wake)
{
	block_run(1);
	block_run(2);
}
END_TEST

static atomic_int sel_state;
static gor_case close_cases[2];
static int close_result;

static void close_selector(void *arg)
{
	(void)arg;
	atomic_store(&sel_state, 1);
	close_result = gor_select(close_cases, 2);
	atomic_store(&sel_state, 2);
}

/* A parked select is woken by a close: a receive case gets ok 0 and a
 * zeroed elem, a send case ok 0 (not delivered). */
START_TEST(test_close_wakes_select)
{
	gor_maxprocs(2);
	for (int op = GOR_RECV; op <= GOR_SEND; op++) {
		gor_chan *closing = mkchan(sizeof(int64_t), 0), *quiet = mkchan(sizeof(int64_t), 0);
		int64_t v = 0x77, q = 0x55;
		close_cases[0] = (gor_case){quiet, GOR_RECV, &q, -1};
		close_cases[1] = (gor_case){closing, op, &v, -1};
		atomic_store(&sel_state, 0);
		TU_GO(close_selector, NULL);
		TU_WAIT_UNTIL(waiters(closing) == 1 && waiters(quiet) == 1, "the select never parked");
		ck_assert_int_eq(gor_close(closing), 0);
		TU_WAIT_UNTIL(atomic_load(&sel_state) == 2, "the close did not wake the select");
		ck_assert_int_eq(close_result, 1);
		ck_assert_int_eq(close_cases[1].ok, 0);
		ck_assert_int_eq(v, op == GOR_RECV ? 0 : 0x77);
		ck_assert_int_eq(q, 0x55);
		ck_assert_uint_eq(waiters(quiet), 0);
		gor_chan_free(closing);
		gor_chan_free(quiet);
	}
}
END_TEST

/* ---- one channel in two cases ---------------------------------------------- */

START_TEST(test_same_channel_buffered)
{
	gor_chan *c = mkchan(sizeof(int64_t), 1);
	for (int64_t i = 0; i < 100; i++) {
		int64_t out = i, in = -1;
		gor_case cs[] = {{c, GOR_RECV, &in, -1}, {c, GOR_SEND, &out, -1}};
		/* empty: only the send can proceed; full: only the receive */
		ck_assert_int_eq(gor_select(cs, 2), 1);
		ck_assert_int_eq(gor_select(cs, 2), 0);
		ck_assert_int_eq(in, i);
	}
	gor_chan_free(c);
}
END_TEST

enum { SELF_ROUNDS = 1000 };
static gor_chan *self_chan;
static atomic_int self_recv_own, self_done, self_ops[2];

/* Go's TestSelfSelect: two goroutines each select to send and receive on
 * one channel; neither may deadlock, nor (unbuffered) receive its own
 * value. */
static void self_selector(void *arg)
{
	int64_t me = (int64_t)(intptr_t)arg, in = -1;
	for (int i = 0; i < SELF_ROUNDS; i++) {
		gor_case cs[] = {{self_chan, GOR_SEND, &me, 0}, {self_chan, GOR_RECV, &in, 0}};
		int k = gor_select(cs, 2);
		if (k == 1 && gor_chan_cap(self_chan) == 0 && in == me)
			atomic_fetch_add(&self_recv_own, 1);
		if (k == 0 || k == 1)
			atomic_fetch_add(&self_ops[k], 1);
	}
	atomic_fetch_add(&self_done, 1);
}

START_TEST(test_same_channel_self_select)
{
	static const size_t caps[] = {0, 10};
	for (int procs = 1; procs <= 2; procs++) {
		for (size_t k = 0; k < NCASES(caps); k++) {
			gor_maxprocs(procs);
			self_chan = mkchan(sizeof(int64_t), caps[k]);
			atomic_store(&self_done, 0);
			atomic_store(&self_ops[0], 0);
			atomic_store(&self_ops[1], 0);
			TU_GO(self_selector, (void *)0);
			TU_GO(self_selector, (void *)1);
			TU_WAIT_UNTIL(atomic_load(&self_done) == 2,
				      "MAXPROCS=%d cap=%zu: self-select deadlocked (%d sends, %d receives)",
				      procs, caps[k], atomic_load(&self_ops[0]), atomic_load(&self_ops[1]));
			ck_assert_int_eq(atomic_load(&self_recv_own), 0);
			int sends = atomic_load(&self_ops[0]), recvs = atomic_load(&self_ops[1]);
			ck_assert_int_eq(sends + recvs, 2 * SELF_ROUNDS);
			/* what was sent and not received is in the buffer */
			ck_assert_uint_eq((size_t)(sends - recvs), gor_chan_len(self_chan));
			gor_chan_free(self_chan);
		}
	}
}
END_TEST

/* The select parks with both cases on one unbuffered channel, then a
 * partner completes one of them. */
START_TEST(test_same_channel_partner)
{
	gor_maxprocs(2);
	gor_chan *c = mkchan(sizeof(int64_t), 0);
	for (int round = 0; round < 50; round++) {
		int64_t out = 500 + round, in = -1;
		gor_case cs[] = {{c, GOR_SEND, &out, -1}, {c, GOR_RECV, &in, -1}};
		struct partner p = {.c = c, .op = round % 2 ? GOR_SEND : GOR_RECV, .value = round,
				    .delay = 200 * GOR_MICROSECOND};
		TU_GO(partner_fn, &p);
		int k = gor_select(cs, 2);
		TU_WAIT_UNTIL(atomic_load(&p.done), "round %d: the partner never returned", round);
		if (round % 2) {
			ck_assert_int_eq(k, 1);
			ck_assert_int_eq(in, round);
		} else {
			ck_assert_int_eq(k, 0);
			ck_assert_int_eq(p.value, out);
		}
		ck_assert_uint_eq(waiters(c), 0);
	}
	gor_chan_free(c);
}
END_TEST

/* ---- deadlines ------------------------------------------------------------- */

START_TEST(test_deadline)
{
	gor_chan *a = mkchan(sizeof(int64_t), 1), *b = mkchan(sizeof(int64_t), 0);
	int64_t v = 0;
	gor_case cs[] = {{a, GOR_RECV, &v, -1}, {b, GOR_RECV, &v, -1}};

	/* nothing ready: the deadline passes, not before it is due */
	int64_t t0 = gor_now(), dl = t0 + 20 * GOR_MILLISECOND;
	errno = 0;
	ck_assert_int_eq(gor_select_until(cs, NCASES(cs), dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_ge(gor_now(), dl);
	ck_assert_uint_eq(waiters(a) + waiters(b), 0);

	/* expired, with a case ready: the case wins */
	int64_t x = 9;
	gor_send(a, &x);
	ck_assert_int_eq(gor_select_until(cs, NCASES(cs), gor_now() - GOR_SECOND), 0);
	ck_assert_int_eq(v, 9);
	ck_assert_int_eq(cs[0].ok, 1);
	/* expired, nothing ready: at once */
	errno = 0;
	ck_assert_int_eq(gor_select_until(cs, NCASES(cs), 0), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	/* one live case with a deadline */
	gor_case one[] = {{b, GOR_RECV, &v, -1}, {NULL, GOR_SEND, &x, -1}};
	errno = 0;
	ck_assert_int_eq(gor_select_until(one, 2, gor_now() + GOR_MILLISECOND), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	/* no live case: a sleep until the deadline */
	dl = gor_now() + 5 * GOR_MILLISECOND;
	errno = 0;
	ck_assert_int_eq(gor_select_until(NULL, 0, dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_ge(gor_now(), dl);

	/* after timing out, the goroutine selects (and parks) normally */
	struct partner p = {.c = b, .op = GOR_SEND, .value = 31, .delay = GOR_MILLISECOND};
	TU_GO(partner_fn, &p);
	ck_assert_int_eq(gor_select_until(cs, NCASES(cs), GOR_NEVER), 1);
	ck_assert_int_eq(v, 31);
	TU_WAIT_UNTIL(atomic_load(&p.done), "the sender never returned");
	gor_chan_free(a);
	gor_chan_free(b);
}
END_TEST

enum { RACE_ROUNDS = 300 };

/* A sender arrives about when the deadline expires: the value is either
 * received by the select or left for the next receive, never lost and
 * never delivered twice, and the select leaves no sudog behind. */
static void race_run(int procs, size_t cap)
{
	gor_maxprocs(procs);
	gor_chan *c = mkchan(sizeof(int64_t), cap), *idle = mkchan(sizeof(int64_t), 0);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct partner p = {.c = c, .op = GOR_SEND, .value = round,
				    .delay = (round % 7) * 30 * GOR_MICROSECOND};
		int64_t v = -1;
		gor_case cs[] = {{idle, GOR_RECV, &v, -1}, {c, GOR_RECV, &v, -1}};
		TU_GO(partner_fn, &p);
		int k = gor_select_until(cs, NCASES(cs), gor_now() + (round % 5) * 40 * GOR_MICROSECOND);
		if (k < 0) {
			ck_assert_int_eq(errno, ETIMEDOUT);
			ck_assert_int_eq(gor_recv(c, &v), 1);
		} else {
			ck_assert_int_eq(k, 1);
		}
		ck_assert_msg(v == round, "round %d: got %lld", round, (long long)v);
		TU_WAIT_UNTIL(atomic_load(&p.done), "round %d: the sender never returned", round);
		ck_assert_uint_eq(waiters(c) + waiters(idle), 0);
		ck_assert_uint_eq(gor_chan_len(c), 0);
	}
	gor_chan_free(c);
	gor_chan_free(idle);
}

START_TEST(test_deadline_races_sender)
{
	race_run(1, 0);
	race_run(2, 0);
	race_run(2, 1);
}
END_TEST

/* ---- NULL channels and no cases ------------------------------------------- */

static atomic_int nocase_started, nocase_returned;

static void nocase_fn(void *arg)
{
	atomic_fetch_add(&nocase_started, 1);
	if (arg) {
		int64_t v;
		gor_case nils[] = {{NULL, GOR_RECV, &v, 0}, {NULL, GOR_SEND, &v, 0}};
		gor_select(nils, NCASES(nils));
	} else {
		gor_select(NULL, 0);
	}
	atomic_fetch_add(&nocase_returned, 1);
}

START_TEST(test_no_cases_blocks_forever)
{
	gor_maxprocs(2);
	TU_GO(nocase_fn, NULL);
	TU_GO(nocase_fn, (void *)1);
	TU_WAIT_UNTIL(atomic_load(&nocase_started) == 2, "the selectors never ran");
	/* everybody else goes on */
	gor_chan *c = mkchan(sizeof(int64_t), 0);
	struct partner p = {.c = c, .op = GOR_SEND, .value = 4};
	TU_GO(partner_fn, &p);
	int64_t v;
	gor_case cs[] = {{NULL, GOR_RECV, &v, 0}, {c, GOR_RECV, &v, 0}, {NULL, GOR_SEND, &v, 0}};
	ck_assert_int_eq(gor_select(cs, NCASES(cs)), 1);
	ck_assert_int_eq(v, 4);
	gor_sleep(10 * GOR_MILLISECOND);
	ck_assert_int_eq(atomic_load(&nocase_returned), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	gor_dump(f);
	fclose(f);
	ck_assert_msg(strstr(buf, "select (no cases)"), "dump:\n%s", buf);
	free(buf);
	TU_WAIT_UNTIL(atomic_load(&p.done), "the sender never returned");
	gor_chan_free(c);
}
END_TEST

/* ---- zero-size elements, many cases ----------------------------------------- */

START_TEST(test_zero_size)
{
	gor_chan *a = mkchan(0, 0), *b = mkchan(0, 2);
	gor_case cs[] = {{a, GOR_RECV, NULL, -1}, {b, GOR_SEND, NULL, -1}};
	ck_assert_int_eq(gor_select(cs, 2), 1);
	ck_assert_int_eq(gor_select(cs, 2), 1);
	errno = 0;
	ck_assert_int_eq(gor_try_select(cs, 2), -1);
	ck_assert_int_eq(errno, EAGAIN);
	struct partner p = {.c = a, .op = GOR_SEND, .delay = GOR_MILLISECOND};
	/* partner_fn sends &p.value, 0 bytes of it */
	TU_GO(partner_fn, &p);
	ck_assert_int_eq(gor_select(cs, 2), 0);
	ck_assert_int_eq(cs[0].ok, 1);
	gor_case rb[] = {{b, GOR_RECV, NULL, -1}, {a, GOR_SEND, NULL, -1}};
	ck_assert_int_eq(gor_select(rb, 2), 0);
	TU_WAIT_UNTIL(atomic_load(&p.done), "the sender never returned");
	gor_chan_free(a);
	gor_chan_free(b);
}
END_TEST

enum { MANY = 40 };

START_TEST(test_many_cases)
{
	gor_maxprocs(2);
	gor_chan *c[MANY];
	int64_t v = -1;
	gor_case cs[MANY];
	for (int i = 0; i < MANY; i++) {
		c[i] = mkchan(sizeof(int64_t), 1);
		cs[i] = (gor_case){c[i], GOR_RECV, &v, -1};
	}
	int64_t x = 37;
	gor_send(c[37], &x);
	ck_assert_int_eq(gor_select(cs, MANY), 37);
	ck_assert_int_eq(v, 37);
	errno = 0;
	ck_assert_int_eq(gor_try_select(cs, MANY), -1);
	ck_assert_int_eq(errno, EAGAIN);
	struct partner p = {.c = c[5], .op = GOR_SEND, .value = 5, .delay = GOR_MILLISECOND};
	TU_GO(partner_fn, &p);
	ck_assert_int_eq(gor_select(cs, MANY), 5);
	ck_assert_int_eq(v, 5);
	errno = 0;
	ck_assert_int_eq(gor_select_until(cs, MANY, gor_now() + GOR_MILLISECOND), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	for (int i = 0; i < MANY; i++) {
		ck_assert_uint_eq(waiters(c[i]), 0);
		gor_chan_free(c[i]);
	}
}
END_TEST

/* ---- selects on both ends ---------------------------------------------------- */

enum { ST_CHANS = 4, ST_PRODUCERS = 8, ST_CONSUMERS = 8, ST_EACH = 1000,
       ST_TOTAL = ST_PRODUCERS * ST_EACH };

static gor_chan *st_chans[ST_CHANS];
static atomic_int st_produced, st_consumed, st_dups;
static atomic_ullong st_sum, st_xor, st_count;
static atomic_uchar st_seen[ST_TOTAL + 1];

/* Sends each value through a select over every channel (a blocking
 * select, a try_select with a fallback, or a plain send, by turns). */
static void st_producer(void *arg)
{
	int64_t base = (int64_t)(intptr_t)arg * ST_EACH;
	for (int64_t k = 1; k <= ST_EACH; k++) {
		int64_t v = base + k;
		gor_case cs[ST_CHANS];
		for (int i = 0; i < ST_CHANS; i++)
			cs[i] = (gor_case){st_chans[i], GOR_SEND, &v, 0};
		if (k % 3 == 0)
			gor_send(st_chans[k % ST_CHANS], &v);
		else if (k % 3 == 1 || gor_try_select(cs, ST_CHANS) < 0)
			gor_select(cs, ST_CHANS);
	}
	atomic_fetch_add(&st_produced, 1);
}

/* Receives through selects until every channel is closed, dropping each
 * channel from its cases (NULL) once it reports closed. */
static void st_consumer(void *arg)
{
	(void)arg;
	gor_case cs[ST_CHANS];
	int64_t v;
	for (int i = 0; i < ST_CHANS; i++)
		cs[i] = (gor_case){st_chans[i], GOR_RECV, &v, 0};
	uint64_t sum = 0, x = 0, n = 0;
	for (int open = ST_CHANS; open > 0;) {
		int k = gor_select(cs, ST_CHANS);
		if (!cs[k].ok) {
			cs[k].chan = NULL;
			open--;
			continue;
		}
		sum += (uint64_t)v;
		x ^= (uint64_t)v;
		n++;
		if (v < 1 || v > ST_TOTAL || atomic_exchange(&st_seen[v], 1))
			atomic_fetch_add(&st_dups, 1);
	}
	atomic_fetch_add(&st_sum, sum);
	atomic_fetch_xor(&st_xor, x);
	atomic_fetch_add(&st_count, n);
	atomic_fetch_add(&st_consumed, 1);
}

static void stress_run(int procs, size_t cap)
{
	gor_maxprocs(procs);
	atomic_store(&st_produced, 0);
	atomic_store(&st_consumed, 0);
	atomic_store(&st_dups, 0);
	atomic_store(&st_sum, 0);
	atomic_store(&st_xor, 0);
	atomic_store(&st_count, 0);
	for (int i = 0; i <= ST_TOTAL; i++)
		atomic_store(&st_seen[i], 0);
	for (int i = 0; i < ST_CHANS; i++)
		st_chans[i] = mkchan(sizeof(int64_t), cap);
	for (int i = 0; i < ST_CONSUMERS; i++)
		TU_GO(st_consumer, NULL);
	for (intptr_t i = 0; i < ST_PRODUCERS; i++)
		TU_GO(st_producer, (void *)i);
	TU_WAIT_UNTIL(atomic_load(&st_produced) == ST_PRODUCERS, "MAXPROCS=%d cap=%zu: %d producers done",
		      procs, cap, atomic_load(&st_produced));
	for (int i = 0; i < ST_CHANS; i++)
		ck_assert_int_eq(gor_close(st_chans[i]), 0);
	TU_WAIT_UNTIL(atomic_load(&st_consumed) == ST_CONSUMERS, "MAXPROCS=%d cap=%zu: %d consumers done",
		      procs, cap, atomic_load(&st_consumed));
	uint64_t sum = 0, x = 0;
	for (uint64_t v = 1; v <= ST_TOTAL; v++) {
		sum += v;
		x ^= v;
	}
	ck_assert_int_eq(atomic_load(&st_dups), 0);
	ck_assert_uint_eq(atomic_load(&st_count), ST_TOTAL);
	ck_assert_uint_eq(atomic_load(&st_sum), sum);
	ck_assert_uint_eq(atomic_load(&st_xor), x);
	for (int i = 0; i < ST_CHANS; i++)
		gor_chan_free(st_chans[i]);
}

START_TEST(test_select_stress)
{
	stress_run(1, 0);
	stress_run(2, 0);
	stress_run(4, 0);
	stress_run(4, 3);
}
END_TEST

/* ---- the suite ------------------------------------------------------------ */

static Suite *select_suite(void)
{
	Suite *s = suite_create("select");
	TCase *tc = tu_tcase(s, "basic");
	tcase_add_test(tc, test_ready_cases);
	tcase_add_test(tc, test_try_select);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_zero_size);
	tcase_add_test(tc, test_many_cases);
	tc = tu_tcase(s, "fairness");
	tcase_add_test(tc, test_fairness);
	tc = tu_tcase(s, "block");
	tcase_add_test(tc, test_block_and_wake);
	tcase_add_test(tc, test_close_wakes_select);
	tcase_add_test(tc, test_no_cases_blocks_forever);
	tc = tu_tcase(s, "same_channel");
	tcase_add_test(tc, test_same_channel_buffered);
	tcase_add_test(tc, test_same_channel_self_select);
	tcase_add_test(tc, test_same_channel_partner);
	tc = tu_tcase(s, "deadline");
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_deadline_races_sender);
	tc = tu_tcase(s, "stress");
	tcase_add_test(tc, test_select_stress);
	return s;
}

int main(void)
{
	return tu_srunner_run(select_suite());
}
