/*
 * sema.h - sleep and wake-up for goroutines, keyed by address (sema.c):
 * the layer under gor_mutex, gor_rwmutex, gor_waitgroup, gor_once and
 * gor_cond, as Go's runtime/sema.go is under package sync.
 *
 * Each wait parks the goroutine, never the thread; the waiter's record
 * lives on its own stack, so nothing here allocates.
 */
#ifndef GOR_SEMA_H
#define GOR_SEMA_H

#include "runtime.h"

#pragma GCC visibility push(hidden)

/* Waits until *addr > 0, then decrements it. lifo puts the caller at the
 * front of addr's queue (a waiter that was woken and lost the race goes
 * back first, as Go's Mutex does). r and waiting are shown in dumps. */
void semacquire(uint32_t *addr, bool lifo, enum waitreason r, void *waiting);
/* Increments *addr and wakes the first waiter, if any. handoff gives the
 * count straight to that waiter and yields to it, so that no running
 * goroutine can take it first (Go's starvation-mode handoff). After the
 * increment, *addr is touched only on behalf of a woken waiter that has
 * not yet been readied, so a waiter's return means the releaser is done. */
void semrelease(uint32_t *addr, bool handoff);

/* A futex for goroutines: parks while mustpark(arg) is true, checking it
 * under key's bucket lock, until semwakeall(key, ticket) runs; returns
 * that ticket, or 0 if it did not park. There are no spurious wake-ups,
 * and nothing is re-read after the wake-up. The waker changes what
 * mustpark reads before calling semwakeall, which never dereferences key:
 * the object may be gone by the time the waiters run. */
uint32_t semwait(void *key, bool (*mustpark)(void *arg), void *arg,
		 enum waitreason r, void *waiting);
void semwakeall(void *key, uint32_t ticket);

/* Go's notifyList, kept in a gor_cond's fields: a waiter takes a ticket
 * (notifylist_add) before it releases its mutex and then waits for that
 * ticket (notifylist_wait); a notify wakes the oldest ticket, or all. A
 * notify that comes between add and wait is not lost, and nothing else
 * ever wakes a waiter. */
uint32_t notifylist_add(gor_cond *c);
void notifylist_wait(gor_cond *c, uint32_t ticket);
void notifylist_notify_one(gor_cond *c);
void notifylist_notify_all(gor_cond *c);

#pragma GCC visibility pop

#endif /* GOR_SEMA_H */
