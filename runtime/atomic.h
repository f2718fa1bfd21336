/*
 * atomic.h - the runtime's only door to atomic operations.
 *
 * Two backends behind one set of names:
 *   - C11 <stdatomic.h> (the default), which ThreadSanitizer understands;
 *   - libatomic_ops (make ATOMICS=ao, defines GOR_ATOMICS_AO) for
 *     toolchains without C11 atomics. Only its header-only primitives are
 *     used, so nothing is linked.
 *
 * Types are wrapped in one-member structs so that a plain load or store
 * cannot happen by accident: every access names its memory order.
 * Orders used: relaxed (counters, hints), acquire (loads that publish a
 * pointer or a queue slot), release (stores that publish), and full
 * (read-modify-write operations are sequentially consistent in both
 * backends, which is what Go's runtime/internal/atomic gives too). A
 * sequentially consistent load (atomic_load_sc_u32) pairs with them where
 * two threads each store a flag and then read the other's: one of them
 * is then sure to see the other's store. (A fence would do the same, but
 * gcc's ThreadSanitizer rejects atomic_thread_fence.)
 *
 * Only 32-bit and pointer-width (64-bit on every supported target) cells
 * exist, and a byte cell with relaxed load and store only: a flag that
 * one thread raises in a structure whose layout is packed (g->preempt).
 */
#ifndef GOR_ATOMIC_H
#define GOR_ATOMIC_H

#include <stdint.h>
#include <stdbool.h>

#ifndef GOR_ATOMICS_AO

#include <stdatomic.h>

typedef struct { _Atomic uint32_t v; } atomic_u32;
typedef struct { _Atomic uint64_t v; } atomic_u64;
typedef struct { _Atomic(void *) v; } atomic_ptr;

#define GOR_ATOMIC_OPS(T, N)                                                          \
static inline T atomic_load_##N(const atomic_##N *a)                                  \
{ return atomic_load_explicit((_Atomic(T) *)&a->v, memory_order_relaxed); }           \
static inline T atomic_load_acq_##N(const atomic_##N *a)                              \
{ return atomic_load_explicit((_Atomic(T) *)&a->v, memory_order_acquire); }           \
static inline void atomic_store_##N(atomic_##N *a, T x)                               \
{ atomic_store_explicit(&a->v, x, memory_order_relaxed); }                            \
static inline void atomic_store_rel_##N(atomic_##N *a, T x)                           \
{ atomic_store_explicit(&a->v, x, memory_order_release); }                            \
static inline bool atomic_cas_##N(atomic_##N *a, T old, T new_)                       \
{ return atomic_compare_exchange_strong(&a->v, &old, new_); }                         \
static inline bool atomic_cas_rel_##N(atomic_##N *a, T old, T new_)                   \
{ return atomic_compare_exchange_strong_explicit(&a->v, &old, new_,                   \
		memory_order_release, memory_order_relaxed); }                        \
static inline T atomic_xchg_##N(atomic_##N *a, T x)                                   \
{ return atomic_exchange(&a->v, x); }

GOR_ATOMIC_OPS(uint32_t, u32)
GOR_ATOMIC_OPS(uint64_t, u64)
GOR_ATOMIC_OPS(void *, ptr)
#undef GOR_ATOMIC_OPS

static inline uint32_t atomic_load_sc_u32(const atomic_u32 *a)
{ return atomic_load_explicit((_Atomic uint32_t *)&a->v, memory_order_seq_cst); }

typedef struct { _Atomic uint8_t v; } atomic_u8;
static inline uint8_t atomic_load_u8(const atomic_u8 *a)
{ return atomic_load_explicit((_Atomic uint8_t *)&a->v, memory_order_relaxed); }
static inline void atomic_store_u8(atomic_u8 *a, uint8_t x)
{ atomic_store_explicit(&a->v, x, memory_order_relaxed); }

/* Returns the new value, as Go's atomic.Xadd does. */
static inline uint32_t atomic_add_u32(atomic_u32 *a, int32_t d)
{ return atomic_fetch_add(&a->v, (uint32_t)d) + (uint32_t)d; }
static inline uint64_t atomic_add_u64(atomic_u64 *a, int64_t d)
{ return atomic_fetch_add(&a->v, (uint64_t)d) + (uint64_t)d; }
/* Relaxed increment, for statistics only. */
static inline void atomic_inc_stat(atomic_u64 *a)
{ atomic_fetch_add_explicit(&a->v, 1, memory_order_relaxed); }
static inline void atomic_fence(void) { atomic_thread_fence(memory_order_seq_cst); }

#else /* GOR_ATOMICS_AO */

