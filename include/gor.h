/*
 * gor.h - the one public header of gor, an M:N green-thread runtime for C.
 *
 * Goroutines (G) run on logical processors (P) held by OS threads (M); at
 * most MAXPROCS threads execute goroutine code at any instant, the thread
 * that first called into the runtime (normally main) included. The runtime
 * starts itself on first use. The contract is ../shared/CONTRACT.md; this
 * header declares exactly what the library implements.
 *
 * Conventions: calls that can fail return -1 and set errno. Times are
 * int64_t nanoseconds of the monotonic clock gor_now(); GOR_NEVER means
 * "no deadline".
 *
 * A note on errno: a goroutine may resume on another OS thread after any
 * call that can block. glibc declares __errno_location() const, so a
 * compiler may reuse the errno address it computed before such a call.
 * Read errno right after the gor_ call that set it, as you would anyway.
 */
#ifndef GOR_H
#define GOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; only this API is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define GOR_NANOSECOND  ((int64_t)1)
#define GOR_MICROSECOND ((int64_t)1000)
#define GOR_MILLISECOND ((int64_t)1000000)
#define GOR_SECOND      ((int64_t)1000000000)
#define GOR_NEVER       INT64_MAX

/* ---- Runtime ---------------------------------------------------------- */

/* Like runtime.GOMAXPROCS: n > 0 sets MAXPROCS live, n <= 0 only queries.
 * Returns the previous value. A lowered value is in force on return. */
int gor_maxprocs(int n);
/* CPUs this process may use (its affinity mask). */
int gor_numcpu(void);
/* Goroutines that exist now, the adopted main thread included. */
int gor_numgoroutine(void);

typedef struct gor_stats {
	uint64_t goroutines_created; /* gor_go calls that succeeded */
	uint64_t context_switches;   /* switches from one goroutine to another */
	uint64_t steals;             /* goroutines taken from another P's queue */
	uint64_t parks;              /* goroutines that blocked */
	uint64_t threads;            /* OS threads (Ms) created, main included */
	uint64_t idle_procs;         /* Ps idle now */
	uint64_t netpoll_wakeups;    /* goroutines readied by the poller */
	uint64_t preemptions;        /* goroutines that yielded on a preempt request */
	uint64_t maxprocs;           /* MAXPROCS now */
	uint64_t goroutines;         /* gor_numgoroutine() */
} gor_stats_t;

/* Fills *out with a snapshot of the counters. 0, or -1 EINVAL for NULL. */
int gor_stats(gor_stats_t *out);

/* Writes every goroutine (id, name, state, wait reason, creator, stack). */
void gor_dump(FILE *f);

/* ---- Goroutines ------------------------------------------------------- */

typedef struct gor_attr {
	size_t stack_size; /* usable bytes; 0 = default (GOR_STACK or 256 KiB) */
	const char *name;  /* shown in dumps and traces; copied; may be NULL */
} gor_attr;

/* Starts fn(arg) as a new goroutine. 0, or -1 with errno ENOMEM/EAGAIN. */
int gor_go(void (*fn)(void *), void *arg);
/* Same with attributes; -1 EINVAL for a stack_size the runtime cannot give. */
int gor_go_attr(const gor_attr *a, void (*fn)(void *), void *arg);
/* runtime.Gosched: lets other goroutines run; this one stays runnable. */
void gor_yield(void);
/* runtime.Goexit: ends the calling goroutine. */
_Noreturn void gor_exit(void);
/* The calling goroutine's id; the first adopted thread (main) is 1. */
uint64_t gor_self(void);
/* time.Sleep: parks the goroutine, not the thread. ns <= 0 returns at once. */
void gor_sleep(int64_t ns);
/* The monotonic clock, in nanoseconds. */
int64_t gor_now(void);

#ifndef GOR_NO_SHORT_NAMES
#define go(fn, arg) gor_go((fn), (arg))
#endif

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* GOR_H */
