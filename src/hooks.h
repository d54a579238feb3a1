/* SPDX-License-Identifier: MIT */
/*
 * Hook points for the diagnostics layer (src/diag/): tracing, debug mode,
 * the task dump. The loop, task and generator layers call these at the few
 * places where a step starts and ends, a wait begins and ends, a task is
 * spawned, cancelled or freed, and a pass runs its batch. Lower layers may
 * not include diag headers, so the hooks are a table of plain functions
 * behind one pointer: NULL (the default) costs one predicted branch per hook
 * point; src/diag/trace.c sets it when TULIP_TRACE or TULIP_DEBUG is on.
 * Arguments are untyped so that this header sits below every layer.
 */
#ifndef TULIP_HOOKS_H
#define TULIP_HOOKS_H

#include "internal.h"

struct tulip__hooks {
    void (*step_begin)(void *task);        /* a task's step switches in */
    void (*step_end)(void *task);          /* ...and is back */
    void (*suspend)(void *task);           /* a wait begins */
    void (*wake)(void *task, int why);     /* it ends (TULIP__WAKE_*) */
    void (*yield)(void *task);             /* sleep(0): back in the queue */
    void (*spawn)(void *task, void *site); /* site: the caller's address */
    void (*cancel)(void *task);            /* cancel requested */
    void (*release)(void *task);           /* last reference dropped */
    void (*gen_begin)(void *gen);          /* a generator resumes */
    void (*gen_end)(void *gen);            /* ...and yields or returns */
    void (*io)(void *loop, int fd, unsigned revents); /* fd ready */
    void (*pass)(void *loop, void *ready_head,
                 size_t more); /* batch starts: ready list, io + timers */
    void (*loop_debug)(void *loop, bool on); /* opts.debug: new, closed */
    void (*check_thread)(void *loop, const char *what); /* loop API used */
};

/* The installed hooks, or NULL. */
TULIP_PRIVATE extern const struct tulip__hooks *tulip__hooks_on;

/* The diagnostics layer's full table, for the calls that must reach it
 * while no hooks are installed (a loop created with opts.debug). */
TULIP_PRIVATE extern const struct tulip__hooks *const tulip__hooks_table;

#define TULIP__HOOK(name, ...)                                                 \
    do {                                                                       \
        const struct tulip__hooks *h_ = tulip__hooks_on;                       \
        if (tulip__unlikely(h_ != NULL) && h_->name)                           \
            h_->name(__VA_ARGS__);                                             \
    } while (0)

#endif /* TULIP_HOOKS_H */
