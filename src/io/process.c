/* SPDX-License-Identifier: MIT */
/*
 * Child processes, asyncio's create_subprocess_exec/_shell: posix_spawn
 * (glibc's is clone(CLONE_VM|CLONE_VFORK) + exec, no page-table copy) with
 * the child's standard streams each inherited, a pipe, /dev/null or
 * stderr-to-stdout; waiting for the exit without blocking the loop; and
 * communicate(), which feeds stdin and drains stdout and stderr in one task
 * by watching the three pipes at once, so that a child blocked on a full
 * pipe never deadlocks against a parent blocked on another.
 *
 * The exit is seen through a pidfd (pidfd_open, Linux 5.3+), readable once
 * the child has exited: no SIGCHLD, so no race with other code that reaps
 * or handles SIGCHLD (anchors §8 item 7). Without pidfds, the loop watches
 * SIGCHLD on its signalfd and every waiter retries waitpid(WNOHANG) on each.
 *
 * Policy: nothing is left a zombie. A wait that sees the exit reaps, and
 * tulip_process_free() of a child not reaped yet kills it with SIGKILL and
 * reaps it, blocking until the kernel has ended it. Every fd created here is
 * O_CLOEXEC, and only fds created here are closed.
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

extern char **environ;

/* A watcher of communicate(), and its process. */
struct comm_io {
    struct tulip__io io;
    struct tulip_process *p;
};

struct tulip_process {
    tulip_loop *loop;
    pid_t pid;
    int pidfd;                 /* -1 without pidfds */
    int fds[3];                /* parent ends of the pipes, or -1 */
    bool reaped;               /* waited for: status is valid */
    int status;                /* asyncio's returncode */
    struct tulip__io pio;      /* watcher of pidfd while tasks wait */
    struct tulip__waitq exitq; /* tasks waiting for the exit */
    struct comm_io cio[3];     /* communicate()'s pipe watchers */
    struct tulip__waitq commq; /* the task in communicate() */
};

/* ---- spawning ------------------------------------------------------------ */

/* fd moved above 0-2 (close-on-exec), so that a dup2 onto a standard fd in
 * the child never meets itself. */
static int fd_above_stdio(int fd)
{
    int nfd;

    if (fd > 2)
        return fd;
    nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd < 0 ? -errno : nfd;
}

/* A pipe for the child's fd `which`: *parent non-blocking, both
 * close-on-exec. */
static int make_pipe(int which, int *parent, int *child)
{
    int fds[2], rd, wr, rc;

    if (TULIP_SYS(pipe2)(fds, O_CLOEXEC) < 0)
        return -errno;
    rd = fd_above_stdio(fds[0]);
    wr = fd_above_stdio(fds[1]);
    if (rd < 0 || wr < 0) {
        rc = rd < 0 ? rd : wr;
        goto out_close;
    }
    *parent = which == 0 ? wr : rd;
    *child = which == 0 ? rd : wr;
    rc = tulip__fd_nonblock(*parent);
    if (rc == 0)
        return 0;
out_close:
    if (rd >= 0)
        close(rd);
    if (wr >= 0)
        close(wr);
    return rc;
}

static int mode_of(const struct tulip_process_opts *o, int which)
{
    if (!o)
        return TULIP_STDIO_INHERIT;
    return which == 0 ? o->stdin_mode
                      : (which == 1 ? o->stdout_mode : o->stderr_mode);
}

/* The child's standard streams as file actions; child pipe ends in
 * child_fds, parent ends in p->fds. */
static int plan_stdio(tulip_process *p, const struct tulip_process_opts *o,
                      posix_spawn_file_actions_t *fa, int child_fds[3])
{
    int i, rc;

    for (i = 0; i < 3; i++) {
        switch (mode_of(o, i)) {
        case TULIP_STDIO_INHERIT:
            break;
        case TULIP_STDIO_PIPE:
            rc = make_pipe(i, &p->fds[i], &child_fds[i]);
            if (rc)
                return rc;
            if (posix_spawn_file_actions_adddup2(fa, child_fds[i], i))
                return -ENOMEM;
            break;
        case TULIP_STDIO_DEVNULL:
            if (posix_spawn_file_actions_addopen(
                    fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0))
                return -ENOMEM;
            break;
        case TULIP_STDIO_STDOUT:
            if (i != 2)
                return -EINVAL;
            if (posix_spawn_file_actions_adddup2(fa, 1, 2))
                return -ENOMEM;
            break;
        default:
            return -EINVAL;
        }
    }
    return 0;
}

