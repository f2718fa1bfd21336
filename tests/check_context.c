/*
 * check_context.c - unit tests for the hand-written context switch
 * (asm/<arch>.S) through runtime/context.h alone; no scheduler involved.
 *
 * Build and run (x86-64; clang works the same way):
 *   gcc -O2 -Wall -Wextra -Werror -Iruntime tests/check_context.c \
 *       asm/x86_64.S $(pkg-config --cflags --libs check) -o /tmp/cc && /tmp/cc
 *
 * aarch64, cross-built against Debian's check:arm64 and run under qemu:
 *   PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig \
 *   aarch64-linux-gnu-gcc -O2 -Wall -Wextra -Werror -Iruntime \
 *       tests/check_context.c asm/aarch64.S \
 *       $(pkg-config --cflags --libs --static check) -static -o /tmp/cc-a64
 *   qemu-aarch64 /tmp/cc-a64
 *
 * Every context here lives on its own mmap'd stack with a PROT_NONE page
 * below and above it, so a switch or an unwinder that strays off the stack
 * faults instead of silently reading neighbouring memory.  Contexts that
 * are done are simply abandoned, parked in a switch: context.h has no
 * "destroy", a parked context owns nothing but its stack.  Check runs each
 * test in a forked child, so a crash fails one test, not the suite.
 */
#include <check.h>
#include <execinfo.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <unwind.h>

#include "context.h"

/* Under valgrind, stacks must be registered for it to tell a switch from
 * a huge stack frame, and its FP emulation lacks x87 extended precision,
 * precision control and FTZ; see the tests that ask RUNNING_ON_VALGRIND. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif
#ifndef HAVE_VALGRIND_H
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "check_context.c knows the registers of x86-64 and aarch64 only"
#endif

#define NOINLINE __attribute__((noinline))

/* ------------------------------------------------------------------ */
/* Stacks                                                              */

#define STACK_SIZE (128 * 1024)

struct tstack {
	char *map;	/* guard page, stack, guard page */
	size_t maplen;
	char *lo, *hi;	/* usable bytes [lo, hi) */
	unsigned vgid;	/* valgrind stack id */
};

