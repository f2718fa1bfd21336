/*
 * check_net.c - TCP on loopback through the netpoller: an echo server
 * with a goroutine per connection serving 1,000 concurrent client
 * connections, every byte checked; address parsing (EINVAL), port 0,
 * ECONNREFUSED, IPv6 [::1], names, a peer closing mid-stream, a big write
 * to a slow reader, dial deadlines, and fds gor makes reusing numbers
 * that plain close(2) freed.
 *
 * The echo test runs its 1,000 clients in a child process and the server
 * in the test process, so that each holds about 1,010 fds: it fits a hard
 * RLIMIT_NOFILE of 1024 (both raise their soft limit to the hard one).
 */
#include "netutil.h" /* first: it defines _GNU_SOURCE */

#include <netinet/tcp.h>
#include <pthread.h>

static const char *const p1_env[] = {"GOR_MAXPROCS=1", NULL};
static const char *const p2_env[] = {"GOR_MAXPROCS=2", NULL};

/* ---- echo: 1,000 concurrent connections ---------------------------------- */

enum { ECHO_CONNS = 1000, ECHO_MSGS = 4, ECHO_MAXMSG = 3000 };

static size_t echo_msgsize(int conn, int msg)
{
	return 1 + (size_t)(conn * 37 + msg * 1009) % ECHO_MAXMSG;
}

/* server side, in the test process */
static atomic_int srv_active, srv_max, srv_accepted, srv_done, srv_errs;
static atomic_long srv_bytes;

static void echo_handler(void *arg)
{
	int fd = (int)(intptr_t)arg;
	int a = atomic_fetch_add(&srv_active, 1) + 1;
	for (int m = atomic_load(&srv_max); a > m && !atomic_compare_exchange_weak(&srv_max, &m, a);)
		;
	char buf[4096];
	int64_t dl = tu_deadline(2 * TU_WAIT_S);
	for (;;) {
		ssize_t r = gor_read_until(fd, buf, sizeof buf, dl);
		if (r <= 0) {
			if (r < 0)
				atomic_fetch_add(&srv_errs, 1);
			break;
		}
		if (gor_write(fd, buf, (size_t)r) != r) {
			atomic_fetch_add(&srv_errs, 1);
			break;
		}
		atomic_fetch_add(&srv_bytes, r);
	}
	atomic_fetch_sub(&srv_active, 1);
	gor_fd_close(fd);
	atomic_fetch_add(&srv_done, 1);
}

static void echo_acceptor(void *arg)
{
	int ln = (int)(intptr_t)arg;
	for (int i = 0; i < ECHO_CONNS; i++) {
		int fd = gor_accept(ln, NULL, NULL);
		if (fd < 0 || gor_go(echo_handler, (void *)(intptr_t)fd) != 0) {
			atomic_fetch_add(&srv_errs, 1);
			break;
		}
		atomic_fetch_add(&srv_accepted, 1);
	}
	gor_fd_close(ln);
}

/* client side, in the child */
static char echo_addr[32];
static gor_waitgroup cl_dialled, cl_echoed, cl_done;
static atomic_int cl_ok;

static void echo_client_g(void *arg)
{
	int id = (int)(intptr_t)arg;
	unsigned char out[ECHO_MAXMSG], in[ECHO_MAXMSG];
	int fd = gor_dial_tcp(echo_addr, tu_deadline(TU_WAIT_S));
	int err = fd < 0 ? errno : 0;
	gor_wg_done(&cl_dialled);
	gor_wg_wait(&cl_dialled); /* all connections open */
	uint64_t off = 0;
	const char *what = "dial";
	for (int m = 0; fd >= 0 && m < ECHO_MSGS && err == 0; m++) {
		size_t n = echo_msgsize(id, m);
		nu_fill(out, n, (uint64_t)id, off);
		what = "write";
		if (gor_write(fd, out, n) != (ssize_t)n)
			err = errno ? errno : EIO;
		what = "read";
		if (err == 0)
			err = nu_readfull_g(fd, in, n);
		what = "compare";
		if (err == 0 && nu_check(in, n, (uint64_t)id, off) != n)
			err = EILSEQ;
		off += n;
	}
	/* every connection has echoed: the server holds them all at once */
	gor_wg_done(&cl_echoed);
	gor_wg_wait(&cl_echoed);
	if (err == 0)
		atomic_fetch_add(&cl_ok, 1);
	else
		fprintf(stderr, "client %d: %s: %s\n", id, what, strerror(err));
	if (fd >= 0)
		gor_fd_close(fd);
	gor_wg_done(&cl_done);
}

