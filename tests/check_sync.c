/*
 * check_sync.c - the sync primitives through the public API: gor_mutex
 * (exclusion with exact counters at MAXPROCS 1 and 2, trylock, the fatal
 * unlock of an unlocked mutex, starvation mode), gor_rwmutex (readers
 * together, writers alone, a writer not starved by readers), gor_waitgroup
 * (10,000 goroutines, several waiters, a negative add refused, reuse
 * reported), gor_once (100 callers, fn once, nobody returns early),
 * gor_cond (producer/consumer, broadcast, no spurious wake-ups), the main
 * goroutine blocking on each, and objects on a goroutine's stack let go
 * as soon as the contract allows.
 *
 *   make lib build/tests/check_sync && build/tests/check_sync
 *
 * Every wait is bounded. Goroutines are watched with TU_WAIT_UNTIL; where
 * the main goroutine itself blocks in a sync call, a watchdog thread (which
 * never touches the runtime) fails the test with a message if the call has
 * not returned after TU_WAIT_S seconds, scaled as Check's timeouts are.
 * Data guarded by a primitive is plain on purpose: ThreadSanitizer then
 * checks that the primitive orders it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <pthread.h>

#include "testutil.h"

/* ---- watchdog for calls that block the main goroutine ------------------ */

struct watchdog {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool disarmed;
	struct timespec deadline; /* CLOCK_MONOTONIC */
	char what[160];
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	bool fire = false;
	pthread_mutex_lock(&w->mu);
	while (!w->disarmed && !fire)
		fire = pthread_cond_timedwait(&w->cv, &w->mu, &w->deadline) == ETIMEDOUT;
	fire = fire && !w->disarmed;
	pthread_mutex_unlock(&w->mu);
	if (fire) /* in fork mode this reports and exits the test process */
		ck_abort_msg("the main goroutine is still blocked in %s after %d s (scaled)",
			     w->what, TU_WAIT_S);
	return NULL;
}

static void watchdog_arm(struct watchdog *w, const char *what)
{
	pthread_condattr_t ca;
	memset(w, 0, sizeof *w);
	snprintf(w->what, sizeof w->what, "%s", what);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	int64_t dl = tu_deadline(TU_WAIT_S);
	w->deadline.tv_sec = dl / 1000000000;
	w->deadline.tv_nsec = dl % 1000000000;
	ck_assert_int_eq(pthread_create(&w->thread, NULL, watchdog_main, w), 0);
}

static void watchdog_disarm(struct watchdog *w)
{
	pthread_mutex_lock(&w->mu);
	w->disarmed = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

/* Runs the statement `call`, which blocks the main goroutine, bounded. */
#define BOUNDED(call)                                                        \
	do {                                                                 \
		struct watchdog wd_;                                         \
		watchdog_arm(&wd_, #call);                                   \
		call;                                                        \
		watchdog_disarm(&wd_);                                       \
	} while (0)

static void atomic_max(atomic_int *max, int v)
{
	int m = atomic_load(max);
	while (v > m && !atomic_compare_exchange_weak(max, &m, v))
		;
}

/* ---- mutex: exclusion and exact counters --------------------------------- */

enum { MC_G = 8, MC_N = 100000 };
static gor_mutex mc_mu;
static long mc_count; /* guarded by mc_mu */
static atomic_int mc_inside, mc_overlap, mc_done;

static void mc_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < MC_N; i++) {
		gor_mutex_lock(&mc_mu);
		if (atomic_fetch_add_explicit(&mc_inside, 1, memory_order_relaxed) != 0)
			atomic_fetch_add(&mc_overlap, 1);
		mc_count++;
		atomic_fetch_sub_explicit(&mc_inside, 1, memory_order_relaxed);
		gor_mutex_unlock(&mc_mu);
	}
	atomic_fetch_add(&mc_done, 1);
}

static void mutex_counter(int procs)
{
	gor_maxprocs(procs);
	for (int i = 0; i < MC_G; i++)
		TU_GO(mc_worker, NULL);
	TU_WAIT_UNTIL(atomic_load(&mc_done) == MC_G, "mutex workers: %d of %d finished",
		      atomic_load(&mc_done), MC_G);
	gor_mutex_lock(&mc_mu);
	long c = mc_count;
	gor_mutex_unlock(&mc_mu);
	ck_assert_msg(c == (long)MC_G * MC_N, "MAXPROCS=%d: count %ld, want %ld", procs, c,
		      (long)MC_G * MC_N);
	ck_assert_msg(atomic_load(&mc_overlap) == 0, "MAXPROCS=%d: %d overlaps in the section",
		      procs, atomic_load(&mc_overlap));
}

START_TEST(test_mutex_counter_p1)
{
	mutex_counter(1);
}
END_TEST

START_TEST(test_mutex_counter_p2)
{
	mutex_counter(2);
}
END_TEST

/* ---- mutex: many contended mutexes in one semaphore bucket ------------------ */

/*
 * The semaphore table hashes an address to one of 251 buckets by
 * (address >> 3) % 251, so mutexes 251 * 8 bytes apart share a bucket and
 * their waiters share its tree of addresses. Each holder yields inside
 * its section, so the others park and the tree grows, shrinks and
 * rotates under every kind of operation; the counters must stay exact.
 */
enum { SB_MUTEXES = 24, SB_PER = 4, SB_N = 2000, SB_STRIDE = 251 * 8 };
struct sb_slot {
	gor_mutex m;
	long count; /* under m */
	char pad[SB_STRIDE - sizeof(gor_mutex) - sizeof(long)];
};
static struct sb_slot sb_slots[SB_MUTEXES] __attribute__((aligned(8)));
static atomic_int sb_done;

