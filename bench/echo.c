/*
 * echo: the anchor's workload 12, the server side, on gor. One goroutine
 * per accepted connection loops { n = read(buf[4096]); write(buf[:n]) }
 * until the peer closes, as the Go reference server does.
 *
 * The figure comes from the client, a separate process: bench/run.sh
 * starts this server (-mode=server -p P -addr 127.0.0.1:PORT), runs the Go
 * twin's client against it (bench/go/echo -mode=client -p 1: 100
 * connections x 2,000 round trips of 64 bytes), which prints
 * "echo/P<P>: X ns/op rt_per_s=... p50_us=... p99_us=...", and then
 * stops the server with SIGTERM. The Go twin's server runs the same way
 * beside it. The server checks nothing itself: the client checks that
 * every byte came back.
 */
#include <stdint.h>
#include <string.h>

#include "bench.h"
#include "gor.h"

static void serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;
	while ((n = gor_read(fd, buf, sizeof buf)) > 0)
		if (gor_write(fd, buf, (size_t)n) != n)
			break;
	gor_fd_close(fd);
}

int main(int argc, char **argv)
{
	long long p = 1;
	const char *mode = "server", *addr = "127.0.0.1:17007";

	BENCH_FLAGS(argc, argv,
		    { "mode", BENCH_STRING, &mode, "server (the client is the Go twin's)" },
		    { "p", BENCH_INT, &p, "MAXPROCS (GOMAXPROCS)" },
		    { "addr", BENCH_STRING, &addr, "listen address (loopback)" });
	bench_positive("p", p);
	if (strcmp(mode, "server") != 0)
		bench_fail("-mode=%s: this program is the server only (use bench/go/echo -mode=client)", mode);
	gor_maxprocs((int)p);

	int ln = gor_listen_tcp(addr, 0);
	if (ln < 0)
		bench_fail("listen %s: %s", addr, strerror(errno));
	for (;;) {
		int fd = gor_accept(ln, NULL, NULL);
		if (fd < 0)
			bench_fail("accept: %s", strerror(errno));
		if (gor_go(serve, (void *)(intptr_t)fd) != 0)
			bench_fail("gor_go: %s", strerror(errno));
	}
}
