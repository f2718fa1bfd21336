/*
 * io.c - the I/O calls of gor.h: gor_read, gor_write and their _until
 * forms, gor_accept, gor_connect, gor_wait_fd, gor_fd_close,
 * gor_listen_tcp and gor_dial_tcp, after Go's internal/poll (fd_unix.go)
 * and net (ipsock.go, sock_posix.go). Parking is netpoll.c's business;
 * this file makes the system calls and decides when to park.
 *
 * The pattern, as in Go: try the call; on EAGAIN park on the fd's
 * direction (netpollblock) and try again; EINTR is retried at once. A
 * wake-up is a hint, never a promise, so every wait is followed by the
 * call itself. Consequences worth knowing:
 *   - a call that can complete at once completes even past its deadline
 *     (gor_select_until prefers a ready case in the same way); the
 *     deadline only bounds waiting;
 *   - gor_write loops until all n bytes are written. If an error or the
 *     deadline stops it after some bytes went out, it returns that count
 *     (as write(2) does when interrupted) and the next call reports the
 *     error;
 *   - one reader and one writer at a time per fd (pd_lock, as Go's
 *     fdMutex): concurrent gor_writes never interleave their bytes, and
 *     a second reader queues behind the first, whatever its deadline.
 *
 * Regular files (and whatever the poller refuses) cannot be waited on:
 * their calls run between gor_syscall_enter and gor_syscall_exit, ignore
 * deadlines (a disk never makes anyone wait for a peer), and gor_wait_fd
 * reports them ready, as poll(2) does.
 *
 * SIGPIPE. A write to a socket or pipe whose reader is gone raises
 * SIGPIPE, whose default action kills the process. Sockets are written
 * with send(MSG_NOSIGNAL). Pipes, FIFOs and terminals have no such flag:
 * the write runs with SIGPIPE blocked in the calling thread, and a
 * SIGPIPE it raised (it is then pending on that thread) is taken back
 * with sigtimedwait before the old mask returns. Two system calls more
 * per write on those; the caller sees -1 EPIPE either way. A thread that
 * blocks SIGPIPE itself is left alone.
 *
 * Addresses ("host:port", gor_listen_tcp and gor_dial_tcp): the host is
 * an IPv4 address, an IPv6 address in brackets (a zone, [fe80::1%eth0],
 * is allowed), a name made of letters, digits, '-', '.' and '_', or
 * empty; the port 0-65535 in decimal. Anything else is EINVAL. An empty
 * host listens on every interface (IPv6 and IPv4 on one dual-stack
 * socket, or IPv4 alone where there is no IPv6) and dials the local
 * machine (127.0.0.1). Names are resolved with getaddrinfo between
 * gor_syscall_enter/exit; a name that does not resolve gives ENOENT, a
 * temporary resolver failure EAGAIN. IPv4 addresses are tried first,
 * then IPv6, each in the resolver's order, until one works; the last
 * error is returned. Listeners have SO_REUSEADDR; backlog <= 0 means
 * SOMAXCONN. Connected TCP sockets, dialled or accepted, get
 * TCP_NODELAY, as in Go.
 *
 * State: none of its own; see netpoll.c for the pollDesc and its locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netpoll.h"

static inline int seterr(int e)
{
	errno = e;
	return -1;
}

/* ---- system calls that never raise SIGPIPE ------------------------------- */

