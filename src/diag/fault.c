/* SPDX-License-Identifier: MIT */
/*
 * The failure points of src/fault.h: a counter per site, one plan, and a
 * wrapper per syscall that fails when the plan says so instead of making
 * the call. Compiled to nothing unless TULIP_TESTING. The plan is read from
 * $TULIP_FAULT at start-up (a constructor) and replaced by tests through
 * tulip__fault_set(); the counters are atomic because the thread pool's
 * workers pass through the same points.
 */
#include "../prefix.h"
#include "../fault.h"

#if TULIP_TESTING

#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

static const char *const site_names[] = {
#define XX(name, ...) #name,
    TULIP__FAULT_SITES(XX)
#undef XX
};

#define XX(name, ...) static const int errs_##name[] = {__VA_ARGS__};
TULIP__FAULT_SITES(XX)
#undef XX

static const int *const site_errs[] = {
#define XX(name, ...) errs_##name,
    TULIP__FAULT_SITES(XX)
#undef XX
};

static const int site_nerrs[] = {
#define XX(name, ...) (int)(sizeof(errs_##name) / sizeof(int)),
    TULIP__FAULT_SITES(XX)
#undef XX
};

/* Every errno a plan may name. */
#define FAULT_ERRNOS(XX)                                                       \
    XX(ENOMEM)                                                                 \
    XX(EAGAIN)                                                                 \
    XX(EINTR)                                                                  \
    XX(EMFILE)                                                                 \
    XX(ENFILE)                                                                 \
    XX(ECONNRESET)                                                             \
    XX(ECONNREFUSED)                                                           \
    XX(ECONNABORTED)                                                           \
    XX(EPIPE)                                                                  \
    XX(EIO)                                                                    \
    XX(ENOBUFS)                                                                \
    XX(ENOSPC)                                                                 \
    XX(ETIMEDOUT)                                                              \
    XX(EACCES)                                                                 \
    XX(EINVAL)

static struct tulip__fault_plan plan;           /* set before any call */
static atomic_bool plan_on;                     /* plan holds a plan */
static atomic_ulong calls[TULIP__FAULT_NSITES]; /* per site */
static atomic_ulong calls_all;                  /* every site */
static atomic_ulong failed;                     /* failed on purpose */
static atomic_ulong failed_hard; /* of which not with EINTR or EAGAIN */
static bool trace_hits; /* $TULIP_FAULT_TRACE: backtrace of each failure */

int tulip__fault_site_by_name(const char *name)
{
    for (int i = 0; i < TULIP__FAULT_NSITES; i++)
        if (name && strcmp(name, site_names[i]) == 0)
            return i;
    return -1;
}

const char *tulip__fault_site_name(int site)
{
    if (site < 0 || site >= TULIP__FAULT_NSITES)
        return "any";
    return site_names[site];
}

const int *tulip__fault_site_errors(int site, int *n)
{
    if (site < 0 || site >= TULIP__FAULT_NSITES) {
        *n = 0;
        return NULL;
    }
    *n = site_nerrs[site];
    return site_errs[site];
}