static void sb_worker(void *arg)
{
	struct sb_slot *s = arg;
	for (int i = 0; i < SB_N; i++) {
		gor_mutex_lock(&s->m);
		s->count++;
		if (i % 4 == 0)
			gor_yield();
		gor_mutex_unlock(&s->m);
	}
	atomic_fetch_add(&sb_done, 1);
}

START_TEST(test_mutex_shared_bucket)
{
	_Static_assert(sizeof(struct sb_slot) == SB_STRIDE, "one slot per stride");
	gor_maxprocs(2);
	for (int i = 0; i < SB_PER; i++)
		for (int j = 0; j < SB_MUTEXES; j++)
			TU_GO(sb_worker, &sb_slots[j]);
	TU_WAIT_UNTIL(atomic_load(&sb_done) == SB_MUTEXES * SB_PER, "%d of %d workers finished",
		      atomic_load(&sb_done), SB_MUTEXES * SB_PER);
	for (int j = 0; j < SB_MUTEXES; j++) {
		gor_mutex_lock(&sb_slots[j].m);
		long c = sb_slots[j].count;
		gor_mutex_unlock(&sb_slots[j].m);
		ck_assert_msg(c == (long)SB_PER * SB_N, "mutex %d: count %ld, want %ld", j, c,
			      (long)SB_PER * SB_N);
	}
}
END_TEST

/* ---- mutex: trylock -------------------------------------------------------- */

static atomic_int tl_result = -1;
static atomic_int tl_phase;

static void tl_try(void *arg)
{
	atomic_store(&tl_result, gor_mutex_trylock(arg));
}

/* Holds the mutex until told to let go (phase 2), then unlocks. */
static void tl_holder(void *arg)
{
	gor_mutex_lock(arg);
	atomic_store(&tl_phase, 1);
	while (atomic_load(&tl_phase) != 2)
		gor_sleep(GOR_MILLISECOND);
	gor_mutex_unlock(arg);
	atomic_store(&tl_phase, 3);
}

START_TEST(test_mutex_trylock)
{
	static gor_mutex m;
	ck_assert_int_eq(gor_mutex_trylock(&m), 1);
	ck_assert_int_eq(gor_mutex_trylock(&m), 0);
	TU_GO(tl_try, &m);
	TU_WAIT_UNTIL(atomic_load(&tl_result) != -1, "trylock goroutine did not run");
	ck_assert_int_eq(atomic_load(&tl_result), 0);
	gor_mutex_unlock(&m); /* by main, after a failed trylock elsewhere */
	ck_assert_int_eq(gor_mutex_trylock(&m), 1);
	gor_mutex_unlock(&m);

	/* held by another goroutine: 0; after its unlock: 1 */
	TU_GO(tl_holder, &m);
	TU_WAIT_UNTIL(atomic_load(&tl_phase) == 1, "holder did not lock");
	ck_assert_int_eq(gor_mutex_trylock(&m), 0);
	atomic_store(&tl_phase, 2);
	TU_WAIT_UNTIL(atomic_load(&tl_phase) == 3, "holder did not unlock");
	ck_assert_int_eq(gor_mutex_trylock(&m), 1);
	gor_mutex_unlock(&m);
	/* a plain lock after all that is uncontended */
	BOUNDED(gor_mutex_lock(&m));
	gor_mutex_unlock(&m);
}
END_TEST

/* ---- mutex: unlocking an unlocked mutex is fatal ----------------------------- */

static int unlock_unlocked_child(void *arg)
{
	static gor_mutex m;
	if (arg) { /* locked and unlocked once first, by the adopted main */
		gor_self();
		gor_mutex_lock(&m);
		gor_mutex_unlock(&m);
	}
	gor_mutex_unlock(&m);
	fprintf(stderr, "unlock returned\n");
	return 0;
}

static void check_unlock_fatal(void *arg)
{
	struct tu_child c;
	tu_child_run(&c, unlock_unlocked_child, arg, NULL);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c, "gor: fatal error: sync: unlock of unlocked mutex");
	ck_assert_msg(strstr(c.err, "unlock returned") == NULL, "unlock returned");
	tu_child_free(&c);
}

START_TEST(test_mutex_unlock_unlocked)
{
	check_unlock_fatal(NULL);        /* the first call into the runtime */
	check_unlock_fatal((void *)1);   /* the second unlock of a pair */
}
END_TEST

/* ---- mutex: starvation mode ------------------------------------------------- */

/* Go's TestMutexFairness, with two hammers: each holds the lock across a
 * short sleep and takes it again at once. Without starvation mode the
 * running hammer would win nearly every time; with it the victim gets
 * the lock within a few milliseconds of waiting. */
enum { SV_HAMMERS = 2, SV_ROUNDS = 10 };
static gor_mutex sv_mu;
static atomic_bool sv_stop;
static atomic_int sv_hammers_done, sv_victim_rounds;
static atomic_llong sv_maxwait;

static void sv_hammer(void *arg)
{
	(void)arg;
	while (!atomic_load(&sv_stop)) {
		gor_mutex_lock(&sv_mu);
		gor_sleep(100 * GOR_MICROSECOND);
		gor_mutex_unlock(&sv_mu);
	}
	atomic_fetch_add(&sv_hammers_done, 1);
}

static void sv_victim(void *arg)
{
	(void)arg;
	for (int i = 0; i < SV_ROUNDS; i++) {
		gor_sleep(100 * GOR_MICROSECOND);
		int64_t t0 = gor_now();
		gor_mutex_lock(&sv_mu);
		long long w = gor_now() - t0;
		if (w > atomic_load(&sv_maxwait))
			atomic_store(&sv_maxwait, w);
		gor_mutex_unlock(&sv_mu);
		atomic_fetch_add(&sv_victim_rounds, 1);
	}
}

