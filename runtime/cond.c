/*
 * cond.c - gor_cond, after Go's sync.Cond: a notifyList (sema.c) in the
 * cond's own fields.
 *
 * A waiter takes a ticket while it still holds m, then unlocks m and
 * waits for that ticket. A signal that comes in between is not lost: it
 * covers the ticket, and the wait returns at once. A waiter is woken only
 * by the signal or broadcast that covers its ticket, never spuriously,
 * and the waiters of one signal are woken in ticket order.
 *
 * Lifetime (CONTRACT.md, Sync): a notifier releases the cond's lock
 * before it readies anyone, and reads each waiter's record (on the
 * waiter's stack) before readying it, so once a woken gor_cond_wait
 * returns no notifier still touches c. The woken waiter then relocks m,
 * whose own rule (mutex.c) covers m.
 */
#include "sema.h"

void gor_cond_wait(gor_cond *c, gor_mutex *m)
{
	getg_adopt();
	uint32_t t = notifylist_add(c);
	gor_mutex_unlock(m);
	notifylist_wait(c, t);
	gor_mutex_lock(m);
}

void gor_cond_signal(gor_cond *c)
{
	getg_adopt();
	notifylist_notify_one(c);
}

void gor_cond_broadcast(gor_cond *c)
{
	getg_adopt();
	notifylist_notify_all(c);
}
