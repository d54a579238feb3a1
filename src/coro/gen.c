/* SPDX-License-Identifier: MIT */
/*
 * Generators: Python's send/throw/close protocol (PEP 342) and yield-from
 * delegation (PEP 380) over stackful coroutines.
 *
 * A resume (next, send, throw, close) stores what it brings in the generator
 * (`op` and `xfer`), switches to the generator's coroutine and, when the body
 * yields or finishes, reads what comes back (`rc` and `xfer`). The body's
 * pending tulip_yield() returns `op`: 0 for next/send, the error for throw,
 * TULIP_GENEXIT for close. Resumes nest: a body may resume another
 * generator, which is why each resume remembers the generator that was
 * running before it (`outer`) and restores it when control comes back.
 *
 * A finished generator gives its stack back at once, so exhausted
 * generators that are not freed yet hold no stack. Freed generator objects
 * are kept in a small per-thread cache for the next tulip_gen_new().
 */
#include "../prefix.h"
#include "coro.h"
#include "../hooks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct tulip_gen {
    struct tulip__coro co;       /* its coroutine; first, for the cache */
    tulip_gen_fn *fn;            /* the body */
    void *arg;                   /* its argument */
    struct tulip__coro *resumer; /* where a yield switches back to */
    tulip_gen *outer;            /* running generator before this resume */
    void *xfer;            /* value in (sent) and out (yielded, returned) */
    int op;                /* into the body: 0, an error, TULIP_GENEXIT */
    int rc;                /* out of it: 0 yielded, else the final code */
    unsigned char state;   /* enum tulip_gen_state */
    unsigned char closing; /* a close is being delivered */
    void *hook_data;       /* the upper layer's (tulip__gen_hooks) */
    tulip_gen *cache_next; /* link in the object cache */
};

static const struct tulip__gen_hooks *hooks; /* set once by the task layer */

void tulip__gen_set_hooks(const struct tulip__gen_hooks *h)
{
    hooks = h;
}

void **tulip__gen_hook_data(tulip_gen *g)
{
    return &g->hook_data;
}

/* The generator whose body runs on this thread (coro.h swaps it inline). */
TULIP_TLS tulip_gen *tulip__gen_cur;
#define cur_gen tulip__gen_cur
static TULIP_TLS tulip_gen *cache; /* freed objects for reuse */
static TULIP_TLS unsigned cache_len;

void tulip__gen_cache_trim(void)
{
    while (cache) {
        tulip_gen *g = cache;
        cache = g->cache_next;
        tulip__free(g, sizeof(*g));
    }
    cache_len = 0;
}

/* The body's coroutine: run it, hand back how it ended, leave for good. */
static void gen_entry(void *p)
{
    tulip_gen *g = p;
    void *ret = NULL;
    int rc = g->fn(g->arg, &ret);

    if (rc >= 0) {
        g->rc = TULIP_STOP;
        g->xfer = ret;
    } else {
        /* PEP 479, except while closing: tulip.h lets a closed body
         * return TULIP_STOP (often a sub-generator's code passed on) as a
         * clean finish, and tulip_gen_close() then returns 0. */
        g->rc = rc == TULIP_STOP && !g->closing ? TULIP_EBADSTOP : rc;
        g->xfer = NULL;
    }
    g->state = TULIP_GEN_CLOSED;
    g->co.exit_to = g->resumer; /* leave by returning: see coro_start() */
}

int tulip_gen_new_ex(tulip_gen **out, tulip_gen_fn *fn, void *arg,
                     const struct tulip_coro_opts *opts)
{
    size_t size;
    tulip_gen *g;
    int rc;

    if (!out || !fn)
        return -EINVAL;
    /* Without options, skip the rounding (and its pthread_once). */
    size = opts ? tulip__stack_round(opts->stack_size) : tulip_get_stack_size();
    if (size == 0)
        return -EINVAL;
    if (cache) {
        g = cache;
        cache = g->cache_next;
        cache_len--;
    } else {
        g = tulip__alloc(sizeof(*g));
        if (!g)
            return -ENOMEM;
    }
    rc = tulip__coro_init(&g->co, size, gen_entry, g);
    if (rc) {
        tulip__free(g, sizeof(*g));
        return rc;
    }
    if (opts && opts->name)
        tulip__coro_set_name(&g->co, opts->name);
    else
        g->co.name[0] = '\0';
    g->fn = fn;
    g->arg = arg;
    g->resumer = NULL;
    g->outer = NULL;
    g->xfer = NULL;
    g->op = 0;
    g->rc = 0;
    g->state = TULIP_GEN_CREATED;
    g->closing = 0;
    g->hook_data = NULL;
    *out = g;
    return 0;
}

int tulip_gen_new(tulip_gen **out, tulip_gen_fn *fn, void *arg)
{
    return tulip_gen_new_ex(out, fn, arg, NULL);
}

/* Run the body until it yields or finishes; returns 0 or its final code. */
static int gen_resume(tulip_gen *g, int op, void *value, void **out)
{
    g->op = op;
    g->xfer = value;
    g->outer = cur_gen;
    g->resumer = tulip__coro_current();
    g->state = TULIP_GEN_RUNNING;
    cur_gen = g;
    TULIP__HOOK(gen_begin, g);
    tulip__coro_switch(&g->co);
    TULIP__HOOK(gen_end, g);
    cur_gen = g->outer;
    if (g->state == TULIP_GEN_CLOSED)
        tulip__coro_release(&g->co);
    if (out)
        *out = g->xfer;
    return g->rc;
}

