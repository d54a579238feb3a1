/* SPDX-License-Identifier: MIT */
/*
 * Coroutines: a context plus a pooled stack, and the switch between them.
 *
 * Every switch is announced to the tools that track stacks: ASan (fake
 * stacks and stack bounds, __sanitizer_start/finish_switch_fiber), TSan
 * (__tsan_switch_to_fiber) and Valgrind (VALGRIND_STACK_REGISTER). Without
 * them ASan reports false positives as soon as a coroutine returns through a
 * frame it did not enter on the thread stack.
 *
 * A stack overflow runs into the guard below the stack and faults. A
 * SIGSEGV handler, on an alternate signal stack (the faulting stack has no
 * room left), recognises a fault in the running coroutine's guard, prints
 * which coroutine overflowed and its stack size, and aborts. Any other fault
 * goes to the handler that was installed before, or kills the process as it
 * would have without us.
 */
#include "../prefix.h"
#include "coro.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if TULIP_HAVE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if TULIP_HAVE_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if TULIP_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define ALTSTACK_SIZE ((size_t)64 * 1024)

/* The running coroutine (NULL: the thread itself) and the thread's own
 * context; read inline by tulip__coro_current() (coro.h). */
TULIP_TLS struct tulip__coro *tulip__coro_cur;
TULIP_TLS struct tulip__coro tulip__coro_thread;
#define cur tulip__coro_cur
#define thread_self tulip__coro_thread
static TULIP_TLS int thread_ready; /* altstack installed */
#if TULIP_HAVE_ASAN
static TULIP_TLS struct tulip__coro *asan_from; /* who switched to us */
#endif

static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static struct sigaction old_segv;

void tulip__coro_set_name(struct tulip__coro *co, const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n >= sizeof(co->name))
        n = sizeof(co->name) - 1;
    memcpy(co->name, name ? name : "", n);
    co->name[n] = '\0';
}

/* ---- tool annotations ---------------------------------------------------- */

#if TULIP_HAVE_ASAN
static void asan_start(struct tulip__coro *from, struct tulip__coro *to,
                       int exiting)
{
    const void *bottom =
        to->stack.lo ? (const void *)to->stack.lo : to->asan_bottom;
    size_t size = to->stack.lo ? to->stack.size : to->asan_size;

    asan_from = from;
    __sanitizer_start_switch_fiber(exiting ? NULL : &from->asan_fake, bottom,
                                   size);
}

static void asan_finish(void *fake)
{
    const void *bottom;
    size_t size;

    __sanitizer_finish_switch_fiber(fake, &bottom, &size);
    /* The thread's own stack bounds are learned on leaving it. */
    if (asan_from && !asan_from->stack.lo) {
        asan_from->asan_bottom = bottom;
        asan_from->asan_size = size;
    }
}
#else
#define asan_start(from, to, exiting) ((void)0)
#define asan_finish(fake) ((void)0)
#endif

#if TULIP_HAVE_VALGRIND
/* Valgrind's client requests cost about 15 instructions each even when not
 * under Valgrind, a tenth of creating and finishing a coroutine: ask once
 * whether it runs (per process; pthread_once orders the write before every
 * thread's first tulip__coro_init). */
static int on_valgrind;
static pthread_once_t vg_once = PTHREAD_ONCE_INIT;

static void vg_detect(void)
{
    on_valgrind = RUNNING_ON_VALGRIND != 0;
}
#define vg_prepare() pthread_once(&vg_once, vg_detect)
#else
#define vg_prepare() ((void)0)
#endif

#if TULIP_HAVE_TSAN
static void tsan_switch(struct tulip__coro *from, struct tulip__coro *to)
{
    /* The thread's own fiber is learned on leaving it: only then is it the
     * current one. (Learning it on the way back would record the fiber of
     * the coroutine being left, which may be destroyed next.) */
    if (!from->tsan_fiber)
        from->tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
}
#else
#define tsan_switch(from, to) ((void)0)
#endif

/* ---- stack overflow ------------------------------------------------------ */

static void put_str(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static void put_size(size_t n)
{
    char buf[24];
    char *p = buf + sizeof(buf);

    *--p = '\0';
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    put_str(p);
}

static void segv_chain(int sig, siginfo_t *si, void *uc)
{
    if ((old_segv.sa_flags & SA_SIGINFO) && old_segv.sa_sigaction) {
        old_segv.sa_sigaction(sig, si, uc);
        return;
    }
    if (!(old_segv.sa_flags & SA_SIGINFO) && old_segv.sa_handler != SIG_DFL &&
        old_segv.sa_handler != SIG_IGN) {
        old_segv.sa_handler(sig);
        return;
    }
    /* As if we were never installed: the default action, now or when the
     * faulting instruction runs again. */
    (void)signal(sig, SIG_DFL);
    if (si->si_code <= 0)
        (void)raise(sig);
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    struct tulip__coro *co = cur;
    char *addr = si->si_addr;

    if (co && co->stack.lo && addr < co->stack.lo &&
        addr >= co->stack.lo - TULIP_STACK_GUARD) {
        put_str("tulip: stack overflow in coroutine ");
        if (co->name[0]) {
            put_str("'");
            put_str(co->name);
            put_str("'");
        } else {
            put_str("(unnamed)");
        }
        put_str(" with a stack of ");
        put_size(co->stack.size);
        put_str(" bytes; give it a larger stack (struct tulip_coro_opts "
                "stack_size, or tulip_set_stack_size())\n");
        abort();
    }
    segv_chain(sig, si, uc);
}

static void segv_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
}

