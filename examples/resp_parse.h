/* SPDX-License-Identifier: MIT */
/*
 * The request side of RESP, the Redis protocol, as pure functions over a
 * byte buffer (no I/O, no allocation), shared by examples/resp_server.c and
 * fuzz/fuzz_resp.c.
 *
 * A request is either an array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\n
 * k\r\n", what redis-cli and redis-benchmark send) or an inline command (a
 * line of words, what a person types into nc), split as Redis splits it:
 * "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes'
 * with \'. resp_parse() looks at the front of a buffer and says one of
 *   > 0        a whole request of that many bytes is there; req->argv
 *              points into the buffer (inline escapes are undone in place,
 *              so the buffer is written to);
 *   RESP_MORE  not yet: read more (req->need, when known, is how many bytes
 *              the buffer must hold before the request can be complete);
 *   RESP_ERR   a protocol error (req->err is Redis's message): answer it
 *              and close the connection, as Redis does.
 * A request with no words ("\r\n", "*0\r\n", "*-1\r\n") is consumed with
 * argc 0; Redis ignores it.
 *
 * Limits are checked before anything is buffered for them: a bulk length
 * above max_bulk, an array above max_args, an inline line above max_inline
 * or a header line ("*N", "$N") above RESP_MAX_HEADER is an error as soon
 * as its header is seen. The outcome never depends on how the bytes were
 * split into reads: a buffer that is RESP_MORE stays RESP_MORE or becomes
 * what the whole buffer gives once more bytes arrive (fuzz_resp checks it).
 */
#ifndef RESP_PARSE_H
#define RESP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RESP_MORE 0
#define RESP_ERR (-1)
/** The longest "*N\r\n" or "$N\r\n" line, CRLF excluded. */
#define RESP_MAX_HEADER 32

/** One word of a request: bytes inside the caller's buffer. */
struct resp_arg {
    char *p;    /* the bytes (not NUL-terminated) */
    size_t len; /* their number */
};

/** What a server accepts. */
struct resp_limits {
    size_t max_bulk;   /* the longest bulk string */
    size_t max_args;   /* the most words in a request (argv's capacity) */
    size_t max_inline; /* the longest inline line, CRLF excluded */
};

/** The outcome of resp_parse(). */
struct resp_req {
    struct resp_arg *argv; /* IN: the caller's array of max_args entries */
    size_t argc;           /* OUT: words of a whole request */
    size_t need;           /* OUT at RESP_MORE: bytes needed, or 0 */
    const char *err;       /* OUT at RESP_ERR: the message, without "ERR " */
    bool inline_cmd;       /* OUT: the request was an inline command */
};

/*
 * Redis's string2ll: a decimal int64 with no sign but '-', no leading zero
 * (except "0" itself) and no spaces. Returns false if s is anything else
 * or out of range.
 */
static inline bool resp_str2ll(const char *s, size_t n, int64_t *out)
{
    uint64_t v = 0, max;
    bool neg = false;
    size_t i = 0;

    if (n == 0 || n > 20)
        return false;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n || s[i] < '1' || s[i] > '9')
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (v > max)
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v; /* 0 - v wraps: INT64_MIN */
    return true;
}

/* Where c first occurs in s[0, n), or NULL. */
static inline char *resp_find(char *s, size_t n, char c)
{
    return n ? memchr(s, c, n) : NULL;
}

/*
 * Parse the header line "<c>N\r\n" at b (len bytes there) into *v.
 * Returns the line's length with CRLF, RESP_MORE, or RESP_ERR with *err set
 * to too_big (no CR within RESP_MAX_HEADER) or bad (not a number, or a
 * stray byte after CR).
 */
static inline long resp_header(char *b, size_t len, int64_t *v,
                               const char *too_big, const char *bad,
                               const char **err)
{
    size_t win = len < RESP_MAX_HEADER + 1 ? len : RESP_MAX_HEADER + 1;
    char *cr = resp_find(b, win, '\r');
    size_t at;

    if (!cr) {
        if (len > RESP_MAX_HEADER) {
            *err = too_big;
            return RESP_ERR;
        }
        return RESP_MORE;
    }
    at = (size_t)(cr - b);
    if (at + 1 == len)
        return RESP_MORE;
    if (cr[1] != '\n' || !resp_str2ll(b + 1, at - 1, v)) {
        *err = bad;
        return RESP_ERR;
    }
    return (long)(at + 2);
}

static inline long resp_parse_array(char *buf, size_t len,
                                    const struct resp_limits *lim,
                                    struct resp_req *req)
{
    int64_t count, blen64;
    size_t pos, n, blen;
    long h;

