/* SPDX-License-Identifier: MIT */
/*
 * bench-server: driven by bench_http (`bench_http --server PROG`).
 *
 * The keep-alive hello-world server on libuv: per connection a buffer
 * gathers the bytes read; each complete request head (up to "\r\n\r\n";
 * bodies are ignored, wrk sends GETs) adds the fixed response, and each
 * read ends with one uv_try_write, falling back to uv_write of a copy for
 * what the kernel did not take. A head over 8 KiB closes the connection.
 * Listens on 127.0.0.1:PORT (argv[1]) until killed.
 *
 * Build: cc -O2 http_libuv.c -luv
 */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define HEAD_MAX 8192

static const char resp[] = "HTTP/1.1 200 OK\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Length: 13\r\n"
                           "\r\n"
                           "Hello, world!";

struct conn {
    uv_tcp_t tcp;
    size_t len;
    char buf[HEAD_MAX];
};

struct wreq {
    uv_write_t req;
    char data[];
};

static uv_loop_t *loop;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = (struct conn *)h;

    (void)hint;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

static void on_written(uv_write_t *req, int status)
{
    if (status < 0)
        uv_close((uv_handle_t *)req->handle, on_close);
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    static char out[64 * sizeof(resp)];
    struct conn *c = (struct conn *)s;
    size_t nout = 0, pos = 0;
    char *end;

    (void)b;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    c->len += (size_t)n;
    while ((end = memmem(c->buf + pos, c->len - pos, "\r\n\r\n", 4)) &&
           nout + sizeof(resp) - 1 <= sizeof(out)) {
        pos = (size_t)(end - c->buf) + 4;
        memcpy(out + nout, resp, sizeof(resp) - 1);
        nout += sizeof(resp) - 1;
    }
    memmove(c->buf, c->buf + pos, c->len - pos);
    c->len -= pos;
    if (c->len == sizeof(c->buf)) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (nout == 0)
        return;
    uv_buf_t ob = uv_buf_init(out, (unsigned)nout);
    int w = uv_try_write(s, &ob, 1);
    if (w == (int)nout)
        return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (w < 0)
        w = 0;
    struct wreq *r = malloc(sizeof(*r) + nout - (size_t)w);
    if (!r) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    memcpy(r->data, out + w, nout - (size_t)w);
    ob = uv_buf_init(r->data, (unsigned)(nout - (size_t)w));
    uv_write(&r->req, s, &ob, 1, on_written);
}

static void on_conn(uv_stream_t *srv, int status)
{
    struct conn *c;

    if (status < 0)
        return;
    c = calloc(1, sizeof(*c));
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    uv_tcp_t srv;
    int rc;

    if (argc < 2)
        return 2;
    loop = uv_default_loop();
    uv_tcp_init(loop, &srv);
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    rc = uv_tcp_bind(&srv, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv, 1024, on_conn);
    if (rc) {
        fprintf(stderr, "http_libuv: %s\n", uv_strerror(rc));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
