/* SPDX-License-Identifier: MIT */
/*
 * Signals on a loop: tasks that wait for a signal, callback handlers
 * (asyncio's add_signal_handler), and tulip_run()'s Ctrl-C behaviour
 * (asyncio.Runner: the first SIGINT cancels the main task, the second kills
 * the process as SIGINT's default action would).
 *
 * A loop reads its signals from one signalfd. A signal it watches is
 * blocked in the loop's thread (threads of tulip's pools block every
 * signal), so that the kernel keeps it pending until the loop reads it.
 * A signal that arrives while nobody waits and no handler is set is counted,
 * and the next wait for it returns at once: once a task of a loop has waited
 * for a signal, the loop keeps it blocked and queued until it closes, so no
 * signal is lost between two waits. A handler alone keeps its signal only
 * while it is set. At loop close, signals still pending for the loop are
 * read and dropped, and the signals it blocked are unblocked.
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIG_MAX 65 /* signals are 1 to 64 on Linux */

/* A callback handler of a signal (one per signal and loop, as asyncio). */
struct sig_handler {
    tulip_signal_fn *fn; /* NULL: none */
    void *arg;
};

struct sig_state {
    tulip_loop *loop;
    int sfd;                     /* the signalfd, or -1 */
    struct tulip__io io;         /* weak watcher of sfd */
    sigset_t watched;            /* in sfd's mask and blocked in the thread */
    sigset_t blocked_by_us;      /* to unblock when no longer watched */
    sigset_t sticky;             /* waited for once: watched until close */
    struct tulip__waitq waiters; /* nodes of blocks: node, then a sigset */
    struct sig_handler handlers[SIG_MAX];
    unsigned pending[SIG_MAX]; /* arrived while nobody waited */
};

/* tulip_run()'s SIGINT behaviour on this thread (tulip_run cannot nest). */
struct run_sigint {
    /* cppcheck-suppress unusedStructMember ; read by tulip__signal_run_end */
    tulip_loop *loop;    /* the run's loop, NULL when not installed */
    tulip_task *main;    /* its main task */
    unsigned interrupts; /* SIGINTs received */
};

static _Thread_local struct run_sigint run_sigint;

/* Whether signo may be waited for or handled (-EINVAL otherwise). */
static int sig_valid(int signo)
{
    sigset_t s;

    if (signo <= 0 || signo >= SIG_MAX || signo == SIGKILL || signo == SIGSTOP)
        return 0;
    sigemptyset(&s);
    return sigaddset(&s, signo) == 0; /* glibc refuses its own signals */
}

static void sig_ready(struct tulip__io *io, unsigned revents);

static struct sig_state *state_get(tulip_loop *loop, int create)
{
    void **slot = tulip__io_signal_slot(loop);
    struct sig_state *st;

    if (!slot)
        return NULL;
    if (*slot || !create)
        return *slot;
    st = tulip__calloc(sizeof(*st));
    if (!st)
        return NULL;
    st->loop = loop;
    st->sfd = -1;
    sigemptyset(&st->watched);
    sigemptyset(&st->blocked_by_us);
    sigemptyset(&st->sticky);
    *slot = st;
    return st;
}

