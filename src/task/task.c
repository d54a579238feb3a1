/* SPDX-License-Identifier: MIT */
/*
 * Tasks: int fn(void *arg) on a coroutine, stepped by the loop.
 *
 * A step is a ready-queue entry embedded in the task: the loop calls it, it
 * switches to the task's coroutine, and the task runs until it suspends
 * (switches back) or returns. A task waits in tulip__task_suspend(), with
 * its waiter node in some wait queue and its timer armed at the nearest
 * deadline that applies (its own, or a scope's); whatever wakes it pushes
 * its step again, so it resumes on the next pass, as asyncio's __wakeup
 * does. Cancellation sets a flag that every suspending call checks first
 * (level-triggered) and wakes a waiting task whose wait is not shielded.
 *
 * Life and references: spawning gives one reference to the loop, held until
 * the task finishes, and one to the caller if it asked for it. The object
 * lives at the top of the task's own stack (see TASK_SLOT), so both go
 * back to the stack pool together, when the last reference goes. See the
 * ownership note in tulip.h.
 */
#include "../prefix.h"
#include "task.h"
#include "../hooks.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The task object lives in the top bytes of its own stack, and the frames
 * start below it. With many tasks alive, a step's cost is its cache and TLB
 * misses: object and frames then share one page (one TLB entry, one page
 * walk, neighbouring lines), spawning takes no heap memory, and a burst of
 * a million tasks no longer makes the heap grow and shrink back (glibc
 * gave the objects' pages back to the kernel when they were freed, and the
 * next burst faulted them in again). The stack pool's warm ring is the
 * object cache. The price: a finished task keeps its stack page until its
 * last reference goes.
 */
#define TASK_SLOT ((sizeof(struct tulip_task) + 63) & ~(size_t)63)

TULIP_TLS struct tulip_task *tulip__task_cur;
#define cur_task tulip__task_cur

/* Unfinished tasks of this thread's loops, for task_prefetch(). */
static TULIP_TLS size_t live_tasks;
/* Below this many, the objects and stack tops of all of them fit in the
 * caches and the TLB (about 1 KiB and one page each): no prefetch. The
 * stress build prefetches from 2, so that the suite walks the cursor. */
#define PREFETCH_MIN_TASKS (TULIP_STRESS ? 2u : 1024u)

struct tasks_state {
    struct tulip__tasks pub;        /* what other files of the layer see */
    unsigned long long name_id;     /* the id that name spells */
    char name[TULIP_CORO_NAME_MAX]; /* "Task-<name_id>" */
};

static int tasks_close_hook(tulip_loop *loop);

struct tulip__tasks *tulip__tasks_of(tulip_loop *loop)
{
    void **slot = tulip__loop_upper(loop);
    struct tasks_state *ts = *slot;

    if (tulip__likely(ts != NULL))
        return &ts->pub;
    ts = tulip__calloc(sizeof(*ts));
    if (!ts)
        return NULL;
    tulip__agen_init();
    *slot = ts;
    tulip__loop_set_close_hook(loop, tasks_close_hook);
    return &ts->pub;
}

tulip_task *tulip_task_current(void)
{
    return cur_task;
}

/* ---- references and destruction ------------------------------------------ */

static void task_free(struct tulip_task *t)
{
    tulip__done_drop(&t->done);
    /* The object goes with its stack: nothing may touch t after this. */
    tulip__coro_release(&t->co);
}

static void report(struct tulip_task *t, const char *what, int err)
{
    char msg[96];
    struct tulip_error_context ctx;

    (void)snprintf(msg, sizeof(msg), "%s: %s", what, t->co.name); /* cut */
    ctx.message = msg;
    ctx.err = err;
    ctx.source = "task";
    ctx.object = t;
    if (t->loop)
        tulip__loop_report(t->loop, &ctx);
    else
        fprintf(stderr, "tulip: %s (%s)\n", msg, tulip_strerror(err));
}

tulip_task *tulip_task_retain(tulip_task *t)
{
    if (t)
        t->refs++;
    return t;
}

void tulip_task_release(tulip_task *t)
{
    if (!t || --t->refs > 0)
        return;
    if (t->result < 0 && t->result != -ECANCELED && !t->retrieved)
        report(t, "Task exception was never retrieved", t->result);
    TULIP__HOOK(release, t);
    task_free(t);
}

/* ---- stepping -------------------------------------------------------------
 */

