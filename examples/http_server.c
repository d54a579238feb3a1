/* SPDX-License-Identifier: MIT */
/*
 * An HTTP/1.1 server on tulip's streams and servers, tested with curl, wrk,
 * socat and nc (tests/net/http_clients.sh) and with examples/fetch.c.
 *
 *     http_server [--host H] [--port N] [--conns N] [--idle MS]
 *                 [--max-header BYTES] [--grace MS]
 *
 * It prints "listening on port N" (port 0 picks a free one), serves until
 * SIGINT or SIGTERM (or, with --conns N, until N connections have ended),
 * then stops gracefully: it stops accepting, closes the connections that
 * wait for a request, lets those in the middle of one finish within the
 * grace period (default 2 s), and prints what it served.
 *
 * One task per connection reads request heads with the stream's
 * read-until-separator ("\r\n\r\n", capped at --max-header bytes: a longer
 * head is the stream's limit error and is answered 431), parses them with
 * http_parse.h, and answers in order, so pipelined requests work as they
 * come. Keep-alive follows HTTP/1.1 and HTTP/1.0 rules and Connection.
 * Every wait for the client has the idle deadline (default 10 s): a client
 * that takes longer to send a request head, however slowly it trickles
 * bytes, gets 408 and is closed; one that does not read a response is
 * closed too. Paths:
 *
 *   GET  /                 "hello, world"
 *   GET  /stream?bytes=N   N bytes ("abc...y\n" repeated), written 64 KiB at
 *                          a time with write + drain (back-pressure);
 *                          &chunked=1 for Transfer-Encoding: chunked
 *   POST /echo             the request body back (Content-Length or chunked)
 *   GET  /delay?ms=N       the answer after N ms
 *   GET  /stats            open connections and requests served
 *
 * (HEAD too, where GET is.) Unknown paths are 404, other methods 405, bad
 * requests 400 and close.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "http_parse.h"
#include "tulip.h"

#define IO_CHUNK 16384
#define STREAM_CHUNK 65536
#define PATTERN "abcdefghijklmnopqrstuvwxy\n" /* 26 bytes */
#define PATTERN_LEN 26

struct conn;

struct server {
    const char *host;
    const char *port;
    long max_conns;     /* stop after this many connections; 0: never */
    int64_t idle_ns;    /* the per-connection idle deadline */
    size_t max_header;  /* the largest request head */
    int64_t grace_ns;   /* for handlers at a graceful stop */
    bool stopping;      /* no new requests */
    long conns_done;    /* connections ended */
    long requests;      /* request heads read (pipelined ones included) */
    long timeouts;      /* 408s: a head not complete by the deadline */
    long too_large;     /* 431s */
    long bad;           /* other 4xx/5xx errors of the parser */
    struct conn *conns; /* the open connections */
    tulip_server *srv;
};

struct conn {
    struct server *sv;
    tulip_stream *s;
    bool busy; /* between reading a request head and its answer's end */
    struct conn *prev, *next;
    struct http_msg req;
    char io[IO_CHUNK];
    char head[]; /* sv->max_header bytes */
};

static char pattern[STREAM_CHUNK + PATTERN_LEN];

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static int64_t deadline(const struct conn *c)
{
    return tulip_now() + c->sv->idle_ns;
}

/* Write and wait for the buffer to go below its low-water mark: the
 * back-pressure, with the idle deadline for a client that does not read. */
static int send_all(struct conn *c, const void *buf, size_t n)
{
    int rc = tulip_stream_write(c->s, buf, n);
    return rc ? rc : tulip_stream_drain_until(c->s, deadline(c));
}

static bool keep_alive(const struct conn *c)
{
    return c->req.keep_alive && !c->sv->stopping;
}

static bool is_head(const struct conn *c)
{
    return http_eq_nocase(c->req.method, c->req.method_len, "HEAD");
}

/* Write a response head, and the body if there is one (with a single
 * writev: one system call for a small answer); length < 0 means chunked. */
