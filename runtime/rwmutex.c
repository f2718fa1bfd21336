/*
 * rwmutex.c - gor_rwmutex, after Go's sync.RWMutex.
 *
 * Fields (all touched atomically except through w_):
 *   w_           serialises writers;
 *   readercount_ readers holding or waiting for the lock; a writer
 *                subtracts RWMUTEX_MAX_READERS from it, so a negative value
 *                tells arriving readers that a writer is pending and they
 *                must wait on readersem_ (this is what keeps a stream of
 *                readers from starving the writer);
 *   readerwait_  readers the pending writer still waits for: those that
 *                held the lock when it arrived. The last of them to leave
 *                wakes the writer on writersem_;
 *   readersem_   where readers wait for the writer; its unlock releases
 *                one count per reader that queued meanwhile.
 * A reader's fast paths are one atomic add each.
 *
 * No lifetime promise is made for gor_rwmutex (CONTRACT.md names only
 * the other primitives): an unlocking writer touches w_ after it has let
 * the readers in.
 */
#include "sema.h"

#define RWMUTEX_MAX_READERS (1 << 30)

_Static_assert(sizeof(atomic_u32) == sizeof(int32_t), "gor_rwmutex counters are atomic_u32");

static atomic_u32 *readercount(gor_rwmutex *rw)
{
	return (atomic_u32 *)&rw->readercount_;
}

static atomic_u32 *readerwait(gor_rwmutex *rw)
{
	return (atomic_u32 *)&rw->readerwait_;
}

void gor_rwmutex_rlock(gor_rwmutex *rw)
{
	if (unlikely((int32_t)atomic_add_u32(readercount(rw), 1) < 0)) {
		getg_adopt();
		semacquire(&rw->readersem_, false, WAIT_RWMUTEX_R, rw);
	}
}

/* A pending writer waits for us (r < 0 is the count after our add). */
static void runlockslow(gor_rwmutex *rw, int32_t r)
{
	if (r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS)
		gor_fatal("sync: RUnlock of unlocked RWMutex", NULL);
	if (atomic_add_u32(readerwait(rw), -1) == 0) {
		getg_adopt();
		semrelease(&rw->writersem_, false); /* the last reader out */
	}
}

void gor_rwmutex_runlock(gor_rwmutex *rw)
{
	int32_t r = (int32_t)atomic_add_u32(readercount(rw), -1);
	if (unlikely(r < 0))
		runlockslow(rw, r);
}

void gor_rwmutex_lock(gor_rwmutex *rw)
{
	gor_mutex_lock(&rw->w_); /* first, beat the other writers */
	/* Announce ourselves: from now on arriving readers wait. */
	int32_t r = (int32_t)atomic_add_u32(readercount(rw), -RWMUTEX_MAX_READERS) +
		    RWMUTEX_MAX_READERS;
	/* Wait for the readers that were inside, unless they all left
	 * between the two adds (readerwait_ went back to 0). */
	if (r != 0 && atomic_add_u32(readerwait(rw), r) != 0) {
		getg_adopt();
		semacquire(&rw->writersem_, false, WAIT_RWMUTEX_W, rw);
	}
}

void gor_rwmutex_unlock(gor_rwmutex *rw)
{
	/* Let readers in again; r counts those that queued meanwhile. */
	int32_t r = (int32_t)atomic_add_u32(readercount(rw), RWMUTEX_MAX_READERS);
	if (r >= RWMUTEX_MAX_READERS)
		gor_fatal("sync: Unlock of unlocked RWMutex", NULL);
	if (r > 0)
		getg_adopt();
	for (int32_t i = 0; i < r; i++)
		semrelease(&rw->readersem_, false);
	gor_mutex_unlock(&rw->w_);
}
