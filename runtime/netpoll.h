/*
 * netpoll.h - the netpoller's two internal interfaces.
 *
 * 1. The backend: what a kernel's readiness API (epoll, kqueue) provides
 *    to netpoll.c, in the style of libuv's platform layer. Exactly one
 *    backend is compiled in: netpoll_epoll.c on Linux, netpoll_kqueue.c
 *    on the BSDs and macOS, or on Linux when the build defines
 *    GOR_NETPOLL_KQUEUE (make NETPOLL=kqueue, which tests it against the
 *    emulation in tests/compat/). A backend
 *      - registers an fd once, for both directions, edge-triggered: it
 *        reports a direction when it becomes ready, not while it stays so;
 *      - names each registered fd by the 64-bit key netpoll.c gave it
 *        and hands the key back with every event, never interpreting it;
 *      - can be woken from any thread while one thread waits in it.
 *    Calls may come from any thread at once (the kernel serialises them);
 *    a backend keeps no state of its own beyond its kernel objects and
 *    hints such as epoll's pwait2 flag.
 *
 * 2. What netpoll.c offers to io.c: the pollDesc of an fd, and parking a
 *    goroutine on it until it is ready, a deadline passes or the fd is
 *    closed. The scheduler's side (netpoll, netpollBreak...) is declared
 *    in runtime.h with the other interfaces between runtime files.
 */
#ifndef GOR_NETPOLL_H
#define GOR_NETPOLL_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

/* ---- the backend --------------------------------------------------------- */

enum { NETPOLL_READ = 1, NETPOLL_WRITE = 2 };

struct netpoll_event {
	uint64_t key; /* as given to netpoll_open */
	int mode;     /* NETPOLL_READ | NETPOLL_WRITE: the directions to wake */
};

/* Creates the kernel objects. Called once, before any other call; 0 or an
 * errno value. */
int netpoll_init(void);
/* Starts watching fd for both directions. 0, or an errno value: EPERM
 * means the kernel cannot wait on this kind of file. */
int netpoll_open(int fd, uint64_t key);
/* Stops watching fd (called before it is closed). 0 or an errno value. */
int netpoll_close(int fd);
/* Makes a netpoll_wait that blocks now, or the next one to block, return.
 * netpoll.c calls it at most once per wake-up it needs. */
void netpoll_break(void);
/* Waits for events: delay < 0 for ever, 0 not at all, else up to delay
 * ns. Fills ev (at most max) and returns how many. *woken is set when a
 * blocking wait consumed a netpoll_break; a non-blocking one leaves the
 * wake-up for the blocking waiter. A signal may end the wait early with
 * no events. */
int netpoll_wait(int64_t delay, struct netpoll_event *ev, int max, bool *woken);

/* ---- netpoll.c for io.c -------------------------------------------------- */

struct pollDesc;

/* Finds fd's pollDesc, registering fd with the poller and making it
 * non-blocking on first use. 0, or an errno value (EBADF for a bad fd).
 * *seq is the fd's close generation: a wait that sees it change returns
 * EBADF. */
int pd_prepare(int fd, struct pollDesc **pdp, uint32_t *seq);
/* The same for an fd the runtime has just created (accept4, socket), so
 * non-blocking already: forgets whatever an earlier file with the same
 * number left behind, without an fstat. */
int pd_prepare_new(int fd, bool issock, struct pollDesc **pdp, uint32_t *seq);
/* Regular files and whatever the poller refuses: use the blocking path. */
bool pd_blocking(const struct pollDesc *pd);
/* A socket: written with send(MSG_NOSIGNAL). */
bool pd_socket(const struct pollDesc *pd);
/* The closes since *seq was read: true once the fd was closed. */
bool pd_closed(const struct pollDesc *pd, uint32_t seq);
/* One reader and one writer at a time per fd, as Go's fdMutex: waiters
 * queue on these (parking) so that each side has one poll waiter. */
void pd_lock(struct pollDesc *pd, int mode);
void pd_unlock(struct pollDesc *pd, int mode);
/* Parks the caller until fd may be ready in one of the directions of
 * mode (both: either one), the deadline passes or fd is closed. 0 (look
 * again: readiness is a hint), ETIMEDOUT or EBADF. The caller holds
 * pd_lock for every direction in mode. */
int netpollblock(struct pollDesc *pd, int mode, int64_t deadline, uint32_t seq);
/* Wakes the goroutines parked on fd with EBADF and unregisters it, for a
 * close that follows; pd_close_done after the close(2). */
void pd_close(int fd);
void pd_close_done(int fd);

#endif /* GOR_NETPOLL_H */
