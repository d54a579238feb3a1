// SPDX-License-Identifier: MIT
/*
 * fuzz_stream: the buffered stream reader (tulip_stream_read*) against a
 * model. A writer task sends a fuzzed byte string through a socketpair in
 * fuzzed chunks (yielding the turn between them), then shuts its side down;
 * a reader task calls read, read_exactly, read_line and read_sep with
 * fuzzed sizes, capacities and separators on a stream with a small fuzzed
 * limit. The model is the whole byte string and a read position: since the
 * outcome of each call depends only on the bytes still to come (asyncio's
 * rules: the chunk up to the separator may be at most min(cap, limit +
 * seplen) bytes, else TULIP_ELIMIT and nothing consumed; end of file gives
 * the partial chunk), every result is checked exactly, bytes included, and
 * a violation abort()s. Finally the rest is read and compared, the stream
 * freed, and every coroutine stack must be back.
 */
#define _POSIX_C_SOURCE 200809L /* shutdown, socketpair */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tulip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_stream: invariant failed at line %d: %s\n",  \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Short ones, one whose prefix repeats (the search restarts after a
 * partial match), and one longer than the short-separator path takes. */
static const char *const seps[] = {"\n",       "\r\n", "ab",          "xyz",
                                   "\r\n\r\n", "aab",  "xyzxyzxyzxyz"};
#define NSEPS (sizeof(seps) / sizeof(seps[0]))

static struct {
    const uint8_t *data; /* the byte string sent */
    size_t len;          /* its length */
    size_t pos;          /* the model's read position */
    const uint8_t *wctl; /* chunk sizes of the writer */
    size_t wn;
    const uint8_t *rctl; /* operations of the reader */
    size_t rn;
    size_t limit; /* the stream's limit */
    int wfd;      /* the writer's end */
    int rfd;      /* the reader's end (the stream owns it) */
} S;

static int writer(void *arg)
{
    size_t off = 0, k = 0;
    (void)arg;
    while (off < S.len) {
        size_t chunk = k < S.wn ? 1 + (size_t)S.wctl[k++] % 97 : S.len - off;
        if (chunk > S.len - off)
            chunk = S.len - off;
        ssize_t n = tulip_write(S.wfd, S.data + off, chunk);
        CHECK(n > 0);
        off += (size_t)n;
        CHECK(tulip_sleep(0) == 0);
    }
    CHECK(shutdown(S.wfd, SHUT_WR) == 0);
    CHECK(tulip_fd_close(S.wfd) == 0);
    return 0;
}

/* Where sep first occurs in the rest of the model, or -1. */
static long find_sep(const char *sep, size_t seplen)
{
    for (size_t i = S.pos; i + seplen <= S.len; i++)
        if (memcmp(S.data + i, sep, seplen) == 0)
            return (long)(i - S.pos);
    return -1;
}

static void check_sep(ssize_t r, size_t partial, const char *sep, bool line,
                      size_t cap, const uint8_t *buf)
{
    size_t seplen = strlen(sep), rem = S.len - S.pos;
    size_t max = S.limit + seplen < cap ? S.limit + seplen : cap;
    long at = find_sep(sep, seplen);
    if (at >= 0 && (size_t)at + seplen <= max) {
        CHECK(r == (ssize_t)((size_t)at + seplen));
    } else if (at >= 0 || rem >= max) {
        CHECK(r == TULIP_ELIMIT);
        return; /* nothing consumed */
    } else if (line) {
        CHECK(r == (ssize_t)rem);
    } else {
        CHECK(r == TULIP_EINCOMPLETE && partial == rem);
        r = (ssize_t)rem;
    }
    CHECK(memcmp(buf, S.data + S.pos, (size_t)r) == 0);
    S.pos += (size_t)r;
}

static int reader(void *arg)
{
    tulip_stream *s = arg;
    uint8_t buf[512];
    size_t partial;
    ssize_t r;
    for (size_t k = 0; k + 1 < S.rn; k += 2) {
        int op = S.rctl[k], a = S.rctl[k + 1];
        size_t n = 1 + (size_t)a % sizeof(buf);
        size_t rem = S.len - S.pos;
        switch (op & 3) {
        case 0:
            r = tulip_stream_read(s, buf, n);
            CHECK(r >= 0 && (size_t)r <= n);
            CHECK((r == 0) == (rem == 0));
            CHECK(memcmp(buf, S.data + S.pos, (size_t)r) == 0);
            S.pos += (size_t)r;
            break;
        case 1:
            r = tulip_stream_read_exactly(s, buf, n, &partial);
            if (n <= rem) {
                CHECK(r == (ssize_t)n && partial == 0);
            } else {
                CHECK(r == TULIP_EINCOMPLETE && partial == rem);
                n = rem;
            }
            CHECK(memcmp(buf, S.data + S.pos, n) == 0);
            S.pos += n;
            break;
        case 2:
            r = tulip_stream_read_line(s, buf, n);
            check_sep(r, 0, "\n", true, n, buf);
            break;
        default: {
            const char *sep = seps[(unsigned)(op >> 2) % NSEPS];
            r = tulip_stream_read_sep(s, sep, strlen(sep), buf, n, &partial);
            check_sep(r, partial, sep, false, n, buf);
            break;
        }
        }
    }
    /* The rest, then end of file. */
    while ((r = tulip_stream_read(s, buf, sizeof(buf))) > 0) {
        CHECK((size_t)r <= S.len - S.pos);
        CHECK(memcmp(buf, S.data + S.pos, (size_t)r) == 0);
        S.pos += (size_t)r;
    }
    CHECK(r == 0 && S.pos == S.len && tulip_stream_at_eof(s));
    tulip_stream_free(s);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tulip_loop *loop;
    tulip_stream *s;
    tulip_task *w, *r;
    struct tulip_loop_opts lo = {.virtual_clock = true};
    struct tulip_stack_stats st;
    int fds[2], res;
    if (size < 3 || size > 8192)
        return 0;
    memset(&S, 0, sizeof(S));
    S.limit = 1 + data[0] % 64;
    size_t len = ((size_t)data[1] << 8 | data[2]) % (size - 2);
    S.data = data + 3;
    S.len = len < size - 3 ? len : size - 3;
    size_t ctl = size - 3 - S.len;
    S.wctl = S.data + S.len;
    S.wn = ctl / 2;
    S.rctl = S.wctl + S.wn;
    S.rn = ctl - S.wn;

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    S.rfd = fds[0];
    S.wfd = fds[1];
    CHECK(tulip_loop_new(&loop, &lo) == 0);
    struct tulip_stream_opts so = {.limit = S.limit, .loop = loop};
    CHECK(tulip_stream_new(&s, S.rfd, &so) == 0);
    CHECK(tulip_spawn(&r, loop, reader, s) == 0);
    CHECK(tulip_spawn(&w, loop, writer, NULL) == 0);
    CHECK(tulip_loop_run(loop) == 0);
    CHECK(tulip_task_result(r, &res) == 0 && res == 0);
    CHECK(tulip_task_result(w, &res) == 0 && res == 0);
    tulip_task_release(r);
    tulip_task_release(w);
    CHECK(tulip_loop_close(loop) == 0);
    tulip_stack_stats(&st);
    CHECK(st.in_use == 0);
    return 0;
}