static void mutex_starvation(int procs)
{
	gor_maxprocs(procs);
	for (int i = 0; i < SV_HAMMERS; i++)
		TU_GO(sv_hammer, NULL);
	TU_GO(sv_victim, NULL);
	TU_WAIT_UNTIL(atomic_load(&sv_victim_rounds) == SV_ROUNDS,
		      "MAXPROCS=%d: the victim got the lock %d of %d times (longest wait %lld ms)",
		      procs, atomic_load(&sv_victim_rounds), SV_ROUNDS,
		      atomic_load(&sv_maxwait) / GOR_MILLISECOND);
	atomic_store(&sv_stop, true);
	TU_WAIT_UNTIL(atomic_load(&sv_hammers_done) == SV_HAMMERS, "hammers did not stop");
}

START_TEST(test_mutex_starvation_p1)
{
	mutex_starvation(1);
}
END_TEST

START_TEST(test_mutex_starvation_p2)
{
	mutex_starvation(2);
}
END_TEST

/* ---- rwmutex: readers share -------------------------------------------------- */

enum { RC_READERS = 4 };
static gor_rwmutex rc_rw;
static atomic_int rc_inside, rc_max, rc_done;
static atomic_bool rc_stop;

/* Holds the read lock while spinning (not parking), so two readers are
 * inside at once only if two Ps run them side by side. */
static void rc_spinning_reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&rc_stop) && atomic_load(&rc_max) < 2) {
		gor_rwmutex_rlock(&rc_rw);
		atomic_max(&rc_max, atomic_fetch_add(&rc_inside, 1) + 1);
		tu_spin_ns(200 * GOR_MICROSECOND);
		atomic_fetch_sub(&rc_inside, 1);
		gor_rwmutex_runlock(&rc_rw);
		gor_yield();
	}
	atomic_fetch_add(&rc_done, 1);
}

START_TEST(test_rwmutex_readers_concurrent)
{
	gor_maxprocs(2);
	for (int i = 0; i < RC_READERS; i++)
		TU_GO(rc_spinning_reader, NULL);
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (atomic_load(&rc_max) < 2 && tu_now() < dl)
		gor_sleep(GOR_MILLISECOND);
	atomic_store(&rc_stop, true);
	TU_WAIT_UNTIL(atomic_load(&rc_done) == RC_READERS, "readers did not finish");
	ck_assert_msg(atomic_load(&rc_max) >= 2, "MAXPROCS=2: never two readers inside at once");
}
END_TEST

/* Readers that park inside: all of them are in together, even at
 * MAXPROCS=1, and the main goroutine takes the write lock after them. */
static void rc_sleeping_reader(void *arg)
{
	(void)arg;
	gor_rwmutex_rlock(&rc_rw);
	atomic_max(&rc_max, atomic_fetch_add(&rc_inside, 1) + 1);
	while (atomic_load(&rc_max) < RC_READERS && !atomic_load(&rc_stop))
		gor_sleep(GOR_MILLISECOND);
	atomic_fetch_sub(&rc_inside, 1);
	gor_rwmutex_runlock(&rc_rw);
	atomic_fetch_add(&rc_done, 1);
}

START_TEST(test_rwmutex_readers_parked)
{
	gor_maxprocs(1);
	for (int i = 0; i < RC_READERS; i++)
		TU_GO(rc_sleeping_reader, NULL);
	int64_t dl = tu_deadline(TU_WAIT_S);
	while (atomic_load(&rc_max) < RC_READERS && tu_now() < dl)
		gor_sleep(GOR_MILLISECOND);
	atomic_store(&rc_stop, true);
	BOUNDED(gor_rwmutex_lock(&rc_rw));
	ck_assert_int_eq(atomic_load(&rc_inside), 0);
	gor_rwmutex_unlock(&rc_rw);
	TU_WAIT_UNTIL(atomic_load(&rc_done) == RC_READERS, "readers did not finish");
	ck_assert_msg(atomic_load(&rc_max) == RC_READERS, "at most %d of %d readers inside at once",
		      atomic_load(&rc_max), RC_READERS);
}
END_TEST

/* ---- rwmutex: writers alone ------------------------------------------------ */

enum { WX_WRITERS = 4, WX_READERS = 4, WX_N = 20000 };
static gor_rwmutex wx_rw;
static long wx_value; /* written under the write lock, read under the read lock */
static atomic_int wx_readers, wx_writers, wx_bad, wx_done;

static void wx_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < WX_N; i++) {
		gor_rwmutex_lock(&wx_rw);
		if (atomic_fetch_add(&wx_writers, 1) != 0 || atomic_load(&wx_readers) != 0)
			atomic_fetch_add(&wx_bad, 1);
		wx_value++;
		if (i % 64 == 0)
			gor_yield(); /* let readers and writers try while we hold it */
		atomic_fetch_sub(&wx_writers, 1);
		gor_rwmutex_unlock(&wx_rw);
	}
	atomic_fetch_add(&wx_done, 1);
}

static void wx_reader(void *arg)
{
	(void)arg;
	long last = 0;
	for (int i = 0; i < WX_N; i++) {
		gor_rwmutex_rlock(&wx_rw);
		atomic_fetch_add(&wx_readers, 1);
		if (atomic_load(&wx_writers) != 0 || wx_value < last)
			atomic_fetch_add(&wx_bad, 1);
		last = wx_value;
		atomic_fetch_sub(&wx_readers, 1);
		gor_rwmutex_runlock(&wx_rw);
	}
	atomic_fetch_add(&wx_done, 1);
}

