/*
 * netutil.h - what the netpoller's suites (check_netpoll.c, check_net.c)
 * share: pipes and loopback TCP pairs, a byte pattern to verify streams
 * with, bounded full reads, and the fd limit.
 *
 * Helpers whose names end in _g run inside goroutines: they never call
 * ck_assert (see testutil.h) and report through their return value.
 * Every read here has a deadline (TU_WAIT_S, scaled), so a lost wake-up
 * is a failure with a message, not a hang.
 */
#ifndef GOR_NETUTIL_H
#define GOR_NETUTIL_H

#include "testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The i-th byte of test stream s: not periodic at any small period. */
static inline unsigned char nu_byte(uint64_t s, uint64_t i)
{
	return (unsigned char)(i * 131 + s * 7 + (i >> 9) + (i >> 17));
}

/* How late a deadline may fire: generous, as the machine is shared and
 * may be emulated. Early is never allowed. */
static inline int64_t nu_late_ns(void)
{
	return (int64_t)(2 * tu_scale() * 1e9) * (tu_slow() ? 5 : 1);
}

static inline void nu_fill(unsigned char *p, size_t n, uint64_t s, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] = nu_byte(s, off + i);
}

/* Index of the first byte of p that is not stream s at off, or n. */
static inline size_t nu_check(const unsigned char *p, size_t n, uint64_t s, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != nu_byte(s, off + i))
			return i;
	return n;
}

/* Reads exactly n bytes: 0, or an errno value (EPIPE for an early EOF,
 * ETIMEDOUT after TU_WAIT_S). */
static inline int nu_readfull_g(int fd, void *buf, size_t n)
{
	int64_t dl = tu_deadline(TU_WAIT_S);
	char *p = buf;
	while (n > 0) {
		ssize_t r = gor_read_until(fd, p, n, dl);
		if (r <= 0)
			return r == 0 ? EPIPE : errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static inline void nu_pipe(int p[2])
{
	ck_assert_msg(pipe2(p, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
}

/* The local port of a socket. */
static inline unsigned nu_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	ck_assert_msg(getsockname(fd, (struct sockaddr *)&ss, &len) == 0, "getsockname: %s", strerror(errno));
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A listener on 127.0.0.1 with a port the kernel picked. */
static inline int nu_listen(unsigned *port)
{
	int ln = gor_listen_tcp("127.0.0.1:0", 0);
	ck_assert_msg(ln >= 0, "gor_listen_tcp: %s", strerror(errno));
	*port = nu_port(ln);
	return ln;
}

/* A connected loopback TCP pair: *a dialled, *b accepted. */
static inline void nu_tcppair(int *a, int *b)
{
	unsigned port;
	int ln = nu_listen(&port);
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	*a = gor_dial_tcp(addr, tu_deadline(TU_WAIT_S));
	ck_assert_msg(*a >= 0, "gor_dial_tcp %s: %s", addr, strerror(errno));
	*b = gor_accept(ln, NULL, NULL);
	ck_assert_msg(*b >= 0, "gor_accept: %s", strerror(errno));
	ck_assert_int_eq(gor_fd_close(ln), 0);
}

/* Lifts the soft RLIMIT_NOFILE to the hard one; returns the soft limit. */
static inline rlim_t nu_raise_nofile(void)
{
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		ck_assert_msg(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s", strerror(errno));
	}
	return rl.rlim_cur;
}

/* ---- one big stream through a pipe or socket --------------------------- */

struct nu_stream {
	int fd;
	size_t total;
	atomic_long result; /* writer: bytes gor_write returned; reader: bytes verified */
	atomic_int err, done;
};

static inline void nu_stream_writer(void *arg)
{
	struct nu_stream *s = arg;
	unsigned char *buf = malloc(s->total);
	if (buf == NULL) {
		atomic_store(&s->err, ENOMEM);
		atomic_store(&s->done, 1);
		return;
	}
	nu_fill(buf, s->total, 1, 0);
	ssize_t w = gor_write(s->fd, buf, s->total); /* one call: it loops over the partial writes */
	if (w < 0)
		atomic_store(&s->err, errno);
	atomic_store(&s->result, (long)w);
	free(buf);
	gor_fd_close(s->fd); /* the reader sees EOF */
	atomic_store(&s->done, 1);
}

/* Reads in odd-sized pieces, now and then sleeping, so that the writer
 * keeps finding the buffer full: EAGAIN storms and partial writes. */
static inline void nu_stream_reader(void *arg)
{
	struct nu_stream *s = arg;
	unsigned char buf[9001];
	uint64_t off = 0;
	int64_t dl = tu_deadline(TU_WAIT_S);
	for (unsigned k = 0;; k++) {
		size_t want = 1 + (k * 2654435761u) % sizeof buf;
		ssize_t r = gor_read_until(s->fd, buf, want, dl);
		if (r < 0) {
			atomic_store(&s->err, errno);
			break;
		}
		if (r == 0)
			break;
		if (nu_check(buf, (size_t)r, 1, off) != (size_t)r) {
			atomic_store(&s->err, EILSEQ);
			break;
		}
		off += (uint64_t)r;
		if (k % 64 == 0)
			gor_sleep(GOR_MILLISECOND);
		else if (k % 8 == 0)
			gor_yield();
	}
	atomic_store(&s->result, (long)off);
	atomic_store(&s->done, 1);
}

/* Streams total bytes from wfd to rfd in one gor_write, verifying every
 * byte; closes both. */
static inline void nu_check_stream(int rfd, int wfd, size_t total)
{
	static struct nu_stream w, r;
	memset(&w, 0, sizeof w);
	memset(&r, 0, sizeof r);
	w.fd = wfd;
	r.fd = rfd;
	w.total = r.total = total;
	TU_GO(nu_stream_writer, &w);
	TU_GO(nu_stream_reader, &r);
	TU_WAIT_UNTIL(atomic_load(&w.done) && atomic_load(&r.done), "stream: writer done %d, reader done %d",
		      atomic_load(&w.done), atomic_load(&r.done));
	ck_assert_msg(atomic_load(&w.err) == 0 && atomic_load(&w.result) == (long)total,
		      "writer: %ld of %zu bytes, errno %d", atomic_load(&w.result), total, atomic_load(&w.err));
	ck_assert_msg(atomic_load(&r.err) == 0 && atomic_load(&r.result) == (long)total,
		      "reader: %ld of %zu bytes verified, errno %d", atomic_load(&r.result), total,
		      atomic_load(&r.err));
	gor_fd_close(rfd);
}

#endif /* GOR_NETUTIL_H */