static bool pidfd_disabled(void)
{
    const char *e = getenv("TULIP_NO_PIDFD"); /* tests of the fallback */

    return e && e[0] == '1';
}

static int process_start(tulip_process *p, const char *file,
                         const char *const argv[],
                         const struct tulip_process_opts *o)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    int child_fds[3] = {-1, -1, -1};
    int i, rc;

    if (posix_spawn_file_actions_init(&fa))
        return -ENOMEM;
    if (posix_spawnattr_init(&attr)) {
        posix_spawn_file_actions_destroy(&fa);
        return -ENOMEM;
    }
    /* The loop blocks the signals it watches: the child must not inherit
     * that. SIGPIPE and SIGXFSZ get their default back (Python's
     * restore_signals). */
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGXFSZ);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = plan_stdio(p, o, &fa, child_fds);
    if (rc == 0 && o && o->cwd &&
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd))
        rc = -ENOMEM;
    if (rc == 0) {
        /* exec never writes to argv or envp: POSIX's prototypes predate
         * const */
        char *const *envp =
            o && o->envp ? (char *const *)(uintptr_t)o->envp : environ;

        rc = -posix_spawnp(&p->pid, file, &fa, &attr,
                           (char *const *)(uintptr_t)argv, envp);
    }
    for (i = 0; i < 3; i++)
        if (child_fds[i] >= 0)
            close(child_fds[i]);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static int process_new(tulip_process **out, tulip_loop *loop, const char *file,
                       const char *const argv[],
                       const struct tulip_process_opts *o)
{
    tulip_process *p;
    int i, rc;

    if (!out || !loop || !file || !argv)
        return -EINVAL;
    *out = NULL;
    p = tulip__calloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->pidfd = -1;
    for (i = 0; i < 3; i++)
        p->fds[i] = -1;
    rc = process_start(p, file, argv, o);
    if (rc)
        goto out_free;
    if (!pidfd_disabled())
        p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0); /* CLOEXEC */
    if (p->pidfd < 0) {
        p->pidfd = -1;
        /* The fallback: SIGCHLD on the loop's signalfd. A child that exits
         * before this is found by the waitpid before every wait. */
        rc = tulip__signal_watch(loop, SIGCHLD);
        if (rc) {
            tulip_process_free(p);
            return rc;
        }
    }
    *out = p;
    return 0;
out_free:
    for (i = 0; i < 3; i++)
        if (p->fds[i] >= 0)
            close(p->fds[i]);
    tulip__free(p, sizeof(*p));
    return rc;
}

int tulip_process_spawn(tulip_process **out, tulip_loop *loop,
                        const char *const argv[],
                        const struct tulip_process_opts *opts)
{
    if (!argv || !argv[0])
        return -EINVAL;
    return process_new(out, loop, argv[0], argv, opts);
}

int tulip_process_shell(tulip_process **out, tulip_loop *loop, const char *cmd,
                        const struct tulip_process_opts *opts)
{
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

    if (!cmd)
        return -EINVAL;
    return process_new(out, loop, argv[0], argv, opts);
}

/* ---- waiting ------------------------------------------------------------- */

static int decode_status(int ws)
{
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws))
        return -WTERMSIG(ws);
    return 255;
}

