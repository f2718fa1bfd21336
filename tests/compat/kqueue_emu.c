/*
 * kqueue_emu.c - the part of kqueue(2)/kevent(2) that
 * runtime/netpoll_kqueue.c uses, emulated over epoll, so that the kqueue
 * backend runs on Linux: `make check-kqueue` links this file into the
 * runtime and runs the netpoll suites. It is test scaffolding, not a
 * kqueue; what it does not emulate fails with EINVAL, so that a backend
 * change needing more shows up as a failing test rather than as a
 * quietly wrong emulation.
 *
 * The subset:
 *   - EVFILT_READ and EVFILT_WRITE on an fd, added with EV_ADD | EV_CLEAR
 *     (edge-triggered, which epoll does with EPOLLET) or removed with
 *     EV_DELETE. Both filters of an fd share one epoll registration
 *     whose data is the fd; each filter keeps its own udata here.
 *   - One EVFILT_USER event per kqueue, added with EV_ADD | EV_CLEAR and
 *     fired with NOTE_TRIGGER: an eventfd, registered with EPOLLET, that
 *     a trigger writes and a delivery reads back to zero.
 *   - kevent with changes and no event list (an error is returned as -1
 *     and errno, never as an EV_ERROR event), or with an event list of at
 *     least two slots and no changes. Events: a read filter fires for
 *     EPOLLIN, EPOLLRDHUP, EPOLLHUP or EPOLLERR, with EV_EOF when the
 *     peer hung up; a write filter for EPOLLOUT, EPOLLHUP or EPOLLERR,
 *     with EV_EOF for the last two. One epoll event may give two kevents,
 *     so at most half the slots' worth of epoll events is asked for.
 *   - close(2) of a watched fd drops its epoll registration, as kqueue
 *     drops the fd's filters; the emulation's record of the fd stays until
 *     the next EV_ADD for that number replaces it.
 *
 * Threads: the runtime calls kevent from several threads at once (one
 * blocked waiting for events while others add filters or trigger the
 * user event). The tables are under one mutex; epoll_wait runs without
 * it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sys/event.h"

#define USER_KEY UINT64_MAX /* epoll data of the user event; fds are smaller */
enum { FILT_R = 1, FILT_W = 2, MAXKQ = 4 };

struct watch {
	void *rdata, *wdata; /* udata of the read and write filters */
	unsigned filters;    /* FILT_R | FILT_W */
};

struct kq {
	int epfd;            /* also the kqueue's fd */
	int userfd;          /* eventfd of the user event, or -1 */
	uintptr_t userident;
	struct watch *w;     /* indexed by fd */
	size_t nw;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct kq *kqs[MAXKQ];

int kqueue(void)
{
	struct kq *q = calloc(1, sizeof *q);
	if (q == NULL) {
		errno = ENOMEM;
		return -1;
	}
	q->epfd = epoll_create1(EPOLL_CLOEXEC);
	q->userfd = -1;
	if (q->epfd < 0) {
		int e = errno;
		free(q);
		errno = e;
		return -1;
	}
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXKQ; i++) {
		if (kqs[i] == NULL) {
			kqs[i] = q;
			pthread_mutex_unlock(&mu);
			return q->epfd;
		}
	}
	pthread_mutex_unlock(&mu);
	close(q->epfd);
	free(q);
	errno = EMFILE;
	return -1;
}

/* Under mu. */
static struct kq *findkq(int fd)
{
	for (int i = 0; i < MAXKQ; i++)
		if (kqs[i] && kqs[i]->epfd == fd)
			return kqs[i];
	return NULL;
}