    h = resp_header(buf, len, &count,
                    "Protocol error: too big mbulk count string",
                    "Protocol error: invalid multibulk length", &req->err);
    if (h <= 0)
        return h;
    if (count <= 0)
        return h; /* Redis ignores *0 and *-1 */
    if ((uint64_t)count > lim->max_args) {
        req->err = "Protocol error: invalid multibulk length";
        return RESP_ERR;
    }
    pos = (size_t)h;
    for (n = 0; n < (size_t)count; n++) {
        if (pos == len)
            return RESP_MORE;
        if (buf[pos] != '$') {
            req->err = "Protocol error: expected '$'";
            return RESP_ERR;
        }
        h = resp_header(buf + pos, len - pos, &blen64,
                        "Protocol error: too big bulk count string",
                        "Protocol error: invalid bulk length", &req->err);
        if (h <= 0)
            return h;
        if (blen64 < 0 || (uint64_t)blen64 > lim->max_bulk) {
            req->err = "Protocol error: invalid bulk length";
            return RESP_ERR;
        }
        blen = (size_t)blen64;
        pos += (size_t)h;
        if (len - pos < blen + 2) {
            req->need = pos + blen + 2;
            /* A wrong terminator already here is an error at once. */
            if (len - pos >= blen + 1 && buf[pos + blen] != '\r')
                goto bad_crlf;
            return RESP_MORE;
        }
        if (buf[pos + blen] != '\r' || buf[pos + blen + 1] != '\n')
            goto bad_crlf;
        req->argv[n].p = buf + pos;
        req->argv[n].len = blen;
        pos += blen + 2;
    }
    req->argc = n;
    return (long)pos;
bad_crlf:
    req->need = 0;
    req->err = "Protocol error: expected CRLF after bulk";
    return RESP_ERR;
}

/* A hex digit's value, or -1. */
static inline int resp_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline bool resp_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* The escaped byte after a backslash in double quotes (Redis's set). */
static inline char resp_unescape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return '\b';
    case 'a':
        return '\a';
    default:
        return c;
    }
}

/*
 * Split the line s[0, n) into words, in place, as Redis's sdssplitargs:
 * outside quotes a word ends at white space; a quote opens a quoted part
 * (also in the middle of a word), and a closing quote must be followed by
 * white space or the end. Returns NULL, or the error.
 */
static inline const char *resp_split(char *s, size_t n,
                                     const struct resp_limits *lim,
                                     struct resp_req *req)
{
    static const char unbalanced[] =
        "Protocol error: unbalanced quotes in request";
    size_t r = 0, w = 0; /* read and write positions: w <= r */

    req->argc = 0;
    for (;;) {
        int q = 0; /* 0, '"' or '\'' */
        size_t start;

        while (r < n && resp_space(s[r]))
            r++;
        if (r == n)
            return NULL;
        if (req->argc == lim->max_args)
            return "Protocol error: too many arguments in inline request";
        start = w;
        for (;;) {
            if (r == n) {
                if (q)
                    return unbalanced;
                break;
            }
            char c = s[r];
            if (q == '"' && c == '\\' && r + 3 < n && s[r + 1] == 'x' &&
                resp_hex(s[r + 2]) >= 0 && resp_hex(s[r + 3]) >= 0) {
                s[w++] = (char)(resp_hex(s[r + 2]) * 16 + resp_hex(s[r + 3]));
                r += 4;
            } else if (q == '"' && c == '\\' && r + 1 < n) {
                s[w++] = resp_unescape(s[r + 1]);
                r += 2;
            } else if (q == '\'' && c == '\\' && r + 1 < n &&
                       s[r + 1] == '\'') {
                s[w++] = '\'';
                r += 2;
            } else if (q && c == q) {
                r++;
                if (r < n && !resp_space(s[r]))
                    return unbalanced; /* a closing quote ends the word */
                break;
            } else if (!q && (c == '"' || c == '\'')) {
                q = c;
                r++;
            } else if (!q && resp_space(c)) {
                break;
            } else {
                s[w++] = c;
                r++;
            }
        }
        req->argv[req->argc].p = s + start;
        req->argv[req->argc].len = w - start;
        req->argc++;
    }
}

static inline long resp_parse_inline(char *buf, size_t len,
                                     const struct resp_limits *lim,
                                     struct resp_req *req)
{
    size_t win = len < lim->max_inline + 1 ? len : lim->max_inline + 1;
    char *nl = resp_find(buf, win, '\n');
    size_t n;

    if (!nl) {
        if (len > lim->max_inline) {
            req->err = "Protocol error: too big inline request";
            return RESP_ERR;
        }
        return RESP_MORE;
    }
    n = (size_t)(nl - buf);
    req->err = resp_split(buf, n, lim, req);
    if (req->err) {
        req->argc = 0;
        return RESP_ERR;
    }
    req->inline_cmd = true;
    return (long)(n + 1);
}

/** Parse the request at the front of buf[0, len); see the file's head. */
static inline long resp_parse(char *buf, size_t len,
                              const struct resp_limits *lim,
                              struct resp_req *req)
{
    req->argc = 0;
    req->need = 0;
    req->err = NULL;
    req->inline_cmd = false;
    if (len == 0)
        return RESP_MORE;
    if (buf[0] == '*')
        return resp_parse_array(buf, len, lim, req);
    return resp_parse_inline(buf, len, lim, req);
}

#endif /* RESP_PARSE_H */