static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
	sigset_t pipeset, old;
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipeset, &old);
	ssize_t r = write(fd, buf, n);
	int e = errno;
	if (!sigismember(&old, SIGPIPE)) {
		if (r < 0 && e == EPIPE) {
			static const struct timespec zero = {0, 0};
			while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
				;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	errno = e;
	return r;
}

static ssize_t writesome(const struct pollDesc *pd, int fd, const void *buf, size_t n)
{
	if (pd_socket(pd))
		return send(fd, buf, n, MSG_NOSIGNAL);
	return write_nosigpipe(fd, buf, n);
}

/* ---- the blocking-call path --------------------------------------------- */

static ssize_t blocking_read(int fd, void *buf, size_t n)
{
	ssize_t r;
	gor_syscall_enter();
	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	int e = errno;
	gor_syscall_exit();
	errno = e;
	return r;
}

static ssize_t blocking_write(int fd, const char *buf, size_t n)
{
	size_t done = 0;
	int e = 0;
	gor_syscall_enter();
	do {
		ssize_t r = write(fd, buf + done, n - done);
		if (r > 0)
			done += (size_t)r;
		else if (r == 0)
			break;
		else if (errno != EINTR)
			e = errno;
	} while (e == 0 && done < n);
	gor_syscall_exit();
	if (done == 0 && e != 0)
		return seterr(e);
	return (ssize_t)done;
}

/* ---- the pattern every call follows --------------------------------------- */

/* The start of every call: adopts the thread, finds fd's pollDesc and
 * checks the byte count n (0 where there is none). 0, or -1 and errno. */
static int ioprep(int fd, size_t n, struct pollDesc **pdp, uint32_t *seq)
{
	getg_adopt();
	int e = pd_prepare(fd, pdp, seq);
	if (e == 0 && n > SSIZE_MAX)
		e = EINVAL;
	return e ? seterr(e) : 0;
}

/* A call on a polled fd failed with e: 0 to try it again (after EINTR,
 * or after parking until the fd may be ready), or the errno to give up
 * with (the call's own, ETIMEDOUT or EBADF). */
static int ioretry(int e, struct pollDesc *pd, int mode, int64_t deadline, uint32_t seq)
{
	if (e == EINTR)
		return 0;
	if (e != EAGAIN && e != EWOULDBLOCK)
		return e;
	return netpollblock(pd, mode, deadline, seq);
}

/* ---- read and write ------------------------------------------------------- */

ssize_t gor_read_until(int fd, void *buf, size_t n, int64_t deadline)
{
	struct pollDesc *pd;
	uint32_t seq;
	if (ioprep(fd, n, &pd, &seq) != 0)
		return -1;
	if (pd_blocking(pd))
		return blocking_read(fd, buf, n);
	ssize_t r;
	int e = 0;
	pd_lock(pd, NETPOLL_READ);
	do
		r = pd_closed(pd, seq) ? seterr(EBADF) : read(fd, buf, n);
	while (r < 0 && (e = ioretry(errno, pd, NETPOLL_READ, deadline, seq)) == 0);
	pd_unlock(pd, NETPOLL_READ);
	if (r < 0)
		errno = e;
	return r;
}

ssize_t gor_read(int fd, void *buf, size_t n)
{
	return gor_read_until(fd, buf, n, GOR_NEVER);
}

ssize_t gor_write_until(int fd, const void *buf, size_t n, int64_t deadline)
{
	struct pollDesc *pd;
	uint32_t seq;
	if (ioprep(fd, n, &pd, &seq) != 0)
		return -1;
	if (pd_blocking(pd))
		return blocking_write(fd, buf, n);
	const char *p = buf;
	size_t done = 0;
	int e = 0;
	pd_lock(pd, NETPOLL_WRITE);
	for (;;) {
		ssize_t r = pd_closed(pd, seq) ? seterr(EBADF) : writesome(pd, fd, p + done, n - done);
		if (r > 0) {
			done += (size_t)r;
			if (done == n)
				break;
		} else if (r == 0) { /* nothing taken and no error (n == 0, or a device's whim) */
			break;
		} else if ((e = ioretry(errno, pd, NETPOLL_WRITE, deadline, seq)) != 0) {
			break;
		}
	}
	pd_unlock(pd, NETPOLL_WRITE);
	if (done == 0 && e != 0)
		return seterr(e);
	return (ssize_t)done;
}

ssize_t gor_write(int fd, const void *buf, size_t n)
{
	return gor_write_until(fd, buf, n, GOR_NEVER);
}

/* ---- closing, waiting ----------------------------------------------------- */

int gor_fd_close(int fd)
{
	getg_adopt();
	if (fd < 0)
		return seterr(EBADF);
	pd_close(fd);
	int r = close(fd);
	int e = errno;
	pd_close_done(fd);
	if (r != 0)
		errno = e;
	return r;
}

int gor_wait_fd(int fd, int events, int64_t deadline)
{
	struct pollDesc *pd;
	uint32_t seq;
	if (ioprep(fd, 0, &pd, &seq) != 0)
		return -1;
	if (events == 0 || (events & ~(GOR_READABLE | GOR_WRITABLE)))
		return seterr(EINVAL);
	if (pd_blocking(pd))
		return 0;
	int e = 0;
	int mode = (events & GOR_READABLE ? NETPOLL_READ : 0) | (events & GOR_WRITABLE ? NETPOLL_WRITE : 0);
	struct pollfd pfd = {
		.fd = fd,
		.events = (short)((events & GOR_READABLE ? POLLIN : 0) | (events & GOR_WRITABLE ? POLLOUT : 0)),
	};
	pd_lock(pd, mode);
	for (;;) {
		/* The poller only reports changes: ask about now. */
		int r = pd_closed(pd, seq) ? seterr(EBADF) : poll(&pfd, 1, 0);
		if (r > 0) {
			e = pfd.revents & POLLNVAL ? EBADF : 0;
			break;
		}
		if ((e = ioretry(r == 0 ? EAGAIN : errno, pd, mode, deadline, seq)) != 0)
			break;
	}
	pd_unlock(pd, mode);
	return e ? seterr(e) : 0;
}

/* ---- accept and connect -------------------------------------------------- */

static void setnodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int gor_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct pollDesc *pd;
	uint32_t seq;
	if (ioprep(fd, 0, &pd, &seq) != 0)
		return -1;
	if (pd_blocking(pd))
		return accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC); /* not a socket */
	int nfd, e = 0;
	pd_lock(pd, NETPOLL_READ);
	/* ECONNABORTED: that connection went away while queued; wait for
	 * the next, as Go does */
	do
		nfd = pd_closed(pd, seq) ? seterr(EBADF) : accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (nfd < 0 && (e = ioretry(errno == ECONNABORTED ? EINTR : errno, pd, NETPOLL_READ, GOR_NEVER, seq)) == 0);
	pd_unlock(pd, NETPOLL_READ);
	if (nfd < 0)
		return seterr(e);
	struct pollDesc *npd;
	uint32_t nseq;
	if ((e = pd_prepare_new(nfd, true, &npd, &nseq)) != 0) {
		close(nfd);
		return seterr(e);
	}
	if (sa == NULL || len == NULL || *len < sizeof(sa_family_t) ||
	    sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setnodelay(nfd);
	return nfd;
}

