/*
 * chan.h - channel internals shared by chan.c, select.c, time.c and
 * debug.c. Nothing here is public; include/gor.h has the API.
 *
 * The layout and the locking rules are described in chan.c's top comment;
 * in short: c->lock guards every mutable field, and the few fields that
 * are read without it (closed, qcount, the queue heads) are atomics
 * written only under the lock.
 */
#ifndef GOR_CHAN_H
#define GOR_CHAN_H

#include "runtime.h"

/* A FIFO of sudogs. first is atomic because the lock-free checks of the
 * try-operations look at it; everything else is under the channel lock. */
struct waitq {
	atomic_ptr first;
	struct sudog *last;
};

/*
 * One allocation, 64-byte aligned: the header, then the ring buffer, then
 * (only for timer channels) the timer. The first cache line holds what an
 * unbuffered hand-off touches, the second the ring indices and the start
 * of the buffer.
 */
struct gor_chan {
	gor_lock lock;
	atomic_u32 closed;      /* 0 or 1; set under lock, read without */
	size_t elemsize;        /* immutable */
	size_t dataqsiz;        /* immutable: the capacity */
	atomic_u64 qcount;      /* values in the buffer; set under lock */
	struct waitq recvq;     /* blocked receivers */
	struct waitq sendq;     /* blocked senders */
	size_t sendx, recvx;    /* ring indices, under lock */
	struct timer *timer;    /* a timer feeding it, or NULL; immutable */
	_Alignas(16) unsigned char buf[];
};

/* What the internal operations report. */
enum chan_result { CHAN_OK, CHAN_WOULDBLOCK, CHAN_CLOSED };

/* Wait queues and hand-offs, for select.c; all need c->lock held. */
void waitq_enqueue(struct waitq *q, struct sudog *sg);
struct sudog *waitq_dequeue(struct waitq *q);
void waitq_remove(struct waitq *q, struct sudog *sg);

/* Hand a value to (or take one from) the parked goroutine of sg, which
 * was just dequeued; return that goroutine, for goready once the caller
 * has dropped its locks. */
struct gor_g *chan_sendto(struct gor_chan *c, struct sudog *sg, const void *ep);
struct gor_g *chan_recvfrom(struct gor_chan *c, struct sudog *sg, void *ep);
/* Buffer operations; the caller checked there is room / a value. */
void chan_bufput(struct gor_chan *c, const void *ep);
void chan_bufget(struct gor_chan *c, void *ep);
/* Zeroes a receiver's element (closed channel); ep may be NULL. */
void chan_zero(struct gor_chan *c, void *ep);

/* The blocking and non-blocking operations behind gor_send/gor_recv and
 * the try-operations, for a non-NULL c; the caller is a goroutine when
 * block is true. */
enum chan_result chansend(struct gor_chan *c, const void *ep, bool block);
enum chan_result chanrecv(struct gor_chan *c, void *ep, bool block);

/* For time.c: a channel with room for a timer in the same allocation
 * (c->timer points at it, zeroed). The caller fills in the timer and adds
 * it; gor_chan_free stops it (deltimer) before freeing the channel. */
struct gor_chan *chan_make_timer(size_t elemsize, size_t cap);

/* A send from a timer function (on g0 or any goroutine, with a P held):
 * never parks, may ready a receiver. 0 delivered or buffered, EAGAIN full,
 * EPIPE closed. errno is left alone. */
int chan_trysend_from_timer(struct gor_chan *c, const void *elem);

/* For dumps: a lock-free snapshot, which may be stale but never faults
 * while c is alive. Any out pointer may be NULL. False for NULL c. */
bool chan_describe(struct gor_chan *c, size_t *elemsize, size_t *len, size_t *cap,
		   bool *closed);

#endif /* GOR_CHAN_H */
