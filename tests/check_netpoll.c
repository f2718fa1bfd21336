/*
 * check_netpoll.c - the netpoller on pipes, socketpairs and files:
 * parking and waking, streams with EAGAIN storms and partial writes,
 * deadlines, gor_fd_close waking parked goroutines with EBADF, SIGPIPE,
 * EINTR, regular files through the blocking path, gor_wait_fd, bad
 * arguments, an idle poller costing no CPU, and the deadlock check
 * (quiet while an fd is waited on, speaking once none is).
 * TCP and addresses are in check_net.c.
 *
 * Timing bounds are loose (the machine is shared): a deadline must not
 * fire early, and may fire late by up to a couple of seconds.
 */
#include "netutil.h" /* first: it defines _GNU_SOURCE */

#include <pthread.h>
#include <sys/stat.h>

/* ---- parking and waking ---------------------------------------------------- */

/* Writers that run a little later; writers_done counts them back, so that
 * their fd is not closed under them. */
static atomic_int writers_done;

static void write_later(void *arg)
{
	int fd = (int)(intptr_t)arg;
	gor_sleep(10 * GOR_MILLISECOND);
	gor_write(fd, "hello", 5);
	atomic_fetch_add(&writers_done, 1);
}

static void wait_writers(int n)
{
	TU_WAIT_UNTIL(atomic_load(&writers_done) == n, "%d of %d writers done", atomic_load(&writers_done), n);
}

/* Parks in gor_read on fd until its writer goes away. */
static void park_in_read_g(void *arg)
{
	char c;
	gor_read((int)(intptr_t)arg, &c, 1);
}

START_TEST(test_pipe_wakes_reader)
{
	gor_maxprocs(_i + 1);
	int p[2];
	nu_pipe(p);
	gor_stats_t s0, s1;
	gor_stats(&s0);
	TU_GO(write_later, (void *)(intptr_t)p[1]);
	char buf[8] = {0};
	ck_assert_int_eq(nu_readfull_g(p[0], buf, 5), 0);
	ck_assert_str_eq(buf, "hello");
	gor_stats(&s1);
	ck_assert_msg(s1.netpoll_wakeups > s0.netpoll_wakeups, "netpoll_wakeups %llu -> %llu",
		      (unsigned long long)s0.netpoll_wakeups, (unsigned long long)s1.netpoll_wakeups);
	ck_assert_int_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	wait_writers(1);
	ck_assert_int_eq(gor_fd_close(p[0]), 0);
	ck_assert_int_eq(gor_fd_close(p[1]), 0);
}
END_TEST

/* A ring of pipes passing a token: many goroutines readied by the poller
 * at once, spread over the Ps. */
enum { RING = 64, LAPS = 20 };
static int ring[RING][2];
static atomic_int ring_done, ring_errs;

static void ring_member(void *arg)
{
	int k = (int)(intptr_t)arg;
	for (int lap = 0; lap < LAPS; lap++) {
		uint32_t v;
		if (nu_readfull_g(ring[k][0], &v, sizeof v) != 0 || v != (uint32_t)(lap * RING + k)) {
			atomic_fetch_add(&ring_errs, 1);
			break;
		}
		v++;
		if (gor_write(ring[(k + 1) % RING][1], &v, sizeof v) != sizeof v) {
			atomic_fetch_add(&ring_errs, 1);
			break;
		}
	}
	atomic_fetch_add(&ring_done, 1);
}

START_TEST(test_pipe_ring)
{
	gor_maxprocs(_i + 1);
	atomic_store(&ring_done, 0);
	atomic_store(&ring_errs, 0);
	for (int k = 0; k < RING; k++)
		nu_pipe(ring[k]);
	for (int k = 0; k < RING; k++)
		TU_GO(ring_member, (void *)(intptr_t)k);
	uint32_t v = 0;
	ck_assert_int_eq(gor_write(ring[0][1], &v, sizeof v), sizeof v);
	TU_WAIT_UNTIL(atomic_load(&ring_done) == RING, "ring: %d of %d done", atomic_load(&ring_done), RING);
	ck_assert_int_eq(atomic_load(&ring_errs), 0);
	/* the last member's token went back to the first pipe */
	ck_assert_int_eq(nu_readfull_g(ring[0][0], &v, sizeof v), 0);
	ck_assert_uint_eq(v, RING * LAPS);
	for (int k = 0; k < RING; k++) {
		gor_fd_close(ring[k][0]);
		gor_fd_close(ring[k][1]);
	}
}
END_TEST