/* Reap the child if it has exited; true once it has been reaped. */
static bool try_reap(tulip_process *p)
{
    pid_t r;
    int ws;

    if (p->reaped)
        return true;
    do
        r = waitpid(p->pid, &ws, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    /* ECHILD: someone else reaped it; asyncio reports 255 then. */
    p->status = r == p->pid ? decode_status(ws) : 255;
    p->reaped = true;
    return true;
}

static void wake_all(struct tulip__waitq *q)
{
    while (q->head)
        tulip__task_wake_waiter(q->head, NULL, 0);
}

static void pid_ready(struct tulip__io *io, unsigned revents)
{
    tulip_process *p = tulip__container_of(io, tulip_process, pio);

    (void)revents;
    if (try_reap(p)) {
        tulip__loop_io_stop(p->loop, &p->pio);
        wake_all(&p->exitq);
    }
}

static int wait_exit(struct tulip_task *t, tulip_process *p,
                     int64_t deadline_ns)
{
    sigset_t chld;
    int rc;

    while (!try_reap(p)) {
        if (p->pidfd < 0) {
            sigemptyset(&chld);
            sigaddset(&chld, SIGCHLD);
            rc = tulip__signal_wait(t, &chld, deadline_ns);
            if (rc < 0)
                return rc;
            continue;
        }
        if (!p->pio.active) {
            p->pio.fn = pid_ready;
            rc = tulip__loop_io_start(p->loop, &p->pio, p->pidfd,
                                      TULIP__IO_READ);
            if (rc)
                return rc;
        }
        tulip__waitq_push(&p->exitq, &t->waiter);
        rc = tulip__task_suspend(t, deadline_ns);
        if (rc) {
            if (tulip__waitq_empty(&p->exitq))
                tulip__loop_io_stop(p->loop, &p->pio);
            return rc == TULIP__DEADLINE ? -ETIMEDOUT : rc;
        }
        rc = tulip__task_check(t); /* a cancel that came with the wake */
        if (rc)
            return rc;
    }
    return 0;
}

int tulip_process_wait_until(tulip_process *p, int *status, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!p)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc == 0)
        rc = wait_exit(t, p, deadline_ns);
    if (rc == 0 && status)
        *status = p->status;
    return rc;
}

int tulip_process_wait(tulip_process *p, int *status)
{
    return tulip_process_wait_until(p, status, TULIP_FOREVER);
}

bool tulip_process_returncode(const tulip_process *p, int *status)
{
    if (!p || !p->reaped)
        return false;
    if (status)
        *status = p->status;
    return true;
}

/* ---- communicate() ------------------------------------------------------- */

void tulip_bytes_free(struct tulip_bytes *b)
{
    if (!b)
        return;
    if (b->data)
        tulip__free(b->data, b->len + 1);
    b->data = NULL;
    b->len = 0;
}

/* Give b its final size, len + 1 with a NUL (the size tulip_bytes_free
 * frees); cap is what was allocated. Returns 0, or -ENOMEM with b empty. */
int tulip__process_bytes_finish(struct tulip_bytes *b, size_t cap)
{
    char *d;

    if (!b->data)
        return 0;
    if (cap != b->len + 1) {
        d = tulip__realloc(b->data, cap, b->len + 1);
        if (!d) {
            tulip__free(b->data, cap);
            b->data = NULL;
            b->len = 0;
            return -ENOMEM;
        }
        b->data = d;
    }
    b->data[b->len] = '\0';
    return 0;
}

/* Room for at least 4 KiB more in b. */
static int bytes_reserve(struct tulip_bytes *b, size_t *cap)
{
    size_t ncap;
    char *d;

    if (*cap - b->len >= 4096 + 1)
        return 0;
    ncap = *cap ? *cap * 2 : 16384;
    d = tulip__realloc(b->data, *cap, ncap);
    if (!d)
        return -ENOMEM;
    b->data = d;
    *cap = ncap;
    return 0;
}

static void comm_ready(struct tulip__io *io, unsigned revents)
{
    struct comm_io *c = tulip__container_of(io, struct comm_io, io);

    (void)revents;
    wake_all(&c->p->commq);
}

static void comm_close(tulip_process *p, int i)
{
    tulip__loop_io_stop(p->loop, &p->cio[i].io);
    tulip_fd_close(p->fds[i]);
    p->fds[i] = -1;
}

struct comm {
    const char *in; /* input left to write */
    size_t in_left;
    struct tulip_bytes *b[3]; /* [1] stdout, [2] stderr (may be NULL) */
    size_t cap[3];
};

/* One non-blocking step on pipe i; 1 if it made progress, 0 if it would
 * block, or a negative errno. */
static int comm_step(tulip_process *p, struct comm *c, int i)
{
    char drop[4096];
    struct tulip_bytes *b = c->b[i];
    ssize_t n;
    int rc;

    if (i == 0) {
        struct iovec iov = {(void *)(uintptr_t)c->in, c->in_left};
        n = tulip__writev_nosigpipe(p->fds[0], &iov, 1);
        if (n < 0 && errno == EPIPE) { /* it closed stdin: not an error */
            comm_close(p, 0);
            return 1;
        }
        if (n >= 0) {
            c->in += n;
            c->in_left -= (size_t)n;
            if (!c->in_left)
                comm_close(p, 0);
        }
    } else if (b) {
        rc = bytes_reserve(b, &c->cap[i]);
        if (rc)
            return rc;
        n = TULIP_SYS(read)(p->fds[i], b->data + b->len,
                            c->cap[i] - b->len - 1);
        if (n > 0)
            b->len += (size_t)n;
    } else {
        n = read(p->fds[i], drop, sizeof(drop));
    }
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    if (i > 0 && n == 0)
        comm_close(p, i);
    return 1;
}

