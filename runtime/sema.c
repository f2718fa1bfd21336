/*
 * sema.c - goroutine sleep and wake-up keyed by address, after Go's
 * runtime/sema.go (Mullender and Cox, "Semaphores in Plan 9"): the table
 * of waiters behind semacquire/semrelease and semwait/semwakeall, and the
 * notifyList behind gor_cond.
 *
 * The table. An address hashes to one of SEMTABSIZE buckets (a prime, so
 * that strided addresses spread). A bucket holds a treap of the distinct
 * addresses that have waiters: a binary search tree on the address that
 * is also a min-heap on a random priority, hence O(log d) deep for d
 * addresses, whatever order they come in. Each tree node is the first
 * waiter of its address and heads that address's FIFO list. So:
 *   enqueue at the back   O(log d)   (find the node, append via its tail)
 *   enqueue at the front  O(log d)   (the newcomer takes the node's place)
 *   dequeue the first     O(log d)   (the next in line takes its place,
 *                                     or the node is rotated out)
 *   dequeue them all      O(log d + waiters woken)
 * A flat list per bucket would make a release scan every waiter of every
 * address that shares the bucket; with many contended objects (Go issue
 * 17953) that is quadratic. d counts addresses, not waiters, so a thousand
 * goroutines queued on one mutex cost nothing extra to anyone else.
 *
 * Records. A waiter's record (struct semawaiter: the common sudog plus
 * the tree links) lives on the waiting goroutine's stack, which never
 * moves and stays valid while the goroutine is parked. A record is in the
 * tree or on a list exactly while its goroutine is parked on it or about
 * to park (the bucket lock is held from enqueue until the goroutine has
 * switched out, see below), so whoever dequeues a record under the lock
 * may use it until it readies the goroutine, and not after.
 *
 * Locking. Each bucket has a gor_lock guarding its tree and the records
 * in it. A waiter enqueues itself and parks with the lock held;
 * goparkunlock releases it on the other side of the switch, so a waker that
 * takes the lock finds the waiter either not queued yet or fully parked.
 * nwait counts the bucket's waiters and is read without the lock so that
 * semrelease with nobody waiting costs no lock. It pairs with the count
 * as in Dekker's algorithm: semacquire increments nwait and then reads
 * the count, semrelease increments the count and then reads nwait, so at
 * least one of them sees the other. Both reads are read-modify-writes
 * (adding 0), which are sequentially consistent in both atomics backends
 * and so order after the preceding read-modify-write; atomic.h has no
 * sequentially consistent plain load, and its fence is not understood by
 * ThreadSanitizer. semwait and semwakeall need no such pairing: the
 * waiter checks under the lock, and the waker takes the lock after its
 * change (a wake-all is rare enough to pay for the lock every time). No
 * other lock is taken while a bucket lock is held.
 *
 * notifyList. A gor_cond's fields hold a ticket-based wait list of its
 * own (Go's notifyList): wait_ is the next ticket to hand out, notify_
 * the next to wake, lock_ (a gor_lock) guards head_/tail_, the FIFO of
 * waiting sudogs. Every waiter is woken by exactly one notify covering its
 * ticket, so there are no spurious wake-ups; a notify that overtakes the
 * waiter's park is not lost, since the waiter sees notify_ past its ticket.
 */
#include "sema.h"
#include "switch.h"

enum { SEMTABSIZE = 251 };

struct semawaiter {
	struct sudog s;            /* g, addr (the key), ticket (semwait's
				    * result, semacquire's handoff flag) */
	struct semawaiter *parent, *left, *right; /* tree links (nodes only) */
	struct semawaiter *tail;   /* a node: the last of its address's list */
	struct semawaiter *link;   /* the next waiter for the same address */
	uint32_t prio;             /* a node: heap priority, lowest on top */
};

struct semroot {
	gor_lock lock;
	atomic_u32 nwait;          /* waiters in this bucket */
	struct semawaiter *treap;
} __attribute__((aligned(64)));   /* one bucket per cache line */

static struct semroot semtable[SEMTABSIZE];

static struct semroot *semroot(const void *addr)
{
	return &semtable[((uintptr_t)addr >> 3) % SEMTABSIZE];
}

/* ---- the treap of one bucket ----------------------------------------- */

/* Makes whatever pointed at x (its parent's child link, or the root)
 * point at y, and gives y x's parent. */
static void replacechild(struct semroot *root, struct semawaiter *x, struct semawaiter *y)
{
	struct semawaiter *p = x->parent;
	if (y)
		y->parent = p;
	if (p == NULL)
		root->treap = y;
	else if (p->left == x)
		p->left = y;
	else
		p->right = y;
}

/* x's right child takes x's place; x becomes its left child. */
static void rotateleft(struct semroot *root, struct semawaiter *x)
{
	struct semawaiter *y = x->right, *b = y->left;
	replacechild(root, x, y);
	y->left = x;
	x->parent = y;
	x->right = b;
	if (b)
		b->parent = x;
}