/* ---- streams: EAGAIN storms, partial writes ---------------------------- */

static size_t stream_size(void)
{
	return tu_slow() ? (size_t)1 << 20 : (size_t)8 << 20;
}

START_TEST(test_pipe_stream)
{
	gor_maxprocs(_i + 1);
	int p[2];
	nu_pipe(p);
	nu_check_stream(p[0], p[1], stream_size());
}
END_TEST

START_TEST(test_socketpair_stream)
{
	gor_maxprocs(_i + 1);
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	nu_check_stream(sv[0], sv[1], stream_size());
}
END_TEST

/* ---- deadlines ----------------------------------------------------------- */

#define ASSERT_EXPIRED(call, t0, deadline)                                          \
	do {                                                                        \
		errno = 0;                                                          \
		long r_ = (long)(call);                                             \
		int e_ = errno;                                                     \
		int64_t t1_ = gor_now();                                            \
		ck_assert_msg(r_ == -1 && e_ == ETIMEDOUT, "%s = %ld, errno %d", #call, r_, e_); \
		ck_assert_msg(t1_ >= (deadline), "%s returned %lld ns before its deadline", #call, \
			      (long long)((deadline) - t1_));                       \
		ck_assert_msg(t1_ - (deadline) < nu_late_ns(), "%s returned %lld ms late", #call, \
			      (long long)((t1_ - (deadline)) / GOR_MILLISECOND));   \
		(void)(t0);                                                         \
	} while (0)

START_TEST(test_deadlines)
{
	gor_maxprocs(_i + 1);
	int p[2];
	nu_pipe(p);
	char buf[64];
	int64_t t0 = gor_now(), dl = t0 + 50 * GOR_MILLISECOND;
	ASSERT_EXPIRED(gor_read_until(p[0], buf, sizeof buf, dl), t0, dl);
	t0 = gor_now();
	dl = t0 + 30 * GOR_MILLISECOND;
	ASSERT_EXPIRED(gor_wait_fd(p[0], GOR_READABLE, dl), t0, dl);
	/* past deadlines: at once, unless the call can complete at once */
	t0 = gor_now();
	ASSERT_EXPIRED(gor_read_until(p[0], buf, sizeof buf, t0 - GOR_SECOND), t0, t0 - GOR_SECOND);
	ck_assert_int_eq(gor_write(p[1], "x", 1), 1);
	ck_assert_int_eq(gor_read_until(p[0], buf, sizeof buf, t0 - GOR_SECOND), 1);
	ck_assert_int_eq(gor_wait_fd(p[1], GOR_WRITABLE, t0 - GOR_SECOND), 0);

	/* writing: the first call fills the pipe and returns what it wrote;
	 * the next finds it full and times out */
	size_t big = 1 << 20;
	char *data = calloc(1, big);
	ck_assert_ptr_nonnull(data);
	dl = gor_now() + 30 * GOR_MILLISECOND;
	ssize_t w = gor_write_until(p[1], data, big, dl);
	ck_assert_msg(w > 0 && (size_t)w < big, "write_until into a pipe: %zd", w);
	t0 = gor_now();
	dl = t0 + 40 * GOR_MILLISECOND;
	ASSERT_EXPIRED(gor_write_until(p[1], data, big, dl), t0, dl);
	ck_assert_int_eq(gor_wait_fd(p[1], GOR_WRITABLE, gor_now() + 10 * GOR_MILLISECOND), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	free(data);
	gor_fd_close(p[0]);
	gor_fd_close(p[1]);
}
END_TEST

/* Many waiters: the even ones with staggered deadlines that expire, each
 * on its own timer and none early; the odd ones with distant deadlines,
 * woken by data. */
enum { NDL = 100 };
static int dlpipes[NDL][2];
static atomic_int dl_done, dl_bad;

static void deadline_waiter(void *arg)
{
	int k = (int)(intptr_t)arg;
	char c;
	int64_t dl = k % 2 ? tu_deadline(TU_WAIT_S) : gor_now() + (10 + k) * GOR_MILLISECOND;
	ssize_t r = gor_read_until(dlpipes[k][0], &c, 1, dl);
	int e = errno;
	bool ok = k % 2 ? (r == 1 && c == (char)k) : (r == -1 && e == ETIMEDOUT && gor_now() >= dl);
	if (!ok)
		atomic_fetch_add(&dl_bad, 1);
	atomic_fetch_add(&dl_done, 1);
}

START_TEST(test_many_deadlines)
{
	gor_maxprocs(_i + 1);
	atomic_store(&dl_done, 0);
	atomic_store(&dl_bad, 0);
	for (int k = 0; k < NDL; k++) {
		nu_pipe(dlpipes[k]);
		TU_GO(deadline_waiter, (void *)(intptr_t)k);
	}
	gor_yield();
	for (int k = 1; k < NDL; k += 2) {
		char c = (char)k;
		ck_assert_int_eq(gor_write(dlpipes[k][1], &c, 1), 1);
	}
	TU_WAIT_UNTIL(atomic_load(&dl_done) == NDL, "%d of %d waiters done", atomic_load(&dl_done), NDL);
	ck_assert_int_eq(atomic_load(&dl_bad), 0);
	for (int k = 0; k < NDL; k++) {
		gor_fd_close(dlpipes[k][0]);
		gor_fd_close(dlpipes[k][1]);
	}
}
END_TEST

/* ---- gor_fd_close wakes parked goroutines -------------------------------- */

struct parked {
	int fd;
	int what; /* 0 read, 1 write, 2 wait_fd both */
	atomic_int started, done, err;
	atomic_long ret;
};

static void park_on(void *arg)
{
	struct parked *pk = arg;
	static char sink[1 << 20];
	long r;
	atomic_store(&pk->started, 1);
	if (pk->what == 0)
		r = gor_read(pk->fd, sink, sizeof sink);
	else if (pk->what == 1)
		r = gor_write(pk->fd, sink, sizeof sink);
	else
		r = gor_wait_fd(pk->fd, GOR_READABLE | GOR_WRITABLE, GOR_NEVER);
	atomic_store(&pk->err, errno);
	atomic_store(&pk->ret, r);
	atomic_store(&pk->done, 1);
}

/* Starts a goroutine parked on fd, and makes sure it parked. */
static void start_parked(struct parked *pk, int fd, int what)
{
	memset(pk, 0, sizeof *pk);
	pk->fd = fd;
	pk->what = what;
	TU_GO(park_on, pk);
	TU_WAIT_UNTIL(atomic_load(&pk->started), "the goroutine did not start");
	gor_sleep(20 * GOR_MILLISECOND);
	ck_assert_msg(!atomic_load(&pk->done), "it did not park (returned %ld, errno %d)", atomic_load(&pk->ret),
		      atomic_load(&pk->err));
}

static void assert_ebadf(struct parked *pk, const char *what)
{
	TU_WAIT_UNTIL(atomic_load(&pk->done), "%s: not woken by gor_fd_close", what);
	ck_assert_msg(atomic_load(&pk->ret) == -1 && atomic_load(&pk->err) == EBADF, "%s: %ld, errno %d", what,
		      atomic_load(&pk->ret), atomic_load(&pk->err));
}

START_TEST(test_close_wakes_parked)
{
	gor_maxprocs(_i + 1);
	static struct parked rd, rd2, wr, both;
	int p[2], q[2], sv[2];
	nu_pipe(p);
	nu_pipe(q);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	start_parked(&rd, p[0], 0);
	start_parked(&rd2, p[0], 0); /* queued behind the first reader */
	/* a writer parked on a full pipe: the first write fills it */
	ck_assert_int_gt(gor_write_until(q[1], (char[65536]){0}, 65536, gor_now()), 0);
	start_parked(&wr, q[1], 1);
	/* both directions: fill sv[0]'s way out so that it is not writable */
	while (gor_write_until(sv[0], (char[65536]){0}, 65536, gor_now()) > 0)
		;
	start_parked(&both, sv[0], 2);

	ck_assert_int_eq(gor_fd_close(p[0]), 0);
	assert_ebadf(&rd, "parked reader");
	assert_ebadf(&rd2, "queued reader");
	ck_assert_int_eq(gor_fd_close(q[1]), 0);
	assert_ebadf(&wr, "parked writer");
	ck_assert_int_eq(gor_fd_close(sv[0]), 0);
	assert_ebadf(&both, "gor_wait_fd on both directions");
	/* closed twice: EBADF, as close(2) */
	ck_assert_int_eq(gor_fd_close(p[0]), -1);
	ck_assert_int_eq(errno, EBADF);

	/* The numbers are free again; new files under them work normally. */
	int r[2];
	nu_pipe(r);
	ck_assert_int_eq(gor_write(r[1], "ok", 2), 2);
	char buf[2];
	ck_assert_int_eq(nu_readfull_g(r[0], buf, 2), 0);
	gor_fd_close(r[0]);
	gor_fd_close(r[1]);
	gor_fd_close(p[1]);
	gor_fd_close(q[0]);
	gor_fd_close(sv[1]);
}
END_TEST

/* ---- gor_wait_fd ------------------------------------------------------- */

static void write_byte_later(void *arg)
{
	gor_sleep(20 * GOR_MILLISECOND);
	gor_write((int)(intptr_t)arg, "z", 1);
	atomic_fetch_add(&writers_done, 1);
}

START_TEST(test_wait_fd)
{
	gor_maxprocs(_i + 1);
	int p[2], sv[2];
	nu_pipe(p);
	ck_assert_int_eq(gor_wait_fd(p[1], GOR_WRITABLE, GOR_NEVER), 0);
	ck_assert_int_eq(gor_wait_fd(p[0], GOR_READABLE, gor_now() + 10 * GOR_MILLISECOND), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	TU_GO(write_byte_later, (void *)(intptr_t)p[1]);
	ck_assert_int_eq(gor_wait_fd(p[0], GOR_READABLE, tu_deadline(TU_WAIT_S)), 0);
	/* level, not edge: still readable until read */
	ck_assert_int_eq(gor_wait_fd(p[0], GOR_READABLE, gor_now()), 0);
	ck_assert_int_eq(gor_wait_fd(p[0], GOR_READABLE | GOR_WRITABLE, gor_now()), 0);
	char c;
	ck_assert_int_eq(gor_read(p[0], &c, 1), 1);

	/* both directions, woken by the read side */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(gor_wait_fd(sv[0], GOR_READABLE | GOR_WRITABLE, GOR_NEVER), 0);
	while (gor_write_until(sv[0], (char[65536]){0}, 65536, gor_now()) > 0)
		;
	int64_t dl = gor_now() + 20 * GOR_MILLISECOND;
	ck_assert_int_eq(gor_wait_fd(sv[0], GOR_READABLE | GOR_WRITABLE, dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert(gor_now() >= dl);
	TU_GO(write_byte_later, (void *)(intptr_t)sv[1]);
	ck_assert_int_eq(gor_wait_fd(sv[0], GOR_READABLE | GOR_WRITABLE, tu_deadline(TU_WAIT_S)), 0);
	ck_assert_int_eq(gor_wait_fd(sv[0], GOR_READABLE, gor_now()), 0);

	errno = 0;
	ck_assert_int_eq(gor_wait_fd(p[0], 0, GOR_NEVER), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(gor_wait_fd(p[0], 4, GOR_NEVER), -1);
	ck_assert_int_eq(errno, EINVAL);
	wait_writers(2);
	gor_fd_close(p[0]);
	gor_fd_close(p[1]);
	gor_fd_close(sv[0]);
	gor_fd_close(sv[1]);
}
END_TEST

/* ---- SIGPIPE and EINTR --------------------------------------------------- */

START_TEST(test_no_sigpipe)
{
	int p[2], sv[2];
	nu_pipe(p);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(gor_fd_close(p[0]), 0);
	ck_assert_int_eq(gor_fd_close(sv[1]), 0);
	/* SIGPIPE's default action would end this process */
	ck_assert_int_eq(gor_write(p[1], "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(gor_write(sv[0], "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	sigset_t mask, pending;
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	ck_assert_msg(!sigismember(&mask, SIGPIPE), "SIGPIPE left blocked");
	sigpending(&pending);
	ck_assert_msg(!sigismember(&pending, SIGPIPE), "SIGPIPE left pending");
	gor_fd_close(p[1]);
	gor_fd_close(sv[0]);
}
END_TEST

static atomic_int nsig;
static atomic_int stop_signaller;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&nsig, 1, memory_order_relaxed);
}

/* A plain thread that keeps signalling the process. */
static void *signaller(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000 && !atomic_load(&stop_signaller); i++) {
		kill(getpid(), SIGUSR1);
		usleep(500);
	}
	return NULL;
}

START_TEST(test_eintr)
{
	gor_maxprocs(_i + 1);
	struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	atomic_store(&stop_signaller, 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, signaller, NULL), 0);
	int p[2];
	nu_pipe(p);
	nu_check_stream(p[0], p[1], (size_t)1 << 20);
	/* and a wait that the signals keep interrupting */
	char c;
	int64_t dl = gor_now() + 100 * GOR_MILLISECOND;
	int q[2];
	nu_pipe(q);
	ck_assert_int_eq(gor_read_until(q[0], &c, 1, dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	atomic_store(&stop_signaller, 1);
	pthread_join(th, NULL);
	ck_assert_int_gt(atomic_load(&nsig), 0);
	gor_fd_close(q[0]);
	gor_fd_close(q[1]);
}
END_TEST

/* ---- regular files and bad arguments ------------------------------------------ */

START_TEST(test_regular_file)
{
	char path[] = "/tmp/gor-netpoll-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	size_t n = 1 << 20;
	unsigned char *out = malloc(n), *in = malloc(n);
	ck_assert(out && in);
	nu_fill(out, n, 5, 0);
	ck_assert_int_eq(gor_write(fd, out, n), (ssize_t)n);
	ck_assert_int_eq(gor_wait_fd(fd, GOR_READABLE | GOR_WRITABLE, GOR_NEVER), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(nu_readfull_g(fd, in, n), 0);
	ck_assert_uint_eq(nu_check(in, n, 5, 0), n);
	ck_assert_int_eq(gor_read(fd, in, n), 0); /* end of file */
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); /* left as it was */
	ck_assert_int_eq(gor_fd_close(fd), 0);

	/* a character device epoll refuses (EPERM): the blocking path too */
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(nul, 0);
	ck_assert_int_eq(gor_write(nul, out, n), (ssize_t)n);
	ck_assert_int_eq(gor_read(nul, in, n), 0);
	ck_assert_int_eq(gor_fd_close(nul), 0);
	free(out);
	free(in);
}
END_TEST

START_TEST(test_bad_fds)
{
	char buf[4];
	int p[2];
	nu_pipe(p);
	int closed = p[0];
	close(p[0]);
	const int bad[] = {-1, -5, closed, 1 << 22};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		ck_assert_int_eq(gor_read(bad[i], buf, 1), -1);
		ck_assert_int_eq(errno, EBADF);
		errno = 0;
		ck_assert_int_eq(gor_write(bad[i], buf, 1), -1);
		ck_assert_int_eq(errno, EBADF);
		errno = 0;
		ck_assert_int_eq(gor_wait_fd(bad[i], GOR_READABLE, GOR_NEVER), -1);
		ck_assert_int_eq(errno, EBADF);
		errno = 0;
		ck_assert_int_eq(gor_accept(bad[i], NULL, NULL), -1);
		ck_assert_int_eq(errno, EBADF);
		errno = 0;
		ck_assert_int_eq(gor_fd_close(bad[i]), -1);
		ck_assert_int_eq(errno, EBADF);
	}
	errno = 0;
	ck_assert_int_eq(gor_read(p[1], buf, (size_t)-1), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* a pipe is no socket */
	ck_assert_int_eq(gor_accept(p[1], NULL, NULL), -1);
	ck_assert_int_eq(errno, ENOTSOCK);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	ck_assert_int_eq(gor_connect(p[1], (struct sockaddr *)&sin, sizeof sin), -1);
	ck_assert_int_eq(errno, ENOTSOCK);
	gor_fd_close(p[1]);
}
END_TEST

/* Two goroutines reading one pipe take turns, never both parked on it. */
static atomic_int two_got;

static void one_byte_reader(void *arg)
{
	char c;
	if (nu_readfull_g((int)(intptr_t)arg, &c, 1) == 0)
		atomic_fetch_add(&two_got, 1);
}

START_TEST(test_two_readers)
{
	gor_maxprocs(_i + 1);
	atomic_store(&two_got, 0);
	int p[2];
	nu_pipe(p);
	TU_GO(one_byte_reader, (void *)(intptr_t)p[0]);
	TU_GO(one_byte_reader, (void *)(intptr_t)p[0]);
	gor_sleep(10 * GOR_MILLISECOND);
	ck_assert_int_eq(gor_write(p[1], "a", 1), 1);
	gor_sleep(10 * GOR_MILLISECOND);
	ck_assert_int_eq(gor_write(p[1], "b", 1), 1);
	TU_WAIT_UNTIL(atomic_load(&two_got) == 2, "readers got %d bytes", atomic_load(&two_got));
	gor_fd_close(p[0]);
	gor_fd_close(p[1]);
}
END_TEST

/* ---- timers, fds and a bound main thread, all at once ------------------------ */

/* While fds are waited on, the timed sleeper sleeps in the poller: new
 * earlier timers, and main's goroutine becoming runnable while main's
 * own M sleeps there, must break the poll. */
enum { NSLEEPERS = 16, NPAIRS = 8 };
static atomic_int mix_done, mix_errs;
static gor_chan *mix_ch;
static int mixpipes[NPAIRS][2][2];

static void mix_sleeper(void *arg)
{
	unsigned k = (unsigned)(intptr_t)arg;
	for (unsigned i = 0; i < 40; i++) {
		int64_t d = (int64_t)((k * 7 + i * 13) % 2000) * GOR_MICROSECOND;
		int64_t t0 = gor_now();
		gor_sleep(d);
		if (gor_now() - t0 < d)
			atomic_fetch_add(&mix_errs, 1);
	}
	atomic_fetch_add(&mix_done, 1);
}

/* Even members of a pair echo what the odd ones send. */
static void mix_pinger(void *arg)
{
	int k = (int)(intptr_t)arg, pair = k / 2;
	int in = mixpipes[pair][k % 2][0], out = mixpipes[pair][1 - k % 2][1];
	uint32_t v = 0;
	for (uint32_t i = 0; i < 200; i++) {
		if (k % 2) {
			v = i;
			if (gor_write(out, &v, sizeof v) != sizeof v || nu_readfull_g(in, &v, sizeof v) != 0 || v != i)
				break;
		} else if (nu_readfull_g(in, &v, sizeof v) != 0 || gor_write(out, &v, sizeof v) != sizeof v) {
			break;
		}
		if (i == 199)
			atomic_fetch_add(&mix_done, 1);
	}
}

static void mix_sender(void *arg)
{
	(void)arg;
	for (int64_t i = 0; i < 300; i++) {
		gor_sleep((i % 5) * 50 * GOR_MICROSECOND);
		gor_send(mix_ch, &i);
	}
}

START_TEST(test_timers_fds_main)
{
	gor_maxprocs(_i + 1);
	atomic_store(&mix_done, 0);
	atomic_store(&mix_errs, 0);
	int idle[2];
	nu_pipe(idle);
	TU_GO(park_in_read_g, (void *)(intptr_t)idle[0]); /* keeps the poller in use throughout */
	mix_ch = gor_chan_make(sizeof(int64_t), 0);
	for (int k = 0; k < NSLEEPERS; k++)
		TU_GO(mix_sleeper, (void *)(intptr_t)k);
	for (int pair = 0; pair < NPAIRS; pair++) {
		nu_pipe(mixpipes[pair][0]);
		nu_pipe(mixpipes[pair][1]);
	}
	for (int k = 0; k < 2 * NPAIRS; k++)
		TU_GO(mix_pinger, (void *)(intptr_t)k);
	TU_GO(mix_sender, NULL);
	for (int64_t i = 0; i < 300; i++) {
		int64_t v = -1;
		ck_assert_int_eq(gor_recv(mix_ch, &v), 1);
		ck_assert_int_eq(v, i);
	}
	TU_WAIT_UNTIL(atomic_load(&mix_done) == NSLEEPERS + 2 * NPAIRS, "%d of %d done",
		      atomic_load(&mix_done), NSLEEPERS + 2 * NPAIRS);
	ck_assert_int_eq(atomic_load(&mix_errs), 0);
	gor_fd_close(idle[1]);
	for (int pair = 0; pair < NPAIRS; pair++)
		for (int k = 0; k < 4; k++)
			gor_fd_close(mixpipes[pair][k / 2][k % 2]);
}
END_TEST

/* ---- sysmon polls when no P runs out of work ---------------------------------- */

static atomic_int sysmon_reader_done;

static void read_one_byte_g(void *arg)
{
	char c;
	if (gor_read((int)(intptr_t)arg, &c, 1) == 1)
		atomic_store(&sysmon_reader_done, 1);
}

/* MAXPROCS=1 and main never runs out of work (it yields to nobody), so
 * no M polls: only sysmon's poll can make the reader runnable. */
START_TEST(test_sysmon_polls)
{
	gor_maxprocs(1);
	int p[2];
	nu_pipe(p);
	TU_GO(read_one_byte_g, (void *)(intptr_t)p[0]);
	gor_sleep(10 * GOR_MILLISECOND); /* it parks on the pipe */
	ck_assert_int_eq(gor_write(p[1], "x", 1), 1);
	int64_t t0 = gor_now(), dl = tu_deadline(TU_WAIT_S);
	while (!atomic_load(&sysmon_reader_done) && tu_now() < dl)
		gor_yield();
	ck_assert_msg(atomic_load(&sysmon_reader_done), "the reader was never run");
	ck_assert_msg(gor_now() - t0 < nu_late_ns(), "the reader ran after %lld ms",
		      (long long)((gor_now() - t0) / GOR_MILLISECOND));
	gor_fd_close(p[0]);
	gor_fd_close(p[1]);
}
END_TEST

/* ---- an idle poller costs nothing -------------------------------------------- */

START_TEST(test_idle_cpu)
{
	gor_maxprocs(_i + 1);
	int p[2];
	nu_pipe(p);
	TU_GO(park_in_read_g, (void *)(intptr_t)p[0]);
	gor_sleep(20 * GOR_MILLISECOND); /* let everything settle */
	int64_t c0 = tu_cpu_ns(), t0 = gor_now();
	gor_sleep(300 * GOR_MILLISECOND);
	int64_t cpu = tu_cpu_ns() - c0, wall = gor_now() - t0;
	int64_t bound = (tu_slow() ? 150 : 30) * GOR_MILLISECOND;
	ck_assert_msg(cpu < bound, "idle for %lld ms with a reader parked: %lld ms of CPU (bound %lld)",
		      (long long)(wall / GOR_MILLISECOND), (long long)(cpu / GOR_MILLISECOND),
		      (long long)(bound / GOR_MILLISECOND));
	gor_fd_close(p[1]); /* the reader gets EOF */
}
END_TEST

/* ---- the deadlock check -------------------------------------------------- */

static const char *const p1_env[] = {"GOR_MAXPROCS=1", NULL};
static const char *const p2_env[] = {"GOR_MAXPROCS=2", NULL};

/* Did I/O, closed everything, then blocks on a channel. */
static int io_then_block_child(void *arg)
{
	int variant = (int)(intptr_t)arg;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return 4;
	if (variant == 0) {
		char c;
		TU_CHILD_CHECK(gor_write(p[1], "x", 1) == 1, "write");
		TU_CHILD_CHECK(gor_read(p[0], &c, 1) == 1, "read");
	} else if (variant == 1) {
		/* a reader parked with no deadline, woken by the close */
		TU_CHILD_CHECK(gor_go(park_in_read_g, (void *)(intptr_t)p[0]) == 0, "gor_go");
		gor_sleep(20 * GOR_MILLISECOND);
	} else {
		char c;
		TU_CHILD_CHECK(gor_read_until(p[0], &c, 1, gor_now() + 20 * GOR_MILLISECOND) == -1, "read_until");
	}
	gor_fd_close(p[0]);
	gor_fd_close(p[1]);
	gor_chan *ch = gor_chan_make(0, 0);
	gor_recv(ch, NULL);
	return 0;
}

START_TEST(test_deadlock_after_io)
{
	struct tu_child c;
	tu_child_run(&c, io_then_block_child, (void *)(intptr_t)(_i % 3), _i < 3 ? p1_env : p2_env);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, "all goroutines are asleep - deadlock!");
	tu_child_free(&c);
}
END_TEST

/* A goroutine waits on a pipe that another could still write; main
 * blocks on a channel. Not a deadlock: it waits for a peer. */
static int fd_waiter_child(void *arg)
{
	(void)arg;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return 4;
	TU_CHILD_CHECK(gor_go(park_in_read_g, (void *)(intptr_t)p[0]) == 0, "gor_go");
	gor_chan *ch = gor_chan_make(0, 0);
	gor_recv(ch, NULL);
	return 0;
}

START_TEST(test_fd_waiter_not_deadlock)
{
	struct tu_child c;
	tu_child_start(&c, fd_waiter_child, NULL, _i ? p2_env : p1_env);
	bool spoke = tu_child_read_until(&c, "deadlock", 0.5);
	pid_t w = waitpid(c.pid, &c.status, WNOHANG);
	kill(c.pid, SIGKILL);
	tu_child_wait(&c, 10);
	ck_assert_msg(!spoke && w == 0, "a goroutine waiting on an fd was taken for a deadlock:\n%s", c.err);
	tu_child_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netpoll");
	TCase *tc = tu_tcase(s, "netpoll");
	tcase_add_loop_test(tc, test_pipe_wakes_reader, 0, 2);
	tcase_add_loop_test(tc, test_pipe_ring, 0, 2);
	tcase_add_loop_test(tc, test_pipe_stream, 0, 2);
	tcase_add_loop_test(tc, test_socketpair_stream, 0, 2);
	tcase_add_loop_test(tc, test_deadlines, 0, 2);
	tcase_add_loop_test(tc, test_many_deadlines, 0, 2);
	tcase_add_loop_test(tc, test_close_wakes_parked, 0, 2);
	tcase_add_loop_test(tc, test_wait_fd, 0, 2);
	tcase_add_test(tc, test_no_sigpipe);
	tcase_add_loop_test(tc, test_eintr, 0, 2);
	tcase_add_test(tc, test_regular_file);
	tcase_add_test(tc, test_bad_fds);
	tcase_add_loop_test(tc, test_two_readers, 0, 2);
	tcase_add_loop_test(tc, test_timers_fds_main, 0, 2);
	tcase_add_test(tc, test_sysmon_polls);
	tcase_add_loop_test(tc, test_idle_cpu, 0, 2);
	tcase_add_loop_test(tc, test_deadlock_after_io, 0, 6);
	tcase_add_loop_test(tc, test_fd_waiter_not_deadlock, 0, 2);
	return tu_srunner_run(s);
}
