/*
 * aarch64.S - gor_ctx_switch / gor_ctx_make for AArch64, AAPCS64 (Linux).
 *
 * CALLING CONVENTION
 *
 *   void *gor_ctx_switch(gor_ctx *from, gor_ctx *to, void *transfer)
 *                         x0             x1           x2         -> x0
 *   void  gor_ctx_make(gor_ctx *ctx, void *stack_hi, void (*entry)(void *))
 *                       x0            x1               x2
 *
 *   gor_ctx_switch is an ordinary call, so everything AAPCS64 calls
 *   corruptible (x0-x18, x30 after the bl, v0-v7, v16-v31, the upper halves
 *   of v8-v15, NZCV, FPSR) is already dead in the caller.  We keep what
 *   must survive a call:
 *     - x19-x28: callee-saved general registers;
 *     - x29 (frame pointer) and x30 (link register: where we resume);
 *     - sp, stored in the gor_ctx itself;
 *     - d8-d15: only the low 64 bits of v8-v15 are callee-saved;
 *     - FPCR: rounding mode, flush-to-zero, default-NaN and trap enables,
 *       which AAPCS64 treats as preserved thread state.  Saving it per
 *       context lets one goroutine use fesetround() without the mode
 *       leaking into the next goroutine run on the same thread.
 *   x18 is the platform register; Linux leaves it free and the compiler
 *   treats it as corruptible, so it is not saved.  FPSR (sticky flags) is
 *   caller-saved by the ABI and is not kept either.
 *
 * SAVED FRAME (grows down; gor_ctx.sp points at offset 0)
 *
 *   offset  size  contents
 *    +168     8   padding (sp must stay 16-byte aligned)
 *    +160     8   FPCR
 *    +152     8   d15
 *    +144     8   d14
 *    +136     8   d13
 *    +128     8   d12
 *    +120     8   d11
 *    +112     8   d10
 *    +104     8   d9
 *     +96     8   d8
 *     +88     8   x28
 *     +80     8   x27
 *     +72     8   x26
 *     +64     8   x25
 *     +56     8   x24
 *     +48     8   x23
 *     +40     8   x22
 *     +32     8   x21
 *     +24     8   x20
 *     +16     8   x19           (fresh context: the entry function)
 *      +8     8   x30 / lr      (fresh context: gor_ctx_start)
 *      +0     8   x29 / fp      (fresh context: 0)
 *                 ---- 176 bytes
 *
 *   x29/x30 sit at the bottom as a standard frame record, so the saved sp
 *   of a parked context doubles as a valid frame pointer for tools that
 *   walk fp chains.  Everything moves with stp/ldp pairs plus one str/ldr
 *   for FPCR; the only branch is the final ret.  The FPCR read is issued
 *   before the swap and the write after all the loads, so the (on some
 *   cores, serialising) msr does not hold up the pair loads behind it.
 *
 * RETURNING
 *
 *   The other side is resumed with `ret` (through x30), not `br`.  The
 *   x86-64 version jumps instead whenever the other side is parked at a
 *   different call site, where a return-stack predictor mispredicts by
 *   construction; here `br` to a return address would be
 *   rejected under BTI (return sites carry no landing pad), and AArch64
 *   cores differ enough that the trade has to be measured on hardware
 *   before it is made.  (This file has only been run under qemu.)
 *
 * HOW A FRESH CONTEXT STARTS
 *
 *   gor_ctx_make writes the frame above at stack_hi - 176 with x19 = entry,
 *   x30 = gor_ctx_start, x29 = 0, the other registers 0, and FPCR read from
 *   the calling thread right now (a goroutine inherits its spawner's FP
 *   environment, like a thread).  The first gor_ctx_switch into it loads
 *   those values, leaves sp == stack_hi (16-byte aligned) and returns
 *   through x30 into gor_ctx_start with the transfer value already in x0,
 *   which is where entry wants its argument.  gor_ctx_start does
 *   `blr x19`; entry then runs with an aligned sp and x29 == 0, which ends
 *   frame-record walks.
 *
 *   entry must never return.  If it does, brk raises SIGTRAP right there
 *   instead of returning through a link register that means nothing.
 *
 * UNWINDING
 *
 *   gor_ctx_switch has CFI for its frame.  Across `mov sp, x9` the frame
 *   shape is identical on both stacks, so the same rules describe whichever
 *   context's frame sp is in.  gor_ctx_start declares x30 undefined, DWARF's
 *   marker for the outermost frame: gdb shows it as the last frame and
 *   libgcc's unwinder (glibc backtrace()) stops there.  entry's return
 *   address points at the brk, inside gor_ctx_start's FDE.
 *
 * BTI / PAC
 *
 *   When the compiler defaults to branch protection we put `bti c` landing
 *   pads on the two callable functions and mark the object accordingly;
 *   gor_ctx_start is only entered by `ret`, which BTI does not check.
 *   Return addresses are stored unsigned: the switch never signs x30, and
 *   the C caller's own PAC-signed lr lives in its own frame, untouched.
 */

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define GOR_LANDING_PAD hint #34	/* bti c */
#define GOR_PROP_BTI 1
#else
#define GOR_LANDING_PAD
#define GOR_PROP_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define GOR_PROP_PAC 2
#else
#define GOR_PROP_PAC 0
#endif

	.text

	.p2align 4
	.globl	gor_ctx_switch
	.hidden	gor_ctx_switch
	.type	gor_ctx_switch, %function
