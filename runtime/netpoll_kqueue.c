/*
 * netpoll_kqueue.c - the netpoller's backend (netpoll.h) for the BSDs and
 * macOS, on kqueue.
 *
 * It has never run on a BSD or macOS kernel. On Linux, `make check-kqueue`
 * builds it (GOR_NETPOLL_KQUEUE) against tests/compat/sys/event.h and a
 * kqueue emulation over epoll (tests/compat/kqueue_emu.c) and runs the
 * netpoll suites with it, so its logic runs on every change; what only a
 * real kernel can show (the exact EV_EOF and error reporting of each file
 * type) has not been seen.
 *
 * Each fd gets two filters, EVFILT_READ and EVFILT_WRITE, both EV_CLEAR:
 * like epoll's EPOLLET, a filter reports when its direction becomes ready
 * and is then reset. Both carry netpoll.c's key in udata. Closing an fd
 * removes its filters in the kernel, so netpoll_close has nothing to do.
 *
 * The wake-up is an EVFILT_USER event with EV_CLEAR, fired by
 * NOTE_TRIGGER. Delivering it resets it, so a non-blocking poll that
 * happens to collect it would steal it from the blocked poller it was
 * meant for: such a poll fires it again.
 *
 * EOF: a pipe whose reader went away may report only on its read filter,
 * with EV_EOF; the writer parked on it must then try its write (and get
 * EPIPE), so EV_EOF on either filter wakes both directions. A woken
 * goroutine retries its call, so an extra wake-up costs one EAGAIN.
 *
 * State: kq is written once by netpoll_init (netpoll.c runs it once and
 * publishes "initialised" with release order).
 */
#if defined(GOR_NETPOLL_KQUEUE) || \
	(!defined(__linux__) && (defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
				 defined(__OpenBSD__) || defined(__DragonFly__)))

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include "netpoll.h"

/* The EVFILT_USER identifier of the wake-up; any value not used by
 * another user event of this kqueue (there is none). */
#define WAKE_IDENT 0x676f72u

static int kq = -1;

/* Applies changes, none of which may fail. A signal may interrupt
 * kevent after the changes were applied: applying them again is
 * harmless (EV_ADD of a present filter updates it, a trigger twice is
 * one wake-up more). */
static int kevent_changes(const struct kevent *ch, int n)
{
	for (;;) {
		if (kevent(kq, ch, n, NULL, 0, NULL) == 0)
			return 0;
		if (errno != EINTR)
			return errno;
	}
}

int netpoll_init(void)
{
	kq = kqueue();
	if (kq < 0)
		return errno;
	fcntl(kq, F_SETFD, FD_CLOEXEC);
	struct kevent ev;
	EV_SET(&ev, WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
	int e = kevent_changes(&ev, 1);
	if (e != 0) {
		close(kq);
		kq = -1;
	}
	return e;
}

int netpoll_open(int fd, uint64_t key)
{
	struct kevent ev[2];
	void *udata = (void *)(uintptr_t)key;
	EV_SET(&ev[0], (uintptr_t)fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, udata);
	EV_SET(&ev[1], (uintptr_t)fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, udata);
	return kevent_changes(ev, 2);
}

int netpoll_close(int fd)
{
	(void)fd; /* close(2) drops the fd's filters */
	return 0;
}

void netpoll_break(void)
{
	struct kevent ev;
	EV_SET(&ev, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
	int e = kevent_changes(&ev, 1);
	if (e != 0)
		gor_fatal("netpoll: cannot trigger the kqueue wake-up", strerror(e));
}

int netpoll_wait(int64_t delay, struct netpoll_event *out, int max, bool *woken)
{
	struct kevent evs[128];
	struct timespec ts, *tsp = NULL;
	if (max > (int)(sizeof evs / sizeof evs[0]))
		max = (int)(sizeof evs / sizeof evs[0]);
	if (delay >= 0) {
		/* some kernels refuse timeouts beyond about 10^8 s */
		if (delay > (int64_t)1000000 * GOR_SECOND)
			delay = (int64_t)1000000 * GOR_SECOND;
		ts.tv_sec = (time_t)(delay / GOR_SECOND);
		ts.tv_nsec = (long)(delay % GOR_SECOND);
		tsp = &ts;
	}
	*woken = false;
	int n;
	for (;;) {
		n = kevent(kq, NULL, 0, evs, max, tsp);
		if (n >= 0)
			break;
		if (errno != EINTR)
			gor_fatal("netpoll: kevent failed", strerror(errno));
		if (delay >= 0)
			return 0; /* let the caller work out what is left */
	}
	int k = 0;
	for (int i = 0; i < n; i++) {
		const struct kevent *ev = &evs[i];
		if (ev->filter == EVFILT_USER) {
			if (ev->ident != WAKE_IDENT)
				continue;
			if (delay != 0)
				*woken = true;
			else
				netpoll_break(); /* not ours: pass it on */
			continue;
		}
		int mode;
		if (ev->filter == EVFILT_READ)
			mode = NETPOLL_READ;
		else if (ev->filter == EVFILT_WRITE)
			mode = NETPOLL_WRITE;
		else
			continue;
		if (ev->flags & (EV_EOF | EV_ERROR))
			mode = NETPOLL_READ | NETPOLL_WRITE;
		out[k].key = (uint64_t)(uintptr_t)ev->udata;
		out[k].mode = mode;
		k++;
	}
	return k;
}

#endif /* kqueue */