/* Make the loop read signo from its signalfd. */
static int sig_watch(struct sig_state *st, int signo)
{
    sigset_t one, old, next;
    int fd, rc;

    if (sigismember(&st->watched, signo))
        return 0;
    next = st->watched;
    sigaddset(&next, signo);
    fd = signalfd(st->sfd, &next, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (st->sfd < 0) {
        st->sfd = fd;
        st->io.fn = sig_ready;
        st->io.weak = true; /* waiting tasks hold the loop, not handlers */
        rc = tulip__loop_io_start(st->loop, &st->io, fd, TULIP__IO_READ);
        if (rc) {
            close(fd);
            st->sfd = -1;
            return rc;
        }
    }
    sigemptyset(&one);
    sigaddset(&one, signo);
    pthread_sigmask(SIG_BLOCK, &one, &old);
    if (!sigismember(&old, signo))
        sigaddset(&st->blocked_by_us, signo);
    st->watched = next;
    return 0;
}

/* Stop reading signo (no handler, not sticky); what is pending in the
 * kernel is then delivered as its disposition says once unblocked. */
static void sig_unwatch(struct sig_state *st, int signo)
{
    sigset_t one;

    if (!sigismember(&st->watched, signo) || sigismember(&st->sticky, signo))
        return;
    sigdelset(&st->watched, signo);
    signalfd(st->sfd, &st->watched, SFD_NONBLOCK | SFD_CLOEXEC);
    st->pending[signo] = 0;
    if (sigismember(&st->blocked_by_us, signo)) {
        sigdelset(&st->blocked_by_us, signo);
        sigemptyset(&one);
        sigaddset(&one, signo);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    }
}

static const sigset_t *node_set(struct tulip__waiter *w)
{
    return (const sigset_t *)(w + 1);
}

static void sig_deliver(struct sig_state *st, int signo)
{
    struct tulip__waiter *w, *next;
    struct sig_handler h = st->handlers[signo];
    int woken = 0;

    for (w = st->waiters.head; w; w = next) {
        next = w->next;
        if (sigismember(node_set(w), signo)) {
            tulip__task_wake_waiter(w, (void *)(intptr_t)signo, 0);
            woken++;
        }
    }
    if (h.fn)
        h.fn(h.arg, signo);
    else if (!woken && st->pending[signo] < UINT32_MAX)
        st->pending[signo]++;
}

static void sig_ready(struct tulip__io *io, unsigned revents)
{
    struct sig_state *st = tulip__container_of(io, struct sig_state, io);
    struct signalfd_siginfo si[8];
    ssize_t n, i;

    (void)revents;
    for (;;) {
        n = TULIP_SYS(read)(st->sfd, si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (i = 0; i < n / (ssize_t)sizeof(si[0]); i++)
            if (si[i].ssi_signo < SIG_MAX)
                sig_deliver(st, (int)si[i].ssi_signo);
    }
}

void tulip__signal_loop_close(void *state)
{
    struct sig_state *st = state;
    struct signalfd_siginfo si[8];

    if (!st)
        return;
    if (st->sfd >= 0) {
        /* drop what is pending for the loop before unblocking it */
        while (read(st->sfd, si, sizeof(si)) > 0)
            ;
        tulip__loop_io_stop(st->loop, &st->io);
        close(st->sfd);
    }
    pthread_sigmask(SIG_UNBLOCK, &st->blocked_by_us, NULL);
    tulip__free(st, sizeof(*st));
}

int tulip__signal_watch(tulip_loop *loop, int signo)
{
    struct sig_state *st = state_get(loop, 1);
    int rc;

    if (!st)
        return -ENOMEM;
    rc = sig_watch(st, signo);
    if (rc == 0)
        sigaddset(&st->sticky, signo);
    return rc;
}

int tulip__signal_wait(struct tulip_task *t, const sigset_t *set,
                       int64_t deadline_ns)
{
    struct sig_state *st = state_get(t->loop, 1);
    struct tulip__waiter *node;
    int signo, rc;

    if (!st)
        return -ENOMEM;
    for (signo = 1; signo < SIG_MAX; signo++) {
        if (!sigismember(set, signo))
            continue;
        rc = sig_watch(st, signo);
        if (rc)
            return rc;
        sigaddset(&st->sticky, signo);
    }
    for (signo = 1; signo < SIG_MAX; signo++) {
        if (sigismember(set, signo) && st->pending[signo]) {
            st->pending[signo]--;
            return signo;
        }
    }
    node = tulip__task_hold(t, 1, sizeof(sigset_t));
    if (!node)
        return -ENOMEM;
    memcpy(node + 1, set, sizeof(sigset_t));
    node->task = t;
    tulip__waitq_push(&st->waiters, node);
    tulip__loop_ref(t->loop);
    rc = tulip__task_suspend(t, deadline_ns);
    tulip__loop_unref(t->loop);
    if (rc == 0 && t->wake == TULIP__WAKE_OBJECT)
        rc = (int)(intptr_t)t->wake_value;
    else if (rc == 0 || rc == TULIP__DEADLINE)
        rc = -ETIMEDOUT;
    tulip__task_unhold(node);
    return rc;
}

/* ---- tulip_run's SIGINT -------------------------------------------------- */

static void run_sigint_handler(void *arg, int signo)
{
    struct run_sigint *r = arg;
    sigset_t one;

    (void)signo;
    r->interrupts++;
    if (r->interrupts == 1 && !tulip_task_done(r->main)) {
        tulip_task_cancel(r->main);
        return;
    }
    /* The second: die of SIGINT, as without a handler (the default
     * disposition is in place: we only install when it is). */
    sigemptyset(&one);
    sigaddset(&one, SIGINT);
    (void)signal(SIGINT, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    (void)raise(SIGINT);
    /* cppcheck-suppress unreachableCode ; raise() returns when it fails */
    _exit(128 + SIGINT); /* not reached */
}

void tulip__signal_run_begin(tulip_loop *loop, tulip_task *main_task)
{
    struct sigaction sa;
    sigset_t cur;

    /* Only where asyncio's Runner does it: the main thread, with SIGINT
     * neither handled, ignored nor blocked by the program. */
    if (getpid() != (pid_t)syscall(SYS_gettid))
        return;
    if (sigaction(SIGINT, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL ||
        (sa.sa_flags & SA_SIGINFO))
        return;
    if (pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0 ||
        sigismember(&cur, SIGINT))
        return;
    run_sigint.loop = loop;
    run_sigint.main = main_task;
    run_sigint.interrupts = 0;
    if (tulip_add_signal_handler(loop, SIGINT, run_sigint_handler,
                                 &run_sigint) < 0)
        run_sigint.loop = NULL;
}

bool tulip__signal_run_end(tulip_loop *loop)
{
    struct sig_state *st = state_get(loop, 0);
    bool interrupted = run_sigint.interrupts > 0;

    if (run_sigint.loop != loop)
        return false;
    if (st && st->handlers[SIGINT].fn == run_sigint_handler)
        tulip_remove_signal_handler(loop, SIGINT);
    run_sigint.loop = NULL;
    run_sigint.main = NULL;
    run_sigint.interrupts = 0;
    return interrupted;
}

/* ---- public API ---------------------------------------------------------- */

int tulip_signal_wait_any(const int *signos, size_t n, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    sigset_t set;
    size_t i;
    int rc;

    if (!signos || !n)
        return -EINVAL;
    sigemptyset(&set);
    for (i = 0; i < n; i++) {
        if (!sig_valid(signos[i]))
            return -EINVAL;
        sigaddset(&set, signos[i]);
    }
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    return rc ? rc : tulip__signal_wait(t, &set, deadline_ns);
}

int tulip_signal_wait_until(int signo, int64_t deadline_ns)
{
    return tulip_signal_wait_any(&signo, 1, deadline_ns);
}

int tulip_signal_wait(int signo)
{
    return tulip_signal_wait_until(signo, TULIP_FOREVER);
}

int tulip_add_signal_handler(tulip_loop *loop, int signo, tulip_signal_fn *fn,
                             void *arg)
{
    struct sig_state *st;
    int rc;

    if (!loop || !fn || !sig_valid(signo))
        return -EINVAL;
    st = state_get(loop, 1);
    if (!st)
        return -ENOMEM;
    rc = sig_watch(st, signo);
    if (rc)
        return rc;
    st->handlers[signo].fn = fn;
    st->handlers[signo].arg = arg;
    return 0;
}

int tulip_remove_signal_handler(tulip_loop *loop, int signo)
{
    struct sig_state *st;

    if (!loop || !sig_valid(signo))
        return -EINVAL;
    st = state_get(loop, 0);
    if (!st || !st->handlers[signo].fn)
        return 0;
    st->handlers[signo].fn = NULL;
    st->handlers[signo].arg = NULL;
    sig_unwatch(st, signo);
    return 1;
}
