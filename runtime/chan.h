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

#include <string.h>

#include "runtime.h"

#pragma GCC visibility push(hidden)

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

/*
 * Wait queues, hand-offs and the buffer, shared by chan.c and select.c;
 * all need c->lock held. Inline: they are the channel fast paths, a few
 * instructions each, and a call apiece was a good part of a hand-off.
 */

static inline void *chanbuf(struct gor_chan *c, size_t i)
{
	return c->buf + i * c->elemsize;
}

/* Zero-size elements may come with NULL pointers, and memcpy's pointers
 * must be valid even for 0 bytes. */
static inline void copyelem(struct gor_chan *c, void *dst, const void *src)
{
	size_t n = c->elemsize;
	if (n == sizeof(uint64_t)) /* the common case, as a move, not a call */
		memcpy(dst, src, sizeof(uint64_t));
	else if (n)
		memcpy(dst, src, n);
}

static inline void waitq_enqueue(struct waitq *q, struct sudog *sg)
{
	struct sudog *last = q->last;
	sg->next = NULL;
	sg->prev = last;
	if (last)
		last->next = sg;
	else
		atomic_store_rel_ptr(&q->first, sg);
	q->last = sg;
}

/*
 * Takes the first sudog that can still be woken. A select's goroutine
 * has a sudog on each of its channels and only the first waker to claim
 * g->selectdone may complete it; a sudog whose select was already won
 * elsewhere is dropped here and left with next == prev == NULL, which
 * tells its owner's waitq_remove that it is gone.
 */
static inline struct sudog *waitq_dequeue(struct waitq *q)
{
	for (;;) {
		struct sudog *sg = atomic_load_ptr(&q->first);
		if (sg == NULL)
			return NULL;
		struct sudog *y = sg->next;
		if (y == NULL) {
			q->last = NULL;
		} else {
			y->prev = NULL;
			sg->next = NULL;
		}
		atomic_store_rel_ptr(&q->first, y);
		if (sg->isselect && !atomic_cas_u32(&sg->g->selectdone, 0, 1))
			continue;
		return sg;
	}
}

void waitq_remove(struct waitq *q, struct sudog *sg);

/* chan_sendto and chan_recvfrom hand a value to (or take one from) the
 * parked goroutine of sg, which was just dequeued, and return that
 * goroutine, for goready once the caller has dropped its locks. The
 * buffer operations: the caller checked there is room / a value. */
/* Marks sg's wait as over; the caller readies the goroutine returned. */
static inline struct gor_g *chan_wake(struct sudog *sg, bool success)
{
	struct gor_g *gp = sg->g;
	sg->elem = NULL;
	sg->success = success;
	gp->param = sg;
	return gp;
}

static inline struct gor_g *chan_sendto(struct gor_chan *c, struct sudog *sg, const void *ep)
{
	if (sg->elem)
		copyelem(c, sg->elem, ep);
	return chan_wake(sg, true);
}

static inline struct gor_g *chan_recvfrom(struct gor_chan *c, struct sudog *sg, void *ep)
{
	if (c->dataqsiz == 0) {
		if (ep)
			copyelem(c, ep, sg->elem);
	} else {
		/* A sender waits only on a full buffer: the head we take and
		 * the tail the sender's value goes to are the same slot. */
		void *qp = chanbuf(c, c->recvx);
		if (ep)
			copyelem(c, ep, qp);
		copyelem(c, qp, sg->elem);
		if (++c->recvx == c->dataqsiz)
			c->recvx = 0;
		c->sendx = c->recvx;
	}
	return chan_wake(sg, true);
}

static inline void chan_bufput(struct gor_chan *c, const void *ep)
{
	copyelem(c, chanbuf(c, c->sendx), ep);
	if (++c->sendx == c->dataqsiz)
		c->sendx = 0;
	atomic_store_rel_u64(&c->qcount, atomic_load_u64(&c->qcount) + 1);
}

static inline void chan_bufget(struct gor_chan *c, void *ep)
{
	if (ep)
		copyelem(c, ep, chanbuf(c, c->recvx));
	if (++c->recvx == c->dataqsiz)
		c->recvx = 0;
	atomic_store_rel_u64(&c->qcount, atomic_load_u64(&c->qcount) - 1);
}

/* Zeroes a receiver's element (closed channel); ep may be NULL. */
void chan_zero(struct gor_chan *c, void *ep);

/* The blocking and non-blocking operations behind gor_send/gor_recv and
 * the try-operations, for a non-NULL c; when block is true the caller is
 * the goroutine gp (else gp is unused and may be NULL). */
enum chan_result chansend(struct gor_g *gp, struct gor_chan *c, const void *ep, bool block);
enum chan_result chanrecv(struct gor_g *gp, struct gor_chan *c, void *ep, bool block);

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

#pragma GCC visibility pop

#endif /* GOR_CHAN_H */