static int echo_clients_child(void *arg)
{
	int portfd = (int)(intptr_t)arg;
	unsigned port;
	/* the runtime is not started yet: a plain blocking read */
	TU_CHILD_CHECK(read(portfd, &port, sizeof port) == (ssize_t)sizeof port, "no port from the parent");
	snprintf(echo_addr, sizeof echo_addr, "127.0.0.1:%u", port);
	gor_wg_add(&cl_dialled, ECHO_CONNS);
	gor_wg_add(&cl_echoed, ECHO_CONNS);
	gor_wg_add(&cl_done, ECHO_CONNS);
	for (int i = 0; i < ECHO_CONNS; i++)
		TU_CHILD_CHECK(gor_go(echo_client_g, (void *)(intptr_t)i) == 0, "gor_go: %s", strerror(errno));
	gor_wg_wait(&cl_done);
	TU_CHILD_CHECK(atomic_load(&cl_ok) == ECHO_CONNS, "%d of %d clients saw their bytes back",
		       atomic_load(&cl_ok), ECHO_CONNS);
	return 0;
}

/* tu_child_wait blocks its thread: it runs in a plain thread while the
 * test's goroutines serve. */
static atomic_int child_reaped;

static void *reaper(void *arg)
{
	tu_child_wait(arg, 2 * TU_CHILD_S);
	atomic_store(&child_reaped, 1);
	return NULL;
}

START_TEST(test_echo_1000)
{
	int procs = _i + 1;
	rlim_t lim = nu_raise_nofile(); /* before the fork: the child too */
	ck_assert_msg(lim >= ECHO_CONNS + 20, "RLIMIT_NOFILE %llu: too small for %d connections",
		      (unsigned long long)lim, ECHO_CONNS);
	int pp[2];
	nu_pipe(pp);
	struct tu_child c;
	tu_child_start(&c, echo_clients_child, (void *)(intptr_t)pp[0], procs == 1 ? p1_env : p2_env);
	close(pp[0]);

	gor_maxprocs(procs);
	unsigned port;
	int ln = nu_listen(&port);
	TU_GO(echo_acceptor, (void *)(intptr_t)ln);
	ck_assert_int_eq(write(pp[1], &port, sizeof port), sizeof port);
	close(pp[1]);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, reaper, &c), 0);
	int64_t dl = tu_deadline(3 * TU_CHILD_S);
	while (!atomic_load(&child_reaped) && tu_now() < dl)
		gor_sleep(5 * GOR_MILLISECOND);
	ck_assert_msg(atomic_load(&child_reaped), "the client process was not reaped");
	pthread_join(th, NULL);
	TU_ASSERT_CHILD_EXIT(&c, 0);
	TU_WAIT_UNTIL(atomic_load(&srv_done) == ECHO_CONNS, "%d of %d handlers done (%d accepted)",
		      atomic_load(&srv_done), ECHO_CONNS, atomic_load(&srv_accepted));
	long want = 0;
	for (int i = 0; i < ECHO_CONNS; i++)
		for (int m = 0; m < ECHO_MSGS; m++)
			want += (long)echo_msgsize(i, m);
	ck_assert_int_eq(atomic_load(&srv_errs), 0);
	ck_assert_int_eq(atomic_load(&srv_accepted), ECHO_CONNS);
	ck_assert_int_eq(atomic_load(&srv_max), ECHO_CONNS);
	ck_assert_int_eq(atomic_load(&srv_bytes), want);
	tu_child_free(&c);
}
END_TEST

/* ---- addresses ------------------------------------------------------------ */