/* x's left child takes x's place; x becomes its right child. */
static void rotateright(struct semroot *root, struct semawaiter *x)
{
	struct semawaiter *y = x->left, *b = y->right;
	replacechild(root, x, y);
	y->right = x;
	x->parent = y;
	x->left = b;
	if (b)
		b->parent = x;
}

/* Puts w, a waiter of the same address, in node's place in the tree. */
static void substitute(struct semroot *root, struct semawaiter *node, struct semawaiter *w)
{
	replacechild(root, node, w);
	w->left = node->left;
	w->right = node->right;
	w->prio = node->prio;
	if (w->left)
		w->left->parent = w;
	if (w->right)
		w->right->parent = w;
}

static struct semawaiter *treap_find(struct semroot *root, const void *addr)
{
	struct semawaiter *t = root->treap;
	while (t && t->s.addr != addr)
		t = (uintptr_t)addr < (uintptr_t)t->s.addr ? t->left : t->right;
	return t;
}

/* Adds w (w->s.addr set) behind the other waiters of its address, or in
 * front of them if lifo. */
static void treap_enqueue(struct semroot *root, struct semawaiter *w, bool lifo)
{
	struct semawaiter **link = &root->treap, *parent = NULL, *t;
	w->link = NULL;
	w->tail = w;
	while ((t = *link) != NULL) {
		if (t->s.addr == w->s.addr) {
			if (lifo) {
				substitute(root, t, w);
				w->link = t;
				w->tail = t->tail;
			} else {
				t->tail->link = w;
				t->tail = w;
			}
			return;
		}
		parent = t;
		link = (uintptr_t)w->s.addr < (uintptr_t)t->s.addr ? &t->left : &t->right;
	}
	/* A new address: a leaf, then up while its priority beats its
	 * parent's, which keeps the heap order and so the balance. */
	w->parent = parent;
	w->left = w->right = NULL;
	w->prio = fastrandn(UINT32_MAX);
	*link = w;
	while (w->parent && w->parent->prio > w->prio) {
		if (w->parent->left == w)
			rotateright(root, w->parent);
		else
			rotateleft(root, w->parent);
	}
}

/* Takes node (and so its whole list) out of the tree: rotates it down,
 * keeping the heap order, until it is a leaf. */
static void treap_remove(struct semroot *root, struct semawaiter *node)
{
	while (node->left || node->right) {
		if (node->right == NULL ||
		    (node->left && node->left->prio < node->right->prio))
			rotateright(root, node);
		else
			rotateleft(root, node);
	}
	replacechild(root, node, NULL);
}

/* The first waiter of addr, taken out of the bucket, or NULL. */
static struct semawaiter *treap_dequeue(struct semroot *root, const void *addr)
{
	struct semawaiter *w = treap_find(root, addr);
	if (w == NULL)
		return NULL;
	if (w->link) {
		w->link->tail = w->tail;
		substitute(root, w, w->link);
	} else {
		treap_remove(root, w);
	}
	return w;
}

/* ---- counting semaphores ------------------------------------------------- */

/* Takes one count if there is one. The first read is a read-modify-write
 * for the Dekker pairing with nwait (see the top). */
static bool cansemacquire(atomic_u32 *a)
{
	uint32_t v = atomic_add_u32(a, 0);
	for (;;) {
		if (v == 0)
			return false;
		if (atomic_cas_u32(a, v, v - 1))
			return true;
		v = atomic_load_u32(a);
	}
}

void semacquire(uint32_t *addr, bool lifo, enum waitreason r, void *waiting)
{
	atomic_u32 *a = (atomic_u32 *)addr;
	if (cansemacquire(a))
		return;
	struct semroot *root = semroot(addr);
	struct semawaiter w = {.s = {.g = getg(), .addr = addr}};
	for (;;) {
		lock(&root->lock);
		atomic_add_u32(&root->nwait, 1); /* then the count: Dekker */
		if (cansemacquire(a)) {
			atomic_add_u32(&root->nwait, -1);
			unlock(&root->lock);
			return;
		}
		w.s.ticket = 0;
		treap_enqueue(root, &w, lifo);
		goparkunlock(getg(), &root->lock, r, waiting);
		/* A handoff gave us the count; otherwise race for it, and
		 * queue again (at the front if lifo) if someone took it. */
		if (w.s.ticket != 0 || cansemacquire(a))
			return;
	}
}

void semrelease(uint32_t *addr, bool handoff)
{
	atomic_u32 *a = (atomic_u32 *)addr;
	struct semroot *root = semroot(addr);
	atomic_add_u32(a, 1);
	if (atomic_add_u32(&root->nwait, 0) == 0) /* then nwait: Dekker */
		return;
	lock(&root->lock);
	struct semawaiter *w = treap_dequeue(root, addr);
	if (w)
		atomic_add_u32(&root->nwait, -1);
	unlock(&root->lock);
	if (w == NULL)
		return; /* its waiter took the count before parking */
	/* w is parked until we ready it, so its call on the object is still
	 * in progress: taking the count on its behalf is safe. */
	bool handed = handoff && cansemacquire(a);
	struct gor_g *gp = w->s.g;
	w->s.ticket = handed;
	goready(gp, true); /* w may return from here on: forget it */
	if (handed)
		gor_yield(); /* let it run now, on our P, before anyone barges */
}

