/*
 * chan.c - channels, after Go's runtime/chan.go: gor_chan_make, gor_send,
 * gor_recv, the try-operations, gor_close, len/cap/free, and the pieces
 * select.c and time.c build on (chan.h).
 *
 * A channel is one 64-byte-aligned allocation: the header (struct
 * gor_chan), a ring buffer of dataqsiz elements, and for a timer channel
 * its struct timer. Two FIFO queues hold the goroutines blocked on it:
 * sudogs that live in the blocked goroutine's own stack frame (stacks
 * never move), so blocking allocates nothing.
 *
 * Invariants, under c->lock, ignoring the sudogs of selects that another
 * case has already won (waitq_dequeue drops those):
 *   - recvq is non-empty only while the buffer is empty, and sendq only
 *     while it is full: an operation that can complete does, and blocks
 *     only when it cannot;
 *   - once closed, both queues are empty: close wakes every waiter, and a
 *     closed channel never makes anybody wait.
 *
 * Hand-off. A sender that finds a parked receiver copies its value
 * straight into the receiver's elem and readies it; the buffer is not
 * touched. A receiver that finds a parked sender copies from the sender's
 * elem when the channel is unbuffered; when it is buffered (and so full)
 * it takes the head of the buffer and puts the sender's value at the tail,
 * which keeps values in send order. The woken goroutine finds its sudog's
 * `success` set (false: woken by a close) and, for select, the sudog that
 * won in gp->param.
 *
 * Parking. A blocking operation enqueues its sudog with c->lock held and
 * calls goparkunlock, which releases the lock only once the
 * goroutine is switched out (proc.c runs unlockf on the other side):
 * whoever dequeues the sudog needs the lock, so nobody can ready a
 * goroutine that is still running. Wakers call goready after dropping the
 * lock; the one time sched.lock is taken under a channel lock is a select
 * with a deadline parking (see the locking rules below).
 *
 * Lock-free checks. As in Go, the try-operations report "would block"
 * without the lock when they can prove it from two single-word reads:
 *   try_send: "not closed" and "full" (recvq.first NULL when unbuffered).
 *     A closed channel never goes from ready to not ready, so the two
 *     reads, in either order, show an instant when the channel was open
 *     and full.
 *   try_recv: "empty" (sendq.first NULL, or qcount 0), then "not closed".
 *     Here the order matters: seen in the other order, a channel closed
 *     and then drained between the reads would look open and empty,
 *     which it never was. So the empty read is an acquire and the
 *     writers of qcount and of the queue heads use release stores; the
 *     drain that emptied the channel held the lock after the close did,
 *     so a reader that sees the drained value also sees the close. When
 *     it does see "closed" it reads "empty" once more (acquire on closed,
 *     released by close) and, if still empty, reports closed-and-drained
 *     without the lock too.
 *
 * Locking rules. Under c->lock: everything mutable, that is closed,
 * qcount, sendx, recvx, the buffer's contents, both queues and every
 * sudog on them (select.c takes the same lock, in address order across
 * channels). Read without it: elemsize, dataqsiz and timer (immutable
 * once the channel exists); closed, qcount and the queue heads (atomics,
 * written only under the lock) by the lock-free checks, gor_chan_len and
 * dumps. While a channel lock is held, the only other locks taken are a
 * select's other channel locks and, when a select with a deadline parks,
 * a timer lock and sched.lock (see select.c); never the reverse.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "switch.h"

enum { CHAN_ALIGN = 64 };

/* Larger than any 64-bit Linux address space (47 or 48 bits): refused as
 * ENOMEM without asking an allocator, which may abort instead (ASan). */
#define CHAN_MAXALLOC ((size_t)1 << 48)

/* The unbuffered hand-off touches the first cache line only. */
_Static_assert(offsetof(struct gor_chan, sendx) == CHAN_ALIGN,
	       "struct gor_chan: the hot fields should fill exactly one cache line");

static inline int seterr(int e)
{
	errno = e;
	return -1;
}

void chan_zero(struct gor_chan *c, void *ep)
{
	if (ep && c->elemsize)
		memset(ep, 0, c->elemsize);
}

static inline bool chan_full(struct gor_chan *c)
{
	if (c->dataqsiz == 0)
		return atomic_load_ptr(&c->recvq.first) == NULL;
	return atomic_load_u64(&c->qcount) == c->dataqsiz;
}

static inline bool chan_empty(struct gor_chan *c)
{
	if (c->dataqsiz == 0)
		return atomic_load_acq_ptr(&c->sendq.first) == NULL;
	return atomic_load_acq_u64(&c->qcount) == 0;
}

/* ---- wait queues, under the channel lock ------------------------------ */

/* Unlinks sg wherever it is in q; nothing if it was dequeued already. */
void waitq_remove(struct waitq *q, struct sudog *sg)
{
	struct sudog *x = sg->prev, *y = sg->next;
	if (x)
		x->next = y;
	else if (atomic_load_ptr(&q->first) == sg)
		atomic_store_rel_ptr(&q->first, y);
	else
		return;
	if (y)
		y->prev = x;
	else
		q->last = x;
	sg->next = sg->prev = NULL;
}

