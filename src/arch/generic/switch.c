/* SPDX-License-Identifier: MIT */
/*
 * Portable context switch over ucontext, for architectures without an
 * assembly switch. glibc's swapcontext saves and restores the signal mask
 * with a syscall on every switch (about 20 times the cost of the assembly
 * switch), and musl has no makecontext, so this is only the fallback.
 */
#include "../../prefix.h"
#include "../arch.h"

#include <stdint.h>
#include <stdlib.h>

static void ctx_trampoline(unsigned hi, unsigned lo)
{
    /* makecontext passes only int arguments: the pointer comes in halves,
     * and joining them is the one portable way back. */
    /* NOLINTBEGIN(performance-no-int-to-ptr) */
    struct tulip__ctx *ctx =
        (struct tulip__ctx *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo);
    /* NOLINTEND(performance-no-int-to-ptr) */
    ctx->fn(ctx->arg);
    abort();
}

void tulip__ctx_switch(struct tulip__ctx *from, struct tulip__ctx *to)
{
    if (swapcontext(&from->uc, &to->uc) != 0)
        tulip__panic("swapcontext failed");
}

void tulip__ctx_jump(struct tulip__ctx *from, struct tulip__ctx *to)
{
    (void)from; /* ucontext has no cheap way to mark it dead */
    setcontext(&to->uc);
    tulip__panic("setcontext failed");
}

void tulip__ctx_make(struct tulip__ctx *ctx, void *stack_lo, size_t size,
                     void (*fn)(void *), void *arg)
{
    uintptr_t p = (uintptr_t)ctx;

    if (getcontext(&ctx->uc) != 0)
        tulip__panic("getcontext failed");
    ctx->uc.uc_stack.ss_sp = stack_lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    ctx->fn = fn;
    ctx->arg = arg;
    makecontext(&ctx->uc, (void (*)(void))ctx_trampoline, 2,
                (unsigned)(p >> 16 >> 16), (unsigned)(p & 0xffffffffu));
}
