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

/*
 * Wait in task t until fd is ready for `event` (TULIP_READ or TULIP_WRITE,
 * one of them) or deadline_ns passes. Returns 0 when ready (possibly
 * spuriously: retry the operation and wait again on EAGAIN), -ETIMEDOUT,
 * -ECANCELED, -EBADF if the fd was closed with tulip_fd_close() meanwhile,
 * -ENOMEM, or an error of the poller (-EPERM for a regular file with epoll).
 */
TULIP_PRIVATE int tulip__fd_wait(struct tulip_task *t, int fd, unsigned event,
                                 int64_t deadline_ns);

/* Set O_NONBLOCK on fd. Returns 0 or a negative errno. */
TULIP_PRIVATE int tulip__fd_nonblock(int fd);

#endif /* TULIP_IO_H */