/* After a connect that did not complete at once: waits until the socket
 * is writable and reads the outcome. 0 or an errno value. */
static int waitconnect(int fd, struct pollDesc *pd, int64_t deadline, uint32_t seq)
{
	for (;;) {
		int e = netpollblock(pd, NETPOLL_WRITE, deadline, seq);
		if (e != 0)
			return e;
		int soerr = 0;
		socklen_t l = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) != 0)
			return errno;
		switch (soerr) {
		case EINPROGRESS:
		case EALREADY:
		case EINTR:
			continue;
		case 0:
		case EISCONN: {
			/* writable may be only a hint (a fresh socket is
			 * writable before it connects): ask */
			struct sockaddr_storage ss;
			socklen_t sl = sizeof ss;
			if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
				return 0;
			if (errno != ENOTCONN)
				return errno;
			continue;
		}
		default:
			return soerr;
		}
	}
}

/* connect(2) on a registered socket, waiting at most until deadline. */
static int connect_pd(int fd, struct pollDesc *pd, uint32_t seq, const struct sockaddr *sa,
		      socklen_t len, int64_t deadline)
{
	pd_lock(pd, NETPOLL_WRITE);
	int e = connect(fd, sa, len) == 0 ? 0 : errno;
	/* EINTR: the connection goes on without us, as EINPROGRESS */
	if (e == EINPROGRESS || e == EALREADY || e == EINTR)
		e = waitconnect(fd, pd, deadline, seq);
	pd_unlock(pd, NETPOLL_WRITE);
	return e;
}

int gor_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollDesc *pd;
	uint32_t seq;
	if (ioprep(fd, 0, &pd, &seq) != 0)
		return -1;
	if (pd_blocking(pd))
		return connect(fd, sa, len); /* not a socket */
	int e = connect_pd(fd, pd, seq, sa, len, GOR_NEVER);
	return e ? seterr(e) : 0;
}

/* ---- addresses --------------------------------------------------------------- */

enum { MAXADDRS = 8 };

struct addrlist {
	int n;
	bool dualstack; /* addrs[0] is the wildcard [::], to accept IPv4 too */
	struct sockaddr_storage addrs[MAXADDRS];
	socklen_t lens[MAXADDRS];
};

static void addr_add(struct addrlist *al, const struct sockaddr *sa, socklen_t len)
{
	if (al->n < MAXADDRS && len <= sizeof al->addrs[0]) {
		memcpy(&al->addrs[al->n], sa, len);
		al->lens[al->n++] = len;
	}
}

static void addr_add4(struct addrlist *al, const struct in_addr *a, unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = *a};
	addr_add(al, (struct sockaddr *)&sin, sizeof sin);
}

static void addr_add6(struct addrlist *al, const struct in6_addr *a, unsigned port)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = *a};
	addr_add(al, (struct sockaddr *)&sin6, sizeof sin6);
}

static int gaierr(int rc, int syserr)
{
	switch (rc) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return ENOENT;
	case EAI_AGAIN:
		return EAGAIN;
	case EAI_MEMORY:
		return ENOMEM;
	case EAI_SYSTEM:
		return syserr ? syserr : EIO;
	default:
		return EINVAL;
	}
}

/* Resolves a host name or an IPv6 literal with a zone (numeric), IPv4
 * addresses first. */