/* Makes the epoll registration of fd match its filters. Under mu. */
static int syncfd(struct kq *q, int fd, unsigned filters)
{
	if (filters == 0)
		return epoll_ctl(q->epfd, EPOLL_CTL_DEL, fd, NULL) == 0 || errno == ENOENT ? 0 : errno;
	struct epoll_event ev = {.events = EPOLLET, .data.u64 = (uint64_t)fd};
	if (filters & FILT_R)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (filters & FILT_W)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(q->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno == ENOENT && epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	return errno;
}

static int fdfilter(struct kq *q, const struct kevent *kev)
{
	if (kev->ident > (uintptr_t)INT32_MAX)
		return EBADF;
	int fd = (int)kev->ident;
	unsigned bit = kev->filter == EVFILT_READ ? FILT_R : FILT_W;
	if ((size_t)fd >= q->nw) {
		size_t n = q->nw ? q->nw : 64;
		while (n <= (size_t)fd)
			n *= 2;
		struct watch *w = realloc(q->w, n * sizeof *w);
		if (w == NULL)
			return ENOMEM;
		memset(w + q->nw, 0, (n - q->nw) * sizeof *w);
		q->w = w;
		q->nw = n;
	}
	struct watch *w = &q->w[fd];
	unsigned filters = w->filters;
	if (kev->flags == (EV_ADD | EV_CLEAR))
		filters |= bit;
	else if (kev->flags == EV_DELETE && (filters & bit))
		filters &= ~bit;
	else
		return kev->flags == EV_DELETE ? ENOENT : EINVAL;
	int e = syncfd(q, fd, filters);
	if (e != 0)
		return e;
	w->filters = filters;
	if (kev->flags & EV_ADD) {
		if (bit == FILT_R)
			w->rdata = kev->udata;
		else
			w->wdata = kev->udata;
	}
	return 0;
}

static int userfilter(struct kq *q, const struct kevent *kev)
{
	if (kev->flags == (EV_ADD | EV_CLEAR) && kev->fflags == 0) {
		if (q->userfd >= 0)
			return q->userident == kev->ident ? 0 : EINVAL;
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return errno;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = USER_KEY};
		if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			int e = errno;
			close(fd);
			return e;
		}
		q->userfd = fd;
		q->userident = kev->ident;
		return 0;
	}
	if (kev->flags == 0 && kev->fflags == NOTE_TRIGGER) {
		if (q->userfd < 0 || q->userident != kev->ident)
			return ENOENT;
		uint64_t one = 1;
		if (write(q->userfd, &one, sizeof one) < 0 && errno != EAGAIN)
			return errno;
		return 0;
	}
	return EINVAL;
}

static int change(struct kq *q, const struct kevent *kev)
{
	switch (kev->filter) {
	case EVFILT_READ:
	case EVFILT_WRITE:
		return fdfilter(q, kev);
	case EVFILT_USER:
		return userfilter(q, kev);
	default:
		return EINVAL;
	}
}

static void setev(struct kevent *out, uintptr_t ident, short filter, unsigned short flags, void *udata)
{
	memset(out, 0, sizeof *out);
	out->ident = ident;
	out->filter = filter;
	out->flags = flags;
	out->udata = udata;
}

/* Turns epoll events into kevents. Under mu. */
static int translate(struct kq *q, const struct epoll_event *ee, int n, struct kevent *out)
{
	int k = 0;
	for (int i = 0; i < n; i++) {
		uint32_t e = ee[i].events;
		if (ee[i].data.u64 == USER_KEY) {
			uint64_t v;
			if (read(q->userfd, &v, sizeof v) < 0 && errno != EAGAIN)
				continue;
			setev(&out[k], q->userident, EVFILT_USER, EV_CLEAR, NULL);
			out[k++].fflags = NOTE_TRIGGER;
			continue;
		}
		size_t fd = (size_t)ee[i].data.u64;
		if (fd >= q->nw)
			continue;
		const struct watch *w = &q->w[fd];
		if ((w->filters & FILT_R) && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			setev(&out[k++], fd, EVFILT_READ,
			      EV_CLEAR | (e & (EPOLLRDHUP | EPOLLHUP) ? EV_EOF : 0), w->rdata);
		if ((w->filters & FILT_W) && (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
			setev(&out[k++], fd, EVFILT_WRITE,
			      EV_CLEAR | (e & (EPOLLHUP | EPOLLERR) ? EV_EOF : 0), w->wdata);
	}
	return k;
}

int kevent(int kqfd, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
	   int nevents, const struct timespec *timeout)
{
	if (nchanges < 0 || nevents < 0 || (nchanges > 0 && nevents > 0) || (nevents == 1)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&mu);
	struct kq *q = findkq(kqfd);
	int e = q ? 0 : EBADF;
	for (int i = 0; e == 0 && i < nchanges; i++)
		e = change(q, &changelist[i]);
	pthread_mutex_unlock(&mu);
	if (e != 0 || nevents == 0) {
		errno = e;
		return e ? -1 : 0;
	}
	int ms = -1;
	if (timeout) {
		int64_t ns = (int64_t)timeout->tv_sec * 1000000000 + timeout->tv_nsec;
		int64_t v = (ns + 999999) / 1000000;
		ms = v > 1000000000 ? 1000000000 : (int)v;
	}
	struct epoll_event ee[64];
	int max = nevents / 2 < 64 ? nevents / 2 : 64;
	int n = epoll_wait(kqfd, ee, max, ms);
	if (n < 0)
		return -1;
	pthread_mutex_lock(&mu);
	int k = translate(q, ee, n, eventlist);
	pthread_mutex_unlock(&mu);
	return k;
}
