/* SPDX-License-Identifier: MIT */
/*
 * An echo server on tulip's streams and servers: asyncio's canonical
 * start_server example (read, write, drain) as a real program.
 *
 *     echo_server [--host H] [--port N] [--once | --conns N]
 *
 * It prints "listening on port N" (port 0 picks a free one) and echoes
 * every byte of every connection until the client half-closes or goes.
 * With --once it exits after one connection has finished, with --conns N
 * after N; without either it serves until killed. tests/net/echo_socat.sh
 * drives it with socat and nc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tulip.h"

struct echo_args {
    const char *host;
    const char *port;
    long conns; /* connections to serve, 0: no end */
    long done;  /* connections finished */
    tulip_server *srv;
};

static int echo(tulip_stream *s, void *arg)
{
    struct echo_args *a = arg;
    static char buf[65536]; /* one task runs at a time on this thread */
    ssize_t n;
    int rc = 0;

    while ((n = tulip_stream_read(s, buf, sizeof(buf))) > 0) {
        rc = tulip_stream_write(s, buf, (size_t)n);
        if (rc == 0)
            rc = tulip_stream_drain(s);
        if (rc)
            break;
    }
    if (n < 0 && n != -ECONNRESET)
        rc = (int)n;
    if (a->conns && ++a->done == a->conns)
        tulip_server_stop(a->srv); /* the others finish, then we exit */
    return rc;
}

static int serve(void *arg)
{
    struct echo_args *a = arg;
    struct tulip_server_opts o = {.host = a->host, .port = a->port};
    int rc;

    rc = tulip_server_start(&a->srv, echo, a, &o);
    if (rc) {
        fprintf(stderr, "echo_server: %s\n", tulip_strerror(rc));
        return 1;
    }
    printf("listening on port %d\n", tulip_server_port(a->srv));
    fflush(stdout);
    rc = tulip_server_serve_forever(a->srv);
    tulip_server_free(a->srv);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct echo_args a = {.host = "127.0.0.1", .port = "0"};
    int result = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            a.conns = 1;
        else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            a.conns = atol(argv[++i]);
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            a.port = argv[++i];
        else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
            a.host = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--host H] [--port N] [--once | --conns N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (tulip_run(serve, &a, &result, NULL) != 0)
        return 1;
    return result;
}
