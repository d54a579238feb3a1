/* SPDX-License-Identifier: MIT */
/*
 * Context switch for aarch64, AAPCS64.
 *
 * Frame left on a suspended stack (lowest address first, 160 bytes, so sp
 * stays 16-byte aligned as the architecture requires):
 *   0 x19 x20   16 x21 x22   32 x23 x24   48 x25 x26   64 x27 x28
 *  80 x29 x30 (frame pointer, link register = where to resume)
 *  96 d8 d9   112 d10 d11   128 d12 d13   144 d14 d15
 */
    .text

    .globl  tulip__ctx_switch
    .hidden tulip__ctx_switch
    .type   tulip__ctx_switch, %function
    .p2align 4
/* void tulip__ctx_switch(struct tulip__ctx *from = x0, struct tulip__ctx *to = x1) */
tulip__ctx_switch:
    .cfi_startproc
    sub     sp, sp, #160
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mov     x9, sp
    str     x9, [x0]
    ldr     x9, [x1]
    mov     sp, x9
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #160
    adr     x9, tulip__ctx_entry
    cmp     x30, x9
    b.eq    1f
    ret
    /* A context never run yet: enter it by a branch (see x86_64/switch.S). */
1:  mov     x0, x20
    mov     x30, xzr
    br      x19
    .cfi_endproc
    .size   tulip__ctx_switch, .-tulip__ctx_switch

    .globl  tulip__ctx_jump
    .hidden tulip__ctx_jump
    .type   tulip__ctx_jump, %function
    .p2align 4
/* void tulip__ctx_jump(struct tulip__ctx *from = x0, struct tulip__ctx
 * *to = x1): the second half of tulip__ctx_switch only; from is dead. */
tulip__ctx_jump:
    .cfi_startproc
    str     xzr, [x0]
    ldr     x9, [x1]
    mov     sp, x9
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #160
    ret
    .cfi_endproc
    .size   tulip__ctx_jump, .-tulip__ctx_jump

    .globl  tulip__ctx_make
    .hidden tulip__ctx_make
    .type   tulip__ctx_make, %function
    .p2align 4
/* void tulip__ctx_make(ctx = x0, stack_lo = x1, size = x2, fn = x3, arg = x4) */
tulip__ctx_make:
    .cfi_startproc
    add     x1, x1, x2              /* the top of the stack */
    and     x1, x1, #~15
    sub     x1, x1, #160
    stp     x3, x4, [x1, #0]        /* x19 = fn, x20 = arg */
    stp     xzr, xzr, [x1, #16]
    stp     xzr, xzr, [x1, #32]
    stp     xzr, xzr, [x1, #48]
    stp     xzr, xzr, [x1, #64]
    adr     x9, tulip__ctx_entry
    stp     xzr, x9, [x1, #80]      /* x29 = 0 ends frame walks; x30 = entry */
    stp     xzr, xzr, [x1, #96]
    stp     xzr, xzr, [x1, #112]
    stp     xzr, xzr, [x1, #128]
    stp     xzr, xzr, [x1, #144]
    str     x1, [x0]
    ret
    .cfi_endproc
    .size   tulip__ctx_make, .-tulip__ctx_make

    .type   tulip__ctx_entry, %function
    .p2align 4
/* First code of a new context: fn(arg), which never returns; entered by a
 * branch with a null link register, not blr (see x86_64/switch.S). */
tulip__ctx_entry:
    .cfi_startproc
    .cfi_undefined x30              /* the outermost frame, for unwinders */
    mov     x0, x20
    mov     x30, xzr                /* no return: see x86_64/switch.S */
    br      x19
    .cfi_endproc
    .size   tulip__ctx_entry, .-tulip__ctx_entry

    .section .note.GNU-stack,"",%progbits
