/*
 * check_chan.c - channels through the public API (runtime/chan.c):
 * buffered and unbuffered semantics, the try-operations and their error
 * codes, close with goroutines blocked on both sides, NULL channels,
 * zero-size elements, FIFO order at MAXPROCS 1 and 2, 1,000 producers and
 * consumers with a checksum, a prime sieve of chained goroutines, freeing
 * (a channel with a blocked goroutine is fatal) and the timer hook of
 * chan.h.
 *
 *   make lib build/tests/check_chan && build/tests/check_chan
 *
 * White-box: the suite includes chan.h to count the goroutines queued on a
 * channel (so that "close while N wait" really has N waiting) and to drive
 * the timer hook that time.c uses. Every wait is bounded (testutil.h).
 */
#include "testutil.h"
#include "chan.h"

/* ---- helpers -------------------------------------------------------------- */

/* Goroutines queued on c to receive (or to send). */
static size_t waiters(gor_chan *c, bool receivers)
{
	struct waitq *q = receivers ? &c->recvq : &c->sendq;
	size_t n = 0;
	lock(&c->lock);
	for (struct sudog *sg = atomic_load_ptr(&q->first); sg; sg = sg->next)
		n++;
	unlock(&c->lock);
	return n;
}

#define WAIT_WAITERS(c, recv, n)                                                   \
	TU_WAIT_UNTIL(waiters((c), (recv)) == (size_t)(n),                         \
		      "%zu goroutines queued to %s, want %zu", waiters((c), (recv)), \
		      (recv) ? "receive" : "send", (size_t)(n))

static gor_chan *mkchan(size_t elemsize, size_t cap)
{
	gor_chan *c = gor_chan_make(elemsize, cap);
	ck_assert_msg(c != NULL, "gor_chan_make(%zu, %zu): errno %d", elemsize, cap, errno);
	return c;
}

/* ---- basics --------------------------------------------------------------- */

START_TEST(test_make_len_cap)
{
	gor_chan *c = mkchan(8, 5);
	ck_assert_uint_eq(gor_chan_cap(c), 5);
	ck_assert_uint_eq(gor_chan_len(c), 0);
	int64_t v = 7;
	ck_assert_int_eq(gor_try_send(c, &v), 0);
	ck_assert_uint_eq(gor_chan_len(c), 1);
	gor_chan_free(c);

	c = mkchan(0, SIZE_MAX); /* no buffer bytes at all */
	ck_assert_uint_eq(gor_chan_cap(c), SIZE_MAX);
	gor_chan_free(c);

	c = mkchan(4096, 0);
	ck_assert_uint_eq(gor_chan_cap(c), 0);
	gor_chan_free(c);

	ck_assert_uint_eq(gor_chan_len(NULL), 0);
	ck_assert_uint_eq(gor_chan_cap(NULL), 0);

	errno = 0;
	ck_assert_ptr_null(gor_chan_make(SIZE_MAX / 2, 3));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(gor_chan_make((size_t)1 << 40, (size_t)1 << 22));
	ck_assert_int_eq(errno, ENOMEM);

	size_t es, len, cap;
	bool closed;
	c = mkchan(16, 3);
	ck_assert(chan_describe(c, &es, &len, &cap, &closed));
	ck_assert(es == 16 && len == 0 && cap == 3 && !closed);
	gor_close(c);
	ck_assert(chan_describe(c, NULL, NULL, NULL, &closed) && closed);
	ck_assert(!chan_describe(NULL, &es, &len, &cap, &closed));
	gor_chan_free(c);
}
END_TEST