static void task_entry(void *p)
{
    struct tulip_task *t = p;

    t->result = t->fn(t->arg);
    t->state = TULIP__TASK_DONE;
    tulip__coro_exit(t->resumer);
}

static void tasks_unlink(struct tulip_task *t)
{
    struct tulip__tasks *ts = tulip__tasks_of(t->loop);

    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        ts->all = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    t->all_prev = t->all_next = NULL;
    ts->count--;
    live_tasks--;
}

static void task_ops_retain(void *t)
{
    tulip_task_retain(t);
}

static void task_ops_release(void *t)
{
    tulip_task_release(t);
}

static void task_ops_call(void *t, tulip__fn *fn, void *arg)
{
    ((tulip_task_cb *)fn)(t, arg);
}

static const struct tulip__done_ops task_done_ops = {
    task_ops_retain,
    task_ops_release,
    task_ops_call,
};

/* The task has returned (or was cancelled before it started). Its stack,
 * which holds the object, goes back when the last reference goes. */
static void task_finished(struct tulip_task *t)
{
    t->state = TULIP__TASK_DONE;
    if (t->ctx)
        tulip__context_task_done(t);
    tasks_unlink(t);
    if (t->groups) {
        /* It returned without waiting for its groups: misuse. Their
         * children run on, ungrouped. */
        report(t, "Task returned with a task group still open", -EPERM);
        tulip__group_destroy_all(t);
    }
    if (t->group)
        tulip__group_child_done(t);
    tulip__done_fire(&t->done, t->loop, NULL, t->result);
    /* tulip_loop_run_until() waits for this task: its loop run ends with
     * this pass. */
    if (tulip__tasks_of(t->loop)->until == t)
        tulip_loop_stop(t->loop);
    tulip_task_release(t); /* the loop's reference */
}

/*
 * Run a step of t: switch to it until it suspends or returns. batched: the
 * step is an entry of the loop's pass (else an eager spawn runs it). A
 * batched step may hand the CPU straight on to the next batched step
 * (task_leave), so the task that switches back here at last is not always
 * t: it is the one whose step ended, and cur_task says which.
 */
static void task_run_step(struct tulip_task *t, unsigned char batched)
{
    struct tulip_task *prev_cur;
    tulip_gen *prev_gen;

    if (t->state == TULIP__TASK_NEW && t->cancelled) {
        /* Cancelled before its first step: the body never runs. */
        t->result = -ECANCELED;
        task_finished(t);
        return;
    }
    prev_cur = cur_task;
    cur_task = t;
    t->resumer = tulip__coro_current();
    t->state = TULIP__TASK_RUNNING;
    t->batched = batched;
    prev_gen = tulip__gen_swap_current(t->gen);
    TULIP__HOOK(step_begin, t);
    tulip__coro_switch(t->active);
    t = cur_task;
    TULIP__HOOK(step_end, t);
    t->gen = tulip__gen_swap_current(prev_gen);
    cur_task = prev_cur;
    if (t->state == TULIP__TASK_DONE)
        task_finished(t);
}

static void task_step_cb(struct tulip__cb *cb);

/*
 * A step of the pass is starting: fetch the object and frames of the task
 * whose step comes a few entries later (tulip__loop_batch_ahead). With
 * many tasks alive, each step otherwise waits on the cache and TLB misses
 * of its object and its stack top, untouched since the task's last step;
 * fetched early, those misses overlap the steps in between (a million
 * spawn+await: the two passes of steps took half the time). One entry
 * ahead was too close to hide them. Object and frames lie together at the
 * top of the stack, the frames of a suspended task a few lines below the
 * object, so nothing of that task needs reading to find them.
 */
static __attribute__((noinline)) void task_prefetch_ahead(tulip_loop *loop)
{
    struct tulip__cb *cb = tulip__loop_batch_ahead(loop);
    const char *obj;

    if (!cb || cb->fn != task_step_cb)
        return;
    obj = (const char *)tulip__container_of(cb, struct tulip_task, step);
    for (size_t off = 0; off < TASK_SLOT; off += 64)
        __builtin_prefetch(obj + off, 1);
    for (size_t off = 64; off <= 256; off += 64)
        __builtin_prefetch(obj - off, 1);
}

/* Out of line, so that the switches of a few tasks pay only the test. */
static inline void task_prefetch(tulip_loop *loop)
{
    if (tulip__unlikely(live_tasks >= PREFETCH_MIN_TASKS))
        task_prefetch_ahead(loop);
}

