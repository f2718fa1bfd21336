/*
 * x86_64.S - gor_ctx_switch / gor_ctx_make for x86-64, System V ABI.
 *
 * CALLING CONVENTION
 *
 *   void *gor_ctx_switch(gor_ctx *from, gor_ctx *to, void *transfer)
 *                         %rdi           %rsi         %rdx  -> %rax
 *   void  gor_ctx_make(gor_ctx *ctx, void *stack_hi, void (*entry)(void *),
 *                       %rdi          %rsi             %rdx
 *                      uint32_t fpstate)
 *                       %ecx
 *
 *   gor_ctx_switch is an ordinary call, so the caller has already given up
 *   every register the ABI calls volatile (rax, rcx, rdx, rsi, rdi, r8-r11,
 *   all of xmm0-15 and the x87 stack).  We only keep what the ABI promises
 *   survives a call: rbx, rbp, r12-r15, rsp, plus the two pieces of
 *   floating-point *control* state that the ABI calls callee-saved:
 *     - MXCSR control bits (rounding mode, FTZ/DAZ, exception masks), and
 *     - the x87 control word (rounding and precision control).
 *   Saving them per context is what lets one goroutine run under
 *   fesetround(FE_TOWARDZERO) without leaking that mode into whichever
 *   goroutine the scheduler runs next on the same thread.  The MXCSR
 *   status (sticky exception) bits travel along too; stmxcsr cannot split
 *   them off cheaply and fetestexcept() per goroutine is the more useful
 *   meaning anyway.
 *
 * SAVED FRAME (grows down; gor_ctx.sp points at offset 0)
 *
 *   offset  size  contents
 *     +56     8   return address (into the caller of gor_ctx_switch, or
 *                 the start trampoline for a fresh context)
 *     +48     8   rbp
 *     +40     8   rbx           (fresh context: the entry function)
 *     +32     8   r12
 *     +24     8   r13
 *     +16     8   r14
 *      +8     8   r15
 *      +4     4   x87 control word (2 bytes used, 2 bytes padding)
 *      +0     4   MXCSR
 *                 ---- 64 bytes
 *
 *   At the call into gor_ctx_switch %rsp is 16-byte aligned + 8 (the return
 *   address), six pushes keep that phase and the 8-byte FP slot completes
 *   it, so a saved sp is always 16-byte aligned.  The integer registers
 *   go first as plain pushes/pops, which the CPU's stack engine tracks
 *   without extra address arithmetic; the FP control slot is addressed
 *   explicitly below them.
 *
 *   The switch has one conditional branch, at the end (RETURNING).
 *
 * RETURNING
 *
 *   A `ret` is predicted by the return stack buffer (RSB), whose top entry
 *   is the *current* side's call site: the address this call will return
 *   to.  So the other side is resumed in one of two ways:
 *
 *   - Its return address equals ours (both sides are parked at the same
 *     call site: two goroutines yielding to each other, a ring of
 *     goroutines all blocked in the same receive): `ret`.  The RSB
 *     predicts it exactly, and the returns after it pop the entries the
 *     current side's callers pushed, which are right as often as the two
 *     stacks look alike (they do in those patterns: the same function
 *     called from the same loop).
 *   - Otherwise: pop it and `jmp *%rcx`.  A `ret` would mispredict by
 *     construction; an indirect jmp is predicted from branch history,
 *     which learns the ping-pong and scheduler-loop patterns.  The call's
 *     RSB entry is then never consumed, so the RSB is shifted by one for
 *     the code that runs next (its first return mispredicts).
 *
 *   The test costs two instructions.  Measured on the development machine
 *   (AMD EPYC, 2.6 GHz), medians of interleaved runs: yield at MAXPROCS 1
 *   (two goroutines, same site) went from 19-20 ns per switch with the jmp
 *   alone to 11-12 ns, threadring from 36 to 34 ns per hop; pingpong,
 *   select and spawn, whose sides park at different sites, did not
 *   change.  Always `ret` instead cost spawn 5-8 % (a fresh goroutine
 *   starts, and an exiting one leaves, at a site nobody else is parked
 *   at).  Between two different sites the jmp is what matters: it took
 *   a bare switch from ~11 ns with `ret` to ~5.5 ns.
 *
 * HOW A FRESH CONTEXT STARTS
 *
 *   gor_ctx_make writes exactly the frame above at stack_hi - 64: MXCSR and
 *   the x87 control word from the fpstate argument (gor_ctx_fpstate), rbx =
 *   entry, rbp = 0, r12-r15 = 0, and the return slot pointing at the local
 *   trampoline gor_ctx_start.  The first gor_ctx_switch into it therefore
 *   pops those values and jumps into gor_ctx_start with %rsp ==
 *   stack_hi (16-byte aligned) and the transfer value in %rax.  The
 *   trampoline moves it to %rdi and does `call *%rbx`, so entry is entered
 *   exactly as after a normal call from an aligned frame: its return
 *   address sits at stack_hi - 8.  rbp = 0 ends frame-pointer chains for
 *   unwinders that walk rbp (perf, some profilers).
 *
 *   entry must never return.  If it does, ud2 raises SIGILL right there
 *   instead of popping a return address that does not exist.
 *
 * UNWINDING
 *
 *   gor_ctx_switch has CFI describing its pushes.  Across the `mov (%rsi),
 *   %rsp` the frame shape is identical on both stacks, so the same rules
 *   describe whichever context's frame %rsp is in at any instruction.
 *   gor_ctx_start declares the return address undefined, which is DWARF's
 *   marker for the outermost frame: gdb prints it as the last frame and
 *   libgcc's unwinder (glibc backtrace()) stops with _URC_END_OF_STACK
 *   instead of reading above stack_hi.  The return address that entry sees
 *   points at the ud2, still inside gor_ctx_start's FDE, so the lookup
 *   (done at ra - 1) finds it.
 *
 * CET
 *
 *   This object deliberately carries no .note.gnu.property, so ld clears
 *   both CET features from any program that links it.  A shadow stack
 *   cannot follow a switch done this way (calls into gor_ctx_switch never
 *   return through the shadow stack), and indirect-branch tracking would
 *   reject `jmp *%rcx` to a return address, which has no endbr64.  (Linux
 *   does not enable IBT for user space today; supporting shadow stacks
 *   would need a switch that swaps the shadow stack pointer as well.)
 */

	.text

	.p2align 4
	.globl	gor_ctx_switch
	.hidden	gor_ctx_switch
	.type	gor_ctx_switch, @function