gor_ctx_switch:
	.cfi_startproc
	GOR_LANDING_PAD
	stp	x29, x30, [sp, #-176]!
	.cfi_def_cfa_offset 176
	.cfi_offset x29, -176
	.cfi_offset x30, -168
	stp	x19, x20, [sp, #16]
	.cfi_offset x19, -160
	.cfi_offset x20, -152
	stp	x21, x22, [sp, #32]
	.cfi_offset x21, -144
	.cfi_offset x22, -136
	stp	x23, x24, [sp, #48]
	.cfi_offset x23, -128
	.cfi_offset x24, -120
	stp	x25, x26, [sp, #64]
	.cfi_offset x25, -112
	.cfi_offset x26, -104
	stp	x27, x28, [sp, #80]
	.cfi_offset x27, -96
	.cfi_offset x28, -88
	stp	d8, d9, [sp, #96]
	.cfi_offset d8, -80
	.cfi_offset d9, -72
	stp	d10, d11, [sp, #112]
	.cfi_offset d10, -64
	.cfi_offset d11, -56
	stp	d12, d13, [sp, #128]
	.cfi_offset d12, -48
	.cfi_offset d13, -40
	stp	d14, d15, [sp, #144]
	.cfi_offset d14, -32
	.cfi_offset d15, -24
	mrs	x9, fpcr
	str	x9, [sp, #160]

	/* The stack swap.  From here on sp is in the other context's frame,
	 * which has the same shape, so the CFI above stays true. */
	mov	x10, sp
	str	x10, [x0]
	ldr	x11, [x1]
	mov	sp, x11

	ldr	x9, [sp, #160]
	ldp	x19, x20, [sp, #16]
	ldp	x21, x22, [sp, #32]
	ldp	x23, x24, [sp, #48]
	ldp	x25, x26, [sp, #64]
	ldp	x27, x28, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	msr	fpcr, x9
	ldp	x29, x30, [sp], #176
	.cfi_def_cfa_offset 0
	.cfi_restore x29
	.cfi_restore x30
	.cfi_restore x19
	.cfi_restore x20
	.cfi_restore x21
	.cfi_restore x22
	.cfi_restore x23
	.cfi_restore x24
	.cfi_restore x25
	.cfi_restore x26
	.cfi_restore x27
	.cfi_restore x28
	.cfi_restore d8
	.cfi_restore d9
	.cfi_restore d10
	.cfi_restore d11
	.cfi_restore d12
	.cfi_restore d13
	.cfi_restore d14
	.cfi_restore d15
	mov	x0, x2
	ret
	.cfi_endproc
	.size	gor_ctx_switch, . - gor_ctx_switch

	.p2align 4
	.globl	gor_ctx_make
	.hidden	gor_ctx_make
	.type	gor_ctx_make, %function
gor_ctx_make:
	.cfi_startproc
	GOR_LANDING_PAD
	sub	x9, x1, #176
	adr	x10, gor_ctx_start	/* pc-relative: no text relocation */
	stp	xzr, x10, [x9, #0]	/* x29 = 0 ends fp walks; x30 */
	stp	x2, xzr, [x9, #16]	/* x19 = entry, for gor_ctx_start */
	stp	xzr, xzr, [x9, #32]
	stp	xzr, xzr, [x9, #48]
	stp	xzr, xzr, [x9, #64]
	stp	xzr, xzr, [x9, #80]
	stp	xzr, xzr, [x9, #96]
	stp	xzr, xzr, [x9, #112]
	stp	xzr, xzr, [x9, #128]
	stp	xzr, xzr, [x9, #144]
	mov	w3, w3			/* a 32-bit argument: clear the top */
	stp	x3, xzr, [x9, #160]	/* FPCR from the fpstate argument */
	str	x9, [x0]
	ret
	.cfi_endproc
	.size	gor_ctx_make, . - gor_ctx_make

	/* uint32_t gor_ctx_fpstate(void): the FPCR (its bits 32-63 are
	 * reserved, zero), as the frame stores it. */
	.globl	gor_ctx_fpstate
	.hidden	gor_ctx_fpstate
	.type	gor_ctx_fpstate, %function
	.p2align 4
gor_ctx_fpstate:
	.cfi_startproc
	GOR_LANDING_PAD
	mrs	x0, fpcr
	ret
	.cfi_endproc
	.size	gor_ctx_fpstate, . - gor_ctx_fpstate

	/* Reached only by the `ret` of the first gor_ctx_switch into a made
	 * context, with sp == stack_hi, x19 == entry, x0 == transfer. */
	.p2align 4
	.type	gor_ctx_start, %function
gor_ctx_start:
	.cfi_startproc
	/* Outermost frame: there is no caller to unwind into. */
	.cfi_undefined x30
	blr	x19
	/* entry returned, which it must never do. */
	brk	#0x3e8
	.cfi_endproc
	.size	gor_ctx_start, . - gor_ctx_start

#if GOR_PROP_BTI || GOR_PROP_PAC
	/* GNU_PROPERTY_AARCH64_FEATURE_1_AND: this object is BTI/PAC clean. */
	.section .note.gnu.property, "a"
	.p2align 3
	.word	4			/* name size: "GNU\0" */
	.word	16			/* descriptor size */
	.word	5			/* NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.word	0xc0000000		/* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
	.word	4			/* pr_datasz */
	.word	GOR_PROP_BTI | GOR_PROP_PAC
	.word	0			/* pad to 8 */
#endif

	.section .note.GNU-stack, "", %progbits
