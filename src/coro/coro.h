/* SPDX-License-Identifier: MIT */
/*
 * The coroutine layer's internal interface: guarded pooled stacks
 * (stack.c), coroutines that switch between them with every switch
 * announced to ASan, TSan and Valgrind (coro.c), and generators (gen.c,
 * public API in tulip.h). Layers above embed a struct tulip__coro in their
 * own objects (a generator, a task) rather than allocating it apart.
 */
#ifndef TULIP_CORO_H
#define TULIP_CORO_H

#include "../arch/arch.h"

/* ---- stacks (stack.c) ---------------------------------------------------- */

/* A usable stack [lo, lo + size); the guard lies below lo. */
struct tulip__stack {
    char *lo;    /* lowest usable byte */
    size_t size; /* usable bytes, a multiple of the page size */
};

/* The size a request of `size` bytes gets (0: the default), or 0 if the
 * request is out of range. */
TULIP_PRIVATE size_t tulip__stack_round(size_t size);

/* Take a stack of exactly `size` bytes (already rounded) from the calling
 * thread's pool. Returns 0 or -ENOMEM. */
TULIP_PRIVATE int tulip__stack_get(size_t size, struct tulip__stack *st);

/* Give a stack back to the calling thread's pool. */
TULIP_PRIVATE void tulip__stack_put(struct tulip__stack *st);

/* The calling thread has nothing to run and is about to wait (the loop's
 * poll): give back the free stacks beyond the warm ones now rather than
 * after the decay time. */
TULIP_PRIVATE void tulip__stack_idle(void);

/* ---- coroutines (coro.c) ------------------------------------------------- */

#define TULIP_CORO_NAME_MAX 32

struct tulip__coro {
    struct tulip__ctx ctx;          /* registers while suspended */
    struct tulip__stack stack;      /* its own stack; lo is NULL for a thread */
    void (*entry)(void *);          /* body of the coroutine */
    void *arg;                      /* its argument */
    struct tulip__coro *exit_to;    /* where entry goes when it returns */
    char name[TULIP_CORO_NAME_MAX]; /* for messages; "" if none */
#if TULIP_HAVE_ASAN
    void *asan_fake;         /* ASan's fake stack across a switch */
    const void *asan_bottom; /* stack bounds, learned for a thread */
    size_t asan_size;
#endif
#if TULIP_HAVE_TSAN
    void *tsan_fiber; /* TSan's fiber of this coroutine */
#endif
#if TULIP_HAVE_VALGRIND
    unsigned vg_stack_id; /* Valgrind's id of the registered stack */
#endif
};

/*
 * Give co a stack of `size` bytes (rounded by tulip__stack_round) and make it
 * ready to run entry(arg) when first switched to. Returns 0, or -ENOMEM with
 * nothing held. The body finishes either by returning, after setting
 * co->exit_to (init sets it to NULL; returning with NULL is a fatal error),
 * or by calling tulip__coro_exit(); returning is the cheaper way.
 */
TULIP_PRIVATE int tulip__coro_init(struct tulip__coro *co, size_t size,
                                   void (*entry)(void *), void *arg);

/*
 * The same with a stack already taken (tulip__stack_get), whose top
 * `reserve` bytes (a multiple of 16) are left to the caller: the frames
 * start below them, and tulip__coro_release() gives back the whole stack.
 * The caller may keep its own object there (a task lives at the top of its
 * stack). Cannot fail.
 */
TULIP_PRIVATE void tulip__coro_init_on(struct tulip__coro *co,
                                       const struct tulip__stack *st,
                                       size_t reserve, void (*entry)(void *),
                                       void *arg);

/* Give co's stack back to the pool. co must not be running; it may be
 * suspended (its frames are then abandoned) or finished. */
TULIP_PRIVATE void tulip__coro_release(struct tulip__coro *co);

/* The running coroutine and the thread's own context (coro.c). */
TULIP_PRIVATE extern TULIP_TLS struct tulip__coro *tulip__coro_cur;
TULIP_PRIVATE extern TULIP_TLS struct tulip__coro tulip__coro_thread;

/* The running coroutine, or the calling thread's own context. Inline: every
 * resume, yield and task step asks. */
static inline struct tulip__coro *tulip__coro_current(void)
{
    struct tulip__coro *c = tulip__coro_cur;

    return c ? c : &tulip__coro_thread;
}

/* Switch from the running coroutine (or thread) to `to`. Inline, one call to
 * the assembly switch, unless the sanitizers must hear of it. */
#if TULIP_HAVE_ASAN || TULIP_HAVE_TSAN
TULIP_PRIVATE void tulip__coro_switch(struct tulip__coro *to);
#else
static inline void tulip__coro_switch(struct tulip__coro *to)
{
    struct tulip__coro *from = tulip__coro_current();

    tulip__coro_cur = to;
    tulip__ctx_switch(&from->ctx, &to->ctx);
}
#endif /* TULIP_HAVE_ASAN || TULIP_HAVE_TSAN */

/* The running coroutine has finished: switch to `to` for good. Its stack may
 * be released once `to` runs. */
TULIP_PRIVATE _Noreturn void tulip__coro_exit(struct tulip__coro *to);

/* Copy a name into co->name (truncated); NULL gives "". */
TULIP_PRIVATE void tulip__coro_set_name(struct tulip__coro *co,
                                        const char *name);

/* ---- generators seen from above (gen.c) ---------------------------------- */

/* Set the running generator of this thread (the one tulip_yield() acts on)
 * and return the previous one. A task that suspends inside a generator body
 * keeps its generator and restores it when it resumes. */
TULIP_PRIVATE extern TULIP_TLS tulip_gen *tulip__gen_cur;
static inline tulip_gen *tulip__gen_swap_current(tulip_gen *g)
{
    tulip_gen *old = tulip__gen_cur;

    tulip__gen_cur = g;
    return old;
}

/* Hooks of the layer above, set once (asyncio's asyncgen hooks): firstiter
 * runs at a generator's first resume, finalize when a generator whose
 * hook_data is set is freed. */
struct tulip__gen_hooks {
    void (*firstiter)(tulip_gen *g);
    void (*finalize)(tulip_gen *g);
};
TULIP_PRIVATE void tulip__gen_set_hooks(const struct tulip__gen_hooks *h);
TULIP_PRIVATE void **tulip__gen_hook_data(tulip_gen *g);

/* Drop the generator object cache of the calling thread (gen.c). */
TULIP_PRIVATE void tulip__gen_cache_trim(void);

#endif /* TULIP_CORO_H */