/* Once per thread that runs coroutines: an alternate signal stack for the
 * overflow handler (left in place for the thread's life). */
static void thread_prepare(void)
{
    stack_t ss, old;
    void *mem;

    pthread_once(&segv_once, segv_install);
    vg_prepare();
    thread_ready = 1;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return; /* the thread has one already */
    mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return; /* overflows then die by SIGSEGV without the message */
    ss.ss_sp = mem;
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0)
        munmap(mem, ALTSTACK_SIZE);
}

/* ---- coroutines ---------------------------------------------------------- */

/* Leave the running coroutine `from` for good, for `to`. Inlined into both
 * ways out (coro_start and tulip__coro_exit). Nothing of `from` is saved:
 * switching to it again faults (tulip__ctx_jump). It does not return, but
 * is not declared noreturn, so that coro_start can end in a tail jump. */
static inline __attribute__((always_inline)) void
coro_leave(struct tulip__coro *from, struct tulip__coro *to)
{
    cur = to;
    asan_start(from, to, 1);
    tsan_switch(from, to);
    tulip__ctx_jump(&from->ctx, &to->ctx);
}

/*
 * First code on a new stack. A body that returns leaves for co->exit_to from
 * here, by a tail jump to tulip__ctx_jump (in optimised builds). Together
 * with the first switch into the stack, which is a jump too (switch.S),
 * that leaves the CPU's return-stack predictor exactly as the resumer's
 * call to the switch left it: the switch's return and the resumer's own
 * returns after it are all predicted, and a short-lived coroutine costs no
 * mispredicted return at all. (tulip__coro_exit from deeper frames costs a
 * mispredicted return per frame left behind.)
 */
static void coro_start(void *p)
{
    struct tulip__coro *co = p;

    asan_finish(NULL);
    co->entry(co->arg);
    if (!co->exit_to)
        tulip__panic("coroutine body returned");
    coro_leave(co, co->exit_to);
}

int tulip__coro_init(struct tulip__coro *co, size_t size, void (*entry)(void *),
                     void *arg)
{
    struct tulip__stack st;
    int rc;

    rc = tulip__stack_get(size, &st);
    if (rc)
        return rc;
    tulip__coro_init_on(co, &st, 0, entry, arg);
    return 0;
}

void tulip__coro_init_on(struct tulip__coro *co, const struct tulip__stack *st,
                         size_t reserve, void (*entry)(void *), void *arg)
{
    if (tulip__unlikely(!thread_ready))
        thread_prepare();
    co->stack = *st;
    co->entry = entry;
    co->arg = arg;
    co->exit_to = NULL;
    /* The frames start below the reserved top bytes, which the owner uses. */
    tulip__ctx_make(&co->ctx, st->lo, st->size - reserve, coro_start, co);
#if TULIP_HAVE_ASAN
    co->asan_fake = NULL;
#endif
#if TULIP_HAVE_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
#if TULIP_HAVE_VALGRIND
    if (on_valgrind)
        co->vg_stack_id =
            VALGRIND_STACK_REGISTER(st->lo, st->lo + st->size - reserve);
#endif
}

void tulip__coro_release(struct tulip__coro *co)
{
    if (!co->stack.lo)
        return;
#if TULIP_HAVE_TSAN
    if (co->tsan_fiber)
        __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
#endif
#if TULIP_HAVE_VALGRIND
    if (on_valgrind)
        VALGRIND_STACK_DEREGISTER(co->vg_stack_id);
#endif
    tulip__stack_put(&co->stack);
}

#if TULIP_HAVE_ASAN || TULIP_HAVE_TSAN
/* With the tools, the switch announces itself (without them it is inline,
 * in coro.h). */
void tulip__coro_switch(struct tulip__coro *to)
{
    struct tulip__coro *from = tulip__coro_current();

    cur = to;
    asan_start(from, to, 0);
    tsan_switch(from, to);
    tulip__ctx_switch(&from->ctx, &to->ctx);
    asan_finish(from->asan_fake);
}
#endif /* TULIP_HAVE_ASAN || TULIP_HAVE_TSAN */

void tulip__coro_exit(struct tulip__coro *to)
{
    coro_leave(tulip__coro_current(), to);
    __builtin_unreachable();
}