static int comm_pump(struct tulip_task *t, tulip_process *p, struct comm *c,
                     int64_t deadline_ns)
{
    int i, rc, progress;

    for (;;) {
        progress = 0;
        for (i = 0; i < 3; i++) {
            if (p->fds[i] < 0)
                continue;
            rc = comm_step(p, c, i);
            if (rc < 0)
                return rc;
            progress |= rc;
        }
        if (p->fds[0] < 0 && p->fds[1] < 0 && p->fds[2] < 0)
            return 0;
        if (progress)
            continue;
        tulip__waitq_push(&p->commq, &t->waiter);
        rc = tulip__task_suspend(t, deadline_ns);
        if (rc)
            return rc == TULIP__DEADLINE ? -ETIMEDOUT : rc;
        rc = tulip__task_check(t);
        if (rc)
            return rc;
    }
}

int tulip_process_communicate(tulip_process *p, const void *input,
                              size_t input_len, struct tulip_bytes *out,
                              struct tulip_bytes *err, int *status,
                              int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    struct comm c = {.in = input, .in_left = input_len};
    int i, rc;

    if (out)
        *out = (struct tulip_bytes){0};
    if (err)
        *err = (struct tulip_bytes){0};
    if (!p || (!input && input_len) || (input_len && p->fds[0] < 0))
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    c.b[1] = out;
    c.b[2] = err;
    if (p->fds[0] >= 0 && !input_len)
        comm_close(p, 0);
    for (i = 0; i < 3 && rc == 0; i++) {
        p->cio[i].p = p;
        p->cio[i].io.fn = comm_ready;
        if (p->fds[i] >= 0)
            rc =
                tulip__loop_io_start(p->loop, &p->cio[i].io, p->fds[i],
                                     i == 0 ? TULIP__IO_WRITE : TULIP__IO_READ);
    }
    if (rc == 0)
        rc = comm_pump(t, p, &c, deadline_ns);
    for (i = 0; i < 3; i++)
        tulip__loop_io_stop(p->loop, &p->cio[i].io);
    if (out && tulip__process_bytes_finish(out, c.cap[1]) && rc == 0)
        rc = -ENOMEM;
    if (err && tulip__process_bytes_finish(err, c.cap[2]) && rc == 0)
        rc = -ENOMEM;
    if (rc == 0)
        rc = wait_exit(t, p, deadline_ns);
    if (rc == 0 && status)
        *status = p->status;
    return rc;
}

/* ---- the rest ------------------------------------------------------------ */

int tulip_process_pid(const tulip_process *p)
{
    return p ? (int)p->pid : -EINVAL;
}

int tulip_process_fd(const tulip_process *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -1;
    return p->fds[which];
}

int tulip_process_close_fd(tulip_process *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -EINVAL;
    if (p->fds[which] >= 0)
        comm_close(p, which);
    return 0;
}

int tulip_process_send_signal(tulip_process *p, int signo)
{
    if (!p || signo < 0 || signo >= 65)
        return -EINVAL;
    if (try_reap(p))
        return 0; /* its pid may be someone else's now */
    if (p->pidfd >= 0 &&
        syscall(SYS_pidfd_send_signal, p->pidfd, signo, NULL, 0) == 0)
        return 0;
    if (kill(p->pid, signo) < 0)
        return -errno;
    return 0;
}

int tulip_process_terminate(tulip_process *p)
{
    return tulip_process_send_signal(p, SIGTERM);
}

int tulip_process_kill(tulip_process *p)
{
    return tulip_process_send_signal(p, SIGKILL);
}

void tulip_process_free(tulip_process *p)
{
    int i, ws;

    if (!p)
        return;
    for (i = 0; i < 3; i++)
        if (p->fds[i] >= 0)
            comm_close(p, i);
    tulip__loop_io_stop(p->loop, &p->pio);
    if (!try_reap(p)) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &ws, 0) < 0 && errno == EINTR)
            ;
    }
    if (p->pidfd >= 0)
        close(p->pidfd);
    tulip__free(p, sizeof(*p));
}