int tulip__fault_errno_by_name(const char *name)
{
#define XX(e)                                                                  \
    if (strcmp(name, #e) == 0)                                                 \
        return e;
    FAULT_ERRNOS(XX)
#undef XX
    return 0;
}

const char *tulip__fault_errno_name(int err)
{
#define XX(e)                                                                  \
    if (err == (e))                                                            \
        return #e;
    FAULT_ERRNOS(XX)
#undef XX
    return "?";
}

void tulip__fault_set(const struct tulip__fault_plan *p)
{
    atomic_store(&plan_on, false);
    for (int i = 0; i < TULIP__FAULT_NSITES; i++)
        atomic_store(&calls[i], 0);
    atomic_store(&calls_all, 0);
    atomic_store(&failed, 0);
    atomic_store(&failed_hard, 0);
    if (!p)
        return;
    plan = *p;
    if (plan.site >= TULIP__FAULT_NSITES)
        plan.site = -1;
    if (!plan.err && plan.site >= 0 && plan.p <= 0)
        plan.err = site_errs[plan.site][0];
    atomic_store(&plan_on, plan.nth > 0 || plan.p > 0);
}

/* One key=value of a plan. */
static int parse_pair(const char *k, const char *v, struct tulip__fault_plan *p)
{
    char *end = NULL;

    if (strcmp(k, "site") == 0) {
        p->site = tulip__fault_site_by_name(v);
        return p->site >= 0 || strcmp(v, "any") == 0 ? 0 : -EINVAL;
    }
    if (strcmp(k, "err") == 0) {
        p->err = tulip__fault_errno_by_name(v);
        return p->err ? 0 : -EINVAL;
    }
    if (strcmp(k, "p") == 0) {
        p->p = strtod(v, &end);
        return *end || p->p < 0 || p->p > 1 ? -EINVAL : 0;
    }
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end)
        return -EINVAL;
    if (strcmp(k, "nth") == 0)
        p->nth = (unsigned long)n;
    else if (strcmp(k, "every") == 0)
        p->every = n != 0;
    else if (strcmp(k, "seed") == 0)
        p->seed = n;
    else
        return -EINVAL;
    return 0;
}

int tulip__fault_parse(const char *s, struct tulip__fault_plan *p)
{
    char buf[256];
    char *save = NULL;
    size_t len;

    if (!s || !p || (len = strlen(s)) >= sizeof(buf))
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    p->site = -1;
    memcpy(buf, s, len + 1);
    for (char *kv = strtok_r(buf, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return -EINVAL;
        *eq = '\0';
        if (parse_pair(kv, eq + 1, p) < 0)
            return -EINVAL;
    }
    return 0;
}

__attribute__((constructor)) static void fault_from_env(void)
{
    struct tulip__fault_plan p;
    const char *s = getenv("TULIP_FAULT");

    trace_hits = getenv("TULIP_FAULT_TRACE") != NULL;
    if (!s || !*s)
        return;
    if (tulip__fault_parse(s, &p) < 0) {
        (void)fprintf(stderr, "tulip: TULIP_FAULT: cannot parse \"%s\"\n", s);
        return;
    }
    tulip__fault_set(&p);
}

unsigned long tulip__fault_calls(int site)
{
    if (site < 0 || site >= TULIP__FAULT_NSITES)
        return atomic_load(&calls_all);
    return atomic_load(&calls[site]);
}

unsigned long tulip__fault_failed(void)
{
    return atomic_load(&failed);
}

unsigned long tulip__fault_failed_hard(void)
{
    return atomic_load(&failed_hard);
}

/* splitmix64: the nth number of the sequence of seed. */
static uint64_t fault_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

bool tulip__fault_hit(int site)
{
    unsigned long n = atomic_fetch_add(&calls[site], 1) + 1;
    unsigned long all = atomic_fetch_add(&calls_all, 1) + 1;
    bool fail;

    if (!atomic_load_explicit(&plan_on, memory_order_acquire))
        return false;
    if (plan.site >= 0 && plan.site != site)
        return false;
    if (plan.site < 0)
        n = all;
    uint64_t r = fault_mix(plan.seed ^ (n * 0x100000001b3u));
    if (plan.p > 0)
        fail = (double)(r >> 11) < plan.p * 9007199254740992.0;
    else
        fail = n == plan.nth || (plan.every && n > plan.nth);
    if (!fail)
        return false;
    /* err 0: one of the site's own errors, picked by the sequence */
    int err = plan.err
                  ? plan.err
                  : site_errs[site][(r & 0xff) % (unsigned)site_nerrs[site]];
    atomic_fetch_add(&failed, 1);
    if (err != EINTR && err != EAGAIN)
        atomic_fetch_add(&failed_hard, 1);
    if (trace_hits) {
        void *pcs[32];
        (void)fprintf(stderr, "tulip: fault: %s call %lu fails with %s\n",
                      site_names[site], n, tulip__fault_errno_name(err));
        backtrace_symbols_fd(pcs, backtrace(pcs, 32), 2);
    }
    errno = err;
    return true;
}

#define HIT(name) tulip__fault_hit(TULIP__FAULT_##name)

void *tulip__fault_mmap(void *addr, size_t len, int prot, int flags, int fd,
                        off_t off)
{
    return HIT(mmap) ? MAP_FAILED : mmap(addr, len, prot, flags, fd, off);
}

ssize_t tulip__fault_read(int fd, void *buf, size_t n)
{
    return HIT(read) ? -1 : read(fd, buf, n);
}

ssize_t tulip__fault_readv(int fd, const struct iovec *iov, int n)
{
    return HIT(readv) ? -1 : readv(fd, iov, n);
}

ssize_t tulip__fault_recv(int fd, void *buf, size_t n, int flags)
{
    return HIT(recv) ? -1 : recv(fd, buf, n, flags);
}

ssize_t tulip__fault_recvfrom(int fd, void *buf, size_t n, int flags,
                              struct sockaddr *addr, socklen_t *addrlen)
{
    return HIT(recvfrom) ? -1 : recvfrom(fd, buf, n, flags, addr, addrlen);
}

ssize_t tulip__fault_write(int fd, const void *buf, size_t n)
{
    return HIT(write) ? -1 : write(fd, buf, n);
}

ssize_t tulip__fault_writev(int fd, const struct iovec *iov, int n)
{
    return HIT(writev) ? -1 : writev(fd, iov, n);
}

ssize_t tulip__fault_send(int fd, const void *buf, size_t n, int flags)
{
    return HIT(send) ? -1 : send(fd, buf, n, flags);
}

ssize_t tulip__fault_sendmsg(int fd, const struct msghdr *m, int flags)
{
    return HIT(sendmsg) ? -1 : sendmsg(fd, m, flags);
}

ssize_t tulip__fault_sendto(int fd, const void *buf, size_t n, int flags,
                            const struct sockaddr *addr, socklen_t addrlen)
{
    return HIT(sendto) ? -1 : sendto(fd, buf, n, flags, addr, addrlen);
}

int tulip__fault_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen,
                         int flags)
{
    return HIT(accept4) ? -1 : accept4(fd, addr, addrlen, flags);
}

int tulip__fault_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return HIT(connect) ? -1 : connect(fd, addr, len);
}

int tulip__fault_socket(int domain, int type, int protocol)
{
    return HIT(socket) ? -1 : socket(domain, type, protocol);
}

int tulip__fault_epoll_create1(int flags)
{
    return HIT(epoll_create1) ? -1 : epoll_create1(flags);
}

int tulip__fault_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    return HIT(epoll_ctl) ? -1 : epoll_ctl(epfd, op, fd, ev);
}

int tulip__fault_epoll_wait(int epfd, struct epoll_event *evs, int max,
                            int timeout_ms)
{
    return HIT(epoll_wait) ? -1 : epoll_wait(epfd, evs, max, timeout_ms);
}

int tulip__fault_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                       const sigset_t *mask)
{
    return HIT(ppoll) ? -1 : ppoll(fds, n, ts, mask);
}

int tulip__fault_eventfd(unsigned int initval, int flags)
{
    return HIT(eventfd) ? -1 : eventfd(initval, flags);
}

int tulip__fault_pipe2(int fds[2], int flags)
{
    return HIT(pipe2) ? -1 : pipe2(fds, flags);
}

#else /* !TULIP_TESTING */

/* ISO C forbids an empty translation unit. */
typedef int tulip__fault_unused;

#endif /* TULIP_TESTING */