START_TEST(test_rwmutex_writer_exclusive)
{
	gor_maxprocs(2);
	for (int i = 0; i < WX_WRITERS; i++)
		TU_GO(wx_writer, NULL);
	for (int i = 0; i < WX_READERS; i++)
		TU_GO(wx_reader, NULL);
	TU_WAIT_UNTIL(atomic_load(&wx_done) == WX_WRITERS + WX_READERS, "%d of %d finished",
		      atomic_load(&wx_done), WX_WRITERS + WX_READERS);
	ck_assert_int_eq(atomic_load(&wx_bad), 0);
	gor_rwmutex_rlock(&wx_rw);
	long v = wx_value;
	gor_rwmutex_runlock(&wx_rw);
	ck_assert_msg(v == (long)WX_WRITERS * WX_N, "value %ld, want %ld", v, (long)WX_WRITERS * WX_N);
}
END_TEST

/* ---- rwmutex: a writer is not starved by a stream of readers ------------------- */

enum { WS_READERS = 4, WS_WRITES = 5 };
static gor_rwmutex ws_rw;
static atomic_bool ws_stop;
static atomic_int ws_inside, ws_readers_done, ws_writes;

/* Readers overlap: there is always one inside, so a writer that waited
 * for "no reader" would wait for ever. */
static void ws_reader(void *arg)
{
	int64_t stagger = (int64_t)(intptr_t)arg * 250 * GOR_MICROSECOND;
	gor_sleep(stagger);
	while (!atomic_load(&ws_stop)) {
		gor_rwmutex_rlock(&ws_rw);
		atomic_fetch_add(&ws_inside, 1);
		gor_sleep(GOR_MILLISECOND);
		atomic_fetch_sub(&ws_inside, 1);
		gor_rwmutex_runlock(&ws_rw);
	}
	atomic_fetch_add(&ws_readers_done, 1);
}

static void ws_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < WS_WRITES; i++) {
		gor_rwmutex_lock(&ws_rw);
		atomic_fetch_add(&ws_writes, 1);
		gor_rwmutex_unlock(&ws_rw);
		gor_sleep(GOR_MILLISECOND);
	}
}

START_TEST(test_rwmutex_writer_not_starved)
{
	gor_maxprocs(2);
	for (intptr_t i = 0; i < WS_READERS; i++)
		TU_GO(ws_reader, (void *)i);
	TU_WAIT_UNTIL(atomic_load(&ws_inside) > 0, "no reader got in");
	TU_GO(ws_writer, NULL);
	TU_WAIT_UNTIL(atomic_load(&ws_writes) == WS_WRITES,
		      "writer starved: %d of %d write locks while readers stream",
		      atomic_load(&ws_writes), WS_WRITES);
	atomic_store(&ws_stop, true);
	TU_WAIT_UNTIL(atomic_load(&ws_readers_done) == WS_READERS, "readers did not stop");
}
END_TEST

/* ---- waitgroup ---------------------------------------------------------------- */

enum { WG_N = 10000 };
static gor_waitgroup wg_big;
static int wg_slots[WG_N]; /* written by the workers, read after the wait */
static atomic_int wg_next;

static void wg_worker(void *arg)
{
	(void)arg;
	int i = atomic_fetch_add(&wg_next, 1);
	wg_slots[i] = i + 1;
	gor_wg_done(&wg_big);
}

START_TEST(test_wg_10000)
{
	ck_assert_int_eq(gor_wg_add(&wg_big, WG_N), 0);
	for (int i = 0; i < WG_N; i++)
		TU_GO(wg_worker, NULL);
	BOUNDED(gor_wg_wait(&wg_big));
	for (int i = 0; i < WG_N; i++)
		ck_assert_msg(wg_slots[i] == i + 1, "slot %d: %d after the wait", i, wg_slots[i]);
	/* the counter is 0 again: a second wait returns at once, and the
	 * group can be used for another round */
	BOUNDED(gor_wg_wait(&wg_big));
	ck_assert_int_eq(gor_wg_done(&wg_big), -1);
}
END_TEST

/* Several waiters, all released by the last done. */
enum { WM_WAITERS = 20, WM_WORKERS = 50 };
static gor_waitgroup wm_wg;
static atomic_int wm_started, wm_done_workers, wm_returned, wm_early;
static atomic_bool wm_go;

static void wm_waiter(void *arg)
{
	(void)arg;
	atomic_fetch_add(&wm_started, 1);
	gor_wg_wait(&wm_wg);
	if (atomic_load(&wm_done_workers) != WM_WORKERS)
		atomic_fetch_add(&wm_early, 1);
	atomic_fetch_add(&wm_returned, 1);
}

static void wm_worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&wm_go))
		gor_sleep(GOR_MILLISECOND);
	atomic_fetch_add(&wm_done_workers, 1);
	gor_wg_done(&wm_wg);
}

START_TEST(test_wg_many_waiters)
{
	gor_maxprocs(2);
	ck_assert_int_eq(gor_wg_add(&wm_wg, WM_WORKERS), 0);
	for (int i = 0; i < WM_WORKERS; i++)
		TU_GO(wm_worker, NULL);
	for (int i = 0; i < WM_WAITERS; i++)
		TU_GO(wm_waiter, NULL);
	TU_WAIT_UNTIL(atomic_load(&wm_started) == WM_WAITERS, "waiters did not start");
	gor_sleep(5 * GOR_MILLISECOND);
	ck_assert_int_eq(atomic_load(&wm_returned), 0);
	atomic_store(&wm_go, true);
	TU_WAIT_UNTIL(atomic_load(&wm_returned) == WM_WAITERS, "%d of %d waiters returned",
		      atomic_load(&wm_returned), WM_WAITERS);
	ck_assert_int_eq(atomic_load(&wm_early), 0);
}
END_TEST

