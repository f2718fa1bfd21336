/*
 * http_hello.c - a minimal HTTP/1.1 server answering "Hello, World!" to
 * every request, with keep-alive and pipelining: a load target for wrk.
 * One goroutine per connection reads requests (headers only: bodies are
 * not expected) and writes the answers of all complete ones at once.
 *
 *   http_hello [PORT | HOST:PORT]     default 127.0.0.1:8080
 *   GOR_MAXPROCS=N
 *   wrk -t2 -c100 -d5s http://127.0.0.1:8080/
 *
 * Its twin in Go, for comparison, is bench/go/http_hello.
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gor.h"

static const char hello[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Length: 13\r\n"
	"\r\n"
	"Hello, World!";

static void serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char in[8192], out[16 * (sizeof hello - 1)];
	size_t have = 0;
	for (;;) {
		ssize_t n = gor_read(fd, in + have, sizeof in - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		in[have] = '\0';
		/* answer every complete request in the buffer */
		size_t used = 0, nout = 0;
		bool close_after = false;
		char *end;
		while (!close_after && (end = memmem(in + used, have - used, "\r\n\r\n", 4)) != NULL) {
			*end = '\0';
			close_after = strcasestr(in + used, "\r\nConnection: close") != NULL;
			if (nout + sizeof hello - 1 > sizeof out) {
				if (gor_write(fd, out, nout) != (ssize_t)nout)
					goto done;
				nout = 0;
			}
			memcpy(out + nout, hello, sizeof hello - 1);
			nout += sizeof hello - 1;
			used = (size_t)(end + 4 - in);
		}
		if (nout && gor_write(fd, out, nout) != (ssize_t)nout)
			break;
		if (close_after || (used == 0 && have == sizeof in - 1))
			break; /* asked to, or a header too big for us */
		memmove(in, in + used, have - used);
		have -= used;
	}
done:
	gor_fd_close(fd);
}

int main(int argc, char **argv)
{
	char addr[300];
	const char *a = argc > 1 ? argv[1] : "8080";
	snprintf(addr, sizeof addr, strchr(a, ':') ? "%s" : "127.0.0.1:%s", a);
	int ln = gor_listen_tcp(addr, 0);
	if (ln < 0) {
		fprintf(stderr, "http_hello: listen %s: %s\n", addr, strerror(errno));
		return 1;
	}
	printf("http_hello: http://%s/ MAXPROCS=%d\n", addr, gor_maxprocs(0));
	fflush(stdout);
	for (;;) {
		int fd = gor_accept(ln, NULL, NULL);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				gor_sleep(10 * GOR_MILLISECOND);
				continue;
			}
			fprintf(stderr, "http_hello: accept: %s\n", strerror(errno));
			return 1;
		}
		if (gor_go(serve, (void *)(intptr_t)fd) != 0)
			gor_fd_close(fd);
	}
}
