/* SPDX-License-Identifier: MIT */
/*
 * The context switch: the one piece of the library written per
 * architecture. A context is the stack pointer of a suspended coroutine; the
 * registers the ABI asks a callee to preserve are pushed on that stack when it
 * switches away and popped when it is switched back to.
 *
 * x86_64 (System V): rbx, rbp, r12-r15, the x87 control word and MXCSR.
 * aarch64 (AAPCS64): x19-x29, the link register x30, d8-d15.
 * Elsewhere: ucontext (glibc's swapcontext makes a syscall per switch, so it
 * is only the fallback).
 */
#ifndef TULIP_ARCH_H
#define TULIP_ARCH_H

#include "../internal.h"

#if defined(TULIP_ARCH_GENERIC)
#include <ucontext.h>
struct tulip__ctx {
    ucontext_t uc;      /* the whole machine context */
    void (*fn)(void *); /* entry of a new context */
    void *arg;          /* its argument */
};
#elif defined(__x86_64__)
/* The floating-point control state lives beside the stack pointer, not on
 * the stack, so that the switch can read it off its critical path (see
 * x86_64/switch.S). */
struct tulip__ctx {
    void *sp;        /* saved stack pointer; registers lie above it */
    uint32_t mxcsr;  /* MXCSR while suspended; bit 31: never run */
    uint16_t fpu_cw; /* x87 control word while suspended */
};
_Static_assert(offsetof(struct tulip__ctx, mxcsr) == 8, "switch.S: 8(ctx)");
_Static_assert(offsetof(struct tulip__ctx, fpu_cw) == 12, "switch.S: 12(ctx)");
#else
struct tulip__ctx {
    void *sp; /* saved stack pointer; registers lie above it */
};
#endif

/*
 * Save the running context into *from and resume *to. Returns when some
 * context switches back to *from.
 */
TULIP_PRIVATE void tulip__ctx_switch(struct tulip__ctx *from,
                                     struct tulip__ctx *to);

/*
 * Resume *to and abandon the running context *from for good: none of its
 * registers are saved, which makes the last switch of a finished coroutine
 * cheaper than tulip__ctx_switch, and *from is marked dead where the
 * architecture allows (a null stack pointer: switching to it again faults
 * at once instead of resuming stale frames). *to gets its own
 * floating-point control state back: it must have run before (been left by
 * tulip__ctx_switch), never a context fresh from tulip__ctx_make.
 *
 * It never returns, but is deliberately not declared _Noreturn: compilers
 * do not turn a call to a noreturn function into a tail jump, and reaching
 * it by a jump is what keeps the CPU's return-stack predictor in step (see
 * coro_start() in src/coro/coro.c).
 */
TULIP_PRIVATE void tulip__ctx_jump(struct tulip__ctx *from,
                                   struct tulip__ctx *to);

/*
 * Prepare *ctx so that switching to it calls fn(arg) on the stack
 * [stack_lo, stack_lo + size), which grows down from its top (aligned down to
 * 16 bytes). fn must never return: a finished coroutine switches away for
 * good. The first switch to the context enters fn by a jump, not a return,
 * so that the return-stack predictor stays in step. The new context starts with
 * the floating-point control state of the context that first switches to it
 * (x86_64: MXCSR and the x87 control word; the state is kept per context
 * from then on).
 */
TULIP_PRIVATE void tulip__ctx_make(struct tulip__ctx *ctx, void *stack_lo,
                                   size_t size, void (*fn)(void *), void *arg);

#endif /* TULIP_ARCH_H */