static void task_step_cb(struct tulip__cb *cb)
{
    struct tulip_task *t = tulip__container_of(cb, struct tulip_task, step);

    task_prefetch(t->loop);
    task_run_step(t, 1);
}

/*
 * The running task t ends its step (its state says why: waiting, or ready
 * again after sleep(0)). When the step came from the loop's pass and the
 * pass would run another task's step next, switch straight to that task,
 * doing here what task_run_step would do between the two: one switch
 * instead of two and no trip through the loop. When the next step is t's
 * own (sleep(0) with nobody else ready), t just goes on.
 */
static void task_leave(struct tulip_task *t)
{
    struct tulip__cb *cb;
    struct tulip_task *u;

    if (!t->batched || (cb = tulip__loop_batch_next(t->loop)) == NULL ||
        cb->fn != task_step_cb)
        goto via_loop;
    u = tulip__container_of(cb, struct tulip_task, step);
    if (u->state == TULIP__TASK_NEW && u->cancelled)
        goto via_loop; /* finishes without running: the loop's job */
    tulip__loop_batch_take(t->loop, cb);
    TULIP__HOOK(step_end, t);
    u->state = TULIP__TASK_RUNNING;
    if (u == t) {
        TULIP__HOOK(step_begin, t);
        return;
    }
    t->gen = tulip__gen_swap_current(u->gen);
    u->resumer = t->resumer;
    u->batched = 1;
    task_prefetch(t->loop);
    cur_task = u;
    TULIP__HOOK(step_begin, u);
    tulip__coro_switch(u->active);
    return;
via_loop:
    tulip__coro_switch(t->resumer);
}

static void task_timer_cb(struct tulip__timer *tm)
{
    tulip__task_wake(tulip__container_of(tm, struct tulip_task, timer),
                     TULIP__WAKE_TIMER);
}

void tulip__task_wake(struct tulip_task *t, int why)
{
    if (t->state != TULIP__TASK_WAITING)
        return; /* already woken in this pass: the first wake counts */
    t->wake = (unsigned char)why;
    t->state = TULIP__TASK_READY;
    TULIP__HOOK(wake, t, why);
    /* A waiter woken by a timer or a cancel leaves its queue now, so that
     * the object cannot hand anything to it any more. */
    tulip__waitq_remove(&t->waiter);
    tulip__loop_timer_stop(t->loop, &t->timer);
    tulip__loop_ready_push(t->loop, &t->step);
}

void tulip__task_wake_waiter(struct tulip__waiter *w, void *value, int code)
{
    struct tulip_task *t = w->task;

    tulip__waitq_remove(w);
    if (t->state != TULIP__TASK_WAITING)
        return;
    t->wake_value = value;
    t->wake_code = code;
    tulip__task_wake(t, TULIP__WAKE_OBJECT);
}

int tulip__task_suspend(struct tulip_task *t, int64_t deadline_ns)
{
    int shield_depth = 0;
    int64_t d = tulip__likely(t->scopes == NULL)
                    ? TULIP_FOREVER
                    : tulip__scope_deadline(t, &shield_depth);
    int rc;

    if (deadline_ns < d)
        d = deadline_ns;
    t->shield_depth = shield_depth;
    if (d != TULIP_FOREVER &&
        tulip__loop_timer_start(t->loop, &t->timer, d) != 0) {
        tulip__waitq_remove(&t->waiter);
        return -ENOMEM;
    }
    t->wake = TULIP__WAKE_NONE;
    t->state = TULIP__TASK_WAITING;
    t->active = tulip__coro_current();
    TULIP__HOOK(suspend, t);
    task_leave(t);
    /* Resumed by a step: whoever woke us left the reason in t->wake. */
    if (t->wake == TULIP__WAKE_OBJECT)
        return 0;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    if (deadline_ns != TULIP_FOREVER && tulip__loop_now(t->loop) >= deadline_ns)
        return TULIP__DEADLINE;
    /* The timer fires only at or after the nearest deadline, and a cancel
     * wakes only an unshielded wait, so this is not reached. */
    assert(0);
    return -ETIMEDOUT;
}

/* ---- spawning -------------------------------------------------------------
 */

static char *put_u64(char *p, unsigned long long v)
{
    char buf[24];
    int n = 0;

    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = buf[--n];
    *p = '\0';
    return p;
}

