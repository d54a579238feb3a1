/* SPDX-License-Identifier: MIT */
/*
 * Context switch for x86_64, System V ABI.
 *
 * Frame left on a suspended stack (lowest address first, 64 bytes):
 *   0  MXCSR (4 bytes)        4  x87 control word (2 bytes)
 *   8  r15   16 r14   24 r13   32 r12   40 rbx   48 rbp   56 return address
 *
 * The ABI makes MXCSR's control bits and the x87 control word callee-saved,
 * so each context keeps its own. Loading them (ldmxcsr, fldcw) is what costs
 * in a switch, and coroutines almost never change them, so the incoming
 * values are loaded only when they differ from the outgoing ones: the same
 * contract at nearly the price of a switch that ignores them.
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
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movl    (%rsp), %ecx            /* outgoing MXCSR */
    movzwl  4(%rsp), %edx           /* outgoing x87 control word */
    movq    %rsp, (%rdi)
    movq    (%rsi), %rsp
    cmpl    (%rsp), %ecx
    jne     1f
2:  cmpw    4(%rsp), %dx
    jne     3f
4:  addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
1:  ldmxcsr (%rsp)
    jmp     2b
3:  fldcw   4(%rsp)
    jmp     4b
    .cfi_endproc
    .size   tulip__ctx_switch, .-tulip__ctx_switch

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
    leaq    -64(%rsi), %rax         /* after the final ret, rsp = top: 16-aligned */
    stmxcsr (%rax)
    fnstcw  4(%rax)
    movq    $0, 8(%rax)             /* r15 */
    movq    $0, 16(%rax)            /* r14 */
    movq    %r8, 24(%rax)           /* r13 = arg */
    movq    %rcx, 32(%rax)          /* r12 = fn */
    movq    $0, 40(%rax)            /* rbx */
    movq    $0, 48(%rax)            /* rbp: ends frame-pointer walks */
    leaq    tulip__ctx_entry(%rip), %r9
    movq    %r9, 56(%rax)
    movq    %rax, (%rdi)
    ret
    .cfi_endproc
    .size   tulip__ctx_make, .-tulip__ctx_make

    .type   tulip__ctx_entry, @function
    .p2align 4
/* First code of a new context: fn(arg), which never returns. */
tulip__ctx_entry:
    .cfi_startproc
    .cfi_undefined rip              /* the outermost frame, for unwinders */
    movq    %r13, %rdi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   tulip__ctx_entry, .-tulip__ctx_entry

    .section .note.GNU-stack,"",@progbits