static int send_response(struct conn *c, int status, int64_t length,
                         const char *extra, const char *body)
{
    char h[512];
    int n;
    const char *conn = !keep_alive(c)      ? "Connection: close\r\n"
                       : c->req.minor == 0 ? "Connection: keep-alive\r\n"
                                           : "";
    char len[64];
    struct iovec iov[2];
    int rc;

    if (length >= 0)
        snprintf(len, sizeof(len), "Content-Length: %lld\r\n",
                 (long long)length);
    else
        snprintf(len, sizeof(len), "Transfer-Encoding: chunked\r\n");
    n = snprintf(h, sizeof(h),
                 "HTTP/1.1 %d %s\r\nServer: tulip-http\r\n%s%s%s\r\n", status,
                 reason(status), len, conn, extra ? extra : "");
    iov[0].iov_base = h;
    iov[0].iov_len = (size_t)n;
    iov[1].iov_base = (void *)body;
    iov[1].iov_len = body && !is_head(c) ? (size_t)length : 0;
    rc = tulip_stream_writev(c->s, iov, 2);
    return rc ? rc : tulip_stream_drain_until(c->s, deadline(c));
}

static int send_head(struct conn *c, int status, int64_t length,
                     const char *extra)
{
    return send_response(c, status, length, extra, NULL);
}

/* A whole small response. */
static int respond(struct conn *c, int status, const char *extra,
                   const char *body)
{
    return send_response(c, status, (int64_t)strlen(body), extra, body);
}

/* Answer an error and close: half-close, then read and drop what the
 * client still sends for a moment, so that closing with unread bytes does
 * not reset the connection before the client has read the answer. */
static int respond_error(struct conn *c, int status)
{
    char body[128];
    int64_t until =
        tulip_now() + (c->sv->idle_ns < TULIP_SEC ? c->sv->idle_ns : TULIP_SEC);
    size_t dropped = 0;

    c->req.keep_alive = false;
    c->req.method = "GET";
    c->req.method_len = 3;
    snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
    if (respond(c, status, NULL, body) != 0)
        return 0;
    if (tulip_stream_write_eof(c->s) != 0)
        return 0;
    while (dropped < (1u << 20)) {
        ssize_t n = tulip_stream_read_until(c->s, c->io, sizeof(c->io), until);
        if (n <= 0)
            break;
        dropped += (size_t)n;
    }
    return 0;
}

/* Copy exactly n body bytes from the client to the response (echo) or
 * nowhere. */
static int copy_bytes(struct conn *c, uint64_t n, bool echo)
{
    while (n > 0) {
        size_t want = n < sizeof(c->io) ? (size_t)n : sizeof(c->io);
        ssize_t got = tulip_stream_read_until(c->s, c->io, want, deadline(c));
        int rc;
        if (got == 0)
            return TULIP_EINCOMPLETE;
        if (got < 0)
            return (int)got;
        if (echo && (rc = send_all(c, c->io, (size_t)got)) != 0)
            return rc;
        n -= (uint64_t)got;
    }
    return 0;
}

/* "Expect: 100-continue": the interim answer that the client waits for
 * before it sends the body (curl does for large ones), once. */
static int send_continue(struct conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct http_msg *m = &c->req;

    if (!m->expect_continue || m->minor == 0 ||
        (!m->chunked && m->content_length <= 0))
        return 0;
    m->expect_continue = false;
    return send_all(c, cont, sizeof(cont) - 1);
}

/* Read the request body (Content-Length or chunked), echoing it as the
 * response body or dropping it. 0, or an error that closes. */
