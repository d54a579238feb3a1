/* SPDX-License-Identifier: MIT */
/*
 * The task dump: tulip_dump_tasks() prints every live task of a loop with
 * its name, state, what it waits on, the tasks that await it (Python
 * 3.14's `asyncio pstree` "awaited by"), and a backtrace of its suspended
 * stack. The backtrace walks the frame-pointer chain from the registers
 * that the context switch saved on the suspended stack (switch.S in
 * src/arch/: on x86_64 rbp is at sp + 40 and the return address at sp + 48;
 * on aarch64 x29 and x30 are at sp + 80 and sp + 88), staying within the
 * stack's bounds. The chain exists only in code built with
 * -fno-omit-frame-pointer: CMake adds it in Debug builds and with
 * -DTULIP_FRAME_POINTERS=ON (it then defines TULIP_FRAME_POINTERS=1);
 * without it only the suspension point itself is printed, since rbp may
 * hold anything. Addresses are symbolized
 * with dladdr: names need the symbols exported (-rdynamic) or the shared
 * library.
 *
 * On SIGQUIT (when enabled: tulip_dump_on_sigquit, or debug mode) the
 * dump of the loop last seen running goes to stderr. That is a debugging
 * aid in the spirit of faulthandler, not async-signal-safe: it prints while
 * the loop is stopped wherever the signal found it.
 */
#include "../prefix.h"
#include "diag.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MAX_FRAMES 16
#ifndef TULIP_FRAME_POINTERS
#define TULIP_FRAME_POINTERS 0
#endif

static const char *state_name(unsigned s)
{
    static const char *const names[] = {"new", "ready", "running", "waiting",
                                        "done"};
    return s < TULIP_ARRAY_SIZE(names) ? names[s] : "?";
}

static void print_addr(FILE *f, void *pc)
{
    Dl_info info;

    if (dladdr(pc, &info) && info.dli_sname)
        fprintf(f, "      %s+0x%lx\n", info.dli_sname,
                (unsigned long)((char *)pc - (char *)info.dli_saddr));
    else if (dladdr(pc, &info) && info.dli_fname)
        fprintf(f, "      %p (%s+0x%lx)\n", pc, info.dli_fname,
                (unsigned long)((char *)pc - (char *)info.dli_fbase));
    else
        fprintf(f, "      %p\n", pc);
}

static bool in_stack(const struct tulip__stack *s, const void *p, size_t n)
{
    const char *c = p;
    return s->lo && c >= s->lo && c + n <= s->lo + s->size;
}

/* Walk the frame chain of a suspended coroutine. */
static void print_stack(FILE *f, const struct tulip__coro *co)
{
    void **sp = co->ctx.sp;
    void **fp;
    void *pc;

    if (!sp || !in_stack(&co->stack, sp, 16 * sizeof(void *)))
        return;
#if defined(__x86_64__) && !defined(TULIP_ARCH_GENERIC)
    /* fp is read by the frame walk below, which only TULIP_FRAME_POINTERS
     * builds reach: */
    /* NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores) */
    fp = sp[5];
    pc = sp[6];
#elif defined(__aarch64__) && !defined(TULIP_ARCH_GENERIC)
    fp = sp[10];
    pc = sp[11];
#else
    (void)fp;
    (void)pc;
    fprintf(f, "      (no backtrace on this architecture)\n");
    return;
#endif
    print_addr(f, pc); /* where the switch returns: the suspension */
    if (!TULIP_FRAME_POINTERS)
        return;
    for (int i = 0; i < MAX_FRAMES; i++) {
        if (!in_stack(&co->stack, fp, 2 * sizeof(void *)))
            break;
        pc = fp[1];
        if (!pc)
            break;
        print_addr(f, pc);
        if ((void **)fp[0] <= fp)
            break; /* the chain only goes up the stack */
        fp = fp[0];
    }
}

static void print_wait(FILE *f, const struct tulip_task *t,
                       const struct tulip__tasks *ts)
{
    if (t->state != TULIP__TASK_WAITING)
        return;
    fputs("    waits on: ", f);
    if (t->waiter.queue) {
        const struct tulip_task *o;
        for (o = ts->all; o; o = o->all_next)
            if (t->waiter.queue == &o->done.waiters)
                break;
        if (o)
            fprintf(f, "task %s", o->co.name);
        else
            fprintf(f, "an object (wait queue %p)", (void *)t->waiter.queue);
    } else if (t->held) {
        fputs("several objects", f);
    } else {
        fputs("nothing but time", f);
    }
    if (tulip__timer_armed(&t->timer) &&
        t->timer.deadline_ns < TULIP_FOREVER / 2)
        fprintf(f, ", until %+.3f s",
                (double)(t->timer.deadline_ns - tulip__loop_now(t->loop)) /
                    1e9);
    if (t->cancelled)
        fputs(" (cancel requested)", f);
    fputc('\n', f);
}

static void print_awaited_by(FILE *f, const struct tulip_task *t,
                             const struct tulip__tasks *ts)
{
    bool any = false;

    for (const struct tulip__waiter *w = t->done.waiters.head; w; w = w->next) {
        fprintf(f, "%s%s", any ? ", " : "    awaited by: ", w->task->co.name);
        any = true;
    }
    (void)ts;
    if (any)
        fputc('\n', f);
}

int tulip_dump_tasks_of(tulip_loop *loop, FILE *f)
{
    struct tulip__tasks *ts;

    if (!loop || !f)
        return -EINVAL;
    ts = tulip__tasks_of(loop);
    if (!ts)
        return -ENOMEM;
    fprintf(f, "tulip: %zu task(s)\n", ts->count);
    for (struct tulip_task *t = ts->all; t; t = t->all_next) {
        fprintf(f, "  %s (#%llu) %s\n", t->co.name, t->id,
                state_name(t->state));
        print_wait(f, t, ts);
        print_awaited_by(f, t, ts);
        if (tulip__debug_on) {
            fputs("    spawned at:\n", f);
            tulip__debug_print_site(f, t);
        }
        if (t->state == TULIP__TASK_WAITING ||
            (t->state == TULIP__TASK_READY && t->wake != TULIP__WAKE_NONE)) {
            fputs("    stack:\n", f);
            print_stack(f, t->active);
        }
    }
    fflush(f);
    return 0;
}

int tulip_dump_tasks(FILE *f)
{
    tulip_loop *loop = tulip_loop_current();

    if (!loop)
        loop = tulip__debug_last_loop();
    return tulip_dump_tasks_of(loop, f);
}

static void on_sigquit(int sig)
{
    (void)sig;
    tulip_dump_tasks(stderr);
}

int tulip_dump_on_sigquit(bool on)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on ? on_sigquit : SIG_DFL;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGQUIT, &sa, NULL) ? -errno : 0;
}
