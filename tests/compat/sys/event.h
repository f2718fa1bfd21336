/*
 * sys/event.h - a minimal stand-in for the BSD header, for Linux builds
 * with the kqueue backend (make NETPOLL=kqueue, make check-kqueue). It
 * declares only what runtime/netpoll_kqueue.c uses, with FreeBSD's
 * constants and struct layout (without the ext[] array, which the
 * backend never touches); tests/compat/kqueue_emu.c implements it over
 * epoll.
 */
#ifndef GOR_COMPAT_SYS_EVENT_H
#define GOR_COMPAT_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
	uintptr_t ident;   /* the fd, or a user event's number */
	short filter;      /* EVFILT_* */
	unsigned short flags; /* EV_* */
	unsigned int fflags;  /* NOTE_* */
	int64_t data;
	void *udata;       /* handed back unchanged */
};

#define EVFILT_READ  (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_USER  (-11)

#define EV_ADD     0x0001
#define EV_DELETE  0x0002
#define EV_ENABLE  0x0004
#define EV_DISABLE 0x0008
#define EV_CLEAR   0x0020
#define EV_ERROR   0x4000
#define EV_EOF     0x8000

#define NOTE_TRIGGER 0x01000000

#define EV_SET(kevp, a, b, c, d, e, f)                                         \
	do {                                                                   \
		struct kevent *ev_ = (kevp);                                   \
		ev_->ident = (a);                                              \
		ev_->filter = (b);                                             \
		ev_->flags = (c);                                              \
		ev_->fflags = (d);                                             \
		ev_->data = (e);                                               \
		ev_->udata = (f);                                              \
	} while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
	   int nevents, const struct timespec *timeout);

#endif /* GOR_COMPAT_SYS_EVENT_H */
