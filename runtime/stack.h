/*
 * stack.h - goroutine stacks (runtime/stack.c): the interface the scheduler
 * uses. See stack.c's top comment for the design (mmap'd, lazily committed,
 * guard page below each stack, pooled per P and globally) and its locking.
 */
#ifndef GOR_STACK_H
#define GOR_STACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#pragma GCC visibility push(hidden)

/* How the page below a stack is protected. */
enum stack_guard {
	STACK_GUARD_MADVISE = 1, /* MADV_GUARD_INSTALL: no extra map */
	STACK_GUARD_MPROTECT,    /* PROT_NONE page: costs a map each */
	STACK_GUARD_CANARY,      /* no guard: a canary word, checked at switch */
};

typedef struct gor_stack {
	char *lo;         /* lowest usable byte */
	char *hi;         /* one past the highest usable byte; 16-byte aligned */
	uint8_t guard;    /* enum stack_guard */
	uint8_t sizeclass;/* pool index; stack.c's business */
	uint32_t vgid;    /* valgrind stack id, 0 if not registered */
} gor_stack;

/* Usable bytes. Not stored: a G's stack descriptor shares a cache line
 * with what starting a goroutine reads (runtime.h, struct gor_g). */
static inline size_t stack_size(const gor_stack *s)
{
	return (size_t)(s->hi - s->lo);
}

/* The canary word written at lo for STACK_GUARD_CANARY stacks. */
#define STACK_CANARY 0x9e3779b97f4a7c15ull

/* A per-P cache of free stacks, of the default class and of each small
 * class (stack.c); touched only by the M holding that P. */
#define STACKCACHE_MAX 32
#define STACK_NSMALL 4
struct stackcache {
	uint32_t n;
	gor_stack s[STACKCACHE_MAX];
	struct {
		uint32_t n;
		gor_stack s[STACKCACHE_MAX];
	} small[STACK_NSMALL];
};

/* Once, before any other call: reads GOR_STACK, probes the guard kind,
 * installs the SIGSEGV handler. 0, or -1 with errno. */
int stack_init(void);
/* Once per OS thread that runs goroutines: its alternate signal stack, so
 * that the overflow handler can run when a goroutine's stack is exhausted.
 * Freed by stack_thread_exit. */
int stack_thread_init(void);
void stack_thread_exit(void);

/* The default usable size (GOR_STACK or 256 KiB, at least 64 KiB). */
size_t stack_default_size(void);

/* A stack of at least size usable bytes (0 = default), from the cache, the
 * global pool or the kernel, in that order. 0, or -1 ENOMEM / EINVAL (a
 * size above the maximum). c may be NULL (no P held). */
int stackalloc(struct stackcache *c, size_t size, gor_stack *out);
/* Returns s to the cache, spilling half of a full cache to the pool. */
void stackfree(struct stackcache *c, gor_stack *s);
/* Moves every cached stack to the global pool (a P being destroyed). */
void stackcache_flush(struct stackcache *c);
/* sysmon's: gives the pages of free stacks back to the kernel, those over
 * the pool's budget that stayed unused since the last call, or all over
 * the budget (see POOL POLICY in stack.c). */
void stackscavenge(bool all);

/* True while a canary-protected stack's canary is intact. */
static inline bool stack_canary_ok(const gor_stack *s)
{
	return s->guard != STACK_GUARD_CANARY || *(const uint64_t *)s->lo == STACK_CANARY;
}

/* Provided by proc.c, called from the SIGSEGV handler (async-signal-safe):
 * the goroutine this thread runs, or false when it runs none. */
bool proc_signal_goroutine(uint64_t *goid, const char **name, const gor_stack **stk);
/* Provided by proc.c: prints "gor: fatal error: <msg>", then detail on a
 * line of its own if not NULL, then the goroutine dump, to stderr, and
 * exits with status 2. Usable from a signal handler. */
_Noreturn void gor_fatal(const char *msg, const char *detail);

#pragma GCC visibility pop

#endif /* GOR_STACK_H */