static int body(struct conn *c, bool echo)
{
    struct http_msg *m = &c->req;
    char line[256];
    size_t partial;

    int rc = send_continue(c);

    if (rc)
        return rc;
    if (!m->chunked)
        return m->content_length > 0
                   ? copy_bytes(c, (uint64_t)m->content_length, echo)
                   : 0;
    for (;;) {
        uint64_t size;
        ssize_t n = tulip_stream_read_sep_until(
            c->s, "\r\n", 2, line, sizeof(line), &partial, deadline(c));
        if (n < 0)
            return (int)n;
        if (http_parse_chunk_size(line, (size_t)n, &size) != 0)
            return -EINVAL;
        if (size == 0)
            break;
        if (echo) {
            char h[32];
            int k =
                snprintf(h, sizeof(h), "%llx\r\n", (unsigned long long)size);
            if ((rc = tulip_stream_write(c->s, h, (size_t)k)) != 0)
                return rc;
        }
        if ((rc = copy_bytes(c, size, echo)) != 0)
            return rc;
        n = tulip_stream_read_exactly_until(c->s, line, 2, &partial,
                                            deadline(c));
        if (n < 0)
            return (int)n;
        if (memcmp(line, "\r\n", 2) != 0)
            return -EINVAL;
        if (echo && (rc = tulip_stream_write(c->s, "\r\n", 2)) != 0)
            return rc;
    }
    /* The trailer section: header lines up to an empty line, dropped. */
    for (;;) {
        ssize_t n = tulip_stream_read_sep_until(
            c->s, "\r\n", 2, line, sizeof(line), &partial, deadline(c));
        if (n < 0)
            return (int)n;
        if (n == 2)
            break;
    }
    return echo ? send_all(c, "0\r\n\r\n", 5) : 0;
}

/* Drop the request body; a malformed chunked one is answered 400. */
static int skip_body(struct conn *c)
{
    int rc = body(c, false);
    if (rc == -EINVAL || rc == TULIP_ELIMIT) {
        c->sv->bad++;
        respond_error(c, 400);
    }
    return rc;
}

static bool query_u64(const struct conn *c, const char *key, uint64_t max,
                      uint64_t dflt, uint64_t *out)
{
    const char *v;
    size_t vn;
    if (!http_query_get(c->req.target, c->req.target_len, key, &v, &vn)) {
        *out = dflt;
        return true;
    }
    return http_parse_u64(v, vn, max, out) == 0;
}

/* GET /stream?bytes=N[&chunked=1]: the pattern, 64 KiB per write + drain. */
static int stream_body(struct conn *c)
{
    uint64_t n, chunked, off = 0;
    int rc;

    if (!query_u64(c, "bytes", (uint64_t)1 << 40, 1 << 20, &n) ||
        !query_u64(c, "chunked", 1, 0, &chunked))
        return respond(c, 400, NULL, "bad query\n");
    rc = send_head(c, 200, chunked ? -1 : (int64_t)n,
                   "Content-Type: text/plain\r\n");
    if (rc || is_head(c))
        return rc;
    while (off < n) {
        size_t k = n - off < STREAM_CHUNK ? (size_t)(n - off) : STREAM_CHUNK;
        const char *p = pattern + off % PATTERN_LEN;
        if (chunked) {
            char h[32];
            int hn = snprintf(h, sizeof(h), "%zx\r\n", k);
            struct iovec iov[3] = {
                {h, (size_t)hn}, {(void *)p, k}, {(void *)"\r\n", 2}};
            rc = tulip_stream_writev(c->s, iov, 3);
            if (rc == 0)
                rc = tulip_stream_drain_until(c->s, deadline(c));
        } else {
            rc = send_all(c, p, k);
        }
        if (rc)
            return rc;
        off += k;
    }
    return chunked ? send_all(c, "0\r\n\r\n", 5) : 0;
}

static int echo_body(struct conn *c)
{
    struct http_msg *m = &c->req;
    int rc;

    if (!m->chunked && m->content_length < 0)
        return respond(c, 200, NULL, "");
    rc = send_continue(c);
    if (rc == 0)
        rc = send_head(c, 200, m->chunked ? -1 : m->content_length,
                       "Content-Type: application/octet-stream\r\n");
    return rc ? rc : body(c, true);
}

