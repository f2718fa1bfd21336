/*
 * context.h - the machine-context switch, implemented per architecture in
 * asm/<arch>.S. The frame layout is documented in each .S file.
 *
 * A saved context is only a stack pointer: gor_ctx_switch pushes the
 * callee-saved registers and the floating-point control state onto the
 * current stack, stores the stack pointer in *from, loads to->sp, pops the
 * other side's registers and returns there. Everything the C ABI lets a
 * callee clobber is dead across the call, so nothing else need be saved.
 *
 * The value `transfer` passed by the switching side is what the resumed
 * side's own gor_ctx_switch call returns; for a context that has never
 * run, made by gor_ctx_make, it is the argument of its entry function.
 * The runtime passes the M, so resumed code need not read thread-local
 * storage (which a compiler may have cached from before the switch, on
 * another thread).
 */
#ifndef GOR_CONTEXT_H
#define GOR_CONTEXT_H

#include <stdint.h>

#pragma GCC visibility push(hidden)

typedef struct gor_ctx {
	void *sp;
} gor_ctx;

/* Save the current context in *from and resume *to, handing it transfer.
 * Returns, in the resumed context, the transfer of whoever switches back. */
void *gor_ctx_switch(gor_ctx *from, gor_ctx *to, void *transfer);

/* Prepare *ctx so that switching to it calls entry(transfer) on the stack
 * whose highest address is stack_hi (16-byte aligned), with the
 * floating-point control state fpstate (from gor_ctx_fpstate). entry must
 * never return: the entry frame has no caller, and backtraces end there. */
void gor_ctx_make(gor_ctx *ctx, void *stack_hi, void (*entry)(void *transfer), uint32_t fpstate);

/* The calling thread's floating-point control state (x86-64: MXCSR and the
 * x87 control word; aarch64: FPCR), packed for gor_ctx_make into 32 bits,
 * so that it fits beside a G's other start-up fields. A goroutine starts
 * with its creator's, as a thread starts with its creator's. */
uint32_t gor_ctx_fpstate(void);

/* For stack walks of a switched-out context: the address it will resume
 * at and its frame pointer, read from the saved frame (layouts in the .S
 * files). Frames above are {saved fp, return address} records on both
 * architectures, given -fno-omit-frame-pointer. */
static inline void gor_ctx_frame(const gor_ctx *ctx, void **pc, void **fp)
{
	void *const *sp = ctx->sp;
#if defined(__x86_64__)
	*fp = sp[6];
	*pc = sp[7];
#elif defined(__aarch64__)
	*fp = sp[0];
	*pc = sp[1];
#endif
}

#pragma GCC visibility pop

#endif /* GOR_CONTEXT_H */
