/*
 * echo_client.c - opens many concurrent connections to an echo server
 * (samples/echo_server.c) and checks every byte that comes back.
 *
 *   echo_client [-c CONNS] [-m MSGS] [-s SIZE] [HOST:PORT]
 *       defaults: 10000 connections, 10 messages of 100 bytes each,
 *       127.0.0.1:17007
 *
 * One goroutine per connection. All of them dial first and wait until
 * every connection is open, so that CONNS connections are open at once;
 * then each sends MSGS messages, reading each one back before the next.
 * Exit status 0 only if every connection echoed every byte.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gor.h"

static const char *addr = "127.0.0.1:17007";
static long conns = 10000, msgs = 10, size = 100;
static gor_waitgroup dialled, done;
static atomic_long nopen, nok, nfail;

static void fail(long id, const char *what, int err)
{
	if (atomic_fetch_add(&nfail, 1) < 5)
		fprintf(stderr, "echo_client: connection %ld: %s: %s\n", id, what,
			err ? strerror(err) : "wrong bytes");
}

/* Reads exactly n bytes: 0, or the errno (EPIPE for an early EOF). */
static int readfull(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = gor_read(fd, p, n);
		if (r <= 0)
			return r == 0 ? EPIPE : errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void client(void *arg)
{
	long id = (long)arg;
	char *out = malloc((size_t)size), *in = malloc((size_t)size);
	int fd = gor_dial_tcp(addr, gor_now() + 30 * GOR_SECOND);
	int err = fd < 0 ? errno : 0;
	if (fd >= 0)
		atomic_fetch_add(&nopen, 1);
	gor_wg_done(&dialled);
	gor_wg_wait(&dialled); /* every connection is open now */
	if (fd < 0 || !out || !in) {
		fail(id, "dial", err ? err : ENOMEM);
		goto out;
	}
	for (long m = 0; m < msgs; m++) {
		for (long i = 0; i < size; i++)
			out[i] = (char)(id * 31 + m * 7 + i);
		if (gor_write(fd, out, (size_t)size) != size) {
			fail(id, "write", errno);
			goto out;
		}
		if ((err = readfull(fd, in, (size_t)size)) != 0) {
			fail(id, "read", err);
			goto out;
		}
		if (memcmp(in, out, (size_t)size) != 0) {
			fail(id, "compare", 0);
			goto out;
		}
	}
	atomic_fetch_add(&nok, 1);
out:
	if (fd >= 0)
		gor_fd_close(fd);
	free(out);
	free(in);
	gor_wg_done(&done);
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "c:m:s:")) != -1) {
		long v = strtol(optarg, NULL, 10);
		if (v <= 0) {
			fprintf(stderr, "echo_client: -%c wants a positive number\n", opt);
			return 2;
		}
		if (opt == 'c')
			conns = v;
		else if (opt == 'm')
			msgs = v;
		else if (opt == 's')
			size = v;
		else
			return 2;
	}
	if (optind < argc)
		addr = argv[optind];

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)conns + 16)
		fprintf(stderr, "echo_client: warning: %ld connections, but only %llu fds\n", conns,
			(unsigned long long)rl.rlim_cur);

	int64_t t0 = gor_now();
	gor_wg_add(&dialled, conns);
	gor_wg_add(&done, conns);
	for (long i = 0; i < conns; i++) {
		if (gor_go(client, (void *)i) != 0) {
			fprintf(stderr, "echo_client: gor_go: %s\n", strerror(errno));
			return 1;
		}
	}
	gor_wg_wait(&done);
	double ms = (double)(gor_now() - t0) / 1e6;
	printf("echo_client: %ld connections open at once (%ld dialled), %ld echoed %ld x %ld bytes "
	       "correctly, %ld failed, %.0f ms, MAXPROCS=%d\n",
	       (long)atomic_load(&nopen), conns, (long)atomic_load(&nok), msgs, size,
	       (long)atomic_load(&nfail), ms, gor_maxprocs(0));
	return atomic_load(&nok) == conns ? 0 : 1;
}
