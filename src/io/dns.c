/* SPDX-License-Identifier: MIT */
/*
 * Name resolution: getaddrinfo(3) and getnameinfo(3), which block, run on
 * the DNS pool (pool.c), a pool of their own so that a pool full of slow
 * blocking jobs cannot delay lookups (libuv issue 28). Numeric hosts and
 * ports never leave the calling thread: getaddrinfo with AI_NUMERICHOST and
 * AI_NUMERICSERV does no lookup, so servers binding "127.0.0.1" port "0"
 * need no thread at all.
 *
 * A lookup owns copies of everything it reads and writes (host, port,
 * hints, the name buffers), so that a task that stops waiting (cancelled,
 * timed out) can return at once: the abandoned lookup finishes in its
 * thread, and the loop frees it and its result afterwards.
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

int tulip__eai_error(int eai)
{
    switch (eai) {
    case 0:
        return 0;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return TULIP_EAI_NONAME;
    case EAI_AGAIN:
        return TULIP_EAI_AGAIN;
    case EAI_SERVICE:
        return TULIP_EAI_SERVICE;
    case EAI_FAMILY:
        return -EAFNOSUPPORT;
    case EAI_SOCKTYPE:
        return -ESOCKTNOSUPPORT;
    case EAI_BADFLAGS:
        return -EINVAL;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_OVERFLOW:
        return -ENOSPC;
    case EAI_SYSTEM:
        return errno ? -errno : TULIP_EAI_FAIL;
    default:
        return TULIP_EAI_FAIL;
    }
}

/* 1 if s is a decimal port number (or absent), 0 if it is not a number,
 * -1 if it is a number beyond 65535 (which getaddrinfo would silently
 * truncate to 16 bits: "99999" would bind port 34463). */
static int numeric_port(const char *s)
{
    unsigned long v = 0;

    if (!s)
        return 1;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return -1;
    }
    return 1;
}

/* A lookup, with copies of its inputs (strings follow the struct). */
struct gai_job {
    struct addrinfo hints;
    struct addrinfo *res; /* OUT */
    int eai;              /* OUT: getaddrinfo's return value */
    int err;              /* OUT: errno for EAI_SYSTEM */
    char *host;           /* NULL or into buf */
    char *port;           /* NULL or into buf */
    size_t size;          /* bytes allocated */
    char buf[];
};

static int gai_run(void *arg)
{
    struct gai_job *j = arg;

    errno = 0;
    j->eai = getaddrinfo(j->host, j->port, &j->hints, &j->res);
    j->err = errno;
    return 0;
}

static void gai_free(struct gai_job *j)
{
    if (j->res)
        freeaddrinfo(j->res);
    tulip__free(j, j->size);
}

static void gai_abandon(void *arg, int result)
{
    (void)result;
    gai_free(arg);
}

static int gai_result(int eai, int err)
{
    if (eai == EAI_SYSTEM && err)
        return -err;
    return tulip__eai_error(eai);
}

int tulip__dns_resolve(struct tulip_task *t, const char *host, const char *port,
                       const struct addrinfo *hints, struct addrinfo **res,
                       int64_t deadline_ns)
{
    struct addrinfo h = {0};
    size_t hl = host ? strlen(host) + 1 : 0;
    size_t pl = port ? strlen(port) + 1 : 0;
    struct gai_job *j;
    int rc, eai;

    *res = NULL;
    if (hints)
        h = *hints;
    h.ai_addr = NULL;
    h.ai_canonname = NULL;
    h.ai_next = NULL;
    rc = numeric_port(port);
    if (rc < 0)
        return TULIP_EAI_SERVICE;
    if (rc > 0) {
        struct addrinfo nh = h;
        nh.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
        errno = 0;
        eai = getaddrinfo(host, port, &nh, res);
        if (eai != EAI_NONAME || (h.ai_flags & AI_NUMERICHOST) || !host)
            return gai_result(eai, errno);
    }
    if (!t)
        return -EPERM;
    j = tulip__alloc(sizeof(*j) + hl + pl);
    if (!j)
        return -ENOMEM;
    memset(j, 0, sizeof(*j));
    j->size = sizeof(*j) + hl + pl;
    j->hints = h;
    if (host)
        j->host = memcpy(j->buf, host, hl);
    if (port)
        j->port = memcpy(j->buf + hl, port, pl);
    rc = tulip__pool_run(t, TULIP_POOL_DNS, gai_run, j, gai_abandon,
                         deadline_ns, NULL);
    if (rc)
        return rc; /* j now belongs to the pool (or was freed) */
    rc = gai_result(j->eai, j->err);
    if (rc == 0) {
        *res = j->res;
        j->res = NULL;
    }
    gai_free(j);
    return rc;
}

/* ---- public API ------------------------------------------------------------
 */

int tulip_getaddrinfo_until(const char *host, const char *port,
                            const struct addrinfo *hints, struct addrinfo **res,
                            int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (res)
        *res = NULL;
    if (!res || (!host && !port))
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    return rc ? rc : tulip__dns_resolve(t, host, port, hints, res, deadline_ns);
}

int tulip_getaddrinfo(const char *host, const char *port,
                      const struct addrinfo *hints, struct addrinfo **res)
{
    return tulip_getaddrinfo_until(host, port, hints, res, TULIP_FOREVER);
}

void tulip_freeaddrinfo(struct addrinfo *res)
{
    if (res)
        freeaddrinfo(res);
}

struct gni_job {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int flags;
    int eai; /* OUT */
    int err; /* OUT */
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
};

static int gni_run(void *arg)
{
    struct gni_job *j = arg;

    errno = 0;
    j->eai = getnameinfo((struct sockaddr *)&j->addr, j->addrlen, j->host,
                         sizeof(j->host), j->serv, sizeof(j->serv), j->flags);
    j->err = errno;
    return 0;
}

static void gni_abandon(void *arg, int result)
{
    (void)result;
    tulip__free(arg, sizeof(struct gni_job));
}

/* Copy src into dst of n bytes; -ENOSPC if it does not fit. */
static int copy_name(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);

    if (!dst || !n)
        return 0;
    if (l >= n)
        return -ENOSPC;
    memcpy(dst, src, l + 1);
    return 0;
}

int tulip_getnameinfo_until(const struct sockaddr *addr, socklen_t addrlen,
                            char *host, size_t hostlen, char *serv,
                            size_t servlen, int flags, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    struct gni_job *j;
    int rc;

    if (!addr || addrlen == 0 || addrlen > sizeof(j->addr) ||
        ((!host || !hostlen) && (!serv || !servlen)))
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    j = tulip__calloc(sizeof(*j));
    if (!j)
        return -ENOMEM;
    memcpy(&j->addr, addr, addrlen);
    j->addrlen = addrlen;
    j->flags = flags;
    rc = tulip__pool_run(t, TULIP_POOL_DNS, gni_run, j, gni_abandon,
                         deadline_ns, NULL);
    if (rc)
        return rc;
    rc = gai_result(j->eai, j->err);
    if (rc == 0 && host && hostlen)
        rc = copy_name(host, hostlen, j->host);
    if (rc == 0 && serv && servlen)
        rc = copy_name(serv, servlen, j->serv);
    tulip__free(j, sizeof(*j));
    return rc;
}

int tulip_getnameinfo(const struct sockaddr *addr, socklen_t addrlen,
                      char *host, size_t hostlen, char *serv, size_t servlen,
                      int flags)
{
    return tulip_getnameinfo_until(addr, addrlen, host, hostlen, serv, servlen,
                                   flags, TULIP_FOREVER);
}
