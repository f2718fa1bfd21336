/*
 * echo_server.c - a TCP echo server: one goroutine per connection, each
 * reading and writing back with plain blocking-style calls while the
 * netpoller parks it between bytes.
 *
 *   echo_server [PORT | HOST:PORT]     default 127.0.0.1:17007
 *   GOR_MAXPROCS=N                     threads running goroutines
 *
 * samples/echo_client.c opens 10,000 connections to it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "gor.h"

static void serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;
	/* gor_write writes all n bytes (or fails): no loop needed here */
	while ((n = gor_read(fd, buf, sizeof buf)) > 0)
		if (gor_write(fd, buf, (size_t)n) != n)
			break;
	gor_fd_close(fd);
}

int main(int argc, char **argv)
{
	char addr[300];
	const char *a = argc > 1 ? argv[1] : "17007";
	snprintf(addr, sizeof addr, strchr(a, ':') ? "%s" : "127.0.0.1:%s", a);

	/* one fd per connection: lift the soft limit to the hard one */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	int ln = gor_listen_tcp(addr, 0);
	if (ln < 0) {
		fprintf(stderr, "echo_server: listen %s: %s\n", addr, strerror(errno));
		return 1;
	}
	printf("echo_server: listening on %s, MAXPROCS=%d, up to %llu fds\n", addr,
	       gor_maxprocs(0), (unsigned long long)rl.rlim_cur);
	fflush(stdout);
	for (;;) {
		int fd = gor_accept(ln, NULL, NULL);
		if (fd < 0) {
			/* out of fds: wait for connections to close */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				gor_sleep(10 * GOR_MILLISECOND);
				continue;
			}
			fprintf(stderr, "echo_server: accept: %s\n", strerror(errno));
			return 1;
		}
		if (gor_go(serve, (void *)(intptr_t)fd) != 0)
			gor_fd_close(fd);
	}
}
