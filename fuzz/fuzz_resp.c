// SPDX-License-Identifier: MIT
/*
 * fuzz_resp: the RESP request parser of examples/resp_parse.h. The first
 * four bytes pick the limits (small, so that they are hit) and how the
 * rest is cut into reads; the rest is a byte stream from a client. It is
 * parsed twice, as a server does (parse what is buffered, read more, parse
 * again): once whole, once arriving in fuzzed pieces. Checked, with abort()
 * on a violation:
 *   - every request lies inside the bytes it consumed, within the limits;
 *   - at RESP_MORE, req.need is 0 or more than what is buffered;
 *   - both runs give the same requests, word for word, and end the same
 *     way (the same error message, or waiting for more), whatever the cut;
 *   - a request encoded back as a RESP array parses to the same words;
 *   - resp_str2ll agrees with strtoll on Redis's number syntax.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/resp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_resp: invariant failed at line %d: %s\n",    \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define MAX_ARGS 16

/* A growable byte string: the log of one run. */
struct log {
    char *p;
    size_t len, cap;
};

static void log_add(struct log *l, const void *p, size_t n)
{
    if (l->cap - l->len < n) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap - l->len < n)
            cap *= 2;
        l->p = realloc(l->p, cap);
        CHECK(l->p);
        l->cap = cap;
    }
    if (n)
        memcpy(l->p + l->len, p, n);
    l->len += n;
}

/* Record a request's words (length-prefixed) in the log. */
static void log_req(struct log *l, const struct resp_req *req)
{
    log_add(l, "R", 1);
    log_add(l, &req->argc, sizeof(req->argc));
    for (size_t i = 0; i < req->argc; i++) {
        log_add(l, &req->argv[i].len, sizeof(req->argv[i].len));
        log_add(l, req->argv[i].p, req->argv[i].len);
    }
}

/* The words as a RESP array, parsed again: the same words. */
static void check_roundtrip(const struct resp_req *req,
                            const struct resp_limits *lim)
{
    struct resp_arg argv[MAX_ARGS];
    struct resp_req again = {.argv = argv};
    struct log enc = {0};
    char hdr[48];
    long r;

    for (size_t i = 0; i < req->argc; i++)
        if (req->argv[i].len > lim->max_bulk)
            return; /* an inline word may be longer than a bulk may */
    if (req->argc == 0)
        return;
    log_add(&enc, hdr,
            (size_t)snprintf(hdr, sizeof(hdr), "*%zu\r\n", req->argc));
    for (size_t i = 0; i < req->argc; i++) {
        log_add(
            &enc, hdr,
            (size_t)snprintf(hdr, sizeof(hdr), "$%zu\r\n", req->argv[i].len));
        log_add(&enc, req->argv[i].p, req->argv[i].len);
        log_add(&enc, "\r\n", 2);
    }
    r = resp_parse(enc.p, enc.len, lim, &again);
    CHECK(r == (long)enc.len);
    CHECK(again.argc == req->argc && !again.inline_cmd);
    for (size_t i = 0; i < req->argc; i++) {
        CHECK(again.argv[i].len == req->argv[i].len);
        CHECK(memcmp(again.argv[i].p, req->argv[i].p, req->argv[i].len) == 0);
    }
    free(enc.p);
}

/*
 * Parse buf[*off, len) as a server would, logging each request; stop at
 * RESP_MORE (return 0) or RESP_ERR (log the message, return 1).
 */
static int run(char *buf, size_t len, size_t *off,
               const struct resp_limits *lim, struct log *l, bool roundtrip)
{
    struct resp_arg argv[MAX_ARGS];
    struct resp_req req = {.argv = argv};

    while (*off < len) {
        size_t rest = len - *off;
        long r = resp_parse(buf + *off, rest, lim, &req);
        if (r == RESP_MORE) {
            CHECK(req.need == 0 || req.need > rest);
            CHECK(req.argc == 0 && !req.err);
            return 0;
        }
        if (r == RESP_ERR) {
            CHECK(req.err && strncmp(req.err, "Protocol error: ", 16) == 0);
            log_add(l, "E", 1);
            log_add(l, req.err, strlen(req.err));
            return 1;
        }
        CHECK(r > 0 && (size_t)r <= rest);
        CHECK(req.argc <= lim->max_args);
        for (size_t i = 0; i < req.argc; i++) {
            const struct resp_arg *a = &req.argv[i];
            CHECK(a->p >= buf + *off && a->p + a->len <= buf + *off + r);
            CHECK(req.inline_cmd ? a->len <= lim->max_inline
                                 : a->len <= lim->max_bulk);
        }
        log_req(l, &req);
        if (roundtrip)
            check_roundtrip(&req, lim);
        *off += (size_t)r;
    }
    return 0;
}

/* Whether s[0, n) is "0" or -?[1-9][0-9]*, at most 20 bytes. */
static bool number_syntax(const char *s, size_t n)
{
    size_t i = s[0] == '-';

    if (n == 1 && s[0] == '0')
        return true;
    if (n == 0 || n > 20 || i == n || s[i] < '1' || s[i] > '9')
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* resp_str2ll against strtoll and Redis's syntax. */
static void check_str2ll(const uint8_t *p, size_t n)
{
    char s[32];
    int64_t v = 0;
    long long ref;
    char *end;
    bool ok;

    if (n > 24)
        n = 24;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    ok = resp_str2ll(s, n, &v);
    if (n == 0 || !number_syntax(s, n)) {
        CHECK(!ok);
        return;
    }
    errno = 0;
    ref = strtoll(s, &end, 10);
    CHECK(*end == '\0');
    CHECK(ok == (errno == 0));
    if (ok)
        CHECK(v == ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_limits lim;
    struct log whole = {0}, cut = {0};
    char *a, *b;
    size_t n, off = 0, boff = 0, blen = 0;
    uint32_t rng;
    int ea, eb = 0;

    if (size < 4)
        return 0;
    lim.max_bulk = 1 + data[0] % 64;
    lim.max_args = 1 + data[1] % MAX_ARGS;
    lim.max_inline = 1 + (size_t)data[2] % 96;
    rng = data[3] | 1u;
    check_str2ll(data + 4, size - 4);
    data += 4;
    n = size - 4;

    a = malloc(n ? n : 1);
    b = malloc(n ? n : 1);
    CHECK(a && b);
    if (n)
        memcpy(a, data, n);
    ea = run(a, n, &off, &lim, &whole, true);

    /* The same bytes, arriving in pieces of 1 to 16 bytes. */
    while (blen < n && !eb) {
        size_t piece;
        rng = rng * 1103515245u + 12345u;
        piece = 1 + (rng >> 16) % 16;
        if (piece > n - blen)
            piece = n - blen;
        memcpy(b + blen, data + blen, piece);
        blen += piece;
        eb = run(b, blen, &boff, &lim, &cut, false);
    }
    CHECK(ea == eb);
    CHECK(whole.len == cut.len);
    CHECK(whole.len == 0 || memcmp(whole.p, cut.p, whole.len) == 0);
    if (!ea)
        CHECK(off == boff);
    free(whole.p);
    free(cut.p);
    free(a);
    free(b);
    return 0;
}
