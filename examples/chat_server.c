/* SPDX-License-Identifier: MIT */
/*
 * A line-based chat server on tulip's servers, streams and queues: what
 * nc, socat or telnet users talk to.
 *
 *     chat_server [--host H] [--port N] [--queue MSGS] [--max-line BYTES]
 *                 [--stall-ms MS] [--sndbuf BYTES]
 *
 * It prints "listening on port N" (port 0 picks a free one), then one line
 * per event (join, nick, leave, kick). A client's first line is its name
 * (1 to 32 letters, digits, '-' or '_', unique); every later line is sent
 * to all the others as "<name> text", and everyone sees "* name joined"
 * and "* name left". Commands: /nick NAME, /who, /quit. SIGINT or SIGTERM
 * tells everyone "* server shutting down" and closes gracefully.
 *
 * Each client has a bounded outgoing queue (tulip_queue, --queue messages,
 * 64 by default) and a writer task that takes messages from it and writes
 * them to the client's stream, waiting on drain(). A message goes into
 * every queue with room at once. Where a queue is full, the sender waits
 * for room, but only until one deadline (--stall-ms, 1 s, for all the
 * full queues of that message together): this throttles a talker to the
 * pace of readers that are merely slow, and a client whose queue is still
 * full then is DISCONNECTED ("* name was disconnected (too slow)"). We
 * drop the client rather than messages: the others keep a complete
 * conversation, the slow client learns that it fell behind (instead of
 * missing lines without knowing), and its memory stays bounded (IRC
 * servers do the same with their "SendQ exceeded"). So a client that
 * stops reading delays the talkers of that moment once, by at most
 * --stall-ms, and never delays what the others receive beyond that; what
 * it can hold up is its queue, its stream's write buffer (64 KiB
 * high-water mark) and the kernel's socket buffers (which Linux grows up
 * to tcp_wmem's 4 MiB unless --sndbuf fixes the send buffer's size). A
 * reader yields after each line it broadcasts, so that the writers of
 * clients that keep up empty their queues in between.
 *
 * A line longer than --max-line (1024) bytes is answered with
 * "* line too long" and the connection is closed: the bytes are never
 * buffered beyond the limit (tulip_stream_read_line's TULIP_ELIMIT).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tulip.h"

#define NAME_MAX_LEN 32
#define LEAVE_FLUSH_NS (2 * TULIP_SEC) /* to flush a leaving client's queue */
#define GRACE_NS (2 * TULIP_SEC)       /* for handlers at shutdown */

/* One line of text, shared by the queues it was put in. */
struct msg {
    int refs;   /* queues holding it, plus its maker while broadcasting */
    size_t len; /* the text's length */
    char text[];
};

struct client {
    int refs;                   /* its handler's, and broadcasts waiting */
    struct client *prev, *next; /* in the list of connections */
    tulip_stream *s;            /* the connection */
    tulip_queue *q;             /* struct msg * to send, bounded */
    char name[NAME_MAX_LEN + 1];
    bool joined; /* in the room */
    bool kicked; /* disconnected for being too slow */
};

static struct {
    struct client *head; /* every connection */
    size_t n;            /* the named ones: in the room */
    size_t queue;        /* --queue */
    size_t max_line;     /* --max-line */
    int sndbuf;          /* --sndbuf, 0: the kernel's default */
    int64_t stall_ns;    /* --stall-ms: how long a full queue may stay */
    const char *host;
    const char *port;
    tulip_server *srv;
    unsigned long kicks; /* clients disconnected for being slow */
    bool closing;        /* the server is shutting down */
} room;