#include <atomic_ops.h>

_Static_assert(sizeof(AO_t) == 8, "gor needs a 64-bit AO_t");

typedef struct { volatile unsigned v; } atomic_u32;
typedef struct { volatile AO_t v; } atomic_u64;
typedef struct { volatile AO_t v; } atomic_ptr;

static inline uint32_t atomic_load_u32(const atomic_u32 *a) { return AO_int_load(&a->v); }
static inline uint32_t atomic_load_acq_u32(const atomic_u32 *a) { return AO_int_load_acquire(&a->v); }
static inline uint32_t atomic_load_sc_u32(const atomic_u32 *a) { return AO_int_load_full(&a->v); }
static inline void atomic_store_u32(atomic_u32 *a, uint32_t x) { AO_int_store(&a->v, x); }
static inline void atomic_store_rel_u32(atomic_u32 *a, uint32_t x) { AO_int_store_release(&a->v, x); }
static inline bool atomic_cas_u32(atomic_u32 *a, uint32_t o, uint32_t n)
{ return AO_int_compare_and_swap_full(&a->v, o, n); }
static inline bool atomic_cas_rel_u32(atomic_u32 *a, uint32_t o, uint32_t n)
{ return AO_int_compare_and_swap_release(&a->v, o, n); }
static inline uint32_t atomic_add_u32(atomic_u32 *a, int32_t d)
{ return AO_int_fetch_and_add_full(&a->v, (unsigned)d) + (uint32_t)d; }
static inline uint32_t atomic_xchg_u32(atomic_u32 *a, uint32_t x)
{ uint32_t o; do o = AO_int_load(&a->v); while (!AO_int_compare_and_swap_full(&a->v, o, x)); return o; }

static inline uint64_t atomic_load_u64(const atomic_u64 *a) { return AO_load(&a->v); }
static inline uint64_t atomic_load_acq_u64(const atomic_u64 *a) { return AO_load_acquire(&a->v); }
static inline void atomic_store_u64(atomic_u64 *a, uint64_t x) { AO_store(&a->v, x); }
static inline void atomic_store_rel_u64(atomic_u64 *a, uint64_t x) { AO_store_release(&a->v, x); }
static inline bool atomic_cas_u64(atomic_u64 *a, uint64_t o, uint64_t n)
{ return AO_compare_and_swap_full(&a->v, o, n); }
static inline bool atomic_cas_rel_u64(atomic_u64 *a, uint64_t o, uint64_t n)
{ return AO_compare_and_swap_release(&a->v, o, n); }
static inline uint64_t atomic_add_u64(atomic_u64 *a, int64_t d)
{ return AO_fetch_and_add_full(&a->v, (AO_t)d) + (uint64_t)d; }
static inline uint64_t atomic_xchg_u64(atomic_u64 *a, uint64_t x)
{ uint64_t o; do o = AO_load(&a->v); while (!AO_compare_and_swap_full(&a->v, o, x)); return o; }
static inline void atomic_inc_stat(atomic_u64 *a) { AO_fetch_and_add1(&a->v); }

static inline void *atomic_load_ptr(const atomic_ptr *a) { return (void *)AO_load(&a->v); }
static inline void *atomic_load_acq_ptr(const atomic_ptr *a) { return (void *)AO_load_acquire(&a->v); }
static inline void atomic_store_ptr(atomic_ptr *a, void *x) { AO_store(&a->v, (AO_t)x); }
static inline void atomic_store_rel_ptr(atomic_ptr *a, void *x) { AO_store_release(&a->v, (AO_t)x); }
static inline bool atomic_cas_ptr(atomic_ptr *a, void *o, void *n)
{ return AO_compare_and_swap_full(&a->v, (AO_t)o, (AO_t)n); }
static inline bool atomic_cas_rel_ptr(atomic_ptr *a, void *o, void *n)
{ return AO_compare_and_swap_release(&a->v, (AO_t)o, (AO_t)n); }
static inline void *atomic_xchg_ptr(atomic_ptr *a, void *x)
{ void *o; do o = (void *)AO_load(&a->v); while (!AO_compare_and_swap_full(&a->v, (AO_t)o, (AO_t)x)); return o; }
static inline void atomic_fence(void) { AO_nop_full(); }

typedef struct { volatile unsigned char v; } atomic_u8;
static inline uint8_t atomic_load_u8(const atomic_u8 *a) { return AO_char_load(&a->v); }
static inline void atomic_store_u8(atomic_u8 *a, uint8_t x) { AO_char_store(&a->v, x); }

#endif /* GOR_ATOMICS_AO */

#endif /* GOR_ATOMIC_H */
