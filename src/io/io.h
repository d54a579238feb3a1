/* SPDX-License-Identifier: MIT */
/*
 * The I/O layer's internal interface: waiting, in a task, for an fd to be
 * readable or writable (fd.c), on which sockets, streams, servers, pipes and
 * processes are built.
 *
 * Each fd a loop has been asked about has a record with a queue of waiting
 * readers, one of waiting writers, and one loop watcher asking the poller for
 * what they wait for. Interest is dropped lazily: when the poller reports an
 * fd ready and nobody waits in that direction any more, that direction is
 * removed then. A connection whose task reads, waits, reads again therefore
 * makes no epoll_ctl call per message (about 200 ns each here).
 */
#ifndef TULIP_IO_H
#define TULIP_IO_H

#include "../task/task.h"

#include <errno.h>

#include <signal.h>

/*
 * Wait in task t until fd is ready for `event` (TULIP_READ or TULIP_WRITE,
 * one of them) or deadline_ns passes. Returns 0 when ready (possibly
 * spuriously: retry the operation and wait again on EAGAIN), -ETIMEDOUT,
 * -ECANCELED, -EBADF if the fd was closed with tulip_fd_close() meanwhile,
 * -ENOMEM, or an error of the poller (-EPERM for a regular file with epoll).
 */
TULIP_PRIVATE int tulip__fd_wait(struct tulip_task *t, int fd, unsigned event,
                                 int64_t deadline_ns);

/*
 * After a system call on fd failed (errno set): 0 to try it again, now for
 * EINTR, or once fd is ready for `event` for EAGAIN; otherwise the error
 * (-errno, or what the wait returned: -ECANCELED, -ETIMEDOUT ...). Every
 * non-blocking operation of a task retries through this.
 */
static inline int tulip__fd_retry(struct tulip_task *t, int fd, unsigned event,
                                  int64_t deadline_ns)
{
    if (errno == EINTR)
        return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return -errno;
    return tulip__fd_wait(t, fd, event, deadline_ns);
}

/* writev(2) to a pipe or another non-socket without raising SIGPIPE: a
 * closed reader is EPIPE (errno), as for sockets with MSG_NOSIGNAL. */
struct iovec;
TULIP_PRIVATE ssize_t tulip__writev_nosigpipe(int fd, const struct iovec *iov,
                                              int n);

/* Set O_NONBLOCK on fd. Returns 0 or a negative errno. */
TULIP_PRIVATE int tulip__fd_nonblock(int fd);

/* ---- thread pools (pool.c) ------------------------------------------------
 */

/* The I/O layer's per-loop slot for the pools' completion channel; NULL if
 * out of memory. The channel is freed by tulip__pool_loop_close(). */
TULIP_PRIVATE void **tulip__io_pool_slot(tulip_loop *loop);

/* At loop close, after the tasks are gone: take back the loop's queued
 * jobs, wait for its running ones, free them all (state may be NULL). */
TULIP_PRIVATE void tulip__pool_loop_close(void *state);

/*
 * Run fn(arg) on pool `which` (TULIP_POOL_BLOCKING or TULIP_POOL_DNS) and
 * wait for it in task t (cancellation already checked). Returns 0 with
 * *result = fn's return value, -ENOMEM, -EAGAIN (no thread could be
 * started), or -ECANCELED / -ETIMEDOUT: the job is then abandoned; if it
 * never started it never will, and abandon(arg, -ECANCELED) runs at once,
 * else abandon(arg, result) runs on the loop once fn has returned (abandon
 * may be NULL).
 */
TULIP_PRIVATE int tulip__pool_run(struct tulip_task *t, int which,
                                  int (*fn)(void *), void *arg,
                                  void (*abandon)(void *arg, int result),
                                  int64_t deadline_ns, int *result);

/* ---- name resolution (dns.c) ----------------------------------------------
 */

struct addrinfo;

/*
 * getaddrinfo for the socket layer: numeric hosts and ports are resolved at
 * once (no thread, callable outside tasks: t may be NULL); other names on
 * the DNS pool, waiting in t until deadline_ns (-EPERM if t is NULL).
 * Returns 0 or an error as tulip_getaddrinfo() documents.
 */
TULIP_PRIVATE int tulip__dns_resolve(struct tulip_task *t, const char *host,
                                     const char *port,
                                     const struct addrinfo *hints,
                                     struct addrinfo **res,
                                     int64_t deadline_ns);

/* Map a getaddrinfo/getnameinfo EAI_* code to a tulip error code. */
TULIP_PRIVATE int tulip__eai_error(int eai);

/* ---- signals (signal.c) --------------------------------------------------
 */

/* The I/O layer's per-loop slot for the signal state; NULL if out of
 * memory. The state is freed by tulip__signal_loop_close(). */
TULIP_PRIVATE void **tulip__io_signal_slot(tulip_loop *loop);

/* At loop close: drop the signals pending for the loop, unblock those it
 * blocked, close its signalfd (state may be NULL). */
TULIP_PRIVATE void tulip__signal_loop_close(void *state);

/* Make the loop read signo (blocked in its thread) until it closes, so
 * that none is lost before a later wait (SIGCHLD for processes). */
TULIP_PRIVATE int tulip__signal_watch(tulip_loop *loop, int signo);

/* Wait in task t (cancellation already checked) for a signal of `set`,
 * each valid. Returns the signal's number, -ETIMEDOUT, -ECANCELED,
 * -ENOMEM, or an error of signalfd(2). */
TULIP_PRIVATE int tulip__signal_wait(struct tulip_task *t, const sigset_t *set,
                                     int64_t deadline_ns);

/* ---- processes (process.c) ------------------------------------------------
 */

/* Give bytes grown in a block of cap bytes their final block, len + 1 with
 * a NUL, the size tulip_bytes_free() frees. Returns 0, or -ENOMEM (b is
 * then freed and empty). */
TULIP_PRIVATE int tulip__process_bytes_finish(struct tulip_bytes *b,
                                              size_t cap);

#endif /* TULIP_IO_H */
