/* SPDX-License-Identifier: MIT */
/*
 * bench-server: driven by bench_http (`bench_http --server PROG`).
 *
 * The floor of the HTTP benchmark: a minimal hand-written keep-alive server
 * on level-triggered epoll, no library. Per connection a buffer gathers the
 * bytes read; each complete request head (up to "\r\n\r\n"; bodies are
 * ignored, wrk sends GETs) adds the fixed response to one write per read.
 * A head over 8 KiB or a short write closes the connection. Listens on
 * 127.0.0.1:PORT (argv[1]) until killed.
 *
 * Build: cc -O2 http_epoll.c
 */
#define _GNU_SOURCE 1
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define MAXFD 65536

static const char resp[] = "HTTP/1.1 200 OK\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Length: 13\r\n"
                           "\r\n"
                           "Hello, world!";

struct conn {
    size_t len;
    char buf[HEAD_MAX];
};

static struct conn *conns[MAXFD];

static void drop(int fd)
{
    free(conns[fd]);
    conns[fd] = NULL;
    close(fd);
}

static void serve(int fd)
{
    static char out[64 * sizeof(resp)];
    struct conn *c = conns[fd];
    size_t nout = 0, pos = 0;
    ssize_t r = read(fd, c->buf + c->len, sizeof(c->buf) - c->len);
    char *end;

    if (r <= 0) {
        drop(fd);
        return;
    }
    c->len += (size_t)r;
    while ((end = memmem(c->buf + pos, c->len - pos, "\r\n\r\n", 4))) {
        pos = (size_t)(end - c->buf) + 4;
        if (nout + sizeof(resp) - 1 > sizeof(out)) {
            drop(fd);
            return;
        }
        memcpy(out + nout, resp, sizeof(resp) - 1);
        nout += sizeof(resp) - 1;
    }
    memmove(c->buf, c->buf + pos, c->len - pos);
    c->len -= pos;
    if (c->len == sizeof(c->buf) ||
        (nout && write(fd, out, nout) != (ssize_t)nout))
        drop(fd);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct epoll_event evs[256], lev = {.events = EPOLLIN};
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int ep = epoll_create1(0), one = 1;

    if (argc < 2)
        return 2;
    sin.sin_port = htons((uint16_t)atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(lfd, 1024) != 0) {
        perror("http_epoll: listen");
        return 1;
    }
    lev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    for (;;) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int e = 0; e < k; e++) {
            int fd = evs[e].data.fd;
            if (fd != lfd) {
                serve(fd);
                continue;
            }
            int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
            if (c < 0)
                continue;
            if (c >= MAXFD || !(conns[c] = calloc(1, sizeof(struct conn)))) {
                close(c);
                continue;
            }
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
            epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
    }
}