/* Spell "Task-<id>" into dst. Ids come in order, so the last name is
 * counted up in decimal (formatting each anew cost a third of a spawn's
 * instructions, in its divisions by ten). */
static void default_name(struct tasks_state *ts, char *dst,
                         unsigned long long id)
{
    char *p;

    if (ts->name_id + 1 != id || ts->name_id == 0) {
        memcpy(ts->name, "Task-", 5);
        put_u64(ts->name + 5, id);
    } else {
        p = ts->name + 5 + strlen(ts->name + 5);
        while (p > ts->name + 5 && p[-1] == '9')
            *--p = '0';
        if (p > ts->name + 5) {
            p[-1]++;
        } else { /* all nines: one digit more */
            memmove(ts->name + 6, ts->name + 5, strlen(ts->name + 5) + 1);
            ts->name[5] = '1';
        }
    }
    ts->name_id = id;
    memcpy(dst, ts->name, TULIP_CORO_NAME_MAX);
}

int tulip__task_spawn(tulip_task **out, tulip_loop *loop, tulip_task_fn *fn,
                      void *arg, const struct tulip_task_opts *opts,
                      struct tulip_group *g)
{
    struct tulip__tasks *ts;
    struct tulip_task *t;
    struct tulip__stack st;
    size_t size;
    int rc;

    if (out)
        *out = NULL;
    if (!loop) /* asyncio.create_task: the running loop */
        loop = cur_task ? cur_task->loop : tulip_loop_current();
    if (!loop || !fn)
        return -EINVAL;
    size = tulip__stack_round(opts ? opts->stack_size : 0);
    if (size == 0)
        return -EINVAL;
    ts = tulip__tasks_of(loop);
    if (!ts)
        return -ENOMEM;
    rc = tulip__stack_get(size, &st);
    if (rc)
        return rc;
    t = (struct tulip_task *)(st.lo + st.size - TASK_SLOT);
    t->ctx = 0;
    if (tulip__unlikely(tulip__context_active()) &&
        tulip__context_inherit(t, loop) < 0) {
        tulip__stack_put(&st);
        return -ENOMEM;
    }
    tulip__coro_init_on(&t->co, &st, TASK_SLOT, task_entry, t);
    t->step.fn = task_step_cb;
    tulip__timer_init(&t->timer, task_timer_cb);
    t->waiter.prev = t->waiter.next = NULL;
    t->waiter.queue = NULL;
    t->waiter.task = t;
    tulip__done_init(&t->done);
    t->loop = loop;
    t->fn = fn;
    t->arg = arg;
    t->resumer = NULL;
    t->active = &t->co;
    t->gen = NULL;
    t->scopes = NULL;
    t->scope_depth = 0;
    t->outer_shield_depth = 0;
    t->shield_depth = 0;
    t->groups = NULL;
    t->group = NULL;
    t->group_next = t->group_prev = NULL;
    t->wake_value = NULL;
    t->wake_code = 0;
    t->result = 0;
    t->refs = out ? 2u : 1u;
    t->id = ++ts->next_id;
    t->state = TULIP__TASK_NEW;
    t->wake = TULIP__WAKE_NONE;
    t->cancelled = 0;
    t->retrieved = 0;
    t->batched = 0;
    t->held = NULL;
    t->wait_ref = NULL;
    if (opts && opts->name) {
        tulip__coro_set_name(&t->co, opts->name);
    } else {
        default_name(*tulip__loop_upper(loop), t->co.name, t->id);
    }
    t->all_prev = NULL;
    t->all_next = ts->all;
    if (ts->all)
        ts->all->all_prev = t;
    ts->all = t;
    ts->count++;
    live_tasks++;
    if (g)
        tulip__group_link(g, t);
    if (out)
        *out = t;
    TULIP__HOOK(spawn, t, __builtin_return_address(0));
    if (opts && opts->eager) {
        task_run_step(t, 0);
    } else {
        /* It stays TULIP__TASK_NEW while its first step waits in the ready
         * queue, so that task_run_step() sees a cancel that came before the
         * start and never runs the body (marking it READY here lost that). */
        tulip__loop_ready_push(loop, &t->step);
    }
    return 0;
}

int tulip_spawn_ex(tulip_task **out, tulip_loop *loop, tulip_task_fn *fn,
                   void *arg, const struct tulip_task_opts *opts)
{
    return tulip__task_spawn(out, loop, fn, arg, opts, NULL);
}

