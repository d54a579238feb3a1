/* SPDX-License-Identifier: MIT */
/*
 * http_parse.h: the HTTP/1.x message-head parser of examples/http_server.c
 * and examples/fetch.c, in pure functions (no I/O, no allocation, no
 * globals) so that fuzz/fuzz_http.c can drive it directly.
 *
 * A message head is the request or status line, the header lines and the
 * empty line: everything up to the first CRLF CRLF. The parser is strict
 * where leniency is how requests get smuggled (RFC 9112): lines end in
 * CRLF, no whitespace before a header's colon, no obs-fold continuation
 * lines, Content-Length is digits only and one value, a message with both
 * Transfer-Encoding and Content-Length is rejected, and an HTTP/1.1 request
 * has exactly one Host. Results point into
 * the caller's buffer; nothing is copied.
 *
 * Errors are negative errnos, each with the status a server answers:
 *   -EINVAL           malformed                          400
 *   -E2BIG            no end of head within max bytes    431
 *   -ENOBUFS          more than HTTP_MAX_HEADERS headers 431
 *   -ENOSYS           a Transfer-Encoding other than chunked   501
 *   -EPROTONOSUPPORT  not HTTP/1.0 or HTTP/1.1           505
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 64

/** One header line: name and value, surrounding whitespace trimmed. */
struct http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/** A parsed request or response head. */
struct http_msg {
    const char *method; /* requests: the method token */
    size_t method_len;
    const char *target; /* requests: "/path?query" or "*" */
    size_t target_len;
    int status;         /* responses: 100..999 */
    const char *reason; /* responses: the reason phrase (may be empty) */
    size_t reason_len;
    int minor; /* HTTP/1.minor: 0 or 1 */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    int64_t content_length; /* -1: no Content-Length */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* the connection may carry another message */
    bool expect_continue;   /* Expect: 100-continue */
};

static inline bool http_is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static inline char http_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/** Case-insensitive comparison of s[0..n) with the NUL-terminated word. */
static inline bool http_eq_nocase(const char *s, size_t n, const char *word)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (word[i] == '\0' || http_lower(s[i]) != http_lower(word[i]))
            return false;
    return word[i] == '\0';
}

/**
 * Parse a decimal number of at most 18 digits (no sign, no spaces) that is
 * at most max. Returns 0, -EINVAL (not digits, empty) or -ERANGE.
 */