START_TEST(test_buffered)
{
	gor_chan *c = mkchan(sizeof(int64_t), 3);
	int64_t v;
	errno = 0;
	ck_assert_int_eq(gor_try_recv(c, &v), -1);
	ck_assert_int_eq(errno, EAGAIN);
	for (int64_t i = 1; i <= 3; i++)
		ck_assert_int_eq(gor_try_send(c, &i), 0);
	v = 4;
	errno = 0;
	ck_assert_int_eq(gor_try_send(c, &v), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(gor_chan_len(c), 3);
	for (int64_t i = 1; i <= 3; i++) {
		ck_assert_int_eq(gor_recv(c, &v), 1);
		ck_assert_int_eq(v, i);
	}
	/* two values always in the buffer: the ring wraps many times */
	for (int64_t i = 0; i < 2; i++)
		ck_assert_int_eq(gor_send(c, &i), 0);
	for (int64_t i = 2; i < 100; i++) {
		ck_assert_int_eq(gor_send(c, &i), 0);
		ck_assert_int_eq(gor_try_recv(c, &v), 1);
		ck_assert_int_eq(v, i - 2);
	}
	ck_assert_uint_eq(gor_chan_len(c), 2);
	ck_assert_int_eq(gor_recv(c, NULL), 1); /* a NULL elem discards */
	ck_assert_int_eq(gor_recv(c, &v), 1);
	ck_assert_int_eq(v, 99);
	gor_chan_free(c);
}
END_TEST

/* ---- unbuffered rendezvous ---------------------------------------------- */

static atomic_int rv_sent, rv_got;
static atomic_llong rv_value;

static void rv_sender(void *arg)
{
	int64_t v = 42;
	gor_send(arg, &v);
	atomic_store(&rv_sent, 1);
}

static void rv_receiver(void *arg)
{
	int64_t v = 0;
	int r = gor_recv(arg, &v);
	atomic_store(&rv_value, v);
	atomic_store(&rv_got, r);
}

START_TEST(test_unbuffered)
{
	gor_chan *c = mkchan(sizeof(int64_t), 0);
	int64_t v = 1;
	/* nobody there: both try-operations would block */
	errno = 0;
	ck_assert_int_eq(gor_try_send(c, &v), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(gor_try_recv(c, &v), -1);
	ck_assert_int_eq(errno, EAGAIN);

	/* a send completes only when received */
	TU_GO(rv_sender, c);
	WAIT_WAITERS(c, false, 1);
	gor_sleep(5 * GOR_MILLISECOND);
	ck_assert_int_eq(atomic_load(&rv_sent), 0);
	ck_assert_int_eq(gor_chan_len(c), 0);
	ck_assert_int_eq(gor_try_recv(c, &v), 1);
	ck_assert_int_eq(v, 42);
	TU_WAIT_UNTIL(atomic_load(&rv_sent) == 1, "the sender never returned");

	/* a try_send reaches a parked receiver */
	TU_GO(rv_receiver, c);
	WAIT_WAITERS(c, true, 1);
	v = 77;
	ck_assert_int_eq(gor_try_send(c, &v), 0);
	TU_WAIT_UNTIL(atomic_load(&rv_got) == 1, "the receiver never returned");
	ck_assert_int_eq(atomic_load(&rv_value), 77);
	ck_assert_uint_eq(waiters(c, true) + waiters(c, false), 0);
	gor_chan_free(c);
}
END_TEST

/* ---- errors ----------------------------------------------------------------- */

START_TEST(test_errors)
{
	int64_t v = 5;
	errno = 0;
	ck_assert_int_eq(gor_try_send(NULL, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(gor_try_recv(NULL, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(gor_close(NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	gor_chan_free(NULL);

	gor_chan *c = mkchan(sizeof(int64_t), 1);
	/* a NULL value with a non-zero size is refused, not dereferenced */
	errno = 0;
	ck_assert_int_eq(gor_try_send(c, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(gor_send(c, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);

	ck_assert_int_eq(gor_close(c), 0);
	errno = 0;
	ck_assert_int_eq(gor_close(c), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(gor_send(c, &v), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(gor_try_send(c, &v), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(gor_chan_len(c), 0);
	v = -1;
	ck_assert_int_eq(gor_recv(c, &v), 0);
	ck_assert_int_eq(v, 0);
	v = -1;
	ck_assert_int_eq(gor_try_recv(c, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(gor_recv(c, NULL), 0);
	gor_chan_free(c);
}
END_TEST

/* ---- close ------------------------------------------------------------------- */

enum { CL_RECV = 5, CL_SEND = 4 };
static atomic_int cl_recv_zero, cl_recv_bad, cl_send_epipe, cl_send_bad, cl_done;

static void cl_receiver(void *arg)
{
	int64_t v = 0x5eed;
	int r = gor_recv(arg, &v);
	atomic_fetch_add(r == 0 && v == 0 ? &cl_recv_zero : &cl_recv_bad, 1);
	atomic_fetch_add(&cl_done, 1);
}

static void cl_sender(void *arg)
{
	int64_t v = 99;
	int r = gor_send(arg, &v);
	int e = errno;
	atomic_fetch_add(r == -1 && e == EPIPE ? &cl_send_epipe : &cl_send_bad, 1);
	atomic_fetch_add(&cl_done, 1);
}

START_TEST(test_close_wakes_everyone)
{
	gor_maxprocs(2);
	gor_chan *rc = mkchan(sizeof(int64_t), 0);
	gor_chan *sc = mkchan(sizeof(int64_t), 2);
	for (int64_t i = 1; i <= 2; i++)
		ck_assert_int_eq(gor_send(sc, &i), 0);
	for (int i = 0; i < CL_RECV; i++)
		TU_GO(cl_receiver, rc);
	for (int i = 0; i < CL_SEND; i++)
		TU_GO(cl_sender, sc);
	WAIT_WAITERS(rc, true, CL_RECV);
	WAIT_WAITERS(sc, false, CL_SEND);
	ck_assert_int_eq(gor_close(rc), 0);
	ck_assert_int_eq(gor_close(sc), 0);
	TU_WAIT_UNTIL(atomic_load(&cl_done) == CL_RECV + CL_SEND, "%d of %d woken",
		      atomic_load(&cl_done), CL_RECV + CL_SEND);
	ck_assert_int_eq(atomic_load(&cl_recv_zero), CL_RECV);
	ck_assert_int_eq(atomic_load(&cl_recv_bad), 0);
	ck_assert_int_eq(atomic_load(&cl_send_epipe), CL_SEND);
	ck_assert_int_eq(atomic_load(&cl_send_bad), 0);
	ck_assert_uint_eq(waiters(rc, true) + waiters(sc, false), 0);
	/* what was buffered before the close is still delivered, then 0 */
	int64_t v;
	ck_assert_int_eq(gor_recv(sc, &v), 1);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(gor_try_recv(sc, &v), 1);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(gor_recv(sc, &v), 0);
	gor_chan_free(rc);
	gor_chan_free(sc);
}
END_TEST

/* try_recv's lock-free path must never report "closed" while values that
 * were sent before the close are still buffered. */
enum { TR_ROUNDS = 200, TR_VALUES = 64 };

static void tr_producer(void *arg)
{
	for (int64_t i = 0; i < TR_VALUES; i++)
		gor_send(arg, &i);
	gor_close(arg);
}

START_TEST(test_try_recv_races_close)
{
	gor_maxprocs(2);
	int64_t dl = tu_deadline(TU_WAIT_S);
	for (int round = 0; round < TR_ROUNDS; round++) {
		gor_chan *c = mkchan(sizeof(int64_t), 4);
		TU_GO(tr_producer, c);
		int64_t next = 0, v;
		int r;
		while ((r = gor_try_recv(c, &v)) != 0) {
			if (r == 1) {
				ck_assert_int_eq(v, next);
				next++;
			} else {
				ck_assert_int_eq(errno, EAGAIN);
				gor_yield();
			}
			ck_assert_msg(tu_now() < dl, "round %d: stuck at %lld", round, (long long)next);
		}
		ck_assert_msg(next == TR_VALUES, "round %d: closed after %lld of %d values", round,
			      (long long)next, TR_VALUES);
		gor_chan_free(c);
	}
}
END_TEST

/* ---- NULL channels ---------------------------------------------------------- */

static atomic_int nil_started, nil_returned;

static void nil_receiver(void *arg)
{
	(void)arg;
	atomic_fetch_add(&nil_started, 1);
	gor_recv(NULL, NULL);
	atomic_fetch_add(&nil_returned, 1);
}

static void nil_sender(void *arg)
{
	(void)arg;
	int64_t v = 1;
	atomic_fetch_add(&nil_started, 1);
	gor_send(NULL, &v);
	atomic_fetch_add(&nil_returned, 1);
}

static atomic_int echo_done;

static void echo(void *arg)
{
	gor_chan **cs = arg;
	int64_t v;
	while (gor_recv(cs[0], &v) == 1)
		gor_send(cs[1], &v);
	atomic_store(&echo_done, 1);
}

START_TEST(test_nil_channel)
{
	gor_maxprocs(2);
	TU_GO(nil_receiver, NULL);
	TU_GO(nil_sender, NULL);
	TU_WAIT_UNTIL(atomic_load(&nil_started) == 2, "the nil-channel goroutines never ran");
	/* the others keep working around them */
	gor_chan *cs[2] = {mkchan(sizeof(int64_t), 0), mkchan(sizeof(int64_t), 0)};
	TU_GO(echo, cs);
	for (int64_t i = 0; i < 1000; i++) {
		int64_t v = -1;
		ck_assert_int_eq(gor_send(cs[0], &i), 0);
		ck_assert_int_eq(gor_recv(cs[1], &v), 1);
		ck_assert_int_eq(v, i);
	}
	gor_sleep(10 * GOR_MILLISECOND);
	ck_assert_int_eq(atomic_load(&nil_returned), 0);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	gor_dump(f);
	fclose(f);
	const char *p = strstr(buf, "(nil chan)");
	ck_assert_msg(p && strstr(p + 1, "(nil chan)"), "dump lacks two nil-chan waits:\n%s", buf);
	free(buf);

	/* the try-operations refuse a NULL channel rather than block */
	errno = 0;
	ck_assert_int_eq(gor_try_recv(NULL, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);

	gor_close(cs[0]);
	TU_WAIT_UNTIL(atomic_load(&echo_done), "the echo goroutine missed the close");
	gor_chan_free(cs[0]);
	gor_chan_free(cs[1]);
}
END_TEST

/* ---- zero-size elements ------------------------------------------------------ */

enum { ZS_N = 100 };
static atomic_int zs_sent;

static void zs_sender(void *arg)
{
	for (int i = 0; i < ZS_N; i++)
		if (gor_send(arg, NULL) == 0)
			atomic_fetch_add(&zs_sent, 1);
}

START_TEST(test_zero_size)
{
	gor_chan *c = mkchan(0, 0);
	TU_GO(zs_sender, c);
	for (int i = 0; i < ZS_N; i++)
		ck_assert_int_eq(gor_recv(c, NULL), 1);
	TU_WAIT_UNTIL(atomic_load(&zs_sent) == ZS_N, "%d of %d zero-size sends returned",
		      atomic_load(&zs_sent), ZS_N);
	errno = 0;
	ck_assert_int_eq(gor_try_recv(c, NULL), -1);
	ck_assert_int_eq(errno, EAGAIN);
	gor_chan_free(c);

	c = mkchan(0, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(gor_try_send(c, NULL), 0);
	errno = 0;
	ck_assert_int_eq(gor_try_send(c, NULL), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(gor_chan_len(c), 3);
	ck_assert_int_eq(gor_close(c), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(gor_try_recv(c, NULL), 1);
	ck_assert_int_eq(gor_try_recv(c, NULL), 0);
	ck_assert_int_eq(gor_recv(c, NULL), 0);
	gor_chan_free(c);
}
END_TEST

/* ---- order ----------------------------------------------------------------- */

enum { FIFO_N = 2000, FIFO_PRODUCERS = 4 };

struct fifo_arg {
	gor_chan *c;
	int64_t id;
};

static void fifo_producer(void *arg)
{
	struct fifo_arg *a = arg;
	for (int64_t k = 0; k < FIFO_N; k++) {
		int64_t v = a->id << 32 | k;
		gor_send(a->c, &v);
	}
}

/* Values from each producer arrive in the order it sent them, whatever the
 * interleaving between producers. */
static void fifo_run(int procs, size_t cap, int producers)
{
	gor_maxprocs(procs);
	gor_chan *c = mkchan(sizeof(int64_t), cap);
	struct fifo_arg args[FIFO_PRODUCERS];
	int64_t next[FIFO_PRODUCERS] = {0};
	for (int p = 0; p < producers; p++) {
		args[p] = (struct fifo_arg){c, p};
		TU_GO(fifo_producer, &args[p]);
	}
	for (int i = 0; i < producers * FIFO_N; i++) {
		int64_t v;
		ck_assert_int_eq(gor_recv(c, &v), 1);
		int p = (int)(v >> 32);
		ck_assert_msg(p >= 0 && p < producers && (v & 0xffffffff) == next[p],
			      "MAXPROCS=%d cap=%zu: producer %d's value %lld arrived, expected %lld", procs,
			      cap, p, (long long)(v & 0xffffffff), (long long)next[p]);
		next[p]++;
	}
	gor_chan_free(c);
}

START_TEST(test_fifo)
{
	static const size_t caps[] = {0, 1, 7};
	for (int procs = 1; procs <= 2; procs++)
		for (size_t k = 0; k < sizeof caps / sizeof *caps; k++) {
			fifo_run(procs, caps[k], 1);
			fifo_run(procs, caps[k], FIFO_PRODUCERS);
		}
}
END_TEST

static void send_one(void *arg)
{
	struct fifo_arg *a = arg;
	gor_send(a->c, &a->id);
}

/* A full buffer with queued senders: the receiver takes the head and the
 * first sender's value goes to the tail, so order is buffer, then queue. */
START_TEST(test_full_buffer_queue_order)
{
	enum { CAP = 2, SENDERS = 4 };
	gor_maxprocs(2);
	gor_chan *c = mkchan(sizeof(int64_t), CAP);
	for (int64_t i = 0; i < CAP; i++)
		ck_assert_int_eq(gor_send(c, &i), 0);
	struct fifo_arg args[SENDERS];
	for (int i = 0; i < SENDERS; i++) {
		args[i] = (struct fifo_arg){c, CAP + i};
		TU_GO(send_one, &args[i]);
		WAIT_WAITERS(c, false, i + 1);
	}
	for (int64_t i = 0; i < CAP + SENDERS; i++) {
		int64_t v;
		ck_assert_int_eq(gor_recv(c, &v), 1);
		ck_assert_int_eq(v, i);
		ck_assert_uint_eq(gor_chan_len(c), i < SENDERS ? CAP : (size_t)(CAP + SENDERS - 1 - i));
	}
	gor_chan_free(c);
}
END_TEST

/* ---- many producers and consumers ----------------------------------------- */

enum { PC_PRODUCERS = 1000, PC_CONSUMERS = 1000, PC_EACH = 50,
       PC_TOTAL = PC_PRODUCERS * PC_EACH };

static gor_chan *pc_chan;
static atomic_int pc_produced, pc_consumed_done, pc_dups;
static atomic_ullong pc_sum, pc_xor, pc_count;
static atomic_uchar pc_seen[PC_TOTAL + 1];

static void pc_producer(void *arg)
{
	int64_t base = (int64_t)(intptr_t)arg * PC_EACH;
	for (int64_t k = 1; k <= PC_EACH; k++) {
		int64_t v = base + k;
		gor_send(pc_chan, &v);
	}
	atomic_fetch_add(&pc_produced, 1);
}

static void pc_consumer(void *arg)
{
	(void)arg;
	uint64_t sum = 0, x = 0, n = 0;
	int64_t v;
	while (gor_recv(pc_chan, &v) == 1) {
		sum += (uint64_t)v;
		x ^= (uint64_t)v;
		n++;
		if (v < 1 || v > PC_TOTAL || atomic_exchange(&pc_seen[v], 1))
			atomic_fetch_add(&pc_dups, 1);
	}
	atomic_fetch_add(&pc_sum, sum);
	atomic_fetch_xor(&pc_xor, x);
	atomic_fetch_add(&pc_count, n);
	atomic_fetch_add(&pc_consumed_done, 1);
}

static void pc_run(int procs, size_t cap)
{
	gor_maxprocs(procs);
	pc_chan = mkchan(sizeof(int64_t), cap);
	atomic_store(&pc_produced, 0);
	atomic_store(&pc_consumed_done, 0);
	atomic_store(&pc_dups, 0);
	atomic_store(&pc_sum, 0);
	atomic_store(&pc_xor, 0);
	atomic_store(&pc_count, 0);
	for (int i = 0; i <= PC_TOTAL; i++)
		atomic_store(&pc_seen[i], 0);
	for (int i = 0; i < PC_CONSUMERS; i++)
		TU_GO(pc_consumer, NULL);
	for (intptr_t i = 0; i < PC_PRODUCERS; i++)
		TU_GO(pc_producer, (void *)i);
	TU_WAIT_UNTIL(atomic_load(&pc_produced) == PC_PRODUCERS, "MAXPROCS=%d cap=%zu: %d of %d producers done",
		      procs, cap, atomic_load(&pc_produced), PC_PRODUCERS);
	ck_assert_int_eq(gor_close(pc_chan), 0);
	TU_WAIT_UNTIL(atomic_load(&pc_consumed_done) == PC_CONSUMERS,
		      "MAXPROCS=%d cap=%zu: %d of %d consumers saw the close", procs, cap,
		      atomic_load(&pc_consumed_done), PC_CONSUMERS);
	uint64_t sum = 0, x = 0;
	for (uint64_t v = 1; v <= PC_TOTAL; v++) {
		sum += v;
		x ^= v;
	}
	ck_assert_int_eq(atomic_load(&pc_dups), 0);
	ck_assert_uint_eq(atomic_load(&pc_count), PC_TOTAL);
	ck_assert_uint_eq(atomic_load(&pc_sum), sum);
	ck_assert_uint_eq(atomic_load(&pc_xor), x);
	gor_chan_free(pc_chan);
}

START_TEST(test_producers_consumers)
{
	pc_run(1, 0);
	pc_run(1, 64);
	pc_run(4, 0);
	pc_run(4, 64);
}
END_TEST

/* ---- prime sieve ------------------------------------------------------------- */

enum { SIEVE_PRIMES = 1000, SIEVE_LIMIT = 7919 /* the 1000th prime */ };

struct sieve_filter {
	gor_chan *in, *out;
	int64_t prime;
};

static struct sieve_filter filters[SIEVE_PRIMES];
static atomic_int sieve_exited;

static void sieve_generate(void *arg)
{
	for (int64_t i = 2; i <= SIEVE_LIMIT; i++)
		gor_send(arg, &i);
	gor_close(arg);
	atomic_fetch_add(&sieve_exited, 1);
}

static void sieve_filter(void *arg)
{
	struct sieve_filter *f = arg;
	int64_t v;
	while (gor_recv(f->in, &v) == 1)
		if (v % f->prime != 0)
			gor_send(f->out, &v);
	gor_close(f->out);
	atomic_fetch_add(&sieve_exited, 1);
}

static void sieve_run(int procs)
{
	gor_maxprocs(procs);
	atomic_store(&sieve_exited, 0);
	static bool composite[SIEVE_LIMIT + 1];
	for (int i = 2; i * i <= SIEVE_LIMIT; i++)
		for (int j = i * i; j <= SIEVE_LIMIT; j += i)
			composite[j] = true;
	gor_chan *first = mkchan(sizeof(int64_t), 0), *c = first;
	TU_GO(sieve_generate, c);
	int expect = 2;
	for (int i = 0; i < SIEVE_PRIMES; i++) {
		int64_t p;
		ck_assert_int_eq(gor_recv(c, &p), 1);
		ck_assert_msg(p == expect, "MAXPROCS=%d: prime #%d is %lld, want %d", procs, i + 1,
			      (long long)p, expect);
		for (expect++; expect <= SIEVE_LIMIT && composite[expect]; expect++)
			;
		filters[i] = (struct sieve_filter){c, mkchan(sizeof(int64_t), 0), p};
		TU_GO(sieve_filter, &filters[i]);
		c = filters[i].out;
	}
	/* every number up to the limit has a factor among the primes found */
	ck_assert_int_eq(gor_recv(c, NULL), 0);
	TU_WAIT_UNTIL(atomic_load(&sieve_exited) == SIEVE_PRIMES + 1, "%d of %d sieve goroutines ended",
		      atomic_load(&sieve_exited), SIEVE_PRIMES + 1);
	gor_chan_free(first);
	for (int i = 0; i < SIEVE_PRIMES; i++)
		gor_chan_free(filters[i].out);
}

START_TEST(test_prime_sieve)
{
	sieve_run(1);
	sieve_run(2);
}
END_TEST

/* ---- freeing ------------------------------------------------------------------ */

static void blocked_receiver(void *arg)
{
	gor_recv(arg, NULL);
}

static int free_blocked_child(void *arg)
{
	(void)arg;
	gor_chan *c = gor_chan_make(8, 0);
	TU_CHILD_CHECK(c != NULL, "gor_chan_make");
	TU_CHILD_CHECK(gor_go(blocked_receiver, c) == 0, "gor_go");
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (waiters(c, true) != 1) {
		TU_CHILD_CHECK(tu_now() < dl, "the receiver never blocked");
		gor_sleep(GOR_MILLISECOND);
	}
	fprintf(stderr, "FREEING\n");
	gor_chan_free(c);
	fprintf(stderr, "gor_chan_free returned\n");
	return 0;
}

START_TEST(test_free_blocked_is_fatal)
{
	struct tu_child c;
	tu_child_run(&c, free_blocked_child, NULL, NULL);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, "FREEING\n");
	TU_ASSERT_STDERR_HAS(&c, "gor: fatal error: free of a channel with blocked goroutines");
	TU_ASSERT_STDERR_HAS(&c, "1 goroutine(s) blocked receiving, 0 sending");
	TU_ASSERT_STDERR_HAS(&c, "chan receive");
	tu_child_free(&c);
}
END_TEST

/* ---- the timer hook (chan.h, for time.c) ---------------------------------- */

static void tick(void *arg, int64_t now)
{
	chan_trysend_from_timer(arg, &now);
}

static gor_chan *timer_chan(int64_t first, int64_t period)
{
	gor_chan *c = chan_make_timer(sizeof(int64_t), 1);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(c->timer);
	c->timer->when = nanotime() + first;
	c->timer->period = period;
	c->timer->f = tick;
	c->timer->arg = c;
	addtimer(getm()->p, c->timer);
	return c;
}

START_TEST(test_timer_hook)
{
	gor_maxprocs(2);
	/* a ticker: values arrive in increasing time order; ticks are
	 * dropped while the buffer is full, never block the timer */
	gor_chan *c = timer_chan(GOR_MILLISECOND, GOR_MILLISECOND);
	int64_t last = 0;
	for (int i = 0; i < 5; i++) {
		int64_t v;
		ck_assert_int_eq(gor_recv(c, &v), 1);
		ck_assert_int_gt(v, last);
		last = v;
	}
	gor_sleep(5 * GOR_MILLISECOND);
	ck_assert_uint_le(gor_chan_len(c), 1);
	gor_chan_free(c); /* stops it; ASan would see a later firing */

	/* a one-shot freed before it fires never fires */
	c = timer_chan(20 * GOR_MILLISECOND, 0);
	gor_chan_free(c);
	gor_sleep(40 * GOR_MILLISECOND);

	/* sending from a timer into a closed channel is refused quietly */
	c = chan_make_timer(sizeof(int64_t), 1);
	ck_assert_ptr_nonnull(c);
	int64_t v = 1;
	ck_assert_int_eq(chan_trysend_from_timer(c, &v), 0);
	ck_assert_int_eq(chan_trysend_from_timer(c, &v), EAGAIN);
	gor_close(c);
	ck_assert_int_eq(chan_trysend_from_timer(c, &v), EPIPE);
	gor_chan_free(c);
}
END_TEST

/* ---- the suite ------------------------------------------------------------ */

static Suite *chan_suite(void)
{
	Suite *s = suite_create("chan");
	TCase *tc = tu_tcase(s, "basic");
	tcase_add_test(tc, test_make_len_cap);
	tcase_add_test(tc, test_buffered);
	tcase_add_test(tc, test_unbuffered);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_zero_size);
	tc = tu_tcase(s, "close");
	tcase_add_test(tc, test_close_wakes_everyone);
	tcase_add_test(tc, test_try_recv_races_close);
	tc = tu_tcase(s, "nil");
	tcase_add_test(tc, test_nil_channel);
	tc = tu_tcase(s, "order");
	tcase_add_test(tc, test_fifo);
	tcase_add_test(tc, test_full_buffer_queue_order);
	tc = tu_tcase(s, "stress");
	tcase_add_test(tc, test_producers_consumers);
	tcase_add_test(tc, test_prime_sieve);
	tc = tu_tcase(s, "free");
	tcase_add_test(tc, test_free_blocked_is_fatal);
	tcase_add_test(tc, test_timer_hook);
	return s;
}

int main(void)
{
	return tu_srunner_run(chan_suite());
}