static void log_event(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static struct msg *msg_new(const char *fmt, va_list ap)
{
    struct msg *m;
    va_list again;
    int n;

    va_copy(again, ap);
    n = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (n < 0)
        return NULL;
    m = malloc(sizeof(*m) + (size_t)n + 1);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = (size_t)n;
    vsnprintf(m->text, (size_t)n + 1, fmt, ap);
    return m;
}

static void msg_release(struct msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

/* Disconnect a client whose queue stayed full: its reader and writer
 * wake with TULIP_ECLOSED, and its handler says goodbye for it. */
static void kick(struct client *c)
{
    if (c->kicked)
        return;
    c->kicked = true;
    room.kicks++;
    log_event("kick %s: send queue full", c->name);
    tulip_queue_shutdown(c->q, false);
    tulip_stream_abort(c->s);
}

static void client_release(struct client *c)
{
    if (--c->refs > 0)
        return;
    tulip_queue_free(c->q);
    free(c);
}

/*
 * Put m in the queues of to[0, n): at once where there is room; where a
 * queue is full, wait for room until one deadline, --stall-ms away, and
 * disconnect the clients whose queues are still full then. The first pass
 * does not suspend; clients waited for in the second are held by a
 * reference, since they may leave meanwhile.
 */
static void deliver(struct client **to, size_t n, struct msg *m)
{
    int64_t deadline;
    size_t full = 0;
    int rc;

    for (size_t i = 0; i < n; i++) {
        if (to[i]->kicked)
            continue;
        m->refs++;
        rc = tulip_queue_try_put(to[i]->q, m);
        if (rc == 0)
            continue;
        m->refs--;
        if (rc == -EAGAIN) {
            to[full++] = to[i];
            to[i]->refs++;
        }
    }
    deadline = tulip_now() + room.stall_ns;
    for (size_t i = 0; i < full; i++) {
        struct client *c = to[i];
        m->refs++;
        rc = c->kicked ? TULIP_ESHUTDOWN
                       : tulip_queue_put_until(c->q, m, deadline);
        if (rc)
            m->refs--;
        if (rc == -ETIMEDOUT && tulip_now() >= deadline)
            kick(c);
        client_release(c);
    }
}

/* Send a line to one client. */
static void tell(struct client *c, const char *fmt, ...)
{
    struct msg *m;
    va_list ap;

    va_start(ap, fmt);
    m = msg_new(fmt, ap);
    va_end(ap);
    if (!m)
        return;
    deliver(&c, 1, m);
    msg_release(m);
}

/* Send a line to everyone in the room but from (which may be NULL). */
static void broadcast(struct client *from, const char *fmt, ...)
{
    struct client **to;
    struct msg *m;
    size_t n = 0;
    va_list ap;

    va_start(ap, fmt);
    m = msg_new(fmt, ap);
    va_end(ap);
    to = malloc((room.n + 1) * sizeof(*to));
    if (m && to) {
        for (struct client *c = room.head; c; c = c->next)
            if (c != from && c->joined)
                to[n++] = c;
        deliver(to, n, m);
    }
    free(to);
    msg_release(m);
}

static void list_add(struct client *c)
{
    c->next = room.head;
    c->prev = NULL;
    if (room.head)
        room.head->prev = c;
    room.head = c;
}

static void list_remove(struct client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        room.head = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* The client's writer task: queue to stream, until the queue is shut
 * down; after a write error it only empties the queue. Then it closes the
 * stream (what is written is still flushed), which wakes the reader if
 * the queue was shut down by a kick or by the server's closing. */
static int writer(void *arg)
{
    struct client *c = arg;
    void *item;
    int rc = 0;

    while (tulip_queue_get(c->q, &item) == 0) {
        struct msg *m = item;
        if (rc == 0) {
            rc = tulip_stream_write(c->s, m->text, m->len);
            if (rc == 0)
                rc = tulip_stream_drain(c->s);
            if (rc)
                tulip_stream_abort(c->s); /* wake the reader */
        }
        msg_release(m);
    }
    tulip_stream_close(c->s);
    return 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

static bool name_taken(const char *s, size_t n)
{
    for (struct client *c = room.head; c; c = c->next)
        if (c->joined && strlen(c->name) == n && memcmp(c->name, s, n) == 0)
            return true;
    return false;
}

/* Take s[0, n) as c's name, or tell c why not. */
static bool set_name(struct client *c, const char *s, size_t n)
{
    if (!name_ok(s, n)) {
        tell(c,
             "* a name is 1 to %d letters, digits, '-' or '_'; "
             "try again\n",
             NAME_MAX_LEN);
        return false;
    }
    if (name_taken(s, n)) {
        tell(c, "* %.*s is taken; try another name\n", (int)n, s);
        return false;
    }
    memcpy(c->name, s, n);
    c->name[n] = '\0';
    return true;
}

static void cmd_who(struct client *c)
{
    char b[4096];
    size_t k = 0;

    for (struct client *o = room.head; o && k + NAME_MAX_LEN + 2 < sizeof(b);
         o = o->next)
        if (o->joined)
            k += (size_t)snprintf(b + k, sizeof(b) - k, " %s", o->name);
    tell(c, "* %zu online:%.*s\n", room.n, (int)k, b);
}

/* A line from a named client; false to leave. */
static bool handle_line(struct client *c, const char *line, size_t n)
{
    if (n == 0)
        return true;
    if (line[0] != '/') {
        broadcast(c, "<%s> %.*s\n", c->name, (int)n, line);
        return true;
    }
    if (n == 5 && memcmp(line, "/quit", 5) == 0)
        return false;
    if (n == 4 && memcmp(line, "/who", 4) == 0) {
        cmd_who(c);
        return true;
    }
    if (n > 6 && memcmp(line, "/nick ", 6) == 0) {
        char old[NAME_MAX_LEN + 1];
        memcpy(old, c->name, sizeof(old));
        if (set_name(c, line + 6, n - 6)) {
            log_event("nick %s %s", old, c->name);
            broadcast(NULL, "* %s is now known as %s\n", old, c->name);
        }
        return true;
    }
    tell(c, "* commands: /nick NAME, /who, /quit\n");
    return true;
}

/* Read lines until the client leaves; returns why (for the notice). */
static const char *converse(struct client *c, char *line)
{
    for (;;) {
        ssize_t n = tulip_stream_read_line(c->s, line, room.max_line + 1);
        if (n == 0)
            return "left";
        if (n == TULIP_ELIMIT) {
            tell(c, "* line too long (the limit is %zu bytes); bye\n",
                 room.max_line);
            return "left (line too long)";
        }
        if (n < 0)
            return c->kicked ? "was disconnected (too slow)" : "left";
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!c->joined) {
            if (!set_name(c, line, len))
                continue;
            c->joined = true;
            room.n++;
            log_event("join %s", c->name);
            tell(c, "* welcome %s; %zu online (/who, /nick, /quit)\n", c->name,
                 room.n);
            broadcast(c, "* %s joined\n", c->name);
        } else if (!handle_line(c, line, len)) {
            return "left";
        }
        /* Give the writers their turn before the next line: a burst of
         * buffered lines would otherwise fill the queues of clients that
         * do read, and disconnect them for the talker's haste. */
        if (tulip_sleep(0) < 0)
            return "left";
    }
}

static int serve_client(tulip_stream *s, void *arg)
{
    struct tulip_queue_opts qo = {.maxsize = room.queue};
    struct client *c;
    struct tulip_scope scope;
    tulip_group *g;
    const char *why;
    char *line;
    void *item;
    int rc;

    (void)arg;
    c = calloc(1, sizeof(*c));
    line = malloc(room.max_line + 1);
    if (!c || !line || tulip_queue_new(&c->q, &qo) < 0)
        goto out_free;
    c->refs = 1;
    c->s = s;
    if (room.sndbuf)
        setsockopt(tulip_stream_fd(s), SOL_SOCKET, SO_SNDBUF, &room.sndbuf,
                   sizeof(room.sndbuf));
    /* The scope bounds the writer's last flush (below); it must enclose
     * the group. */
    tulip_scope_enter(&scope, TULIP_FOREVER, 0);
    rc = tulip_group_new(&g);
    if (rc < 0) {
        tulip_scope_exit(&scope);
        goto out_free;
    }
    list_add(c);
    if (tulip_group_spawn(g, writer, c, NULL, NULL) == 0) {
        tell(c, "* welcome to tulip chat; your name?\n");
        why = converse(c, line);
        if (c->joined) {
            c->joined = false;
            room.n--;
            log_event("leave %s (%s)", c->name, why);
            if (!room.closing)
                broadcast(NULL, "* %s %s\n", c->name, why);
        }
    }
    list_remove(c);
    /* Let the writer flush what is queued (bounded in time), then go. */
    tulip_queue_shutdown(c->q, false);
    tulip_scope_reschedule(&scope, tulip_now() + LEAVE_FLUSH_NS);
    tulip_group_wait(g); /* past the deadline: the writer is cancelled */
    tulip_scope_exit(&scope);
    while (tulip_queue_try_get(c->q, &item) == 0)
        msg_release(item);
    free(line);
    client_release(c);
    return 0;
out_free:
    if (c)
        tulip_queue_free(c->q);
    free(c);
    free(line);
    return 0;
}

static int serve(void *arg)
{
    struct tulip_server_opts o = {.host = room.host, .port = room.port};
    struct tulip_scope scope;
    int rc, sig;

    (void)arg;
    o.stream.limit = room.max_line;
    o.linger_ns = GRACE_NS;
    rc = tulip_server_start(&room.srv, serve_client, NULL, &o);
    if (rc) {
        fprintf(stderr, "chat_server: %s\n", tulip_strerror(rc));
        return 1;
    }
    log_event("listening on port %d", tulip_server_port(room.srv));
    /* SIGTERM here; SIGINT cancels this task (tulip_run). */
    sig = tulip_signal_wait(SIGTERM);
    tulip_scope_enter(&scope, tulip_now() + GRACE_NS + TULIP_SEC,
                      TULIP_SCOPE_SHIELD);
    /* Each writer sends what is queued, the notice last, then closes its
     * stream, which ends its reader; a handler still busy after GRACE_NS
     * is cancelled. */
    tulip_server_stop(room.srv);
    broadcast(NULL, "* server shutting down\n");
    room.closing = true;
    for (struct client *c = room.head; c; c = c->next)
        tulip_queue_shutdown(c->q, false);
    tulip_server_close(room.srv, GRACE_NS);
    tulip_scope_exit(&scope);
    tulip_server_free(room.srv);
    log_event("shutdown (%s): %lu kicked",
              sig == SIGTERM ? "SIGTERM" : "SIGINT", room.kicks);
    return 0;
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (*s < '0' || *s > '9' || *end || v == 0 || v > (1ul << 20))
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    int result = 1;

    room.host = "127.0.0.1";
    room.port = "0";
    room.queue = 64;
    room.max_line = 1024;
    room.stall_ns = TULIP_SEC;
    for (int i = 1; i < argc; i++) {
        bool ok = i + 1 < argc;
        if (ok && strcmp(argv[i], "--port") == 0)
            room.port = argv[++i];
        else if (ok && strcmp(argv[i], "--host") == 0)
            room.host = argv[++i];
        else if (ok && strcmp(argv[i], "--queue") == 0)
            ok = parse_size(argv[++i], &room.queue);
        else if (ok && strcmp(argv[i], "--max-line") == 0)
            ok = parse_size(argv[++i], &room.max_line);
        else if (ok && strcmp(argv[i], "--stall-ms") == 0) {
            size_t v = 0;
            ok = parse_size(argv[++i], &v);
            room.stall_ns = (int64_t)v * TULIP_MSEC;
        } else if (ok && strcmp(argv[i], "--sndbuf") == 0) {
            size_t v = 0;
            ok = parse_size(argv[++i], &v);
            room.sndbuf = (int)v;
        } else
            ok = false;
        if (!ok) {
            fprintf(stderr,
                    "usage: %s [--host H] [--port N] [--queue MSGS] "
                    "[--max-line BYTES] [--stall-ms MS] [--sndbuf BYTES]\n",
                    argv[0]);
            return 2;
        }
    }
    tulip_run(serve, NULL, &result, NULL);
    return result;
}