static inline int http_parse_u64(const char *s, size_t n, uint64_t max,
                                 uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        if (i >= 18)
            return -ERANGE;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

/**
 * Whether the comma-separated token list s[0..n) (a Connection header)
 * holds word, case-insensitively.
 */
static inline bool http_list_has(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    while (i < n) {
        size_t b, e;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        b = i;
        while (i < n && s[i] != ',')
            i++;
        e = i;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (e > b && http_eq_nocase(s + b, e - b, word))
            return true;
    }
    return false;
}

/** The end of the head: the offset just past the first CRLF CRLF in
 * buf[0..n), or 0 if there is none. */
static inline size_t http_head_end(const char *buf, size_t n)
{
    for (size_t i = 3; i < n; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
            buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

/* "HTTP/1.x" at p (8 bytes available): the minor version, or an error. */
static inline int http_parse_version(const char *p)
{
    if (memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
        p[7] < '0' || p[7] > '9')
        return -EINVAL;
    if (p[5] != '1' || p[7] > '1')
        return -EPROTONOSUPPORT;
    return p[7] - '0';
}

/* The header lines from p up to the empty line that ends at end (the head's
 * end), into m; then the framing fields. */
static inline int http_parse_fields(const char *p, const char *end,
                                    struct http_msg *m)
{
    bool has_te = false, close = false, keep = false;

    m->nheaders = 0;
    m->content_length = -1;
    m->chunked = false;
    m->expect_continue = false;
    while (p < end - 2) { /* end - 2: the final empty line */
        const char *name = p, *colon, *v, *ve, *eol;
        struct http_header *h;

        while (p < end && http_is_tchar((unsigned char)*p))
            p++;
        if (p == name || *p != ':')
            return -EINVAL; /* empty name, space before ':', obs-fold */
        colon = p++;
        while (*p == ' ' || *p == '\t')
            p++;
        v = p;
        for (;;) {
            unsigned char c = (unsigned char)*p;
            if (c == '\r')
                break;
            if (c != '\t' && (c < 0x20 || c == 0x7f))
                return -EINVAL; /* control characters, bare LF, NUL */
            p++;
        }
        eol = p;
        if (p[1] != '\n')
            return -EINVAL; /* bare CR */
        p += 2;
        ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (m->nheaders == HTTP_MAX_HEADERS)
            return -ENOBUFS;
        h = &m->headers[m->nheaders++];
        h->name = name;
        h->name_len = (size_t)(colon - name);
        h->value = v;
        h->value_len = (size_t)(ve - v);

        if (http_eq_nocase(h->name, h->name_len, "content-length")) {
            uint64_t cl;
            int rc = http_parse_u64(v, h->value_len, INT64_MAX / 2, &cl);
            if (rc)
                return -EINVAL;
            if (m->content_length >= 0 && (uint64_t)m->content_length != cl)
                return -EINVAL; /* two different lengths */
            m->content_length = (int64_t)cl;
        } else if (http_eq_nocase(h->name, h->name_len, "transfer-encoding")) {
            if (has_te || !http_eq_nocase(v, h->value_len, "chunked"))
                return -ENOSYS; /* only a single "chunked" */
            has_te = true;
            m->chunked = true;
        } else if (http_eq_nocase(h->name, h->name_len, "connection")) {
            close = close || http_list_has(v, h->value_len, "close");
            keep = keep || http_list_has(v, h->value_len, "keep-alive");
        } else if (http_eq_nocase(h->name, h->name_len, "expect")) {
            m->expect_continue =
                http_eq_nocase(v, h->value_len, "100-continue");
        }
    }
    if (has_te && m->content_length >= 0)
        return -EINVAL; /* RFC 9112 6.1: a smuggling vector; refuse it */
    m->keep_alive = m->minor == 1 ? !close : (keep && !close);
    return 0;
}

/**
 * Parse a request head at the start of buf[0..len).
 * @param max The largest head accepted, CRLF CRLF included.
 * @return The head's length (> 0); 0 if more bytes are needed (no CRLF
 *         CRLF yet and len < max); or a negative errno (see the top).
 */
static inline ssize_t http_parse_request(const char *buf, size_t len,
                                         size_t max, struct http_msg *m)
{
    size_t end = http_head_end(buf, len < max ? len : max);
    const char *p = buf, *line_end;
    size_t hosts = 0;
    int rc;

    if (end == 0)
        return len >= max ? -E2BIG : 0;
    memset(m, 0, sizeof(*m));
    line_end = memchr(buf, '\r', end); /* end holds a CR: never NULL */
    if (!line_end || line_end[1] != '\n')
        return -EINVAL;
    /* method SP target SP HTTP/1.x CRLF, single spaces */
    while (p < line_end && http_is_tchar((unsigned char)*p))
        p++;
    if (p == buf || p >= line_end || *p != ' ')
        return -EINVAL;
    m->method = buf;
    m->method_len = (size_t)(p - buf);
    m->target = ++p;
    while (p < line_end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        p++;
    m->target_len = (size_t)(p - m->target);
    if (m->target_len == 0 || p >= line_end || *p != ' ')
        return -EINVAL;
    if (m->target[0] != '/' && !(m->target_len == 1 && m->target[0] == '*'))
        return -EINVAL; /* origin-form or "*" only */
    p++;
    if (line_end - p != 8)
        return -EINVAL;
    rc = http_parse_version(p);
    if (rc < 0)
        return rc;
    m->minor = rc;
    rc = http_parse_fields(line_end + 2, buf + end, m);
    if (rc < 0)
        return rc;
    /* RFC 9112 3.2: an HTTP/1.1 request has exactly one Host. */
    for (size_t i = 0; i < m->nheaders; i++)
        if (http_eq_nocase(m->headers[i].name, m->headers[i].name_len, "host"))
            hosts++;
    if (hosts > 1 || (m->minor == 1 && hosts == 0))
        return -EINVAL;
    return (ssize_t)end;
}

/**
 * Parse a response head at the start of buf[0..len): as
 * http_parse_request(), with "HTTP/1.x SP 3DIGIT [SP reason] CRLF".
 */
static inline ssize_t http_parse_response(const char *buf, size_t len,
                                          size_t max, struct http_msg *m)
{
    size_t end = http_head_end(buf, len < max ? len : max);
    const char *p = buf, *line_end;
    int rc;

    if (end == 0)
        return len >= max ? -E2BIG : 0;
    memset(m, 0, sizeof(*m));
    line_end = memchr(buf, '\r', end);
    if (!line_end || line_end[1] != '\n' || line_end - buf < 12)
        return -EINVAL;
    rc = http_parse_version(p);
    if (rc < 0)
        return rc;
    m->minor = rc;
    p += 8;
    if (p[0] != ' ' || p[1] < '1' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
        p[3] < '0' || p[3] > '9')
        return -EINVAL;
    m->status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    p += 4;
    if (p < line_end && *p++ != ' ')
        return -EINVAL;
    m->reason = p;
    m->reason_len = (size_t)(line_end - p);
    for (; p < line_end; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return -EINVAL;
    rc = http_parse_fields(line_end + 2, buf + end, m);
    return rc < 0 ? rc : (ssize_t)end;
}

/**
 * Parse a chunk-size line of a chunked body ("1a3f\r\n", or with
 * extensions "1a3f;name=value\r\n"), line[0..n), CRLF included.
 * @param[out] size The chunk's size (at most 2^40 bytes).
 * @return 0, or -EINVAL (malformed, or no CRLF at the end), -ERANGE.
 */
static inline int http_parse_chunk_size(const char *line, size_t n,
                                        uint64_t *size)
{
    uint64_t v = 0;
    size_t i = 0;

    if (n < 3 || line[n - 2] != '\r' || line[n - 1] != '\n')
        return -EINVAL;
    n -= 2;
    for (; i < n; i++) {
        char c = http_lower(line[i]);
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            break;
        if (v >> 40)
            return -ERANGE;
        v = v * 16 + (uint64_t)d;
    }
    if (i == 0)
        return -EINVAL;
    if (v >> 40)
        return -ERANGE;
    if (i < n && line[i] != ';' && line[i] != ' ' && line[i] != '\t')
        return -EINVAL;
    for (; i < n; i++) /* extensions are skipped, but no controls */
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            return -EINVAL;
    *size = v;
    return 0;
}

/** The path of a target: up to '?'. */
static inline size_t http_path_len(const char *target, size_t n)
{
    const char *q = memchr(target, '?', n);
    return q ? (size_t)(q - target) : n;
}

/**
 * Find key in the query of a target ("/p?a=1&b=2").
 * @return true with the (undecoded) value in *v, *vn; false if absent.
 */
static inline bool http_query_get(const char *target, size_t n, const char *key,
                                  const char **v, size_t *vn)
{
    size_t klen = strlen(key), i = http_path_len(target, n);

    while (i < n) {
        size_t b = ++i, e; /* past '?' or '&' */
        while (i < n && target[i] != '&')
            i++;
        e = i;
        if (e - b > klen && memcmp(target + b, key, klen) == 0 &&
            target[b + klen] == '=') {
            *v = target + b + klen + 1;
            *vn = e - b - klen - 1;
            return true;
        }
        if (e - b == klen && memcmp(target + b, key, klen) == 0) {
            *v = target + e;
            *vn = 0;
            return true;
        }
    }
    return false;
}

/** The status an error of the parser is answered with. */
static inline int http_error_status(int err)
{
    switch (err) {
    case -E2BIG:
    case -ENOBUFS:
        return 431;
    case -ENOSYS:
        return 501;
    case -EPROTONOSUPPORT:
        return 505;
    default:
        return 400;
    }
}

#endif /* HTTP_PARSE_H */
