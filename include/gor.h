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
#include <sys/types.h>
#include <sys/socket.h>

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

/* ---- Tracing ---------------------------------------------------------- */

/* With GOR_TRACE=PATH the scheduler records its events from the start and
 * writes them to PATH as Chrome/Perfetto trace JSON at exit. This stops
 * recording and writes the file now (later calls, and calls without
 * GOR_TRACE, do nothing); it returns once the file is complete.
 * docs/tracing.md describes the format and tools/gor-trace reads it. */
void gor_trace_stop(void);

/* ---- Goroutines ------------------------------------------------------- */

typedef struct gor_attr {
	size_t stack_size; /* usable bytes; 0 = default (GOR_STACK or 256 KiB).
			    * 1..16384: a small stack (2, 4, 8 or 16 KiB)
			    * packed with others and without a guard page:
			    * an overflow is caught by a canary at the
			    * goroutine's next switch, after the fact. For
			    * very many goroutines with shallow calls. */
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

/* ---- Channels --------------------------------------------------------- */

/* Opaque. Element values are copied in and out by size. */
typedef struct gor_chan gor_chan;

/* cap 0: unbuffered (rendezvous). elem_size 0 is allowed. NULL + ENOMEM. */
gor_chan *gor_chan_make(size_t elem_size, size_t cap);
/* Blocks until delivered or buffered: 0, or -1 EPIPE if c is or becomes
 * closed (the value is not delivered). A NULL c blocks for ever. */
int gor_send(gor_chan *c, const void *elem);
/* Blocks: 1 a value was received, 0 closed and drained (elem zeroed).
 * elem may be NULL. A NULL c blocks for ever. */
int gor_recv(gor_chan *c, void *elem);
/* Never block: 0 / -1 EAGAIN (would block) / -1 EPIPE (closed). */
int gor_try_send(gor_chan *c, const void *elem);
/* Never blocks: 1, 0 (closed and drained), or -1 EAGAIN. */
int gor_try_recv(gor_chan *c, void *elem);
/* 0; -1 EPIPE if already closed; -1 EINVAL for NULL. Wakes every blocked
 * receiver (they get 0) and sender (they get -1 EPIPE). */
int gor_close(gor_chan *c);
size_t gor_chan_len(gor_chan *c);
size_t gor_chan_cap(gor_chan *c);
/* Releases c. Only when no call on it is in progress or will be made;
 * freeing a channel that goroutines are blocked on is a fatal error. */
void gor_chan_free(gor_chan *c);

/* ---- Select ----------------------------------------------------------- */

enum { GOR_RECV = 1, GOR_SEND = 2 };

typedef struct gor_case {
	gor_chan *chan; /* NULL: the case is ignored */
	int op;         /* GOR_RECV or GOR_SEND */
	void *elem;     /* value to send, or where to receive (may be NULL) */
	int ok;         /* out: 1 value received / delivered, 0 closed */
} gor_case;

/* Returns the index of the case that proceeded; among ready cases the
 * choice is uniformly random. n == 0 blocks for ever. */
int gor_select(gor_case *cases, size_t n);
/* -1 EAGAIN when no case is ready (Go's default case). */
int gor_try_select(gor_case *cases, size_t n);
/* -1 ETIMEDOUT at the deadline; a ready case wins over an expired one. */
int gor_select_until(gor_case *cases, size_t n, int64_t deadline);

/* ---- Timers ----------------------------------------------------------- */

/* time.After: a channel of int64_t (buffer 1) that receives gor_now()
 * once, after ns. gor_chan_free on it before it fires stops the timer. */
gor_chan *gor_after(int64_t ns);
/* time.Tick: the same every period; ticks are dropped while the buffer
 * is full. Stopped by gor_chan_free. NULL + EINVAL for period <= 0. */
gor_chan *gor_tick(int64_t period);

/* ---- Sync -------------------------------------------------------------- */

/* All are plain structs, usable zero-initialised, needing no destroy.
 * Their fields are the runtime's: touch them only through these calls.
 * Contended waits park the goroutine, never the thread. */

typedef struct gor_mutex {
	int32_t state_;
	uint32_t sema_;
} gor_mutex;

typedef struct gor_rwmutex {
	gor_mutex w_;
	uint32_t writersem_;
	uint32_t readersem_;
	int32_t readercount_;
	int32_t readerwait_;
} gor_rwmutex;

typedef struct gor_waitgroup {
	uint64_t state_; /* counter in the high 32 bits, waiters in the low */
	uint32_t sema_;
	uint32_t pad_;
} gor_waitgroup;

typedef struct gor_once {
	uint32_t done_;
	gor_mutex m_;
} gor_once;

typedef struct gor_cond {
	uint32_t wait_;   /* next ticket */
	uint32_t notify_; /* next ticket to wake */
	uint32_t lock_;
	uint32_t pad_;
	void *head_;
	void *tail_;
} gor_cond;

void gor_mutex_lock(gor_mutex *m);
void gor_mutex_unlock(gor_mutex *m);   /* any goroutine may; unlocked: fatal */
int gor_mutex_trylock(gor_mutex *m);   /* 1 locked, 0 not */

void gor_rwmutex_rlock(gor_rwmutex *rw);
void gor_rwmutex_runlock(gor_rwmutex *rw);
void gor_rwmutex_lock(gor_rwmutex *rw);
void gor_rwmutex_unlock(gor_rwmutex *rw);

/* -1 EINVAL, counter unchanged, if it would go negative. */
int gor_wg_add(gor_waitgroup *wg, int64_t n);
int gor_wg_done(gor_waitgroup *wg);
void gor_wg_wait(gor_waitgroup *wg);

/* Every caller returns after fn has completed. */
void gor_once_do(gor_once *o, void (*fn)(void *), void *arg);

/* No spurious wake-ups. */
void gor_cond_wait(gor_cond *c, gor_mutex *m);
void gor_cond_signal(gor_cond *c);
void gor_cond_broadcast(gor_cond *c);

/* ---- I/O and system calls ---------------------------------------------- */

/* Any fd works: sockets and pipes are made non-blocking on first use and
 * the goroutine parks on EAGAIN; regular files (and anything the poller
 * refuses) go through the blocking-call path, gor_syscall_enter/exit. */
enum { GOR_READABLE = 1, GOR_WRITABLE = 2 };

/* As read(2)/write(2), parking instead of blocking. */
ssize_t gor_read(int fd, void *buf, size_t n);
ssize_t gor_write(int fd, const void *buf, size_t n);
/* The same, -1 ETIMEDOUT at deadline (a gor_now() time; GOR_NEVER). */
ssize_t gor_read_until(int fd, void *buf, size_t n, int64_t deadline);
ssize_t gor_write_until(int fd, const void *buf, size_t n, int64_t deadline);
/* As accept(2); the new fd is non-blocking and close-on-exec. */
int gor_accept(int fd, struct sockaddr *sa, socklen_t *len);
/* As connect(2), waiting for completion. */
int gor_connect(int fd, const struct sockaddr *sa, socklen_t len);
/* Waits for GOR_READABLE and/or GOR_WRITABLE: 0 ready, -1 ETIMEDOUT,
 * -1 EBADF (fd closed with gor_fd_close meanwhile). */
int gor_wait_fd(int fd, int events, int64_t deadline);
/* close(2), after waking the goroutines parked on fd (they get EBADF). */
int gor_fd_close(int fd);
/* "host:port" (IPv4, [IPv6], empty host = every interface, or a name);
 * port 0 picks one. A listening fd, or -1 EINVAL / socket errno. */
int gor_listen_tcp(const char *addr, int backlog);
/* A connected fd; -1 with connect(2)'s errno, ETIMEDOUT, or EINVAL. */
int gor_dial_tcp(const char *addr, int64_t deadline);
/* Bracket a call that may block its thread, so that the P can run other
 * goroutines meanwhile (Go's entersyscall/exitsyscall). Pairs may nest;
 * an exit without an enter does nothing. In between, call no other gor_
 * function than gor_now and gor_self. */
void gor_syscall_enter(void);
void gor_syscall_exit(void);

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
