// SPDX-License-Identifier: MIT
/*
 * fuzz_http: the HTTP/1.x parser of examples/http_server.c and
 * examples/fetch.c (examples/http_parse.h). The first input byte picks the
 * head limit; the rest is parsed as a request head and as a response head,
 * and each of its lines as a chunk-size line and a number. Checked: every
 * result is in range and points inside the input; a head ends at the first
 * CRLF CRLF and is refused beyond the limit; parsed fields hold only the
 * characters their grammar allows; Content-Length and chunked exclude each
 * other; an HTTP/1.1 request has one Host; a parsed request, written back
 * in canonical form, parses to the same fields (and an incomplete head
 * never parses); and the number parsers agree with strtoull. A violation
 * abort()s.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_http: invariant failed at line %d: %s\n",    \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && p - buf <= (ptrdiff_t)(len - n);
}

static bool is_error(ssize_t rc)
{
    return rc == -EINVAL || rc == -E2BIG || rc == -ENOBUFS || rc == -ENOSYS ||
           rc == -EPROTONOSUPPORT;
}

/* What holds for a head that parsed, request or response. */
static void check_fields(const struct http_msg *m, const char *buf, size_t end)
{
    CHECK(m->minor == 0 || m->minor == 1);
    CHECK(m->nheaders <= HTTP_MAX_HEADERS);
    CHECK(m->content_length >= -1);
    CHECK(!(m->chunked && m->content_length >= 0));
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct http_header *h = &m->headers[i];
        CHECK(h->name_len > 0 && inside(h->name, h->name_len, buf, end));
        CHECK(inside(h->value, h->value_len, buf, end));
        for (size_t k = 0; k < h->name_len; k++)
            CHECK(http_is_tchar((unsigned char)h->name[k]));
        for (size_t k = 0; k < h->value_len; k++) {
            unsigned char c = (unsigned char)h->value[k];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (h->value_len > 0) {
            char a = h->value[0], z = h->value[h->value_len - 1];
            CHECK(a != ' ' && a != '\t' && z != ' ' && z != '\t');
        }
    }
}

static void check_head(ssize_t rc, const char *buf, size_t len, size_t max)
{
    size_t lim = len < max ? len : max;
    size_t first = http_head_end(buf, len);

    CHECK(rc >= 0 || is_error(rc));
    if (rc > 0) {
        CHECK((size_t)rc <= lim && (size_t)rc >= 4);
        CHECK(memcmp(buf + rc - 4, "\r\n\r\n", 4) == 0);
        CHECK(first == (size_t)rc); /* the first end of head */
    } else if (rc == 0) {
        CHECK(len < max);
        CHECK(first == 0);
    } else if (rc == -E2BIG) {
        CHECK(len >= max && (first == 0 || first > max));
    }
}