/* A negative result is refused and changes nothing. */
static gor_waitgroup wn_wg;
static atomic_int wn_returned;

static void wn_waiter(void *arg)
{
	(void)arg;
	gor_wg_wait(&wn_wg);
	atomic_store(&wn_returned, 1);
}

START_TEST(test_wg_add_negative)
{
	errno = 0;
	ck_assert_int_eq(gor_wg_add(&wn_wg, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(gor_wg_done(&wn_wg), -1);
	ck_assert_int_eq(errno, EINVAL);
	BOUNDED(gor_wg_wait(&wn_wg)); /* still zero */

	ck_assert_int_eq(gor_wg_add(&wn_wg, 2), 0);
	errno = 0;
	ck_assert_int_eq(gor_wg_add(&wn_wg, -3), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(gor_wg_add(&wn_wg, INT64_MIN), -1);
	ck_assert_int_eq(gor_wg_add(&wn_wg, INT64_MAX), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* the counter is still 2: the waiter needs exactly two dones */
	TU_GO(wn_waiter, NULL);
	gor_sleep(5 * GOR_MILLISECOND);
	ck_assert_int_eq(gor_wg_done(&wn_wg), 0);
	gor_sleep(5 * GOR_MILLISECOND);
	ck_assert_msg(atomic_load(&wn_returned) == 0, "wait returned with the counter at 1");
	ck_assert_int_eq(gor_wg_done(&wn_wg), 0);
	TU_WAIT_UNTIL(atomic_load(&wn_returned) == 1, "wait did not return at zero");
	ck_assert_int_eq(gor_wg_done(&wn_wg), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Reuse before the previous wait has returned is reported. MAXPROCS=1
 * makes the order certain: the woken waiter cannot run before main's
 * second add, since main does not block in between. */
static void wr_waiter(void *arg)
{
	gor_wg_wait(arg);
	fprintf(stderr, "waiter returned\n");
}

static int wg_reuse_child(void *arg)
{
	(void)arg;
	static gor_waitgroup wg;
	gor_maxprocs(1);
	gor_wg_add(&wg, 1);
	TU_CHILD_CHECK(gor_go(wr_waiter, &wg) == 0, "gor_go");
	gor_sleep(10 * GOR_MILLISECOND); /* the waiter parks */
	gor_wg_done(&wg);
	gor_wg_add(&wg, 1);
	gor_sleep(10 * GOR_MILLISECOND); /* the waiter runs */
	fprintf(stderr, "reuse not reported\n");
	return 0;
}

START_TEST(test_wg_reuse_fatal)
{
	struct tu_child c;
	tu_child_run(&c, wg_reuse_child, NULL, NULL);
	TU_ASSERT_CHILD_EXIT(&c, 2);
	TU_ASSERT_STDERR_HAS(&c,
		"gor: fatal error: sync: WaitGroup is reused before previous Wait has returned");
	tu_child_free(&c);
}
END_TEST

/* ---- once ---------------------------------------------------------------------- */

enum { ON_CALLERS = 100 };
static gor_once on_once;
static atomic_int on_ran, on_returned, on_early;
static int on_value; /* written by fn, read by every caller after gor_once_do */

static void on_fn(void *arg)
{
	atomic_fetch_add(&on_ran, 1);
	gor_sleep(2 * GOR_MILLISECOND); /* the others arrive meanwhile */
	on_value = *(int *)arg;
}

static void on_caller(void *arg)
{
	gor_once_do(&on_once, on_fn, arg);
	if (on_value != 42)
		atomic_fetch_add(&on_early, 1);
	atomic_fetch_add(&on_returned, 1);
}

static void once_callers(int procs)
{
	static int v = 42;
	gor_maxprocs(procs);
	for (int i = 0; i < ON_CALLERS; i++)
		TU_GO(on_caller, &v);
	BOUNDED(gor_once_do(&on_once, on_fn, &v));
	ck_assert_int_eq(on_value, 42);
	TU_WAIT_UNTIL(atomic_load(&on_returned) == ON_CALLERS, "%d of %d callers returned",
		      atomic_load(&on_returned), ON_CALLERS);
	ck_assert_int_eq(atomic_load(&on_ran), 1);
	ck_assert_int_eq(atomic_load(&on_early), 0);
	gor_once_do(&on_once, on_fn, &v); /* the fast path */
	ck_assert_int_eq(atomic_load(&on_ran), 1);
}

START_TEST(test_once_p1)
{
	once_callers(1);
}
END_TEST

START_TEST(test_once_p2)
{
	once_callers(2);
}
END_TEST

/* ---- cond ---------------------------------------------------------------------- */

/* A bounded buffer with two conds and signal only. */
enum { PC_PRODUCERS = 4, PC_CONSUMERS = 4, PC_ITEMS = 10000, PC_CAP = 4 };
static gor_mutex pc_mu;
static gor_cond pc_notempty, pc_notfull;
static long pc_buf[PC_CAP];
static int pc_head, pc_len;
static atomic_long pc_sum;
static atomic_int pc_done;

static void pc_producer(void *arg)
{
	long base = (long)(intptr_t)arg * PC_ITEMS;
	for (long i = 1; i <= PC_ITEMS; i++) {
		gor_mutex_lock(&pc_mu);
		while (pc_len == PC_CAP)
			gor_cond_wait(&pc_notfull, &pc_mu);
		pc_buf[(pc_head + pc_len++) % PC_CAP] = base + i;
		gor_cond_signal(&pc_notempty);
		gor_mutex_unlock(&pc_mu);
	}
	atomic_fetch_add(&pc_done, 1);
}

static void pc_consumer(void *arg)
{
	(void)arg;
	long sum = 0;
	for (int i = 0; i < PC_ITEMS; i++) { /* quotas add up to the total */
		gor_mutex_lock(&pc_mu);
		while (pc_len == 0)
			gor_cond_wait(&pc_notempty, &pc_mu);
		sum += pc_buf[pc_head];
		pc_head = (pc_head + 1) % PC_CAP;
		pc_len--;
		gor_cond_signal(&pc_notfull);
		gor_mutex_unlock(&pc_mu);
	}
	atomic_fetch_add(&pc_sum, sum);
	atomic_fetch_add(&pc_done, 1);
}

START_TEST(test_cond_producer_consumer)
{
	gor_maxprocs(2);
	for (intptr_t i = 0; i < PC_CONSUMERS; i++)
		TU_GO(pc_consumer, NULL);
	for (intptr_t i = 0; i < PC_PRODUCERS; i++)
		TU_GO(pc_producer, (void *)i);
	TU_WAIT_UNTIL(atomic_load(&pc_done) == PC_PRODUCERS + PC_CONSUMERS,
		      "%d of %d producers and consumers finished", atomic_load(&pc_done),
		      PC_PRODUCERS + PC_CONSUMERS);
	long n = (long)PC_PRODUCERS * PC_ITEMS;
	ck_assert_int_eq(atomic_load(&pc_sum), n * (n + 1) / 2);
}
END_TEST

/* Waiters that wait exactly once each: a signal wakes exactly one, a
 * broadcast all the rest, and nothing else wakes anyone. */
enum { CW_WAITERS = 50, CW_SIGNALS = 10 };
static gor_mutex cw_mu;
static gor_cond cw_cond;
static int cw_waiting; /* under cw_mu: waiters that have their ticket */
static atomic_int cw_woken;

static void cw_waiter(void *arg)
{
	(void)arg;
	gor_mutex_lock(&cw_mu);
	cw_waiting++;
	gor_cond_wait(&cw_cond, &cw_mu);
	atomic_fetch_add(&cw_woken, 1);
	gor_mutex_unlock(&cw_mu);
}

static int cw_count_waiting(void)
{
	gor_mutex_lock(&cw_mu);
	int n = cw_waiting;
	gor_mutex_unlock(&cw_mu);
	return n;
}

START_TEST(test_cond_signal_broadcast_exact)
{
	gor_maxprocs(2);
	for (int i = 0; i < CW_WAITERS; i++)
		TU_GO(cw_waiter, NULL);
	/* once counted under the mutex, a waiter has its ticket */
	TU_WAIT_UNTIL(cw_count_waiting() == CW_WAITERS, "waiters did not arrive");
	for (int i = 1; i <= CW_SIGNALS; i++) {
		gor_cond_signal(&cw_cond);
		TU_WAIT_UNTIL(atomic_load(&cw_woken) >= i, "signal %d woke nobody", i);
		gor_sleep(2 * GOR_MILLISECOND);
		ck_assert_msg(atomic_load(&cw_woken) == i, "%d wake-ups after %d signals",
			      atomic_load(&cw_woken), i);
	}
	gor_sleep(20 * GOR_MILLISECOND);
	ck_assert_msg(atomic_load(&cw_woken) == CW_SIGNALS, "%d wake-ups after %d signals",
		      atomic_load(&cw_woken), CW_SIGNALS);
	gor_cond_broadcast(&cw_cond);
	TU_WAIT_UNTIL(atomic_load(&cw_woken) == CW_WAITERS, "broadcast woke %d of %d",
		      atomic_load(&cw_woken) - CW_SIGNALS, CW_WAITERS - CW_SIGNALS);
	/* with nobody waiting, signal and broadcast do nothing */
	gor_cond_signal(&cw_cond);
	gor_cond_broadcast(&cw_cond);
	gor_sleep(2 * GOR_MILLISECOND);
	ck_assert_int_eq(atomic_load(&cw_woken), CW_WAITERS);
}
END_TEST

/* Signals given while nobody waits are not kept: a wait that begins
 * afterwards returns only for the signal given after it began. */
static gor_mutex sk_mu;
static gor_cond sk_cond;
static bool sk_flag; /* under sk_mu */

static void sk_signal_later(void *arg)
{
	(void)arg;
	gor_sleep(20 * GOR_MILLISECOND);
	gor_mutex_lock(&sk_mu);
	sk_flag = true;
	gor_cond_signal(&sk_cond);
	gor_mutex_unlock(&sk_mu);
}

START_TEST(test_cond_signal_not_kept)
{
	for (int i = 0; i < 3; i++) {
		gor_cond_signal(&sk_cond);
		gor_cond_broadcast(&sk_cond);
	}
	gor_mutex_lock(&sk_mu);
	TU_GO(sk_signal_later, NULL);
	BOUNDED(gor_cond_wait(&sk_cond, &sk_mu)); /* once: no loop on purpose */
	ck_assert_msg(sk_flag, "gor_cond_wait returned without a signal");
	gor_mutex_unlock(&sk_mu);
}
END_TEST

/* ---- the main goroutine blocking on each primitive ----------------------- */

static gor_mutex mb_mu;
static gor_rwmutex mb_rw;
static gor_waitgroup mb_wg;
static gor_once mb_once;
static gor_cond mb_cond;
static atomic_int mb_phase;
static bool mb_flag; /* under mb_mu */
static int mb_once_value;

static void mb_hold_mutex(void *arg)
{
	(void)arg;
	gor_mutex_lock(&mb_mu);
	atomic_store(&mb_phase, 1);
	gor_sleep(10 * GOR_MILLISECOND);
	gor_mutex_unlock(&mb_mu);
}

static void mb_hold_write(void *arg)
{
	(void)arg;
	gor_rwmutex_lock(&mb_rw);
	atomic_store(&mb_phase, 2);
	gor_sleep(10 * GOR_MILLISECOND);
	gor_rwmutex_unlock(&mb_rw);
}

static void mb_hold_read(void *arg)
{
	(void)arg;
	gor_rwmutex_rlock(&mb_rw);
	atomic_store(&mb_phase, 3);
	gor_sleep(10 * GOR_MILLISECOND);
	gor_rwmutex_runlock(&mb_rw);
}

static void mb_done_later(void *arg)
{
	(void)arg;
	gor_sleep(10 * GOR_MILLISECOND);
	gor_wg_done(&mb_wg);
}

static void mb_once_fn(void *arg)
{
	(void)arg;
	atomic_store(&mb_phase, 4);
	gor_sleep(10 * GOR_MILLISECOND);
	mb_once_value = 7;
}

static void mb_run_once(void *arg)
{
	gor_once_do(&mb_once, mb_once_fn, arg);
}

static void mb_signal_later(void *arg)
{
	(void)arg;
	gor_sleep(10 * GOR_MILLISECOND);
	gor_mutex_lock(&mb_mu);
	mb_flag = true;
	gor_cond_signal(&mb_cond);
	gor_mutex_unlock(&mb_mu);
}

static void main_blocks(int procs)
{
	gor_maxprocs(procs);

	TU_GO(mb_hold_mutex, NULL);
	TU_WAIT_UNTIL(atomic_load(&mb_phase) == 1, "mutex holder did not start");
	BOUNDED(gor_mutex_lock(&mb_mu));
	gor_mutex_unlock(&mb_mu);

	TU_GO(mb_hold_write, NULL);
	TU_WAIT_UNTIL(atomic_load(&mb_phase) == 2, "writer did not start");
	BOUNDED(gor_rwmutex_rlock(&mb_rw));
	gor_rwmutex_runlock(&mb_rw);

	TU_GO(mb_hold_read, NULL);
	TU_WAIT_UNTIL(atomic_load(&mb_phase) == 3, "reader did not start");
	BOUNDED(gor_rwmutex_lock(&mb_rw));
	gor_rwmutex_unlock(&mb_rw);

	ck_assert_int_eq(gor_wg_add(&mb_wg, 1), 0);
	TU_GO(mb_done_later, NULL);
	BOUNDED(gor_wg_wait(&mb_wg));

	TU_GO(mb_run_once, NULL);
	TU_WAIT_UNTIL(atomic_load(&mb_phase) == 4, "once runner did not start");
	BOUNDED(gor_once_do(&mb_once, mb_once_fn, NULL));
	ck_assert_int_eq(mb_once_value, 7);

	gor_mutex_lock(&mb_mu);
	TU_GO(mb_signal_later, NULL);
	while (!mb_flag)
		BOUNDED(gor_cond_wait(&mb_cond, &mb_mu));
	gor_mutex_unlock(&mb_mu);
}

START_TEST(test_main_blocks_p1)
{
	main_blocks(1);
}
END_TEST

START_TEST(test_main_blocks_p2)
{
	main_blocks(2);
}
END_TEST

/* ---- objects on a goroutine's stack, let go right after the call ----------- */

/*
 * Each round a goroutine puts a primitive on its stack, lets other
 * goroutines use it, makes the call after which the contract lets it go,
 * returns from that frame and paints the same stack area with a pattern.
 * A helper that still wrote to the object afterwards would spoil the
 * pattern, which is checked after the helpers are known to be done.
 */
enum { LG_ROUNDS = 200, LG_HELPERS = 4, LG_PAINT = 4096 };
static atomic_int lg_helpers_out; /* helpers not yet back from all their calls */
static atomic_int lg_spoiled, lg_rounds_done;

static TU_NOINLINE bool paint_and_check(void)
{
	volatile unsigned char area[LG_PAINT];
	for (int i = 0; i < LG_PAINT; i++)
		area[i] = 0xa5;
	while (atomic_load(&lg_helpers_out) != 0)
		gor_yield();
	for (int i = 0; i < LG_PAINT; i++)
		if (area[i] != 0xa5)
			return false;
	return true;
}

/* wg: the owner is the only waiter; the helpers' dones are in progress
 * when its wait returns. */
static void lg_wg_helper(void *arg)
{
	gor_yield();
	gor_wg_done(arg);
	atomic_fetch_sub(&lg_helpers_out, 1);
}

static TU_NOINLINE void lg_wg_round(void)
{
	gor_waitgroup wg = {0};
	gor_wg_add(&wg, LG_HELPERS);
	atomic_fetch_add(&lg_helpers_out, LG_HELPERS);
	for (int i = 0; i < LG_HELPERS; i++)
		if (gor_go(lg_wg_helper, &wg) != 0)
			abort();
	gor_wg_wait(&wg);
}

/* mutex: every helper has had the lock; then one helper unlocks the
 * owner's lock while the owner waits for it, and the owner lets go as
 * soon as its lock returns. */
static atomic_int lg_acquired;

static void lg_mutex_helper(void *arg)
{
	gor_mutex_lock(arg);
	atomic_fetch_add(&lg_acquired, 1);
	gor_yield();
	gor_mutex_unlock(arg);
	atomic_fetch_sub(&lg_helpers_out, 1);
}

static void lg_mutex_unlocker(void *arg)
{
	gor_yield();
	gor_mutex_unlock(arg);
	atomic_fetch_sub(&lg_helpers_out, 1);
}

static TU_NOINLINE void lg_mutex_round(void)
{
	gor_mutex m = {0};
	atomic_store(&lg_acquired, 0);
	atomic_fetch_add(&lg_helpers_out, LG_HELPERS + 1);
	for (int i = 0; i < LG_HELPERS; i++)
		if (gor_go(lg_mutex_helper, &m) != 0)
			abort();
	for (;;) {
		gor_mutex_lock(&m);
		if (atomic_load(&lg_acquired) == LG_HELPERS)
			break;
		gor_mutex_unlock(&m);
		gor_yield();
	}
	if (gor_go(lg_mutex_unlocker, &m) != 0)
		abort();
	gor_mutex_lock(&m); /* returns once the unlocker has unlocked */
}

/* once: a helper runs fn; the owner waits for it and lets go. */
static atomic_int lg_fn_started;

static void lg_once_fn(void *arg)
{
	(void)arg;
	atomic_store(&lg_fn_started, 1);
	gor_sleep(200 * GOR_MICROSECOND);
}

static void lg_once_helper(void *arg)
{
	gor_once_do(arg, lg_once_fn, NULL);
	atomic_fetch_sub(&lg_helpers_out, 1);
}

static TU_NOINLINE void lg_once_round(void)
{
	gor_once o = {0};
	atomic_store(&lg_fn_started, 0);
	atomic_fetch_add(&lg_helpers_out, 1);
	if (gor_go(lg_once_helper, &o) != 0)
		abort();
	while (!atomic_load(&lg_fn_started))
		gor_yield();
	gor_once_do(&o, lg_once_fn, NULL);
}

/* cond: a helper sets the flag and signals; the owner's wait returns
 * (relocking the mutex the helper just unlocked) and it lets both go. */
struct lg_cond {
	gor_mutex m;
	gor_cond c;
	bool flag; /* under m */
};

static void lg_cond_helper(void *arg)
{
	struct lg_cond *s = arg;
	gor_yield();
	gor_mutex_lock(&s->m);
	s->flag = true;
	gor_cond_signal(&s->c);
	gor_mutex_unlock(&s->m);
	atomic_fetch_sub(&lg_helpers_out, 1);
}

static TU_NOINLINE void lg_cond_round(void)
{
	struct lg_cond s = {0};
	atomic_fetch_add(&lg_helpers_out, 1);
	gor_mutex_lock(&s.m);
	if (gor_go(lg_cond_helper, &s) != 0)
		abort();
	while (!s.flag)
		gor_cond_wait(&s.c, &s.m);
	gor_mutex_unlock(&s.m);
}

static void lg_owner(void *arg)
{
	(void)arg;
	static void (*const rounds[])(void) = {lg_wg_round, lg_mutex_round, lg_once_round,
					       lg_cond_round};
	for (int r = 0; r < LG_ROUNDS; r++) {
		rounds[r % 4]();
		if (!paint_and_check())
			atomic_fetch_add(&lg_spoiled, 1);
		atomic_fetch_add(&lg_rounds_done, 1);
	}
}

START_TEST(test_let_go_after_return)
{
	gor_maxprocs(2);
	TU_GO(lg_owner, NULL);
	TU_WAIT_UNTIL(atomic_load(&lg_rounds_done) == LG_ROUNDS, "%d of %d rounds done",
		      atomic_load(&lg_rounds_done), LG_ROUNDS);
	ck_assert_msg(atomic_load(&lg_spoiled) == 0,
		      "%d rounds found their stack written after the object was let go",
		      atomic_load(&lg_spoiled));
}
END_TEST

/* ---- the suite ----------------------------------------------------------------- */

static Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tu_tcase(s, "mutex");
	tcase_add_test(tc, test_mutex_counter_p1);
	tcase_add_test(tc, test_mutex_counter_p2);
	tcase_add_test(tc, test_mutex_shared_bucket);
	tcase_add_test(tc, test_mutex_trylock);
	tcase_add_test(tc, test_mutex_unlock_unlocked);
	tcase_add_test(tc, test_mutex_starvation_p1);
	tcase_add_test(tc, test_mutex_starvation_p2);
	tc = tu_tcase(s, "rwmutex");
	tcase_add_test(tc, test_rwmutex_readers_concurrent);
	tcase_add_test(tc, test_rwmutex_readers_parked);
	tcase_add_test(tc, test_rwmutex_writer_exclusive);
	tcase_add_test(tc, test_rwmutex_writer_not_starved);
	tc = tu_tcase(s, "waitgroup");
	tcase_add_test(tc, test_wg_10000);
	tcase_add_test(tc, test_wg_many_waiters);
	tcase_add_test(tc, test_wg_add_negative);
	tcase_add_test(tc, test_wg_reuse_fatal);
	tc = tu_tcase(s, "once");
	tcase_add_test(tc, test_once_p1);
	tcase_add_test(tc, test_once_p2);
	tc = tu_tcase(s, "cond");
	tcase_add_test(tc, test_cond_producer_consumer);
	tcase_add_test(tc, test_cond_signal_broadcast_exact);
	tcase_add_test(tc, test_cond_signal_not_kept);
	tc = tu_tcase(s, "main");
	tcase_add_test(tc, test_main_blocks_p1);
	tcase_add_test(tc, test_main_blocks_p2);
	tc = tu_tcase(s, "lifetime");
	tcase_add_test(tc, test_let_go_after_return);
	return s;
}

int main(void)
{
	return tu_srunner_run(sync_suite());
}