gor_ctx_switch:
	.cfi_startproc
	movq	(%rsp), %r8		/* our return address, for RETURNING */
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	leaq	-8(%rsp), %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)

	/* The stack swap.  From here on %rsp is in the other context's frame,
	 * which has the same shape, so the CFI above stays true. */
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp

	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	leaq	8(%rsp), %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	/* Resume: `ret` when it returns where this call will (r8), else an
	 * indirect jmp; see "RETURNING" above. */
	movq	%rdx, %rax
	cmpq	%r8, (%rsp)
	jne	1f
	.cfi_remember_state
	ret
	.cfi_restore_state
1:	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rcx
	jmp	*%rcx
	.cfi_endproc
	.size	gor_ctx_switch, . - gor_ctx_switch

	.p2align 4
	.globl	gor_ctx_make
	.hidden	gor_ctx_make
	.type	gor_ctx_make, @function
gor_ctx_make:
	.cfi_startproc
	leaq	-64(%rsi), %rax
	/* FP control state as packed by gor_ctx_fpstate, captured by the
	 * runtime when the goroutine was spawned: it starts in the FP
	 * environment of whoever spawned it, as a thread does. */
	movzwl	%cx, %r8d
	movl	%r8d, (%rax)		/* MXCSR */
	shrl	$16, %ecx
	movl	%ecx, 4(%rax)		/* x87 control word, zero padding */
	xorl	%ecx, %ecx
	movq	%rcx, 8(%rax)		/* r15 */
	movq	%rcx, 16(%rax)		/* r14 */
	movq	%rcx, 24(%rax)		/* r13 */
	movq	%rcx, 32(%rax)		/* r12 */
	movq	%rdx, 40(%rax)		/* rbx: entry, for gor_ctx_start */
	movq	%rcx, 48(%rax)		/* rbp: 0 ends frame-pointer walks */
	leaq	gor_ctx_start(%rip), %rcx	/* pc-relative: no text reloc */
	movq	%rcx, 56(%rax)
	movq	%rax, (%rdi)
	ret
	.cfi_endproc
	.size	gor_ctx_make, . - gor_ctx_make

	/* uint32_t gor_ctx_fpstate(void): MXCSR in bits 0-15 (its bits
	 * 16-31 are reserved and always zero), the x87 control word in bits
	 * 16-31. A leaf, so it may use the red zone below %rsp. */
	.globl	gor_ctx_fpstate
	.hidden	gor_ctx_fpstate
	.type	gor_ctx_fpstate, @function
	.p2align 4
gor_ctx_fpstate:
	.cfi_startproc
	stmxcsr	-8(%rsp)
	fnstcw	-4(%rsp)
	movzwl	-8(%rsp), %eax
	movzwl	-4(%rsp), %ecx
	shll	$16, %ecx
	orl	%ecx, %eax
	ret
	.cfi_endproc
	.size	gor_ctx_fpstate, . - gor_ctx_fpstate

	/* Reached only by the jump of the first gor_ctx_switch into a made
	 * context, with %rsp == stack_hi, %rbx == entry, %rax == transfer. */
	.p2align 4
	.type	gor_ctx_start, @function
gor_ctx_start:
	.cfi_startproc
	/* Outermost frame: there is no caller to unwind into. */
	.cfi_undefined %rip
	movq	%rax, %rdi
	call	*%rbx
	/* entry returned, which it must never do. */
	ud2
	.cfi_endproc
	.size	gor_ctx_start, . - gor_ctx_start

	.section .note.GNU-stack, "", @progbits