/* Write a parsed request back in canonical form and parse it again. */
static void check_round_trip(const struct http_msg *m, size_t max)
{
    size_t cap = 65536, n = 0;
    char *out = malloc(cap);
    struct http_msg m2;
    ssize_t rc;

    CHECK(out != NULL);
#define PUT(p, k)                                                              \
    do {                                                                       \
        CHECK(n + (k) <= cap);                                                 \
        memcpy(out + n, (p), (k));                                             \
        n += (k);                                                              \
    } while (0)
    PUT(m->method, m->method_len);
    PUT(" ", 1);
    PUT(m->target, m->target_len);
    PUT(m->minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
    for (size_t i = 0; i < m->nheaders; i++) {
        PUT(m->headers[i].name, m->headers[i].name_len);
        PUT(": ", 2);
        PUT(m->headers[i].value, m->headers[i].value_len);
        PUT("\r\n", 2);
    }
    PUT("\r\n", 2);
#undef PUT
    rc = http_parse_request(out, n, n + 1, &m2);
    CHECK(rc == (ssize_t)n);
    CHECK(m2.method_len == m->method_len &&
          memcmp(m2.method, m->method, m->method_len) == 0);
    CHECK(m2.target_len == m->target_len &&
          memcmp(m2.target, m->target, m->target_len) == 0);
    CHECK(m2.minor == m->minor && m2.nheaders == m->nheaders);
    CHECK(m2.content_length == m->content_length);
    CHECK(m2.chunked == m->chunked && m2.keep_alive == m->keep_alive &&
          m2.expect_continue == m->expect_continue);
    for (size_t i = 0; i < m->nheaders; i++) {
        CHECK(m2.headers[i].name_len == m->headers[i].name_len);
        CHECK(m2.headers[i].value_len == m->headers[i].value_len);
        CHECK(memcmp(m2.headers[i].value, m->headers[i].value,
                     m->headers[i].value_len) == 0);
    }
    /* Any strict prefix is incomplete. */
    rc = http_parse_request(out, n - 1, max, &m2);
    CHECK(rc == 0 || rc == -E2BIG);
    free(out);
}

static void check_request(const char *buf, size_t len, size_t max)
{
    struct http_msg m;
    ssize_t rc = http_parse_request(buf, len, max, &m);

    check_head(rc, buf, len, max);
    if (rc <= 0)
        return;
    check_fields(&m, buf, (size_t)rc);
    CHECK(m.method_len > 0 && m.method == buf);
    for (size_t k = 0; k < m.method_len; k++)
        CHECK(http_is_tchar((unsigned char)m.method[k]));
    CHECK(m.target_len > 0 && inside(m.target, m.target_len, buf, (size_t)rc));
    CHECK(m.target[0] == '/' || (m.target_len == 1 && m.target[0] == '*'));
    for (size_t k = 0; k < m.target_len; k++)
        CHECK(m.target[k] > 0x20 && m.target[k] < 0x7f);
    CHECK(http_path_len(m.target, m.target_len) <= m.target_len);
    {
        size_t hosts = 0;
        for (size_t i = 0; i < m.nheaders; i++)
            hosts += http_eq_nocase(m.headers[i].name, m.headers[i].name_len,
                                    "host");
        CHECK(hosts == 1 || (hosts == 0 && m.minor == 0));
    }
    {
        static const char *const keys[] = {"bytes", "ms", "chunked", "a"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            const char *v;
            size_t vn;
            if (http_query_get(m.target, m.target_len, keys[i], &v, &vn)) {
                CHECK(inside(v, vn, m.target, m.target_len));
                CHECK(memchr(v, '&', vn) == NULL);
            }
        }
    }
    check_round_trip(&m, max);
}

static void check_response(const char *buf, size_t len, size_t max)
{
    struct http_msg m;
    ssize_t rc = http_parse_response(buf, len, max, &m);

    check_head(rc, buf, len, max);
    if (rc <= 0)
        return;
    check_fields(&m, buf, (size_t)rc);
    CHECK(m.status >= 100 && m.status <= 999);
    CHECK(inside(m.reason, m.reason_len, buf, (size_t)rc));
}

/* A line (CRLF included when there is one) as a chunk size and a number. */
static void check_line(const char *line, size_t n)
{
    char tmp[64];
    uint64_t v;
    int rc = http_parse_chunk_size(line, n, &v);

    CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
    if (rc == 0) {
        size_t k = 0;
        while (k < n && k < sizeof(tmp) - 1 &&
               strchr("0123456789abcdefABCDEF", line[k]) && line[k] != '\0')
            k++;
        CHECK(k > 0 && n >= 2 && line[n - 2] == '\r' && line[n - 1] == '\n');
        if (k < sizeof(tmp) - 1) {
            memcpy(tmp, line, k);
            tmp[k] = '\0';
            CHECK(strtoull(tmp, NULL, 16) == v);
        }
        CHECK(v < ((uint64_t)1 << 40));
    }
    rc = http_parse_u64(line, n, UINT64_MAX, &v);
    CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
    if (rc == 0) {
        CHECK(n > 0 && n <= 18);
        memcpy(tmp, line, n);
        tmp[n] = '\0';
        CHECK(strtoull(tmp, NULL, 10) == v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf;
    size_t len, max, start = 0;

    if (size == 0)
        return 0;
    max = 16 + (size_t)data[0] * 32; /* 16 .. 8176 */
    buf = (const char *)data + 1;
    len = size - 1;
    check_request(buf, len, max);
    check_response(buf, len, max);
    for (size_t i = 0; i <= len; i++) {
        if (i == len || buf[i] == '\n') {
            size_t end = i < len ? i + 1 : len;
            check_line(buf + start, end - start);
            start = end;
        }
    }
    return 0;
}