static int getaddrs(const char *host, bool numeric, unsigned port, struct addrlist *al)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	if (numeric)
		hints.ai_flags = AI_NUMERICHOST;
	gor_syscall_enter();
	int rc = getaddrinfo(host, NULL, &hints, &res);
	int syserr = errno;
	gor_syscall_exit();
	if (rc != 0)
		return numeric ? EINVAL : gaierr(rc, syserr);
	for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			if (ai->ai_family != family)
				continue;
			if (family == AF_INET)
				((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)port);
			else
				((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)port);
			addr_add(al, ai->ai_addr, ai->ai_addrlen);
		}
	}
	freeaddrinfo(res);
	return al->n ? 0 : ENOENT;
}

static bool validname(const char *h)
{
	bool letter = false;
	for (; *h; h++) {
		char c = *h;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			letter = true;
		else if (!(c >= '0' && c <= '9') && c != '.' && c != '-' && c != '_')
			return false;
	}
	return letter; /* no letter: a malformed IPv4 address, or punctuation */
}

/* Parses "host:port" into the addresses to try. 0 or an errno value. */
static int parseaddr(const char *addr, bool listening, struct addrlist *al)
{
	memset(al, 0, sizeof *al);
	if (addr == NULL)
		return EINVAL;
	const char *colon = strrchr(addr, ':');
	if (colon == NULL)
		return EINVAL;
	const char *h = addr;
	size_t hl = (size_t)(colon - addr);
	bool bracketed = hl > 0 && h[0] == '[';
	if (bracketed) {
		if (hl < 3 || h[hl - 1] != ']')
			return EINVAL;
		h++;
		hl -= 2;
	}
	if (memchr(h, '[', hl) || memchr(h, ']', hl) || (!bracketed && memchr(h, ':', hl)))
		return EINVAL;
	char host[256];
	if (hl >= sizeof host)
		return EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	const char *p = colon + 1;
	size_t pl = strlen(p);
	if (pl == 0 || pl > 5 || strspn(p, "0123456789") != pl)
		return EINVAL;
	unsigned port = (unsigned)atoi(p);
	if (port > 65535)
		return EINVAL;

	struct in_addr a4;
	struct in6_addr a6;
	if (bracketed) {
		if (inet_pton(AF_INET6, host, &a6) == 1) {
			addr_add6(al, &a6, port);
			return 0;
		}
		if (strchr(host, '%') == NULL || strchr(host, ':') == NULL)
			return EINVAL;
		return getaddrs(host, true, port, al); /* with a zone */
	}
	if (hl == 0) {
		if (listening) {
			al->dualstack = true;
			addr_add6(al, &in6addr_any, port);
			a4.s_addr = htonl(INADDR_ANY);
		} else {
			a4.s_addr = htonl(INADDR_LOOPBACK);
		}
		addr_add4(al, &a4, port);
		return 0;
	}
	if (inet_pton(AF_INET, host, &a4) == 1) {
		addr_add4(al, &a4, port);
		return 0;
	}
	if (!validname(host))
		return EINVAL;
	return getaddrs(host, false, port, al);
}

/* A non-blocking, close-on-exec TCP socket registered with the poller;
 * -1 and errno. */
static int tcpsocket(int family, struct pollDesc **pdp, uint32_t *seq)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int e = pd_prepare_new(fd, true, pdp, seq);
	if (e != 0) {
		close(fd);
		return seterr(e);
	}
	return fd;
}

/* Binds a fresh socket to sa and listens; the wildcard [::] accepts
 * IPv4 too. 0 or an errno value. */
static int tcplisten(int fd, const struct sockaddr *sa, socklen_t len, bool dualstack, int backlog)
{
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (dualstack)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(fd, sa, len) != 0 || listen(fd, backlog > 0 ? backlog : SOMAXCONN) != 0)
		return errno;
	return 0;
}

/* gor_listen_tcp and gor_dial_tcp: each address of addr in turn, with a
 * socket of its own, until one works (a dial stops at its deadline). */
static int tcpopen(const char *addr, bool listening, int backlog, int64_t deadline)
{
	getg_adopt();
	struct addrlist al;
	int e = parseaddr(addr, listening, &al);
	if (e != 0)
		return seterr(e);
	for (int i = 0; i < al.n && e != ETIMEDOUT; i++) {
		struct pollDesc *pd;
		uint32_t seq;
		struct sockaddr *sa = (struct sockaddr *)&al.addrs[i];
		int fd = tcpsocket(sa->sa_family, &pd, &seq);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (listening)
			e = tcplisten(fd, sa, al.lens[i], i == 0 && al.dualstack, backlog);
		else if ((e = connect_pd(fd, pd, seq, sa, al.lens[i], deadline)) == 0)
			setnodelay(fd);
		if (e == 0)
			return fd;
		gor_fd_close(fd);
	}
	return seterr(e);
}

int gor_listen_tcp(const char *addr, int backlog)
{
	return tcpopen(addr, true, backlog, GOR_NEVER);
}

int gor_dial_tcp(const char *addr, int64_t deadline)
{
	return tcpopen(addr, false, 0, deadline);
}
