/* SPDX-License-Identifier: MIT */
/*
 * Context switch for x86_64, System V ABI.
 *
 * struct tulip__ctx (arch.h): 0 sp, 8 MXCSR (4 bytes; bit 31, reserved in
 * MXCSR, marks a context that has never run), 12 x87 control word (2 bytes). Frame left on a suspended stack (lowest address first, 56
 * bytes): 0 r15  8 r14  16 r13  24 r12  32 rbx  40 rbp  48 return address.
 *
 * The ABI makes MXCSR's control bits and the x87 control word callee-saved,
 * so each context keeps its own. They are stored in the context, not on the
 * stack, and the order of the work is chosen for speed (measured on Zen 5,
 * bench/bench_switch.c): the critical path of a switch is the load of the
 * new stack pointer, the pops and the return, whose target the CPU always
 * mispredicts. Reading MXCSR (stmxcsr, about 3 ns) and the control word
 * before that path begins delays it by that much; issued after the new stack
 * pointer is loaded, the reads overlap with it and cost about 1 ns in all.
 * The outgoing values are still the live ones then, since nothing between
 * has touched them. Loading them (ldmxcsr, fldcw) is needed only when the
 * incoming context's differ, which is rare (coroutines almost never change
 * them), so the loads sit on predicted-not-taken branches. A signal that
 * arrives mid-switch sees one of the two contexts' states, both valid.
 */
    .text

    .globl  tulip__ctx_switch
    .hidden tulip__ctx_switch
    .type   tulip__ctx_switch, @function
    .p2align 4
/* void tulip__ctx_switch(struct tulip__ctx *from = rdi, struct tulip__ctx *to = rsi) */
tulip__ctx_switch:
    .cfi_startproc
    endbr64
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    movq    %rsp, (%rdi)
    movq    (%rsi), %rsp            /* now on the incoming stack */
    stmxcsr 8(%rdi)                 /* the outgoing state, still live */
    fnstcw  12(%rdi)
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    movl    8(%rdi), %eax
    cmpl    8(%rsi), %eax
    jne     1f
2:  movzwl  12(%rdi), %eax
    cmpw    12(%rsi), %ax
    jne     3f
    ret
1:  movl    8(%rsi), %eax
    btrl    $31, %eax               /* CF: the never-run mark */
    jc      5f
    ldmxcsr 8(%rsi)
    jmp     2b
3:  fldcw   12(%rsi)
    ret
/*
 * A context that has never run (tulip__ctx_make set bit 31 of its MXCSR
 * word, a reserved bit that stmxcsr never sets, so that the MXCSR compare
 * above fails and a plain switch pays nothing for this test): it has no
 * state of its own and keeps ours, the resumer's (reading the creator's in
 * tulip__ctx_make and loading it here cost 6 ns of a 41 ns coroutine
 * lifecycle), and is entered by a jump. A ret here would pop the return-stack
 * predictor's entry for our caller, and when the new context later leaves
 * for good by tulip__ctx_jump (reached by a tail jump), that ret would find
 * the predictor one entry short and mispredict, and so would our caller's
 * own return after it.
 */
5:  movq    $0, (%rsp)              /* as tulip__ctx_entry: null return */
    movq    %r13, %rdi
    jmpq    *%r12
    .cfi_endproc
    .size   tulip__ctx_switch, .-tulip__ctx_switch

    .globl  tulip__ctx_jump
    .hidden tulip__ctx_jump
    .type   tulip__ctx_jump, @function
    .p2align 4
/*
 * void tulip__ctx_jump(struct tulip__ctx *from = rdi, struct tulip__ctx
 * *to = rsi): the second half of tulip__ctx_switch only. Loading the
 * incoming MXCSR and control word unconditionally is cheaper than reading
 * the outgoing ones to compare.
 */
tulip__ctx_jump:
    .cfi_startproc
    endbr64
    movl    8(%rsi), %eax
    btrl    $31, %eax               /* without the never-run mark */
    movq    $0, (%rdi)              /* from is dead */
    movq    (%rsi), %rsp
    movl    %eax, -8(%rsp)          /* the red zone: this is a leaf */
    ldmxcsr -8(%rsp)
    fldcw   12(%rsi)
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   tulip__ctx_jump, .-tulip__ctx_jump

    .globl  tulip__ctx_make
    .hidden tulip__ctx_make
    .type   tulip__ctx_make, @function
    .p2align 4
/* void tulip__ctx_make(ctx = rdi, stack_lo = rsi, size = rdx, fn = rcx, arg = r8) */
tulip__ctx_make:
    .cfi_startproc
    endbr64
    addq    %rdx, %rsi              /* the top of the stack */
    andq    $-16, %rsi
    leaq    -56(%rsi), %rax         /* after the final ret, rsp = top: 16-aligned */
    movq    $0, (%rax)              /* r15 */
    movq    $0, 8(%rax)             /* r14 */
    movq    %r8, 16(%rax)           /* r13 = arg */
    movq    %rcx, 24(%rax)          /* r12 = fn */
    movq    $0, 32(%rax)            /* rbx */
    movq    $0, 40(%rax)            /* rbp: ends frame-pointer walks */
    leaq    tulip__ctx_entry(%rip), %r9
    movq    %r9, 48(%rax)
    movq    %rax, (%rdi)
    movl    $0x80000000, 8(%rdi)    /* never run: no state of its own */
    ret
    .cfi_endproc
    .size   tulip__ctx_make, .-tulip__ctx_make

    .type   tulip__ctx_entry, @function
    .p2align 4
/*
 * First code of a new context: fn(arg), which never returns. It is entered
 * by a jump with a null return address (which also ends unwinding) rather
 * than a call: a call would leave an entry on the CPU's return-stack
 * predictor that no return ever takes, and the resumer's next return after
 * the coroutine's final switch would be mispredicted.
 */
tulip__ctx_entry:
    .cfi_startproc
    .cfi_undefined rip              /* the outermost frame, for unwinders */
    movq    %r13, %rdi
    pushq   $0                      /* rsp as after a call: 8 mod 16 */
    jmpq    *%r12
    .cfi_endproc
    .size   tulip__ctx_entry, .-tulip__ctx_entry

    .section .note.GNU-stack,"",@progbits
