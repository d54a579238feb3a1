/* SPDX-License-Identifier: MIT */
/*
 * A concurrent HTTP client: the aiohttp `fetch` that opens jmoldow's
 * tutorial,
 *
 *     async def fetch(session, url):
 *         with aiohttp.Timeout(10):
 *             async with session.get(url) as response:
 *                 return await response.text()
 *
 * run over many URLs at once, in C. Each URL is a task of a task group; a
 * semaphore bounds how many run at a time (asyncio.Semaphore), and each
 * fetch runs inside a scope with a deadline (asyncio.timeout): connect,
 * request, head and body all give up together when it passes.
 *
 *     fetch [--concurrency N] [--timeout MS] URL...
 *
 * URLs are http://host[:port]/path. For each, in the order given, it
 * prints the status, the body's length and its CRC-32 (or the timeout or
 * error), then a summary; the output depends only on what the server
 * answers, not on timing. tests/net/http_clients.sh runs it against
 * examples/http_server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_parse.h"
#include "tulip.h"

#define HEAD_MAX 16384

struct job {
    const char *url;
    char host[256];
    char port[8];
    const char *path;
    int status;     /* the answer's status, 0 if none */
    uint64_t bytes; /* of the body */
    uint32_t crc;   /* CRC-32 of the body */
    int err;        /* 0, or why the fetch failed */
    bool timed_out; /* the fetch's deadline passed */
};

struct fetch_ctx {
    struct job *jobs;
    size_t n;
    tulip_sem *sem;
    int64_t timeout_ns;
};

static struct fetch_ctx ctx;

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* http://host[:port][/path] into j; false if it is not such a URL. */
static bool parse_url(struct job *j)
{
    const char *p = j->url, *h, *colon, *slash;
    size_t hn;

    if (strncmp(p, "http://", 7) != 0)
        return false;
    h = p + 7;
    slash = strchr(h, '/');
    if (!slash)
        slash = h + strlen(h);
    colon = memchr(h, ':', (size_t)(slash - h));
    hn = (size_t)((colon ? colon : slash) - h);
    if (hn == 0 || hn >= sizeof(j->host))
        return false;
    memcpy(j->host, h, hn);
    j->host[hn] = '\0';
    if (colon) {
        size_t pn = (size_t)(slash - colon - 1);
        if (pn == 0 || pn >= sizeof(j->port))
            return false;
        memcpy(j->port, colon + 1, pn);
        j->port[pn] = '\0';
    } else {
        strcpy(j->port, "80");
    }
    j->path = *slash ? slash : "/";
    return true;
}

static void consume(struct job *j, const char *buf, size_t n)
{
    j->bytes += n;
    j->crc = crc32_update(j->crc, (const unsigned char *)buf, n);
}

/* Read n body bytes. */
static int read_n(tulip_stream *s, struct job *j, char *buf, size_t cap,
                  uint64_t n)
{
    while (n > 0) {
        ssize_t got = tulip_stream_read(s, buf, n < cap ? (size_t)n : cap);
        if (got == 0)
            return TULIP_EINCOMPLETE;
        if (got < 0)
            return (int)got;
        consume(j, buf, (size_t)got);
        n -= (uint64_t)got;
    }
    return 0;
}

static int read_chunked(tulip_stream *s, struct job *j, char *buf, size_t cap)
{
    size_t partial;
    for (;;) {
        uint64_t size;
        ssize_t n = tulip_stream_read_sep(s, "\r\n", 2, buf, 256, &partial);
        int rc;
        if (n < 0)
            return (int)n;
        if (http_parse_chunk_size(buf, (size_t)n, &size) != 0)
            return -EPROTO;
        if (size == 0)
            break;
        if ((rc = read_n(s, j, buf, cap, size)) != 0)
            return rc;
        n = tulip_stream_read_exactly(s, buf, 2, &partial);
        if (n < 0)
            return (int)n;
        if (memcmp(buf, "\r\n", 2) != 0)
            return -EPROTO;
    }
    for (;;) { /* trailers, up to the empty line */
        ssize_t n = tulip_stream_read_sep(s, "\r\n", 2, buf, 256, &partial);
        if (n < 0)
            return (int)n;
        if (n == 2)
            return 0;
    }
}

/* session.get(url) and response.text(), over one connection. */
static int get(tulip_stream *s, struct job *j, char *buf)
{
    struct http_msg m;
    size_t partial;
    ssize_t n;
    int rc;

    n = snprintf(buf, HEAD_MAX,
                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: tulip-fetch"
                 "\r\nConnection: close\r\n\r\n",
                 j->path, j->host, j->port);
    if (n >= HEAD_MAX)
        return -ENAMETOOLONG;
    rc = tulip_stream_write(s, buf, (size_t)n);
    if (rc == 0)
        rc = tulip_stream_drain(s);
    if (rc)
        return rc;
    do { /* interim 1xx answers come before the final one */
        n = tulip_stream_read_sep(s, "\r\n\r\n", 4, buf, HEAD_MAX, &partial);
        if (n < 0)
            return (int)n;
        if (http_parse_response(buf, (size_t)n, HEAD_MAX, &m) < 0)
            return -EPROTO;
    } while (m.status < 200);
    j->status = m.status;
    if (m.status == 204 || m.status == 304)
        return 0;
    if (m.chunked)
        return read_chunked(s, j, buf, HEAD_MAX);
    if (m.content_length >= 0)
        return read_n(s, j, buf, HEAD_MAX, (uint64_t)m.content_length);
    while ((n = tulip_stream_read(s, buf, HEAD_MAX)) > 0) /* to the end */
        consume(j, buf, (size_t)n);
    return (int)n;
}