/* Finish a generator whose body never ran, or will not run again. */
static void gen_finish(tulip_gen *g)
{
    g->state = TULIP_GEN_CLOSED;
    g->rc = TULIP_STOP;
    g->xfer = NULL;
    tulip__coro_release(&g->co);
}

int tulip_gen_send(tulip_gen *g, void *value, void **out)
{
    if (out)
        *out = NULL;
    if (!g)
        return -EINVAL;
    switch (g->state) {
    case TULIP_GEN_RUNNING:
        return TULIP_ERUNNING;
    case TULIP_GEN_CLOSED:
        return TULIP_STOP; /* a second StopIteration carries None */
    case TULIP_GEN_CREATED:
        if (value)
            return TULIP_ENOTSTARTED;
        if (hooks)
            hooks->firstiter(g);
        break;
    default:
        break;
    }
    return gen_resume(g, 0, value, out);
}

int tulip_gen_next(tulip_gen *g, void **out)
{
    return tulip_gen_send(g, NULL, out);
}

int tulip_gen_throw(tulip_gen *g, int err, void **out)
{
    if (out)
        *out = NULL;
    if (!g || err >= 0)
        return -EINVAL;
    switch (g->state) {
    case TULIP_GEN_RUNNING:
        return TULIP_ERUNNING;
    case TULIP_GEN_CLOSED:
        return err;
    case TULIP_GEN_CREATED:
        /* Raised at the start, before any body code: it never runs. */
        gen_finish(g);
        return err;
    default:
        break;
    }
    return gen_resume(g, err, NULL, out);
}

int tulip_gen_close(tulip_gen *g)
{
    int rc;

    if (!g)
        return -EINVAL;
    switch (g->state) {
    case TULIP_GEN_RUNNING:
        return TULIP_ERUNNING;
    case TULIP_GEN_CLOSED:
        return 0;
    case TULIP_GEN_CREATED:
        gen_finish(g);
        return 0;
    default:
        break;
    }
    g->closing = 1;
    rc = gen_resume(g, TULIP_GENEXIT, NULL, NULL);
    g->closing = 0;
    if (rc == 0)
        return TULIP_EIGNORED; /* it yielded again */
    if (rc == TULIP_STOP || rc == TULIP_GENEXIT)
        return 0;
    return rc;
}

void tulip_gen_free(tulip_gen *g)
{
    if (!g)
        return;
    if (g->state == TULIP_GEN_RUNNING) {
        (void)fprintf(stderr,
                      "tulip: tulip_gen_free() of running generator '%s' "
                      "ignored\n",
                      g->co.name);
        return;
    }
    if (g->state == TULIP_GEN_SUSPENDED &&
        tulip_gen_close(g) == TULIP_EIGNORED) {
        (void)fprintf(stderr,
                      "tulip: generator '%s' ignored close; its stack is "
                      "abandoned\n",
                      g->co.name);
    }
    tulip__coro_release(&g->co);
    if (g->hook_data)
        hooks->finalize(g);
    /* Written as + 1 <= so that the stress build's TULIP_OBJ_CACHE of 0
     * does not make "unsigned < 0" there, which -Wextra rejects. */
    if (cache_len + 1 <= TULIP_OBJ_CACHE) {
        g->cache_next = cache;
        cache = g;
        cache_len++;
    } else {
        tulip__free(g, sizeof(*g));
    }
}

/* The generator whose body is the running coroutine, or NULL. */
static tulip_gen *running_body(void)
{
    tulip_gen *g = cur_gen;

    if (!g || tulip__coro_current() != &g->co)
        return NULL;
    return g;
}

int tulip_yield(void *value, void **sent)
{
    tulip_gen *g = running_body();

    if (sent)
        *sent = NULL;
    if (!g)
        return -EPERM;
    g->xfer = value;
    g->rc = 0;
    g->state = TULIP_GEN_SUSPENDED;
    tulip__coro_switch(g->resumer);
    if (sent && g->op == 0)
        *sent = g->xfer;
    return g->op;
}

int tulip_yield_from(tulip_gen *sub, void **ret)
{
    void *v, *sent;
    int rc, op;

    if (ret)
        *ret = NULL;
    if (!running_body())
        return -EPERM;
    if (!sub)
        return -EINVAL;
    rc = tulip_gen_next(sub, &v);
    while (rc == 0) {
        op = tulip_yield(v, &sent);
        if (op == TULIP_GENEXIT) {
            rc = tulip_gen_close(sub);
            return rc < 0 ? rc : TULIP_GENEXIT;
        }
        if (op < 0)
            rc = tulip_gen_throw(sub, op, &v);
        else
            rc = tulip_gen_send(sub, sent, &v);
    }
    if (rc == TULIP_STOP) {
        if (ret)
            *ret = v;
        return 0;
    }
    return rc;
}

int tulip_yield_from_fn(tulip_gen_fn *fn, void *arg, void **ret)
{
    tulip_gen *g = running_body();
    void *r = NULL;
    int rc;

    if (ret)
        *ret = NULL;
    if (!g)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    rc = fn(arg, &r);
    if (g->closing)
        return rc < 0 && rc != TULIP_STOP ? rc : TULIP_GENEXIT;
    if (rc == TULIP_STOP)
        return TULIP_EBADSTOP;
    if (rc < 0)
        return rc;
    if (ret)
        *ret = r;
    return 0;
}

enum tulip_gen_state tulip_gen_state(const tulip_gen *g)
{
    return (enum tulip_gen_state)g->state;
}

const char *tulip_gen_name(const tulip_gen *g)
{
    return g->co.name;
}

tulip_gen *tulip_gen_current(void)
{
    return cur_gen;
}
