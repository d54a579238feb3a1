/* SPDX-License-Identifier: MIT */
/*
 * bench-server: driven by bench_echo (`bench_echo --server PROG`).
 *
 * The floor of the echo benchmark: a minimal hand-written echo server on
 * level-triggered epoll, no library, one read and one write per message
 * (a short write closes the connection: with one 64-byte message in flight
 * it never happens). Listens on 127.0.0.1:PORT (argv[1]) until killed.
 *
 * Build: cc -O2 echo_epoll.c
 */
#define _GNU_SOURCE 1
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct epoll_event evs[256], lev = {.events = EPOLLIN};
    static char buf[65536];
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int ep = epoll_create1(0), one = 1;

    if (argc < 2)
        return 2;
    sin.sin_port = htons((uint16_t)atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(lfd, 1024) != 0) {
        perror("echo_epoll: listen");
        return 1;
    }
    lev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    for (;;) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int e = 0; e < k; e++) {
            int fd = evs[e].data.fd;
            if (fd == lfd) {
                int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0)
                    continue;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                continue;
            }
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r <= 0 || write(fd, buf, (size_t)r) != r)
                close(fd);
        }
    }
}
