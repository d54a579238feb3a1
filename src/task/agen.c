/* SPDX-License-Identifier: MIT */
/*
 * Generators as asyncio's async generators.
 *
 * A generator resumed by a task runs during that task's step, so its body
 * may suspend the task (sleep, await, lock ...): the task then resumes the
 * generator's coroutine, not its own, on its next step (task.c keeps it in
 * `active`). Python's asend/athrow/aclose are tulip_gen_send/throw/close
 * called from a task.
 *
 * Like asyncio's asyncgen hooks, every generator first resumed inside a task
 * is registered with that task's loop, so that one abandoned before it
 * finished can be closed, its cleanup running, when the program shuts down:
 * tulip_shutdown_gens(), which tulip_run() calls after cancelling the tasks
 * that are left (asyncio's loop.shutdown_asyncgens()).
 */
#include "../prefix.h"
#include "task.h"

#include <errno.h>
#include <pthread.h>

struct tulip__agen {
    tulip_gen *gen;           /* the generator */
    struct tulip__tasks *ts;  /* the loop's task state */
    struct tulip__agen *prev; /* in ts->agens */
    struct tulip__agen *next;
};

static void agen_unlink(struct tulip__agen *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        n->ts->agens = n->next;
    if (n->next)
        n->next->prev = n->prev;
    *tulip__gen_hook_data(n->gen) = NULL;
    tulip__free(n, sizeof(*n));
}

static void agen_firstiter(tulip_gen *g)
{
    struct tulip_task *t = tulip__task_running();
    struct tulip__tasks *ts;
    struct tulip__agen *n;

    if (!t || *tulip__gen_hook_data(g))
        return;
    ts = tulip__tasks_of(t->loop);
    n = tulip__alloc(sizeof(*n));
    if (!ts || !n) {
        tulip__free(n, sizeof(*n));
        return; /* not registered: only its shutdown close is lost */
    }
    n->gen = g;
    n->ts = ts;
    n->prev = NULL;
    n->next = ts->agens;
    if (ts->agens)
        ts->agens->prev = n;
    ts->agens = n;
    *tulip__gen_hook_data(g) = n;
}

static void agen_finalize(tulip_gen *g)
{
    agen_unlink(*tulip__gen_hook_data(g));
}

static const struct tulip__gen_hooks agen_hooks = {
    agen_firstiter,
    agen_finalize,
};

static void agen_install(void)
{
    tulip__gen_set_hooks(&agen_hooks);
}

void tulip__agen_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, agen_install);
}

void tulip__agen_close_loop(struct tulip__tasks *ts)
{
    while (ts->agens)
        agen_unlink(ts->agens);
}

int tulip_shutdown_gens(void)
{
    struct tulip_task *t = tulip__task_running();
    struct tulip__tasks *ts;
    struct tulip_error_context ctx;
    tulip_gen *g;
    int rc;

    if (!t)
        return -EPERM;
    ts = tulip__tasks_of(t->loop);
    while (ts && ts->agens) {
        g = ts->agens->gen;
        agen_unlink(ts->agens);
        if (tulip_gen_state(g) != TULIP_GEN_SUSPENDED)
            continue;
        rc = tulip_gen_close(g);
        if (rc < 0) {
            ctx.message = "an error occurred while closing a generator";
            ctx.err = rc;
            ctx.source = "generator";
            ctx.object = g;
            tulip__loop_report(t->loop, &ctx);
        }
    }
    return 0;
}