/* ---- semwait / semwakeall ------------------------------------------------ */

uint32_t semwait(void *key, bool (*mustpark)(void *arg), void *arg,
		 enum waitreason r, void *waiting)
{
	struct semroot *root = semroot(key);
	struct semawaiter w = {.s = {.g = getg(), .addr = key}};
	lock(&root->lock);
	atomic_add_u32(&root->nwait, 1);
	if (!mustpark(arg)) {
		atomic_add_u32(&root->nwait, -1);
		unlock(&root->lock);
		return 0;
	}
	treap_enqueue(root, &w, false);
	goparkunlock(getg(), &root->lock, r, waiting);
	return w.s.ticket;
}

void semwakeall(void *key, uint32_t ticket)
{
	struct semroot *root = semroot(key);
	lock(&root->lock);
	struct semawaiter *w = treap_find(root, key);
	if (w)
		treap_remove(root, w);
	int32_t n = 0;
	for (struct semawaiter *x = w; x; x = x->link)
		n++;
	atomic_add_u32(&root->nwait, -n);
	unlock(&root->lock);
	while (w) {
		struct semawaiter *next = w->link; /* before w can run */
		w->s.ticket = ticket;
		goready(w->s.g, false);
		w = next;
	}
}

/* ---- notifyList (gor_cond) ------------------------------------------------ */

/* The cond's words as the atomics they are; see the top comment. */
static atomic_u32 *nl_wait(gor_cond *c) { return (atomic_u32 *)&c->wait_; }
static atomic_u32 *nl_notify(gor_cond *c) { return (atomic_u32 *)&c->notify_; }
static gor_lock *nl_lock(gor_cond *c) { return (gor_lock *)&c->lock_; }

_Static_assert(sizeof(atomic_u32) == sizeof(uint32_t), "gor_cond words are atomic_u32");
_Static_assert(sizeof(gor_lock) == sizeof(uint32_t), "gor_cond.lock_ is a gor_lock");

/* Tickets wrap around: compare by distance. */
static bool ticket_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

uint32_t notifylist_add(gor_cond *c)
{
	return atomic_add_u32(nl_wait(c), 1) - 1;
}

void notifylist_wait(gor_cond *c, uint32_t ticket)
{
	lock(nl_lock(c));
	if (ticket_before(ticket, atomic_load_u32(nl_notify(c)))) {
		unlock(nl_lock(c)); /* notified while it let go of its mutex */
		return;
	}
	struct sudog s = {.g = getg(), .ticket = ticket};
	struct sudog *tail = c->tail_;
	if (tail)
		tail->next = &s;
	else
		c->head_ = &s;
	c->tail_ = &s;
	goparkunlock(getg(), nl_lock(c), WAIT_COND, c);
}

void notifylist_notify_one(gor_cond *c)
{
	/* Nobody took a ticket since the last notify: nothing to do. */
	if (atomic_load_u32(nl_wait(c)) == atomic_load_u32(nl_notify(c)))
		return;
	lock(nl_lock(c));
	uint32_t t = atomic_load_u32(nl_notify(c));
	if (t == atomic_load_u32(nl_wait(c))) {
		unlock(nl_lock(c));
		return;
	}
	atomic_store_u32(nl_notify(c), t + 1);
	/* Ticket t's holder may not have queued yet (it is between
	 * notifylist_add and notifylist_wait); then it will see notify_
	 * past its ticket and not park at all. */
	struct sudog *prev = NULL;
	for (struct sudog *s = c->head_; s; prev = s, s = s->next) {
		if (s->ticket != t)
			continue;
		if (prev)
			prev->next = s->next;
		else
			c->head_ = s->next;
		if (c->tail_ == s)
			c->tail_ = prev;
		s->next = NULL;
		/* Unlock first: once s runs, its gor_cond_wait may return
		 * and c may be gone. */
		unlock(nl_lock(c));
		goready(s->g, true);
		return;
	}
	unlock(nl_lock(c));
}

void notifylist_notify_all(gor_cond *c)
{
	if (atomic_load_u32(nl_wait(c)) == atomic_load_u32(nl_notify(c)))
		return;
	lock(nl_lock(c));
	struct sudog *s = c->head_;
	c->head_ = c->tail_ = NULL;
	atomic_store_u32(nl_notify(c), atomic_load_u32(nl_wait(c)));
	unlock(nl_lock(c));
	while (s) {
		struct sudog *next = s->next; /* before s can run */
		s->next = NULL;
		goready(s->g, false);
		s = next;
	}
}