/* ---- the operations, under the channel lock --------------------------- */

/* ---- blocking ----------------------------------------------------------- */

/* Parks the calling goroutine gp on q; c->lock is held and is released
 * once the goroutine is switched out. True if woken by a value, false by
 * a close. */
static inline __attribute__((always_inline)) bool chanpark(struct gor_g *gp, struct gor_chan *c, struct waitq *q,
							   void *ep, enum waitreason r)
{
	struct sudog sg = {.g = gp, .elem = ep, .c = c};
	waitq_enqueue(q, &sg);
	goparkunlock(gp, &c->lock, r, c);
	return sg.success;
}

/* A nil channel: nothing can ever wake the goroutine. */
static _Noreturn void blockforever(enum waitreason r)
{
	for (;;)
		gopark(NULL, NULL, r, NULL);
}

__attribute__((always_inline)) inline enum chan_result chansend(struct gor_g *gp, struct gor_chan *c, const void *ep,
								 bool block)
{
	if (!block && !atomic_load_u32(&c->closed) && chan_full(c))
		return CHAN_WOULDBLOCK;
	lock(&c->lock);
	if (atomic_load_u32(&c->closed)) {
		unlock(&c->lock);
		return CHAN_CLOSED;
	}
	struct sudog *sg = waitq_dequeue(&c->recvq);
	if (sg) {
		struct gor_g *rg = chan_sendto(c, sg, ep);
		unlock(&c->lock);
		ready(rg, true);
		return CHAN_OK;
	}
	if (atomic_load_u64(&c->qcount) < c->dataqsiz) {
		chan_bufput(c, ep);
		unlock(&c->lock);
		return CHAN_OK;
	}
	if (!block) {
		unlock(&c->lock);
		return CHAN_WOULDBLOCK;
	}
	return chanpark(gp, c, &c->sendq, (void *)ep, WAIT_CHAN_SEND) ? CHAN_OK : CHAN_CLOSED;
}

__attribute__((always_inline)) inline enum chan_result chanrecv(struct gor_g *gp, struct gor_chan *c, void *ep,
								 bool block)
{
	if (!block && chan_empty(c)) {
		if (!atomic_load_acq_u32(&c->closed))
			return CHAN_WOULDBLOCK;
		if (chan_empty(c)) {
			chan_zero(c, ep);
			return CHAN_CLOSED;
		}
	}
	lock(&c->lock);
	if (atomic_load_u32(&c->closed)) {
		if (atomic_load_u64(&c->qcount) == 0) {
			unlock(&c->lock);
			chan_zero(c, ep);
			return CHAN_CLOSED;
		}
	} else {
		struct sudog *sg = waitq_dequeue(&c->sendq);
		if (sg) {
			struct gor_g *sgp = chan_recvfrom(c, sg, ep);
			unlock(&c->lock);
			ready(sgp, true);
			return CHAN_OK;
		}
	}
	if (atomic_load_u64(&c->qcount) > 0) {
		chan_bufget(c, ep);
		unlock(&c->lock);
		return CHAN_OK;
	}
	if (!block) {
		unlock(&c->lock);
		return CHAN_WOULDBLOCK;
	}
	return chanpark(gp, c, &c->recvq, ep, WAIT_CHAN_RECV) ? CHAN_OK : CHAN_CLOSED;
}

/* ---- the public API ----------------------------------------------------- */

/* Allocates a channel with `extra` zeroed bytes after its buffer. */
static struct gor_chan *makechan(size_t elemsize, size_t cap, size_t extra)
{
	size_t bufsize, size;
	size_t hdr = sizeof(struct gor_chan);
	size_t slack = extra + 2 * CHAN_ALIGN; /* rounding, below */
	if (__builtin_mul_overflow(elemsize, cap, &bufsize) || bufsize > SIZE_MAX - hdr - slack) {
		errno = EINVAL;
		return NULL;
	}
	size_t extraoff = (hdr + bufsize + 15) & ~(size_t)15;
	size = (extraoff + extra + CHAN_ALIGN - 1) & ~(size_t)(CHAN_ALIGN - 1);
	struct gor_chan *c = size <= CHAN_MAXALLOC ? aligned_alloc(CHAN_ALIGN, size) : NULL;
	if (c == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, hdr);
	c->elemsize = elemsize;
	c->dataqsiz = cap;
	if (extra) {
		c->timer = (struct timer *)((char *)c + extraoff);
		memset(c->timer, 0, extra);
	}
	return c;
}

gor_chan *gor_chan_make(size_t elem_size, size_t cap)
{
	getg_adopt();
	return makechan(elem_size, cap, 0);
}

struct gor_chan *chan_make_timer(size_t elemsize, size_t cap)
{
	return makechan(elemsize, cap, sizeof(struct timer));
}