int tulip_spawn(tulip_task **out, tulip_loop *loop, tulip_task_fn *fn,
                void *arg)
{
    return tulip_spawn_ex(out, loop, fn, arg, NULL);
}

/* ---- cancellation and introspection -------------------------------------- */

int tulip_task_cancel(tulip_task *t)
{
    if (!t)
        return -EINVAL;
    if (t->state == TULIP__TASK_DONE)
        return -EALREADY;
    t->cancelled = 1;
    TULIP__HOOK(cancel, t);
    if (t->state == TULIP__TASK_WAITING && t->shield_depth == 0)
        tulip__task_wake(t, TULIP__WAKE_CANCEL);
    tulip__group_parent_cancelled(t);
    return 0;
}

bool tulip_task_done(const tulip_task *t)
{
    return t->state == TULIP__TASK_DONE;
}

bool tulip_task_cancelling(const tulip_task *t)
{
    return t->cancelled != 0;
}

const char *tulip_task_name(const tulip_task *t)
{
    return t->co.name;
}

tulip_loop *tulip_task_loop(const tulip_task *t)
{
    return t->loop;
}

int tulip_task_result(tulip_task *t, int *result)
{
    if (!t || !result)
        return -EINVAL;
    if (t->state != TULIP__TASK_DONE)
        return -EAGAIN;
    t->retrieved = 1;
    *result = t->result;
    return 0;
}

int tulip_task_add_done_callback(tulip_task *t, tulip_task_cb *fn, void *arg)
{
    if (!t || !fn || !t->loop)
        return -EINVAL;
    return tulip__done_add(&t->done, t->loop, &task_done_ops, t,
                           (tulip__fn *)fn, arg);
}

int tulip_loop_tasks(tulip_loop *loop, tulip_task **tasks, size_t cap)
{
    struct tulip__tasks *ts;
    struct tulip_task *t;
    size_t n = 0;

    if (!loop || (cap && !tasks))
        return -EINVAL;
    ts = tulip__tasks_of(loop);
    if (!ts)
        return 0;
    for (t = ts->all; t; t = t->all_next, n++)
        if (n < cap)
            tasks[n] = t;
    return (int)n;
}

/* ---- joining and sleeping -------------------------------------------------
 */

int tulip_task_join_until(tulip_task *target, int64_t deadline_ns, int *result)
{
    struct tulip_task *t = tulip__task_running();
    int rc = 0;

    if (!target)
        return -EINVAL;
    if (!t || target->loop != t->loop)
        return -EPERM;
    if (target == t)
        return -EDEADLK;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    if (target->state != TULIP__TASK_DONE) {
        /* Held in t->wait_ref, which a destroy at loop close releases. */
        t->wait_ref = tulip_task_retain(target);
        tulip__waitq_push(&target->done.waiters, &t->waiter);
        rc = tulip__task_suspend(t, deadline_ns);
        t->wait_ref = NULL;
        tulip_task_release(target);
        if (rc == TULIP__DEADLINE)
            return -ETIMEDOUT;
        if (rc)
            return rc;
    }
    target->retrieved = 1;
    if (result)
        *result = target->result;
    return 0;
}

int tulip_task_join(tulip_task *t, int *result)
{
    return tulip_task_join_until(t, TULIP_FOREVER, result);
}

int tulip_sleep_until(int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    rc = tulip__task_suspend(t, deadline_ns);
    return rc == TULIP__DEADLINE ? 0 : rc;
}

int tulip_sleep(int64_t delay_ns)
{
    struct tulip_task *t = tulip__task_running();
    int64_t now;

    if (!t)
        return -EPERM;
    if (delay_ns > 0) {
        now = tulip__loop_now(t->loop);
        return tulip_sleep_until(tulip__deadline_after(now, delay_ns));
    }
    /* sleep(0) yields the turn: back in the ready queue, behind what is
     * there (asyncio's bare yield). It yields even when cancelled, so that
     * a task looping on it cannot starve the loop. */
    t->state = TULIP__TASK_READY;
    tulip__loop_ready_push(t->loop, &t->step);
    t->active = tulip__coro_current();
    TULIP__HOOK(yield, t);
    task_leave(t);
    return tulip__task_check(t);
}

/* Whether the stress build yields at every suspension point: only with
 * TULIP_STRESS_YIELD=1, because the suite (and asyncio) assert that fast
 * paths do not yield (awaiting a done future, a free lock...). -1: unread. */
