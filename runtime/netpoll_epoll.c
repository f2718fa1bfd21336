/*
 * netpoll_epoll.c - the netpoller's Linux backend (netpoll.h), on epoll.
 *
 * Each fd is added once with EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET:
 * edge-triggered, so an fd that stays readable costs nothing until it
 * becomes readable again, and the goroutine that parks on EAGAIN is woken
 * by the next edge. The key netpoll.c gives is kept in epoll_event.data.
 *
 * The wake-up is an eventfd registered level-triggered with a data value
 * no key can have (netpoll.c's keys hold an fd in their low 32 bits, and
 * the eventfd is an fd of ours that netpoll.c never registers). A write
 * makes it readable, so the epoll_wait blocked now, or the next one to
 * block, returns. Only a blocking wait reads it back to zero: a
 * non-blocking poll that sees it leaves it for the blocked poller it was
 * meant for (Go does the same).
 *
 * Timeouts: epoll_pwait2 takes nanoseconds (Linux 5.11); where the kernel
 * or qemu-user answers ENOSYS, and under valgrind (which does not know
 * it), epoll_wait takes milliseconds, rounded up so that a timer is never
 * run early.
 *
 * State: epfd and wakefd are written once by netpoll_init (netpoll.c
 * runs it once and publishes "initialised" with release order); the
 * pwait2 flag is a relaxed atomic hint.
 */
#if defined(__linux__) && !defined(GOR_NETPOLL_KQUEUE)

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "netpoll.h"

#ifdef GOR_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define WAKE_KEY UINT64_MAX

static int epfd = -1;
static int wakefd = -1;
static atomic_u32 nopwait2; /* epoll_pwait2 said ENOSYS once */

int netpoll_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return errno;
	wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wakefd < 0) {
		int e = errno;
		close(epfd);
		return e;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_KEY};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0) {
		int e = errno;
		close(wakefd);
		close(epfd);
		return e;
	}
#ifdef GOR_VALGRIND
	if (RUNNING_ON_VALGRIND)
		atomic_store_u32(&nopwait2, 1); /* it would warn of an unknown syscall */
#endif
	return 0;
}

int netpoll_open(int fd, uint64_t key)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = key};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	/* Still registered: the same open file under this number, added
	 * before and never deleted (it was closed through a dup'd twin).
	 * Take it over with the new key. */
	if (errno == EEXIST && epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	return errno;
}

int netpoll_close(int fd)
{
	struct epoll_event ev = {0}; /* kernels before 2.6.9 wanted one */
	return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : errno;
}

void netpoll_break(void)
{
	uint64_t one = 1;
	for (;;) {
		if (write(wakefd, &one, sizeof one) == sizeof one)
			return;
		if (errno == EAGAIN)
			return; /* the counter is full: a wake-up is pending anyway */
		if (errno != EINTR)
			gor_fatal("netpoll: cannot write the wake-up eventfd", strerror(errno));
	}
}

static int epollwait(int64_t delay, struct epoll_event *evs, int max)
{
#ifdef SYS_epoll_pwait2
	if (delay > 0 && !atomic_load_u32(&nopwait2)) {
		struct timespec ts = {.tv_sec = delay / GOR_SECOND, .tv_nsec = delay % GOR_SECOND};
		long n = syscall(SYS_epoll_pwait2, epfd, evs, max, &ts, NULL, 0);
		if (n >= 0 || errno != ENOSYS)
			return (int)n;
		atomic_store_u32(&nopwait2, 1);
	}
#endif
	int ms;
	if (delay < 0)
		ms = -1;
	else if (delay == 0)
		ms = 0;
	else if (delay < (int64_t)1000000 * GOR_MILLISECOND)
		ms = (int)((delay + GOR_MILLISECOND - 1) / GOR_MILLISECOND);
	else
		ms = 1000000 * 1000; /* about 11 days; the caller sleeps again */
	return epoll_wait(epfd, evs, max, ms);
}

int netpoll_wait(int64_t delay, struct netpoll_event *out, int max, bool *woken)
{
	struct epoll_event evs[128];
	if (max > (int)(sizeof evs / sizeof evs[0]))
		max = (int)(sizeof evs / sizeof evs[0]);
	*woken = false;
	int n;
	for (;;) {
		n = epollwait(delay, evs, max);
		if (n >= 0)
			break;
		if (errno != EINTR)
			gor_fatal("netpoll: epoll_wait failed", strerror(errno));
		if (delay >= 0)
			return 0; /* let the caller work out what is left */
	}
	int k = 0;
	for (int i = 0; i < n; i++) {
		uint32_t e = evs[i].events;
		if (evs[i].data.u64 == WAKE_KEY) {
			if (delay != 0) {
				uint64_t v;
				while (read(wakefd, &v, sizeof v) < 0 && errno == EINTR)
					;
				*woken = true;
			}
			continue;
		}
		int mode = 0;
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			mode |= NETPOLL_READ;
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			mode |= NETPOLL_WRITE;
		if (mode) {
			out[k].key = evs[i].data.u64;
			out[k].mode = mode;
			k++;
		}
	}
	return k;
}

#endif /* __linux__ && !GOR_NETPOLL_KQUEUE */