/* One request: 0 to go on with the connection, an error to close it. */
static int route(struct conn *c)
{
    const struct http_msg *m = &c->req;
    size_t plen = http_path_len(m->target, m->target_len);
    bool get = http_eq_nocase(m->method, m->method_len, "GET") || is_head(c);
    bool post = http_eq_nocase(m->method, m->method_len, "POST") ||
                http_eq_nocase(m->method, m->method_len, "PUT");
    char text[160];
    int rc;

#define PATH_IS(p) (plen == sizeof(p) - 1 && memcmp(m->target, p, plen) == 0)
    if (PATH_IS("/echo")) {
        if (post)
            return echo_body(c);
        rc = skip_body(c);
        return rc ? rc : respond(c, 405, "Allow: POST, PUT\r\n", "405\n");
    }
    rc = skip_body(c); /* the other paths ignore bodies */
    if (rc)
        return rc;
    if (!PATH_IS("/") && !PATH_IS("/stream") && !PATH_IS("/delay") &&
        !PATH_IS("/stats"))
        return respond(c, 404, NULL, "not found\n");
    if (!get)
        return respond(c, 405, "Allow: GET, HEAD\r\n", "405\n");
    if (PATH_IS("/"))
        return respond(c, 200, "Content-Type: text/plain\r\n",
                       "hello, world\n");
    if (PATH_IS("/stream"))
        return stream_body(c);
    if (PATH_IS("/delay")) {
        uint64_t ms;
        if (!query_u64(c, "ms", 60000, 100, &ms))
            return respond(c, 400, NULL, "bad query\n");
        rc = tulip_sleep((int64_t)ms * TULIP_MSEC);
        if (rc)
            return rc;
        snprintf(text, sizeof(text), "slept %llu ms\n", (unsigned long long)ms);
        return respond(c, 200, NULL, text);
    }
    snprintf(text, sizeof(text), "connections %zu\nrequests %ld\n",
             tulip_server_connections(c->sv->srv), c->sv->requests);
    return respond(c, 200, NULL, text);
#undef PATH_IS
}

static int serve_conn(struct conn *c)
{
    struct server *sv = c->sv;

    for (;;) {
        size_t partial;
        ssize_t n, rc;

        c->busy = false;
        if (sv->stopping)
            return 0;
        n = tulip_stream_read_sep_until(c->s, "\r\n\r\n", 4, c->head,
                                        sv->max_header, &partial, deadline(c));
        if (n == -ETIMEDOUT) {
            /* Silence between requests ends quietly; a head begun is 408. */
            if (tulip_stream_read_buffer_size(c->s) == 0)
                return 0;
            sv->timeouts++;
            return respond_error(c, 408);
        }
        if (n == TULIP_ELIMIT) {
            /* The limit error keeps the bytes in the stream: we could
             * still read them, but we answer and drop the connection. */
            sv->too_large++;
            return respond_error(c, 431);
        }
        if (n < 0)
            return 0; /* end of file, reset, closed by a stop, cancelled */
        c->busy = true;
        sv->requests++;
        rc = http_parse_request(c->head, (size_t)n, sv->max_header, &c->req);
        if (rc < 0) {
            sv->bad++;
            return respond_error(c, http_error_status((int)rc));
        }
        if (route(c) != 0)
            return 0;
        if (!keep_alive(c))
            return 0;
    }
}

/* Stop accepting, and close the connections that wait for a request; the
 * busy ones see `stopping` after their answer and close. */
static void begin_stop(struct server *sv)
{
    if (sv->stopping)
        return;
    sv->stopping = true;
    tulip_server_stop(sv->srv);
    for (struct conn *c = sv->conns; c; c = c->next)
        if (!c->busy)
            tulip_stream_close(c->s);
}

