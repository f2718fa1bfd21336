/*
 * fetch_all.c - I/O-bound work: three requests to a slow server, one
 * after another or all at once.
 *
 * The program starts its own server on 127.0.0.1 (port 0: the kernel
 * picks a free one). The server answers each request after DELAY_MS, as
 * a slow service far away would; a goroutine per connection serves it.
 * The client fetches three pages:
 *   - sequentially: connect, ask, wait for the answer, then the next:
 *     about three delays;
 *   - concurrently: a goroutine per request: about one delay, even with
 *     MAXPROCS=1, because a goroutine waiting for the network is parked
 *     by the netpoller and uses no P; the one thread is free for the
 *     others. More Ps change nothing: there is no work to share, only
 *     waiting.
 * Every byte goes through real sockets: gor_listen_tcp, gor_accept,
 * gor_dial_tcp, gor_read, gor_write.
 */
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "lab.h"

enum { REQUESTS = 3, DELAY_MS = 200, TIMES = 1 };

static char addr[64];        /* "127.0.0.1:PORT" of the server */
static char replies[REQUESTS][64];
static gor_waitgroup wg;

/* Reads up to a newline (requests and replies are one line each). */
static ssize_t readline(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n - 1) {
		ssize_t r = gor_read(fd, buf + got, n - 1 - got);
		if (r <= 0)
			return r;
		got += (size_t)r;
		if (buf[got - 1] == '\n')
			break;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* gor_write writes all n bytes or fails: no loop over partial writes. */
static int writeall(int fd, const char *s, size_t n)
{
	return gor_write(fd, s, n) == (ssize_t)n ? 0 : -1;
}

/* The server side of one connection: "GET page N\n" -> "page N\n". */
static void serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[64], reply[64];
	int page;
	if (readline(fd, req, sizeof req) > 0 && sscanf(req, "GET page %d", &page) == 1) {
		gor_sleep(DELAY_MS * GOR_MILLISECOND); /* the slow service */
		int n = snprintf(reply, sizeof reply, "page %d\n", page);
		writeall(fd, reply, (size_t)n);
	}
	gor_fd_close(fd);
}

static void server(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	for (;;) {
		int fd = gor_accept(lfd, NULL, NULL);
		if (fd < 0)
			return; /* the listener was closed: the program ends */
		lab_check(gor_go(serve, (void *)(intptr_t)fd) == 0, "gor_go failed");
	}
}

static void fetch(int i)
{
	char req[64];
	int fd = gor_dial_tcp(addr, gor_now() + 10 * GOR_SECOND);
	lab_check(fd >= 0, "request %d: cannot connect to %s", i, addr);
	int n = snprintf(req, sizeof req, "GET page %d\n", i);
	lab_check(writeall(fd, req, (size_t)n) == 0, "request %d: write failed", i);
	lab_check(readline(fd, replies[i], sizeof replies[i]) > 0, "request %d: no reply", i);
	gor_fd_close(fd);
}

static void sequential(void)
{
	for (int i = 0; i < REQUESTS; i++)
		fetch(i);
}

static void fetcher(void *arg)
{
	fetch((int)(intptr_t)arg);
	gor_wg_done(&wg);
}

static void concurrent(void)
{
	gor_wg_add(&wg, REQUESTS);
	for (int i = 0; i < REQUESTS; i++)
		lab_check(gor_go(fetcher, (void *)(intptr_t)i) == 0, "gor_go failed");
	gor_wg_wait(&wg);
}

static void check(const struct lab_way *w)
{
	for (int i = 0; i < REQUESTS; i++) {
		char want[64];
		snprintf(want, sizeof want, "page %d\n", i);
		lab_check(strcmp(replies[i], want) == 0, "%s: request %d got \"%s\"", w->name, i, replies[i]);
		replies[i][0] = '\0';
	}
}

/* Starts the server; its address goes to addr. */
static int start_server(void)
{
	int lfd = gor_listen_tcp("127.0.0.1:0", 64);
	lab_check(lfd >= 0, "cannot listen on 127.0.0.1");
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	lab_check(getsockname(lfd, (struct sockaddr *)&sin, &len) == 0, "getsockname failed");
	snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sin.sin_port));
	lab_check(gor_go(server, (void *)(intptr_t)lfd) == 0, "gor_go failed");
	return lfd;
}

int main(int argc, char **argv)
{
	struct lab_way ways[] = {{"one after another", sequential, 0}, {"all at once", concurrent, 0}};
	bool conc_only = lab_conc_only(argc, argv);
	int lfd = start_server();
	if (conc_only) {
		concurrent();
		check(&ways[1]);
	} else {
		int procs = gor_maxprocs(0);
		printf("fetch_all: %d requests to a server on %s that answers after %d ms, MAXPROCS=%d\n", REQUESTS,
		       addr, DELAY_MS, procs);
		lab_race(ways, 2, TIMES, check);
		printf("  one after another: %6.1f ms  (%.1f delays)\n", ways[0].ms, ways[0].ms / DELAY_MS);
		printf("  all at once:       %6.1f ms  (%.1f delays)\n", ways[1].ms, ways[1].ms / DELAY_MS);
		double s = lab_result("fetch_all", ways[0].ms, ways[1].ms);
		printf("verdict: %.2fx on %d P%s: waiting for the network overlaps on any number of Ps%s\n", s, procs,
		       procs == 1 ? "" : "s", procs == 1 ? ", even on one" : "; more Ps do not shorten a wait");
	}
	gor_fd_close(lfd);
	return 0;
}