START_TEST(test_addr_invalid)
{
	static const char *const bad[] = {
		"", ":", "127.0.0.1", "127.0.0.1:", "127.0.0.1:abc", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:+80", "127.0.0.1:999999", "127.0.0.1: 80", "1.2.3.4.5:80", "256.1.1.1:80",
		"1.2.3:80", "::1:80", "[::1:80", "::1]:80", "[::1]x:80", "[]:80", "[1.2.3.4]:80", "[zz]:80",
		"[[::1]]:80", "a b:80", "host/x:80", "-:80", "127.0.0.1:80:80", " 127.0.0.1:80",
		"[::1]:", "[::1]:http",
	};
	char longhost[400];
	memset(longhost, 'a', sizeof longhost);
	strcpy(longhost + 300, ":80");
	for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
		const char *a = i < sizeof bad / sizeof bad[0] ? bad[i] : longhost;
		errno = 0;
		int fd = gor_listen_tcp(a, 0);
		ck_assert_msg(fd == -1 && errno == EINVAL, "listen \"%s\": %d, errno %d", a, fd, errno);
		errno = 0;
		fd = gor_dial_tcp(a, tu_deadline(TU_WAIT_S));
		ck_assert_msg(fd == -1 && errno == EINVAL, "dial \"%s\": %d, errno %d", a, fd, errno);
	}
	errno = 0;
	ck_assert_int_eq(gor_listen_tcp(NULL, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(gor_dial_tcp(NULL, GOR_NEVER), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Sends one message each way over a connected pair. */
static void exchange(int a, int b)
{
	char buf[6] = {0};
	ck_assert_int_eq(gor_write(a, "ping!", 5), 5);
	ck_assert_int_eq(nu_readfull_g(b, buf, 5), 0);
	ck_assert_str_eq(buf, "ping!");
	ck_assert_int_eq(gor_write(b, "pong!", 5), 5);
	ck_assert_int_eq(nu_readfull_g(a, buf, 5), 0);
	ck_assert_str_eq(buf, "pong!");
}

/* Dials addr and accepts from ln: the pair exchanges a message. */
static void dial_and_exchange(int ln, const char *addr)
{
	int a = gor_dial_tcp(addr, tu_deadline(TU_WAIT_S));
	ck_assert_msg(a >= 0, "dial %s: %s", addr, strerror(errno));
	int b = gor_accept(ln, NULL, NULL);
	ck_assert_msg(b >= 0, "accept: %s", strerror(errno));
	exchange(a, b);
	gor_fd_close(a);
	gor_fd_close(b);
}

static int sockfamily(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	return ss.ss_family;
}

START_TEST(test_port0_refused)
{
	unsigned port;
	int ln = nu_listen(&port);
	ck_assert_uint_ne(port, 0);
	ck_assert_int_eq(sockfamily(ln), AF_INET);
	int one = 0;
	socklen_t l = sizeof one;
	ck_assert_int_eq(getsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, &l), 0);
	ck_assert_int_ne(one, 0);
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	dial_and_exchange(ln, addr);
	ck_assert_int_eq(gor_fd_close(ln), 0);
	errno = 0;
	ck_assert_int_eq(gor_dial_tcp(addr, tu_deadline(TU_WAIT_S)), -1);
	ck_assert_msg(errno == ECONNREFUSED, "dial to a closed port: errno %d (%s)", errno, strerror(errno));
	/* the address is free again at once (SO_REUSEADDR) */
	ln = gor_listen_tcp(addr, 0);
	ck_assert_msg(ln >= 0, "listen again on %s: %s", addr, strerror(errno));
	gor_fd_close(ln);
}
END_TEST

/* Whether this machine has an IPv6 loopback. */
static bool have_ipv6(void)
{
	int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return false;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

START_TEST(test_ipv6)
{
	if (!have_ipv6()) {
		fprintf(stderr, "check_net: this machine has no IPv6 loopback: [::1] is tested for parsing only\n");
		errno = 0;
		ck_assert_int_eq(gor_listen_tcp("[::1]:0", 0), -1);
		ck_assert_msg(errno != EINVAL, "[::1]:0 is a valid address");
		return;
	}
	int ln = gor_listen_tcp("[::1]:0", 0);
	ck_assert_msg(ln >= 0, "listen [::1]:0: %s", strerror(errno));
	ck_assert_int_eq(sockfamily(ln), AF_INET6);
	char addr[64];
	unsigned port = nu_port(ln);
	snprintf(addr, sizeof addr, "[::1]:%u", port);
	dial_and_exchange(ln, addr);
	snprintf(addr, sizeof addr, "[0:0::1]:%u", port);
	dial_and_exchange(ln, addr);
	gor_fd_close(ln);

	/* an empty host: one dual-stack socket for both families */
	ln = gor_listen_tcp(":0", 0);
	ck_assert_msg(ln >= 0, "listen :0: %s", strerror(errno));
	port = nu_port(ln);
	snprintf(addr, sizeof addr, "[::1]:%u", port);
	dial_and_exchange(ln, addr);
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	dial_and_exchange(ln, addr);
	gor_fd_close(ln);
}
END_TEST

START_TEST(test_names)
{
	/* an empty host dials this machine */
	int ln = gor_listen_tcp("0.0.0.0:0", 0);
	ck_assert_msg(ln >= 0, "listen 0.0.0.0:0: %s", strerror(errno));
	char addr[64];
	snprintf(addr, sizeof addr, ":%u", nu_port(ln));
	dial_and_exchange(ln, addr);
	gor_fd_close(ln);
	/* "localhost" is resolved (IPv4 first) */
	ln = gor_listen_tcp("localhost:0", 16);
	ck_assert_msg(ln >= 0, "listen localhost:0: %s", strerror(errno));
	ck_assert_int_eq(sockfamily(ln), AF_INET);
	snprintf(addr, sizeof addr, "localhost:%u", nu_port(ln));
	dial_and_exchange(ln, addr);
	snprintf(addr, sizeof addr, "LocalHost:%u", nu_port(ln));
	dial_and_exchange(ln, addr);
	gor_fd_close(ln);
}
END_TEST

/* ---- sockets the caller made; what accept and dial give -------------------------- */

START_TEST(test_connect_accept_flags)
{
	unsigned port;
	int ln = nu_listen(&port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* blocking, as the caller made it */
	ck_assert_int_ge(s, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(gor_connect(s, (struct sockaddr *)&sin, sizeof sin) == 0, "gor_connect: %s", strerror(errno));
	ck_assert_int_eq(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	struct sockaddr_in peer;
	socklen_t plen = sizeof peer;
	int b = gor_accept(ln, (struct sockaddr *)&peer, &plen);
	ck_assert_msg(b >= 0, "gor_accept: %s", strerror(errno));
	ck_assert_uint_eq(plen, sizeof peer);
	ck_assert_int_eq(peer.sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_int_eq(fcntl(b, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	ck_assert_int_eq(fcntl(b, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	int nd = 0;
	socklen_t l = sizeof nd;
	ck_assert_int_eq(getsockopt(b, IPPROTO_TCP, TCP_NODELAY, &nd, &l), 0);
	ck_assert_int_ne(nd, 0);
	exchange(s, b);
	gor_fd_close(s);
	gor_fd_close(b);

	/* a dialled socket */
	int a;
	nu_tcppair(&a, &b);
	nd = 0;
	ck_assert_int_eq(getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &nd, &l), 0);
	ck_assert_int_ne(nd, 0);
	ck_assert_int_eq(fcntl(a, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	gor_fd_close(a);
	gor_fd_close(b);

	/* refused, through gor_connect */
	gor_fd_close(ln);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	errno = 0;
	ck_assert_int_eq(gor_connect(s, (struct sockaddr *)&sin, sizeof sin), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	gor_fd_close(s);
}
END_TEST

/* fds gor makes forget what an earlier file under the same number, closed
 * with plain close(2), left behind. */
START_TEST(test_number_reused_after_plain_close)
{
	unsigned port;
	int ln = nu_listen(&port);
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	for (int i = 0; i < 3; i++) {
		int a = gor_dial_tcp(addr, tu_deadline(TU_WAIT_S));
		ck_assert_int_ge(a, 0);
		int b = gor_accept(ln, NULL, NULL);
		ck_assert_int_ge(b, 0);
		exchange(a, b);
		close(a); /* not gor_fd_close */
		close(b);
	}
	gor_fd_close(ln);
}
END_TEST

/* ---- peers that go away, slow readers ----------------------------------- */

struct pusher {
	int fd;
	atomic_int done, err;
	atomic_long sent;
};

static void pusher_g(void *arg)
{
	struct pusher *ps = arg;
	static unsigned char chunk[1 << 16];
	long sent = 0;
	int64_t dl = tu_deadline(TU_WAIT_S);
	for (int i = 0; i < 4096; i++) { /* at most 256 MiB */
		ssize_t w = gor_write_until(ps->fd, chunk, sizeof chunk, dl);
		if (w < 0) {
			atomic_store(&ps->err, errno);
			break;
		}
		sent += w;
	}
	atomic_store(&ps->sent, sent);
	atomic_store(&ps->done, 1);
}

START_TEST(test_peer_closes_midstream)
{
	gor_maxprocs(_i + 1);
	int a, b;
	/* the peer sends and closes: the reader gets every byte, then 0 */
	nu_tcppair(&a, &b);
	unsigned char out[1000], in[1000];
	nu_fill(out, sizeof out, 3, 0);
	ck_assert_int_eq(gor_write(a, out, sizeof out), sizeof out);
	ck_assert_int_eq(gor_fd_close(a), 0);
	ck_assert_int_eq(nu_readfull_g(b, in, sizeof in), 0);
	ck_assert_uint_eq(nu_check(in, sizeof in, 3, 0), sizeof in);
	ck_assert_int_eq(gor_read(b, in, sizeof in), 0);
	ck_assert_int_eq(gor_read(b, in, sizeof in), 0);
	gor_fd_close(b);

	/* the reader goes away while the writer streams: EPIPE or
	 * ECONNRESET, and no SIGPIPE */
	nu_tcppair(&a, &b);
	static struct pusher ps;
	memset(&ps, 0, sizeof ps);
	ps.fd = a;
	TU_GO(pusher_g, &ps);
	static unsigned char sink[100000];
	ck_assert_int_eq(nu_readfull_g(b, sink, sizeof sink), 0);
	ck_assert_int_eq(gor_fd_close(b), 0);
	TU_WAIT_UNTIL(atomic_load(&ps.done), "the writer did not notice its peer left");
	int e = atomic_load(&ps.err);
	ck_assert_msg(e == EPIPE || e == ECONNRESET, "writer: errno %d (%s) after %ld bytes", e, strerror(e),
		      atomic_load(&ps.sent));
	gor_fd_close(a);
}
END_TEST

START_TEST(test_big_write_slow_reader)
{
	gor_maxprocs(_i + 1);
	int a, b;
	nu_tcppair(&a, &b);
	nu_check_stream(b, a, tu_slow() ? (size_t)2 << 20 : (size_t)16 << 20);
}
END_TEST

/* ---- accept and dial: closing, deadlines -------------------------------------- */

static atomic_int acc_done, acc_ret, acc_err;

static void accept_g(void *arg)
{
	int r = gor_accept((int)(intptr_t)arg, NULL, NULL);
	atomic_store(&acc_err, errno);
	atomic_store(&acc_ret, r);
	atomic_store(&acc_done, 1);
}

START_TEST(test_close_wakes_accept)
{
	gor_maxprocs(_i + 1);
	atomic_store(&acc_done, 0);
	unsigned port;
	int ln = nu_listen(&port);
	TU_GO(accept_g, (void *)(intptr_t)ln);
	gor_sleep(20 * GOR_MILLISECOND);
	ck_assert(!atomic_load(&acc_done));
	ck_assert_int_eq(gor_fd_close(ln), 0);
	TU_WAIT_UNTIL(atomic_load(&acc_done), "gor_fd_close did not wake gor_accept");
	ck_assert_int_eq(atomic_load(&acc_ret), -1);
	ck_assert_int_eq(atomic_load(&acc_err), EBADF);
}
END_TEST

/* A listener that never accepts, with a backlog of one: once its queue is
 * full the kernel drops further SYNs, so a dial waits until its
 * deadline. */
START_TEST(test_dial_deadline)
{
	int ln = gor_listen_tcp("127.0.0.1:0", 1);
	ck_assert_int_ge(ln, 0);
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", nu_port(ln));
	int fds[16], n = 0, timedout = 0;
	while (n < 16) {
		int64_t t0 = gor_now(), dl = t0 + 100 * GOR_MILLISECOND;
		int fd = gor_dial_tcp(addr, dl);
		if (fd >= 0) {
			fds[n++] = fd;
			continue;
		}
		ck_assert_msg(errno == ETIMEDOUT, "dial %d: errno %d (%s)", n, errno, strerror(errno));
		ck_assert(gor_now() >= dl);
		ck_assert_msg(gor_now() - dl < nu_late_ns(), "dial timed out %lld ms late",
			      (long long)((gor_now() - dl) / GOR_MILLISECOND));
		timedout = 1;
		break;
	}
	ck_assert_msg(timedout, "%d dials to a full backlog all connected", n);
	while (n > 0)
		gor_fd_close(fds[--n]);
	gor_fd_close(ln);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tu_tcase(s, "net");
	tcase_add_loop_test(tc, test_echo_1000, 0, 2);
	tcase_add_test(tc, test_addr_invalid);
	tcase_add_test(tc, test_port0_refused);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_connect_accept_flags);
	tcase_add_test(tc, test_number_reused_after_plain_close);
	tcase_add_loop_test(tc, test_peer_closes_midstream, 0, 2);
	tcase_add_loop_test(tc, test_big_write_slow_reader, 0, 2);
	tcase_add_loop_test(tc, test_close_wakes_accept, 0, 2);
	tcase_add_test(tc, test_dial_deadline);
	return tu_srunner_run(s);
}
