/* SPDX-License-Identifier: MIT */
/*
 * bench-server: driven by bench_echo (`bench_echo --server PROG`).
 *
 * The echo server on libuv as its users write one: uv_read_start, and in the
 * read callback uv_try_write of the bytes just read, falling back to
 * uv_write of a copy for what the kernel did not take. TCP_NODELAY, as
 * every other server of the benchmark. Listens on 127.0.0.1:PORT (argv[1])
 * until killed.
 *
 * Build: cc -O2 echo_libuv.c -luv
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static char rbuf[65536]; /* used between a read and its write only */

struct wreq {
    uv_write_t req;
    char data[];
};

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    *b = uv_buf_init(rbuf, sizeof(rbuf));
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
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n == 0)
        return;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    int w = uv_try_write(s, &out, 1);
    if (w == n)
        return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (w < 0)
        w = 0;
    struct wreq *r = malloc(sizeof(*r) + (size_t)(n - w));
    if (!r) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    memcpy(r->data, b->base + w, (size_t)(n - w));
    out = uv_buf_init(r->data, (unsigned)(n - w));
    uv_write(&r->req, s, &out, 1, on_written);
}

static void on_conn(uv_stream_t *srv, int status)
{
    uv_tcp_t *c;

    if (status < 0)
        return;
    c = malloc(sizeof(*c));
    if (!c)
        return;
    uv_tcp_init(loop, c);
    if (uv_accept(srv, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, on_close);
        return;
    }
    uv_tcp_nodelay(c, 1);
    uv_read_start((uv_stream_t *)c, on_alloc, on_read);
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
        fprintf(stderr, "echo_libuv: %s\n", uv_strerror(rc));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