int gor_send(gor_chan *c, const void *elem)
{
	struct gor_g *gp = getg_adopt();
	preemptcheck(gp);
	if (unlikely(c == NULL))
		blockforever(WAIT_CHAN_SEND_NIL);
	if (unlikely(elem == NULL && c->elemsize))
		return seterr(EINVAL);
	return likely(chansend(gp, c, elem, true) == CHAN_OK) ? 0 : seterr(EPIPE);
}

int gor_recv(gor_chan *c, void *elem)
{
	struct gor_g *gp = getg_adopt();
	preemptcheck(gp);
	if (unlikely(c == NULL))
		blockforever(WAIT_CHAN_NIL);
	return chanrecv(gp, c, elem, true) == CHAN_OK;
}

int gor_try_send(gor_chan *c, const void *elem)
{
	preemptcheck(getg_adopt());
	if (c == NULL || (elem == NULL && c->elemsize))
		return seterr(EINVAL);
	switch (chansend(NULL, c, elem, false)) {
	case CHAN_OK:
		return 0;
	case CHAN_WOULDBLOCK:
		return seterr(EAGAIN);
	default:
		return seterr(EPIPE);
	}
}

int gor_try_recv(gor_chan *c, void *elem)
{
	preemptcheck(getg_adopt());
	if (c == NULL)
		return seterr(EINVAL);
	switch (chanrecv(NULL, c, elem, false)) {
	case CHAN_OK:
		return 1;
	case CHAN_CLOSED:
		return 0;
	default:
		return seterr(EAGAIN);
	}
}

int chan_trysend_from_timer(struct gor_chan *c, const void *elem)
{
	switch (chansend(NULL, c, elem, false)) {
	case CHAN_OK:
		return 0;
	case CHAN_WOULDBLOCK:
		return EAGAIN;
	default:
		return EPIPE;
	}
}

/* Woken goroutines, chained through their (dequeued) sudogs' next. */
struct sglist {
	struct sudog *head, *tail;
};

static void sglist_push(struct sglist *l, struct sudog *sg)
{
	sg->next = NULL;
	if (l->tail)
		l->tail->next = sg;
	else
		l->head = sg;
	l->tail = sg;
}

int gor_close(gor_chan *c)
{
	getg_adopt();
	if (c == NULL)
		return seterr(EINVAL);
	lock(&c->lock);
	if (atomic_load_u32(&c->closed)) {
		unlock(&c->lock);
		return seterr(EPIPE);
	}
	atomic_store_rel_u32(&c->closed, 1);
	struct sglist woken = {NULL, NULL};
	struct sudog *sg;
	while ((sg = waitq_dequeue(&c->recvq)) != NULL) {
		chan_zero(c, sg->elem);
		chan_wake(sg, false);
		sglist_push(&woken, sg);
	}
	while ((sg = waitq_dequeue(&c->sendq)) != NULL) {
		chan_wake(sg, false);
		sglist_push(&woken, sg);
	}
	unlock(&c->lock);
	/* Each sudog stays valid until its goroutine is readied: read the
	 * link and the goroutine first. */
	for (sg = woken.head; sg != NULL;) {
		struct sudog *next = sg->next;
		goready(sg->g, false);
		sg = next;
	}
	return 0;
}

size_t gor_chan_len(gor_chan *c)
{
	getg_adopt();
	return c ? (size_t)atomic_load_u64(&c->qcount) : 0;
}

size_t gor_chan_cap(gor_chan *c)
{
	getg_adopt();
	return c ? c->dataqsiz : 0;
}

static size_t waitq_len(struct waitq *q)
{
	size_t n = 0;
	for (struct sudog *sg = atomic_load_ptr(&q->first); sg; sg = sg->next)
		n++;
	return n;
}

void gor_chan_free(gor_chan *c)
{
	getg_adopt();
	if (c == NULL)
		return;
	/* When deltimer returns, the timer's function is not running and
	 * never will: it cannot send on the channel being freed. */
	if (c->timer)
		deltimer(c->timer);
	lock(&c->lock);
	size_t nr = waitq_len(&c->recvq), ns = waitq_len(&c->sendq);
	if (nr || ns) {
		char detail[128];
		snprintf(detail, sizeof detail,
			 "gor_chan_free(%p): %zu goroutine(s) blocked receiving, %zu sending",
			 (void *)c, nr, ns);
		gor_fatal("free of a channel with blocked goroutines", detail);
	}
	unlock(&c->lock);
	free(c);
}

bool chan_describe(struct gor_chan *c, size_t *elemsize, size_t *len, size_t *cap,
		   bool *closed)
{
	if (c == NULL)
		return false;
	if (elemsize)
		*elemsize = c->elemsize;
	if (len)
		*len = (size_t)atomic_load_u64(&c->qcount);
	if (cap)
		*cap = c->dataqsiz;
	if (closed)
		*closed = atomic_load_u32(&c->closed) != 0;
	return true;
}