static atomic_int stress_yield = -1;

void tulip__task_stress_yield(struct tulip_task *t)
{
    int on = atomic_load_explicit(&stress_yield, memory_order_relaxed);

    if (on < 0) {
        const char *e = getenv("TULIP_STRESS_YIELD");
        on = e && strcmp(e, "1") == 0;
        atomic_store_explicit(&stress_yield, on, memory_order_relaxed);
    }
    if (!on || t != cur_task)
        return; /* off, or a check on another task's behalf */
    t->state = TULIP__TASK_READY;
    tulip__loop_ready_push(t->loop, &t->step);
    t->active = tulip__coro_current();
    TULIP__HOOK(yield, t);
    task_leave(t);
}

int64_t tulip_now(void)
{
    struct tulip_task *t = cur_task;
    tulip_loop *loop = t ? t->loop : tulip_loop_current();

    struct timespec ts;

    if (loop)
        return tulip__loop_now(loop);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * TULIP_SEC + ts.tv_nsec;
}

/* ---- memory held across waits ------------------------------------------- */

void *tulip__task_hold(struct tulip_task *t, size_t n, size_t extra)
{
    size_t bytes =
        sizeof(struct tulip__held) + n * sizeof(struct tulip__waiter) + extra;
    struct tulip__held *h = tulip__calloc(bytes);

    if (!h)
        return NULL;
    h->bytes = bytes;
    h->n = n;
    h->next = t->held;
    if (h->next)
        h->next->pprev = &h->next;
    h->pprev = &t->held;
    t->held = h;
    return h + 1;
}

void tulip__task_unhold(void *block)
{
    struct tulip__held *h;
    struct tulip__waiter *nodes = block;
    size_t i;

    if (!block)
        return;
    h = (struct tulip__held *)block - 1;
    for (i = 0; i < h->n; i++)
        tulip__waitq_remove(&nodes[i]);
    *h->pprev = h->next;
    if (h->next)
        h->next->pprev = h->pprev;
    tulip__free(h, h->bytes);
}

/* ---- closing the loop -----------------------------------------------------
 */

/* Free a task that will never run again, without running it. */
static void task_destroy(struct tulip_task *t)
{
    report(t, "Task was destroyed but it is pending", 0);
    /* What its wait holds lives on the heap, pointed to from its abandoned
     * stack only: give it back (a pending gather, wait, as_completed or
     * join leaked it before). */
    while (t->held)
        tulip__task_unhold(t->held + 1);
    if (t->wait_ref) {
        tulip_task_release(t->wait_ref);
        t->wait_ref = NULL;
    }
    tulip__waitq_remove(&t->waiter);
    tulip__loop_timer_stop(t->loop, &t->timer);
    /* Its frames are abandoned; the stack, which holds the object, goes
     * with the last reference. */
    if (t->ctx)
        tulip__context_task_done(t);
    t->state = TULIP__TASK_DONE;
    t->result = -ECANCELED;
    tulip__done_drop(&t->done);
    while (t->done.waiters.head)
        tulip__waitq_remove(t->done.waiters.head);
    tasks_unlink(t);
    t->loop = NULL;
    tulip_task_release(t); /* the loop's reference */
}

static int tasks_close_hook(tulip_loop *loop)
{
    struct tasks_state *ts = *tulip__loop_upper(loop);
    struct tulip__cb *cb, *next;
    struct tulip_task *t;

    if (!ts)
        return 0;
    /* Reclaim our entries of the ready queue: steps of tasks destroyed
     * below, and done-callbacks, which are dropped without running as
     * asyncio's close() drops callbacks. The loop discards the rest. */
    for (cb = tulip__loop_ready_take(loop); cb; cb = next) {
        next = cb->next;
        if (cb->fn != task_step_cb && !tulip__done_discard(cb))
            tulip__loop_ready_push(loop, cb);
    }
    /* Children first forget their groups, then every task goes. */
    for (t = ts->pub.all; t; t = t->all_next)
        tulip__group_destroy_all(t);
    while (ts->pub.all)
        task_destroy(ts->pub.all);
    tulip__agen_close_loop(&ts->pub);
    if (ts->pub.io_close)
        ts->pub.io_close(loop);
    tulip__context_loop_close(&ts->pub);
    *tulip__loop_upper(loop) = NULL;
    tulip__free(ts, sizeof(*ts));
    return 0;
}
