/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (SQLite's fault simulation, neco's fail counters): in a
 * TULIP_TESTING build every allocation and every syscall that can fail in
 * the field goes through a failure point that counts the calls of its site
 * and can fail one of them (the nth, every one from the nth on, or each with
 * probability p from a seed) with a chosen errno. A call site reads
 *
 *     r = TULIP_SYS(read)(fd, buf, n);
 *
 * which is the plain read() in a normal build and tulip__fault_read() in a
 * testing build; allocation failure points use TULIP_FAULT(ALLOC). The plan
 * is set with tulip__fault_set() or, at start-up, from the environment:
 *
 *     TULIP_FAULT="site=read,nth=17,err=ECONNRESET"
 *     TULIP_FAULT="site=any,p=0.01,seed=42"      (each site's own errors)
 *     TULIP_FAULT="site=alloc,nth=3,every=1"      (err defaults per site)
 *
 * close() never fails here: its failure leaves nothing to recover. The
 * counters are atomic: the thread pool's workers pass through them too.
 */
#ifndef TULIP_FAULT_H
#define TULIP_FAULT_H

#include "internal.h"

#if TULIP_TESTING

#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The failure sites: name, then the errors that site meets in the field
 * (the first is the default). */
#define TULIP__FAULT_SITES(XX)                                                 \
    XX(alloc, ENOMEM)                                                          \
    XX(mmap, ENOMEM)                                                           \
    XX(read, EINTR, EAGAIN, ECONNRESET, EIO)                                   \
    XX(readv, EINTR, EAGAIN, ECONNRESET)                                       \
    XX(recv, EINTR, EAGAIN, ECONNRESET)                                        \
    XX(recvfrom, EINTR, EAGAIN, ECONNRESET)                                    \
    XX(write, EINTR, EAGAIN, EPIPE, EIO)                                       \
    XX(writev, EINTR, EAGAIN, EPIPE)                                           \
    XX(send, EINTR, EAGAIN, ECONNRESET, EPIPE)                                 \
    XX(sendmsg, EINTR, EAGAIN, ECONNRESET, EPIPE)                              \
    XX(sendto, EINTR, EAGAIN, ECONNRESET)                                      \
    XX(accept4, EINTR, EAGAIN, EMFILE, ECONNABORTED)                           \
    XX(connect, ECONNREFUSED, ENOBUFS)                                         \
    XX(socket, EMFILE, ENOBUFS)                                                \
    XX(epoll_create1, EMFILE)                                                  \
    XX(epoll_ctl, ENOMEM, ENOSPC)                                              \
    XX(epoll_wait, EINTR)                                                      \
    XX(ppoll, EINTR, ENOMEM)                                                   \
    XX(eventfd, EMFILE)                                                        \
    XX(pipe2, EMFILE)

enum tulip__fault_site {
#define XX(name, ...) TULIP__FAULT_##name,
    TULIP__FAULT_SITES(XX)
#undef XX
        TULIP__FAULT_NSITES
};

/* What to fail. site < 0: every site counts as one sequence. */
struct tulip__fault_plan {
    int site;          /* enum tulip__fault_site, or -1 for any */
    unsigned long nth; /* fail the nth matching call (1: the next); 0: off */
    bool every;        /* and every matching call after it */
    double p;          /* > 0: fail each matching call with probability p */
    uint64_t seed;     /* of the pseudo-random sequence for p */
    int err;           /* errno to fail with; 0: the site's first error,
                          or with p or site -1, one of the site's errors */
};

/* Install a plan (NULL: none) and zero the counters. Not while another
 * thread passes a failure point (the pool's workers): the plan itself is
 * not atomic, only its on switch and the counters are. */
TULIP_PRIVATE void tulip__fault_set(const struct tulip__fault_plan *plan);

/* Parse "site=read,nth=17,err=ECONNRESET,every=1,p=0.1,seed=7" into *plan:
 * 0, or -EINVAL. */
TULIP_PRIVATE int tulip__fault_parse(const char *s,
                                     struct tulip__fault_plan *plan);

/* Calls seen at site since the last tulip__fault_set (site < 0: all). */
TULIP_PRIVATE unsigned long tulip__fault_calls(int site);

/* Calls failed on purpose since the last tulip__fault_set; and of those,
 * the ones failed with an error other than the transient EINTR and EAGAIN
 * (which the library must absorb: retry or wait). */
TULIP_PRIVATE unsigned long tulip__fault_failed(void);
TULIP_PRIVATE unsigned long tulip__fault_failed_hard(void);

/* The site named name, or -1 ("any" and unknown names). */
TULIP_PRIVATE int tulip__fault_site_by_name(const char *name);
TULIP_PRIVATE const char *tulip__fault_site_name(int site);

/* The errors of site in the field, *n of them (the first is the default). */
TULIP_PRIVATE const int *tulip__fault_site_errors(int site, int *n);

/* The errno named name ("ECONNRESET"), or 0. */
TULIP_PRIVATE int tulip__fault_errno_by_name(const char *name);
TULIP_PRIVATE const char *tulip__fault_errno_name(int err);

/* The failure point: counts a call of site; true (errno set) if it fails. */
TULIP_PRIVATE bool tulip__fault_hit(int site);

#define TULIP_FAULT(site) tulip__fault_hit(TULIP__FAULT_##site)
#define TULIP_SYS(name) tulip__fault_##name

/* The wrappers: the syscall, or -1 with errno set when the plan says so. */
TULIP_PRIVATE void *tulip__fault_mmap(void *addr, size_t len, int prot,
                                      int flags, int fd, off_t off);
TULIP_PRIVATE ssize_t tulip__fault_read(int fd, void *buf, size_t n);
TULIP_PRIVATE ssize_t tulip__fault_readv(int fd, const struct iovec *iov,
                                         int n);
TULIP_PRIVATE ssize_t tulip__fault_recv(int fd, void *buf, size_t n, int flags);
TULIP_PRIVATE ssize_t tulip__fault_recvfrom(int fd, void *buf, size_t n,
                                            int flags, struct sockaddr *addr,
                                            socklen_t *addrlen);
TULIP_PRIVATE ssize_t tulip__fault_write(int fd, const void *buf, size_t n);
TULIP_PRIVATE ssize_t tulip__fault_writev(int fd, const struct iovec *iov,
                                          int n);
TULIP_PRIVATE ssize_t tulip__fault_send(int fd, const void *buf, size_t n,
                                        int flags);
TULIP_PRIVATE ssize_t tulip__fault_sendmsg(int fd, const struct msghdr *m,
                                           int flags);
TULIP_PRIVATE ssize_t tulip__fault_sendto(int fd, const void *buf, size_t n,
                                          int flags,
                                          const struct sockaddr *addr,
                                          socklen_t addrlen);
TULIP_PRIVATE int tulip__fault_accept4(int fd, struct sockaddr *addr,
                                       socklen_t *addrlen, int flags);
TULIP_PRIVATE int tulip__fault_connect(int fd, const struct sockaddr *addr,
                                       socklen_t len);
TULIP_PRIVATE int tulip__fault_socket(int domain, int type, int protocol);
TULIP_PRIVATE int tulip__fault_epoll_create1(int flags);
TULIP_PRIVATE int tulip__fault_epoll_ctl(int epfd, int op, int fd,
                                         struct epoll_event *ev);
TULIP_PRIVATE int tulip__fault_epoll_wait(int epfd, struct epoll_event *evs,
                                          int max, int timeout_ms);
TULIP_PRIVATE int tulip__fault_ppoll(struct pollfd *fds, nfds_t n,
                                     const struct timespec *ts,
                                     const sigset_t *mask);
TULIP_PRIVATE int tulip__fault_eventfd(unsigned int initval, int flags);
TULIP_PRIVATE int tulip__fault_pipe2(int fds[2], int flags);

#else /* !TULIP_TESTING */

/* A normal build: the plain call, no counter, no branch. */
#define TULIP_FAULT(site) 0
#define TULIP_SYS(name) name

#endif /* TULIP_TESTING */

#endif /* TULIP_FAULT_H */