static int handle(tulip_stream *s, void *arg)
{
    struct server *sv = arg;
    struct conn *c = malloc(sizeof(*c) + sv->max_header);

    if (!c)
        return -ENOMEM;
    c->sv = sv;
    c->s = s;
    c->busy = false;
    c->prev = NULL;
    c->next = sv->conns;
    if (sv->conns)
        sv->conns->prev = c;
    sv->conns = c;
    serve_conn(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        sv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    if (++sv->conns_done == sv->max_conns)
        begin_stop(sv);
    return 0;
}

static void stop_gracefully(struct server *sv)
{
    begin_stop(sv);
    int n = tulip_server_close(sv->srv, sv->grace_ns);
    if (n > 0)
        printf("cancelled %d connections after the grace period\n", n);
}

/* SIGTERM: the same graceful stop as SIGINT (which tulip_run turns into
 * cancelling the main task). */
static int watch_term(void *arg)
{
    struct server *sv = arg;
    if (tulip_signal_wait(SIGTERM) == SIGTERM) {
        printf("SIGTERM: stopping\n");
        stop_gracefully(sv);
    }
    return 0;
}

static int serve(void *arg)
{
    struct server *sv = arg;
    struct tulip_server_opts o = {.host = sv->host, .port = sv->port};
    struct tulip_scope shield;
    tulip_task *watcher = NULL;
    int rc;

    o.listen.backlog = 4096;
    rc = tulip_server_start(&sv->srv, handle, sv, &o);
    if (rc) {
        fprintf(stderr, "http_server: %s\n", tulip_strerror(rc));
        return 1;
    }
    printf("listening on port %d\n", tulip_server_port(sv->srv));
    fflush(stdout);
    rc = tulip_spawn(&watcher, NULL, watch_term, sv);
    if (rc == 0)
        rc = tulip_server_wait(sv->srv);
    /* Cancelled (SIGINT): stop gracefully all the same, shielded. */
    tulip_scope_enter(&shield, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    if (rc == -ECANCELED) {
        printf("SIGINT: stopping\n");
        stop_gracefully(sv);
    }
    if (watcher) {
        tulip_task_cancel(watcher);
        tulip_task_join(watcher, NULL);
        tulip_task_release(watcher);
    }
    tulip_scope_exit(&shield);
    printf("served %ld connections, %ld requests (%ld timed out, %ld heads "
           "too large, %ld bad)\n",
           sv->conns_done, sv->requests, sv->timeouts, sv->too_large, sv->bad);
    fflush(stdout);
    tulip_server_free(sv->srv);
    return rc == 0 || rc == -ECANCELED ? 0 : 1;
}

static bool arg_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    struct server sv = {.host = "127.0.0.1",
                        .port = "0",
                        .idle_ns = 10 * TULIP_SEC,
                        .max_header = 8192,
                        .grace_ns = 2 * TULIP_SEC};
    int result = 1, rc;
    long v;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!next)
            goto usage;
        i++;
        if (strcmp(a, "--host") == 0)
            sv.host = next;
        else if (strcmp(a, "--port") == 0)
            sv.port = next;
        else if (strcmp(a, "--conns") == 0 && arg_long(next, 1, LONG_MAX, &v))
            sv.max_conns = v;
        else if (strcmp(a, "--idle") == 0 && arg_long(next, 1, 3600000, &v))
            sv.idle_ns = v * TULIP_MSEC;
        else if (strcmp(a, "--grace") == 0 && arg_long(next, 0, 3600000, &v))
            sv.grace_ns = v * TULIP_MSEC;
        else if (strcmp(a, "--max-header") == 0 &&
                 arg_long(next, 64, 1 << 20, &v))
            sv.max_header = (size_t)v;
        else
            goto usage;
    }
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = PATTERN[i % PATTERN_LEN];
    rc = tulip_run(serve, &sv, &result, NULL);
    if (rc != 0 && rc != -EINTR)
        return 1;
    return result;
usage:
    fprintf(stderr,
            "usage: %s [--host H] [--port N] [--conns N] [--idle MS]\n"
            "       [--max-header BYTES] [--grace MS]\n",
            argv[0]);
    return 2;
}