static int fetch(struct job *j)
{
    tulip_stream *s = NULL;
    char *buf;
    int fd, rc;

    rc = tulip_tcp_connect(&fd, j->host, j->port, NULL);
    if (rc)
        return rc;
    rc = tulip_stream_new(&s, fd, NULL);
    if (rc) {
        close(fd);
        return rc;
    }
    buf = malloc(HEAD_MAX);
    rc = buf ? get(s, j, buf) : -ENOMEM;
    free(buf);
    tulip_stream_wait_closed(s); /* aborts at once past the deadline */
    tulip_stream_free(s);
    return rc;
}

/* One URL: wait for a turn, then fetch it within the timeout. */
static int fetch_task(void *arg)
{
    struct job *j = arg;
    struct tulip_scope timeout;
    int rc;

    rc = tulip_sem_acquire(ctx.sem);
    if (rc) {
        j->err = rc;
        return 0;
    }
    tulip_scope_enter(&timeout, tulip_now() + ctx.timeout_ns, 0);
    j->err = fetch(j);
    j->timed_out = tulip_scope_exit(&timeout) == -ETIMEDOUT;
    tulip_sem_release(ctx.sem);
    return 0; /* a failed fetch is a result, not a failure of the group */
}

static int fetch_all(void *arg)
{
    tulip_group *g;
    int rc;

    (void)arg;
    rc = tulip_group_new(&g);
    if (rc)
        return rc;
    for (size_t i = 0; i < ctx.n && rc == 0; i++)
        if (!ctx.jobs[i].err)
            rc = tulip_group_spawn(g, fetch_task, &ctx.jobs[i], NULL, NULL);
    int wrc = tulip_group_wait(g);
    return rc ? rc : wrc;
}

static void report(void)
{
    int answered = 0, ok = 0, timeouts = 0, failed = 0;
    int64_t ms = ctx.timeout_ns / TULIP_MSEC;

    for (size_t i = 0; i < ctx.n; i++) {
        const struct job *j = &ctx.jobs[i];
        printf("GET %-34s ", j->path ? j->path : j->url);
        if (j->timed_out) {
            printf("timeout after %lld ms\n", (long long)ms);
            timeouts++;
        } else if (j->err) {
            printf("%s\n", j->err == -EINVAL ? "not an http:// URL"
                                             : tulip_strerror(j->err));
            failed++;
        } else {
            printf("%3d %8llu bytes  crc %08x\n", j->status,
                   (unsigned long long)j->bytes, j->crc);
            answered++;
            ok += j->status == 200;
        }
    }
    printf("%zu URLs: %d answered (%d of them 200), %d timed out, %d failed\n",
           ctx.n, answered, ok, timeouts, failed);
}

int main(int argc, char **argv)
{
    long concurrency = 10, timeout_ms = 10000;
    int i, result = 0, rc;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        char *end;
        long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
        if (i + 1 >= argc || *end || v <= 0)
            goto usage;
        if (strcmp(argv[i], "--concurrency") == 0)
            concurrency = v;
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout_ms = v;
        else
            goto usage;
    }
    if (i == argc || concurrency > 100000)
        goto usage;
    ctx.n = (size_t)(argc - i);
    ctx.jobs = calloc(ctx.n, sizeof(*ctx.jobs));
    if (!ctx.jobs)
        return 1;
    for (size_t k = 0; k < ctx.n; k++) {
        ctx.jobs[k].url = argv[i + (int)k];
        if (!parse_url(&ctx.jobs[k]))
            ctx.jobs[k].err = -EINVAL;
    }
    ctx.timeout_ns = timeout_ms * TULIP_MSEC;
    if (tulip_sem_new(&ctx.sem, (int)concurrency) != 0)
        return 1;
    rc = tulip_run(fetch_all, NULL, &result, NULL);
    tulip_sem_free(ctx.sem);
    if (rc == 0 && result == 0)
        report();
    else
        fprintf(stderr, "fetch: %s\n", tulip_strerror(rc ? rc : result));
    free(ctx.jobs);
    return rc == 0 && result == 0 ? 0 : 1;
usage:
    fprintf(stderr, "usage: %s [--concurrency N] [--timeout MS] URL...\n",
            argv[0]);
    return 2;
}