static struct tstack stack_new(void)
{
	struct tstack s;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	s.maplen = STACK_SIZE + 2 * page;
	s.map = mmap(NULL, s.maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	ck_assert_ptr_ne(s.map, MAP_FAILED);
	s.lo = s.map + page;
	s.hi = s.lo + STACK_SIZE;
	ck_assert_int_eq(mprotect(s.lo, STACK_SIZE, PROT_READ | PROT_WRITE), 0);
	s.vgid = VALGRIND_STACK_REGISTER(s.lo, s.hi);
	return s;
}

static void stack_free(struct tstack *s)
{
	VALGRIND_STACK_DEREGISTER(s->vgid);
	munmap(s->map, s->maplen);
}

static gor_ctx main_ctx;

/* ------------------------------------------------------------------ */
/* (1) Ping-pong: main -> A -> B -> main, transfer values checked.     */

#define RING_ROUNDS 100000
enum { FROM_MAIN = 1, FROM_A = 2, FROM_B = 3 };

static gor_ctx ring_a, ring_b;
static long ring_bad_a, ring_bad_b, ring_rounds_a, ring_rounds_b;

static void *tag(int who, long round)
{
	return (void *)(uintptr_t)(((uintptr_t)round << 4) | (uintptr_t)who);
}

static void ring_a_entry(void *arg)
{
	long r = 0;

	if (arg != tag(FROM_MAIN, 0))
		ring_bad_a++;
	for (;;) {
		void *got = gor_ctx_switch(&ring_a, &ring_b, tag(FROM_A, r));
		r++;
		ring_rounds_a++;
		if (got != tag(FROM_MAIN, r))
			ring_bad_a++;
	}
}

static void ring_b_entry(void *arg)
{
	long r = 0;

	if (arg != tag(FROM_A, 0))
		ring_bad_b++;
	for (;;) {
		void *got = gor_ctx_switch(&ring_b, &main_ctx, tag(FROM_B, r));
		r++;
		ring_rounds_b++;
		if (got != tag(FROM_A, r))
			ring_bad_b++;
	}
}

START_TEST(test_ring_transfer)
{
	struct tstack sa = stack_new(), sb = stack_new();
	long bad_main = 0;

	gor_ctx_make(&ring_a, sa.hi, ring_a_entry, gor_ctx_fpstate());
	gor_ctx_make(&ring_b, sb.hi, ring_b_entry, gor_ctx_fpstate());
	/* A made context is a stack pointer into its own stack. */
	ck_assert((char *)ring_a.sp >= sa.lo && (char *)ring_a.sp < sa.hi);

	for (long r = 0; r < RING_ROUNDS; r++) {
		void *got = gor_ctx_switch(&main_ctx, &ring_a,
					   tag(FROM_MAIN, r));
		if (got != tag(FROM_B, r))
			bad_main++;
	}
	ck_assert_int_eq(bad_main, 0);
	ck_assert_int_eq(ring_bad_a, 0);
	ck_assert_int_eq(ring_bad_b, 0);
	/* Each resumed RING_ROUNDS - 1 times after its first start. */
	ck_assert_int_eq(ring_rounds_a, RING_ROUNDS - 1);
	ck_assert_int_eq(ring_rounds_b, RING_ROUNDS - 1);
	stack_free(&sa);
	stack_free(&sb);
}
END_TEST

/* Plain ping-pong with pointer transfers, both directions. */
struct pp_msg {
	long seq;
	long reply;
};

static gor_ctx pp_ctx;

static void pp_entry(void *arg)
{
	struct pp_msg *m = arg;

	for (;;) {
		m->reply = m->seq * 2 + 1;
		m = gor_ctx_switch(&pp_ctx, &main_ctx, m);
	}
}

START_TEST(test_pingpong_pointer)
{
	struct tstack s = stack_new();
	struct pp_msg msgs[2];

	gor_ctx_make(&pp_ctx, s.hi, pp_entry, gor_ctx_fpstate());
	for (long i = 0; i < 10000; i++) {
		struct pp_msg *m = &msgs[i & 1];

		m->seq = i;
		m->reply = -1;
		struct pp_msg *back = gor_ctx_switch(&main_ctx, &pp_ctx, m);
		ck_assert_ptr_eq(back, m);
		ck_assert_int_eq(m->reply, i * 2 + 1);
	}
	stack_free(&s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (2a) Values the compiler keeps in callee-saved registers survive.   */

/* Sixteen integers and eight doubles are live across the switch: more
 * than x86-64's six callee-saved registers and aarch64's ten plus d8-d15,
 * so at -O2 the compiler fills every callee-saved register (and spills the
 * rest).  The partner context runs the same function with other values at
 * the same time, so the registers really hold someone else's data while
 * each side is switched out. */
static volatile uint64_t live_seed[16] = {
	0x0123456789abcdefull, 0x1111111111111111ull, 0x2222222222222222ull,
	0x3333333333333333ull, 0x4444444444444444ull, 0x5555555555555555ull,
	0x6666666666666666ull, 0x7777777777777777ull, 0x8888888888888888ull,
	0x9999999999999999ull, 0xaaaaaaaaaaaaaaaaull, 0xbbbbbbbbbbbbbbbbull,
	0xccccccccccccccccull, 0xddddddddddddddddull, 0xeeeeeeeeeeeeeeeeull,
	0xfedcba9876543210ull,
};

#define LIVE_COMBINE(v, d)                                                    \
	((v##0) + 3 * (v##1) + 5 * (v##2) + 7 * (v##3) + 11 * (v##4) +       \
	 13 * (v##5) + 17 * (v##6) + 19 * (v##7) + 23 * (v##8) +            \
	 29 * (v##9) + 31 * (v##10) + 37 * (v##11) + 41 * (v##12) +         \
	 43 * (v##13) + 47 * (v##14) + 53 * (v##15) +                        \
	 (uint64_t)((d##0) * 2 + (d##1) * 3 + (d##2) * 5 + (d##3) * 7 +     \
		    (d##4) * 11 + (d##5) * 13 + (d##6) * 17 + (d##7) * 19))

#define LIVE_LOAD(v, d, salt)                                                 \
	uint64_t v##0 = live_seed[0] ^ (salt), v##1 = live_seed[1] + (salt),   \
		 v##2 = live_seed[2] ^ (salt), v##3 = live_seed[3] + (salt),   \
		 v##4 = live_seed[4] ^ (salt), v##5 = live_seed[5] + (salt),   \
		 v##6 = live_seed[6] ^ (salt), v##7 = live_seed[7] + (salt),   \
		 v##8 = live_seed[8] ^ (salt), v##9 = live_seed[9] + (salt),   \
		 v##10 = live_seed[10] ^ (salt), v##11 = live_seed[11] + (salt), \
		 v##12 = live_seed[12] ^ (salt), v##13 = live_seed[13] + (salt), \
		 v##14 = live_seed[14] ^ (salt), v##15 = live_seed[15] + (salt); \
	double d##0 = (double)(live_seed[0] >> 40) + (double)(salt),           \
	       d##1 = (double)(live_seed[1] >> 41) - (double)(salt),           \
	       d##2 = (double)(live_seed[2] >> 42) * 0.5 + (double)(salt),     \
	       d##3 = (double)(live_seed[3] >> 43) + 0.25 * (double)(salt),    \
	       d##4 = (double)(live_seed[4] >> 44) - 0.5 * (double)(salt),     \
	       d##5 = (double)(live_seed[5] >> 45) + 2.0 * (double)(salt),     \
	       d##6 = (double)(live_seed[6] >> 46) - 3.0 * (double)(salt),     \
	       d##7 = (double)(live_seed[7] >> 47) + 4.0 * (double)(salt)

NOINLINE static uint64_t live_expected(uint64_t salt)
{
	LIVE_LOAD(v, d, salt);
	return LIVE_COMBINE(v, d);
}

NOINLINE static uint64_t live_across_switch(gor_ctx *from, gor_ctx *to,
					    uint64_t salt)
{
	LIVE_LOAD(v, d, salt);
	gor_ctx_switch(from, to, NULL);
	return LIVE_COMBINE(v, d);
}

static gor_ctx live_ctx;
static long live_bad, live_rounds;

static void live_entry(void *arg)
{
	(void)arg;
	for (uint64_t salt = 0x5a5a0000;; salt += 7) {
		if (live_across_switch(&live_ctx, &main_ctx, salt) !=
		    live_expected(salt))
			live_bad++;
		live_rounds++;
	}
}

START_TEST(test_callee_saved_c)
{
	struct tstack s = stack_new();

	gor_ctx_make(&live_ctx, s.hi, live_entry, gor_ctx_fpstate());
	for (uint64_t salt = 1; salt <= 2000; salt++)
		ck_assert_uint_eq(live_across_switch(&main_ctx, &live_ctx, salt),
				  live_expected(salt));
	ck_assert_int_eq(live_bad, 0);
	ck_assert_int_eq(live_rounds, 1999);
	stack_free(&s);
}
END_TEST

/* (2b) Exact register contents: an assembly probe loads known values into
 * every callee-saved register, switches, and reports what it finds after
 * being switched back in.
 *
 *   void regs_probe(gor_ctx *from, gor_ctx *to, const uint64_t *in,
 *                   uint64_t *out);
 *
 * x86-64: in/out = rbx, rbp, r12, r13, r14, r15.
 * aarch64: in/out = x19..x28, x29, then the bits of d8..d15. */
#if defined(__x86_64__)
#define NPROBE 6
__asm__(".text\n"
	".p2align 4\n"
	".type regs_probe, @function\n"
	"regs_probe:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	pushq %rcx\n" /* out; also makes rsp 16-aligned at the call */
	"	movq 0(%rdx), %rbx\n"
	"	movq 8(%rdx), %rbp\n"
	"	movq 16(%rdx), %r12\n"
	"	movq 24(%rdx), %r13\n"
	"	movq 32(%rdx), %r14\n"
	"	movq 40(%rdx), %r15\n"
	"	xorl %edx, %edx\n"
	"	call gor_ctx_switch@PLT\n"
	"	popq %rcx\n"
	"	movq %rbx, 0(%rcx)\n"
	"	movq %rbp, 8(%rcx)\n"
	"	movq %r12, 16(%rcx)\n"
	"	movq %r13, 24(%rcx)\n"
	"	movq %r14, 32(%rcx)\n"
	"	movq %r15, 40(%rcx)\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size regs_probe, . - regs_probe\n");
#else
#define NPROBE 19
__asm__(".text\n"
	".p2align 4\n"
	".type regs_probe, %function\n"
	"regs_probe:\n"
	"	stp x29, x30, [sp, #-176]!\n"
	"	stp x19, x20, [sp, #16]\n"
	"	stp x21, x22, [sp, #32]\n"
	"	stp x23, x24, [sp, #48]\n"
	"	stp x25, x26, [sp, #64]\n"
	"	stp x27, x28, [sp, #80]\n"
	"	stp d8, d9, [sp, #96]\n"
	"	stp d10, d11, [sp, #112]\n"
	"	stp d12, d13, [sp, #128]\n"
	"	stp d14, d15, [sp, #144]\n"
	"	str x3, [sp, #160]\n"
	"	ldp x19, x20, [x2, #0]\n"
	"	ldp x21, x22, [x2, #16]\n"
	"	ldp x23, x24, [x2, #32]\n"
	"	ldp x25, x26, [x2, #48]\n"
	"	ldp x27, x28, [x2, #64]\n"
	"	ldr x29, [x2, #80]\n"
	"	ldp d8, d9, [x2, #88]\n"
	"	ldp d10, d11, [x2, #104]\n"
	"	ldp d12, d13, [x2, #120]\n"
	"	ldp d14, d15, [x2, #136]\n"
	"	mov x2, #0\n"
	"	bl gor_ctx_switch\n"
	"	ldr x3, [sp, #160]\n"
	"	stp x19, x20, [x3, #0]\n"
	"	stp x21, x22, [x3, #16]\n"
	"	stp x23, x24, [x3, #32]\n"
	"	stp x25, x26, [x3, #48]\n"
	"	stp x27, x28, [x3, #64]\n"
	"	str x29, [x3, #80]\n"
	"	stp d8, d9, [x3, #88]\n"
	"	stp d10, d11, [x3, #104]\n"
	"	stp d12, d13, [x3, #120]\n"
	"	stp d14, d15, [x3, #136]\n"
	"	ldp x19, x20, [sp, #16]\n"
	"	ldp x21, x22, [sp, #32]\n"
	"	ldp x23, x24, [sp, #48]\n"
	"	ldp x25, x26, [sp, #64]\n"
	"	ldp x27, x28, [sp, #80]\n"
	"	ldp d8, d9, [sp, #96]\n"
	"	ldp d10, d11, [sp, #112]\n"
	"	ldp d12, d13, [sp, #128]\n"
	"	ldp d14, d15, [sp, #144]\n"
	"	ldp x29, x30, [sp], #176\n"
	"	ret\n"
	".size regs_probe, . - regs_probe\n");
#endif

void regs_probe(gor_ctx *from, gor_ctx *to, const uint64_t *in,
		uint64_t *out);

static void probe_values(uint64_t *v, uint64_t who, uint64_t round)
{
	for (int i = 0; i < NPROBE; i++)
		v[i] = (who << 56) ^ (round << 16) ^ ((uint64_t)(i + 1) * 0x0101010101ull);
}

static gor_ctx probe_ctx;
static long probe_bad, probe_rounds;

static void probe_entry(void *arg)
{
	uint64_t in[NPROBE], out[NPROBE];

	(void)arg;
	for (uint64_t r = 0;; r++) {
		probe_values(in, 0xb0, r);
		memset(out, 0, sizeof out);
		regs_probe(&probe_ctx, &main_ctx, in, out);
		if (memcmp(in, out, sizeof in) != 0)
			probe_bad++;
		probe_rounds++;
	}
}

START_TEST(test_callee_saved_exact)
{
	struct tstack s = stack_new();
	uint64_t in[NPROBE], out[NPROBE];

	gor_ctx_make(&probe_ctx, s.hi, probe_entry, gor_ctx_fpstate());
	for (uint64_t r = 0; r < 1000; r++) {
		probe_values(in, 0xa0, r);
		memset(out, 0, sizeof out);
		regs_probe(&main_ctx, &probe_ctx, in, out);
		for (int i = 0; i < NPROBE; i++)
			ck_assert_msg(out[i] == in[i],
				      "round %lu reg %d: %#lx != %#lx",
				      (unsigned long)r, i,
				      (unsigned long)out[i],
				      (unsigned long)in[i]);
	}
	ck_assert_int_eq(probe_bad, 0);
	ck_assert_int_eq(probe_rounds, 999);
	stack_free(&s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (3) Floating-point control state is per context.                    */

enum { RM_NEAREST = 0, RM_ZERO = 3, RM_INCONSISTENT = -1 };

#if defined(__x86_64__)
static uint32_t get_mxcsr(void)
{
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}
static void set_mxcsr(uint32_t v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
}
static uint16_t get_x87cw(void)
{
	uint16_t v;
	__asm__ volatile("fnstcw %0" : "=m"(v));
	return v;
}
static void set_x87cw(uint16_t v)
{
	__asm__ volatile("fldcw %0" : : "m"(v));
}
/* Both units' rounding-control fields use 0 = nearest, 3 = toward zero. */
static void set_round(int rm)
{
	set_mxcsr((get_mxcsr() & ~0x6000u) | ((uint32_t)rm << 13));
	set_x87cw((uint16_t)((get_x87cw() & ~0x0c00u) | ((unsigned)rm << 10)));
}
#else
static uint64_t get_fpcr(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, fpcr" : "=r"(v));
	return v;
}
static void set_fpcr(uint64_t v)
{
	__asm__ volatile("msr fpcr, %0" : : "r"(v));
}
/* FPCR.RMode, bits 23:22: 0 = nearest, 3 = toward zero. */
static void set_round(int rm)
{
	set_fpcr((get_fpcr() & ~(3ull << 22)) | ((uint64_t)rm << 22));
}
#endif

static volatile double fp_one = 1.0, fp_tiny = 0x1.8p-53; /* 0.75 ulp(1) */
#if defined(__x86_64__)
static volatile long double fp_lone = 1.0L, fp_ltiny = 0x1.8p-64L;
#endif

/* The rounding mode in force, read from the control register(s) and
 * confirmed by arithmetic: 1 + 0.75 ulp rounds up to the next double to
 * nearest, and stays 1 toward zero.  x86-64 has two units (SSE for double,
 * x87 for long double) with separate control registers; both must agree. */
NOINLINE static int round_mode(void)
{
	double r = fp_one + fp_tiny;
	int by_math = r == 1.0 ? RM_ZERO :
		      r == 1.0 + 0x1p-52 ? RM_NEAREST : RM_INCONSISTENT;
#if defined(__x86_64__)
	long double lr = fp_lone + fp_ltiny;
	int by_x87 = lr == 1.0L ? RM_ZERO :
		     lr == 1.0L + 0x1p-63L ? RM_NEAREST : RM_INCONSISTENT;
	int sse = (int)((get_mxcsr() >> 13) & 3), x87 = (get_x87cw() >> 10) & 3;

	/* valgrind keeps the control fields but computes in round-to-nearest
	 * (and x87 in double precision): believe the registers there. */
	if (RUNNING_ON_VALGRIND) {
		by_math = sse;
		by_x87 = x87;
	}
	if (sse != by_math || x87 != by_x87 || sse != x87)
		return RM_INCONSISTENT;
	return sse;
#else
	int reg = (int)((get_fpcr() >> 22) & 3);

	if (RUNNING_ON_VALGRIND)
		by_math = reg;
	if (reg != by_math)
		return RM_INCONSISTENT;
	return reg;
#endif
}

/* Z is made under round-to-nearest and switches itself to toward-zero.
 * Y is made while main is (briefly) toward-zero and never touches the
 * mode, so it must keep the mode it was made with. */
static gor_ctx fz_ctx, fy_ctx;
static int fz_start, fy_start;
static long fz_bad, fy_bad, fz_rounds, fy_rounds;

static void fz_entry(void *arg)
{
	(void)arg;
	fz_start = round_mode();
	set_round(RM_ZERO);
	for (;;) {
		if (round_mode() != RM_ZERO)
			fz_bad++;
		gor_ctx_switch(&fz_ctx, &main_ctx, NULL);
		fz_rounds++;
		if (round_mode() != RM_ZERO)
			fz_bad++;
	}
}

static void fy_entry(void *arg)
{
	(void)arg;
	fy_start = round_mode();
	for (;;) {
		gor_ctx_switch(&fy_ctx, &main_ctx, NULL);
		fy_rounds++;
		if (round_mode() != RM_ZERO)
			fy_bad++;
	}
}

START_TEST(test_fp_control_per_context)
{
	struct tstack sz = stack_new(), sy = stack_new();

	set_round(RM_NEAREST);
	ck_assert_int_eq(round_mode(), RM_NEAREST);
	gor_ctx_make(&fz_ctx, sz.hi, fz_entry, gor_ctx_fpstate());
	set_round(RM_ZERO);
	gor_ctx_make(&fy_ctx, sy.hi, fy_entry, gor_ctx_fpstate());
	set_round(RM_NEAREST);

	for (int i = 0; i < 200; i++) {
		gor_ctx_switch(&main_ctx, &fz_ctx, NULL);
		ck_assert_int_eq(round_mode(), RM_NEAREST);
		gor_ctx_switch(&main_ctx, &fy_ctx, NULL);
		ck_assert_int_eq(round_mode(), RM_NEAREST);
	}
	ck_assert_int_eq(fz_start, RM_NEAREST);
	ck_assert_int_eq(fy_start, RM_ZERO);
	ck_assert_int_eq(fz_bad, 0);
	ck_assert_int_eq(fy_bad, 0);
	ck_assert_int_eq(fz_rounds, 199);
	ck_assert_int_eq(fy_rounds, 199);

	/* main's own change is kept too, and does not leak into Z or Y. */
	set_round(RM_ZERO);
	gor_ctx_switch(&main_ctx, &fz_ctx, NULL);
	ck_assert_int_eq(round_mode(), RM_ZERO);
	set_round(RM_NEAREST);
	gor_ctx_switch(&main_ctx, &fy_ctx, NULL);
	ck_assert_int_eq(round_mode(), RM_NEAREST);
	ck_assert_int_eq(fz_bad, 0);
	ck_assert_int_eq(fy_bad, 0);
	stack_free(&sz);
	stack_free(&sy);
}
END_TEST

/* Other control bits travel with the context, not just the rounding mode:
 * flush-to-zero (MXCSR.FZ bit 15; FPCR.FZ bit 24) and, on x86, the x87
 * precision control (bits 9:8, here set to 53-bit double). */
static gor_ctx fb_ctx;
static uint64_t fb_seen_start, fb_seen_later;

static void fb_entry(void *arg)
{
	(void)arg;
#if defined(__x86_64__)
	fb_seen_start = ((uint64_t)get_x87cw() << 32) | get_mxcsr();
	set_mxcsr(get_mxcsr() | 0x8000u);
	set_x87cw((uint16_t)((get_x87cw() & ~0x0300u) | 0x0200u));
	gor_ctx_switch(&fb_ctx, &main_ctx, NULL);
	fb_seen_later = ((uint64_t)get_x87cw() << 32) | get_mxcsr();
#else
	fb_seen_start = get_fpcr();
	set_fpcr(get_fpcr() | (1ull << 24));
	gor_ctx_switch(&fb_ctx, &main_ctx, NULL);
	fb_seen_later = get_fpcr();
#endif
	for (;;)
		gor_ctx_switch(&fb_ctx, &main_ctx, NULL);
}

START_TEST(test_fp_control_other_bits)
{
	struct tstack s = stack_new();

#if defined(__x86_64__)
	uint32_t mx = get_mxcsr() & ~0x8000u;
	uint16_t cw = (uint16_t)((get_x87cw() & ~0x0300u) | 0x0300u);

	set_mxcsr(mx);
	set_x87cw(cw);
	gor_ctx_make(&fb_ctx, s.hi, fb_entry, gor_ctx_fpstate());
	gor_ctx_switch(&main_ctx, &fb_ctx, NULL);
	ck_assert_uint_eq(get_mxcsr() & 0x8000u, 0);
	ck_assert_uint_eq(get_x87cw() & 0x0300u, 0x0300u);
	/* The fresh context started with main's exact control state. */
	ck_assert_uint_eq(fb_seen_start & 0xffc0u, mx & 0xffc0u);
	ck_assert_uint_eq(fb_seen_start >> 32, cw);
	gor_ctx_switch(&main_ctx, &fb_ctx, NULL);
	ck_assert_uint_eq(fb_seen_later & 0x8000u, 0x8000u);
	ck_assert_uint_eq((fb_seen_later >> 32) & 0x0300u, 0x0200u);
	ck_assert_uint_eq(get_mxcsr() & 0x8000u, 0);
	ck_assert_uint_eq(get_x87cw() & 0x0300u, 0x0300u);
#else
	uint64_t fpcr = get_fpcr() & ~(1ull << 24);

	set_fpcr(fpcr);
	gor_ctx_make(&fb_ctx, s.hi, fb_entry, gor_ctx_fpstate());
	gor_ctx_switch(&main_ctx, &fb_ctx, NULL);
	ck_assert_uint_eq(get_fpcr() & (1ull << 24), 0);
	ck_assert_uint_eq(fb_seen_start, fpcr);
	gor_ctx_switch(&main_ctx, &fb_ctx, NULL);
	ck_assert_uint_eq(fb_seen_later & (1ull << 24), 1ull << 24);
	ck_assert_uint_eq(get_fpcr() & (1ull << 24), 0);
#endif
	stack_free(&s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (4) backtrace() from inside entry ends at the start trampoline.     */

#define BT_MAX 64
static gor_ctx bt_ctx;
static void *bt_frames[BT_MAX];
static int bt_n = -1;
static volatile int bt_sink;

NOINLINE static int bt_leaf(int x)
{
	bt_n = backtrace(bt_frames, BT_MAX);
	return x + bt_n;	/* work after the call: no tail call */
}

NOINLINE static int bt_mid(int x)
{
	int r = bt_leaf(x + 1);
	bt_sink = r;
	return r * 3;
}

static void bt_entry(void *arg)
{
	bt_sink = bt_mid((int)(uintptr_t)arg);
	for (;;)
		gor_ctx_switch(&bt_ctx, &main_ctx, NULL);
}

/* addr is a return address inside fn (within its first len bytes). */
static int ra_in(void *addr, void (*fn)(void), uintptr_t len)
{
	uintptr_t a = (uintptr_t)addr, f = (uintptr_t)fn;
	return a > f && a - f < len;
}

/* Index of bt_leaf's frame.  It is 0 with glibc's backtrace(); the
 * sanitizers intercept backtrace() and add their interceptor's frame
 * first, so allow a couple of frames of the implementation above it. */
static int bt_leaf_index(void **frames, int n)
{
	for (int i = 0; i < n && i < 3; i++)
		if (ra_in(frames[i], (void (*)(void))bt_leaf, 4096))
			return i;
	ck_abort_msg("bt_leaf not among the first frames of %d", n);
	return -1;
}

START_TEST(test_backtrace_ends_at_entry)
{
	struct tstack s = stack_new();

	gor_ctx_make(&bt_ctx, s.hi, bt_entry, gor_ctx_fpstate());
	gor_ctx_switch(&main_ctx, &bt_ctx, (void *)(uintptr_t)41);

	/* bt_leaf, bt_mid, bt_entry, then the trampoline, and nothing past
	 * it: no frames from main's stack, no garbage above stack_hi (which
	 * is a PROT_NONE page here, so reading there would have crashed). */
	int k = bt_leaf_index(bt_frames, bt_n);

	ck_assert_int_eq(bt_n, k + 4);
	ck_assert(ra_in(bt_frames[k + 1], (void (*)(void))bt_mid, 4096));
	ck_assert(ra_in(bt_frames[k + 2], (void (*)(void))bt_entry, 4096));
	/* The trampoline lives in the context-switch object, right after
	 * gor_ctx_make; no caller of the trampoline is reported. */
	ck_assert(ra_in(bt_frames[k + 3], (void (*)(void))gor_ctx_make, 512));
	stack_free(&s);
}
END_TEST

/* The same walk with libgcc's unwinder directly: glibc's backtrace()
 * quietly stops when a frame repeats itself, which would hide a
 * trampoline whose return address rule loops.  The unwinder itself must
 * report the natural end of the stack, after exactly the trampoline. */
struct uw_walk {
	void *pc[BT_MAX];
	int n;
};

static _Unwind_Reason_Code uw_step(struct _Unwind_Context *uc, void *arg)
{
	struct uw_walk *w = arg;

	if (w->n == BT_MAX)
		return _URC_NORMAL_STOP;
	w->pc[w->n++] = (void *)_Unwind_GetIP(uc);
	return _URC_NO_REASON;
}

static gor_ctx uw_ctx;
static struct uw_walk uw_walk;
static _Unwind_Reason_Code uw_code;

NOINLINE static int uw_leaf(int x)
{
	uw_code = _Unwind_Backtrace(uw_step, &uw_walk);
	return x + uw_walk.n;
}

NOINLINE static int uw_mid(int x)
{
	int r = uw_leaf(x + 1);
	bt_sink = r;
	return r * 3;
}

static void uw_entry(void *arg)
{
	bt_sink = uw_mid((int)(uintptr_t)arg);
	for (;;)
		gor_ctx_switch(&uw_ctx, &main_ctx, NULL);
}

START_TEST(test_unwinder_end_of_stack)
{
	struct tstack s = stack_new();

	gor_ctx_make(&uw_ctx, s.hi, uw_entry, gor_ctx_fpstate());
	gor_ctx_switch(&main_ctx, &uw_ctx, NULL);
	ck_assert_int_eq(uw_code, _URC_END_OF_STACK);
	/* uw_leaf, uw_mid, uw_entry, the trampoline, and then libgcc's
	 * report of the outermost frame: the undefined return address reads
	 * as 0, which is how it tells "end of stack" from a corrupt one. */
	ck_assert_int_eq(uw_walk.n, 5);
	ck_assert(ra_in(uw_walk.pc[0], (void (*)(void))uw_leaf, 4096));
	ck_assert(ra_in(uw_walk.pc[1], (void (*)(void))uw_mid, 4096));
	ck_assert(ra_in(uw_walk.pc[2], (void (*)(void))uw_entry, 4096));
	ck_assert(ra_in(uw_walk.pc[3], (void (*)(void))gor_ctx_make, 512));
	ck_assert_ptr_eq(uw_walk.pc[4], NULL);
	stack_free(&s);
}
END_TEST

/* Unwinding twice from the same context, after it has been switched out
 * and in again, still works (the switch leaves nothing stale behind). */
static gor_ctx bt2_ctx;
static int bt2_n[2];

static void bt2_entry(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2; i++) {
		bt_sink = bt_mid(i);
		bt2_n[i] = bt_n;
		gor_ctx_switch(&bt2_ctx, &main_ctx, NULL);
	}
	for (;;)
		gor_ctx_switch(&bt2_ctx, &main_ctx, NULL);
}

START_TEST(test_backtrace_after_resume)
{
	struct tstack s = stack_new();

	gor_ctx_make(&bt2_ctx, s.hi, bt2_entry, gor_ctx_fpstate());
	gor_ctx_switch(&main_ctx, &bt2_ctx, NULL);
	gor_ctx_switch(&main_ctx, &bt2_ctx, NULL);
	ck_assert_int_eq(bt2_n[0], bt_leaf_index(bt_frames, bt_n) + 4);
	ck_assert_int_eq(bt2_n[1], bt2_n[0]);
	stack_free(&s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (5) entry runs on the given stack, ABI-aligned.                     */

static gor_ctx al_ctx;
static uintptr_t al_frame, al_local, al_deep_local;

NOINLINE static void al_deeper(void)
{
	_Alignas(16) char buf[16];
	uintptr_t p = (uintptr_t)buf;

	__asm__("" : "+r"(p)); /* hide it: the compiler assumes alignment */
	al_deep_local = p;
	bt_sink = buf[0] = 1;
}

static void al_entry(void *arg)
{
	_Alignas(16) char buf[16];
	uintptr_t p = (uintptr_t)buf;

	(void)arg;
	__asm__("" : "+r"(p));
	al_local = p;
	bt_sink = buf[0] = 1;
	al_frame = (uintptr_t)__builtin_frame_address(0);
	al_deeper();
	for (;;)
		gor_ctx_switch(&al_ctx, &main_ctx, NULL);
}

START_TEST(test_entry_stack_aligned)
{
	struct tstack s = stack_new();
	uintptr_t hi = (uintptr_t)s.hi;

	gor_ctx_make(&al_ctx, s.hi, al_entry, gor_ctx_fpstate());
	gor_ctx_switch(&main_ctx, &al_ctx, NULL);

	/* x86-64: the frame address is where entry pushed %rbp, 16 below
	 * the CFA, which the ABI makes 16-aligned at the call.  aarch64: it
	 * is the frame record at sp, always 16-aligned. */
	ck_assert_uint_eq(al_frame % 16, 0);
	ck_assert_uint_eq(al_local % 16, 0);
	ck_assert_uint_eq(al_deep_local % 16, 0);
	/* On this context's stack, near its top. */
	ck_assert(al_frame < hi && al_frame > hi - 1024);
	ck_assert(al_local < hi && al_local > hi - 1024);
	ck_assert(al_deep_local < al_local);
	stack_free(&s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* An entry that returns crashes at once (ud2 -> SIGILL, brk -> SIGTRAP). */

static gor_ctx ret_ctx;

static void returning_entry(void *arg)
{
	bt_sink = (int)(uintptr_t)arg;
}

START_TEST(test_entry_return_traps)
{
	struct tstack s = stack_new();

	gor_ctx_make(&ret_ctx, s.hi, returning_entry, gor_ctx_fpstate());
	gor_ctx_switch(&main_ctx, &ret_ctx, (void *)(uintptr_t)7);
	/* Not reached: the trampoline traps. */
	ck_abort_msg("entry returned and execution went on");
}
END_TEST

#if defined(__x86_64__)
#define RETURN_SIGNAL SIGILL
#else
#define RETURN_SIGNAL SIGTRAP
#endif

/* ------------------------------------------------------------------ */

static Suite *context_suite(int nofork)
{
	Suite *s = suite_create("context");
	TCase *tc;

	tc = tcase_create("switch");
	tcase_add_test(tc, test_ring_transfer);
	tcase_add_test(tc, test_pingpong_pointer);
	suite_add_tcase(s, tc);

	tc = tcase_create("registers");
	tcase_add_test(tc, test_callee_saved_c);
	tcase_add_test(tc, test_callee_saved_exact);
	suite_add_tcase(s, tc);

	tc = tcase_create("fpstate");
	tcase_add_test(tc, test_fp_control_per_context);
	/* valgrind ignores FTZ and x87 precision control (it warns and
	 * drops them), so there is nothing for this test to observe. */
	if (!RUNNING_ON_VALGRIND)
		tcase_add_test(tc, test_fp_control_other_bits);
	suite_add_tcase(s, tc);

	tc = tcase_create("entry");
	tcase_add_test(tc, test_backtrace_ends_at_entry);
	tcase_add_test(tc, test_backtrace_after_resume);
	tcase_add_test(tc, test_unwinder_end_of_stack);
	tcase_add_test(tc, test_entry_stack_aligned);
	/* Without fork the expected trap would kill the whole runner. */
	if (!nofork)
		tcase_add_test_raise_signal(tc, test_entry_return_traps,
					    RETURN_SIGNAL);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *fork_env = getenv("CK_FORK");
	SRunner *sr = srunner_create(context_suite(fork_env &&
						    strcmp(fork_env, "no") == 0));
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
