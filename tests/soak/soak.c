/* SPDX-License-Identifier: MIT */
/*
 * The soak (issue 7): an echo server and 2,000 client tasks in one loop over
 * loopback, churning connections for a bounded time. Each client connects,
 * exchanges a few messages of random sizes with think times between them,
 * and closes, one time in ten with a reset (SO_LINGER 0); a chaos task
 * cancels a random connection handler every few milliseconds. Once a second
 * the resident set size (/proc/self/statm), the open fds and the bytes the
 * library holds (allocator hook) are sampled. After a warm-up (a third of
 * the run) every sample must stay within 5% of the warm-up's RSS; at the
 * end the fds and the library's bytes must be back at their baselines, and
 * no error may have happened other than the injected ones (a reset the
 * client chose, a handler the chaos task cancelled).
 *
 *   soak [--seconds N] [--clients N] [--quiet]     (defaults: 30, 2000)
 *
 * Exit status 0 when every check held.
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc_hook.h"
#include "tulip.h"

#define RING 65536                /* connection records, by id modulo RING */
#define MAX_MSG 4096              /* largest message */
#define RST_PERCENT 10            /* closes that are resets */
#define CHAOS_NS (5 * TULIP_MSEC) /* between two handler cancellations */
#define STACK (64 * 1024)         /* of every task here */
#define RSS_SLACK 0.05            /* allowed growth after warm-up */

/* ASan keeps freed memory in quarantine (256 MiB by default), so RSS grows
 * by design there: the RSS bound is checked only without it. */
#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#ifndef SOAK_ASAN
#define SOAK_ASAN 0
#endif

/* One connection, as both ends see it. */
struct conn_rec {
    uint32_t id; /* which connection holds the record */
    bool rst;    /* the client reset it */
    bool victim; /* the chaos task cancelled its handler */
    tulip_task *handler;
    int live_index; /* in live[], or -1 */
};

static struct conn_rec recs[RING];
static uint32_t next_id = 1;
static tulip_task *live[RING]; /* handlers running, for the chaos task */
static uint32_t live_ids[RING];
static int nlive;

static int port;
static bool stopping;
static int seconds = 30, nclients = 2000;
static int run_seconds; /* of the cycle under way */
static bool sampling;   /* the measured cycle */
static bool quiet;

/* What happened. */
static long conns, exchanges, resets, cancels, expected_errs;
static long unexpected;
static char first_unexpected[160];

static uint64_t rng_state = 88172645463325252u;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void bad(const char *who, uint32_t id, long err)
{
    if (!unexpected++)
        snprintf(first_unexpected, sizeof(first_unexpected),
                 "%s, connection %u: %s", who, id, tulip_err_name((int)err));
}

/* Whether err is one of the injected ones for connection rec. */
static bool injected(const struct conn_rec *r, long err)
{
    if (!(r->rst || r->victim))
        return false;
    return err == -ECONNRESET || err == -EPIPE || err == TULIP_EOF ||
           err == TULIP_EINCOMPLETE || err == TULIP_ECLOSED || err == 0;
}

/* ---- the server's side ----------------------------------------------------
 */

static void live_add(uint32_t id)
{
    struct conn_rec *r = &recs[id % RING];

    r->handler = tulip_task_current();
    r->live_index = nlive;
    live[nlive] = r->handler;
    live_ids[nlive++] = id;
}

static void live_remove(uint32_t id)
{
    struct conn_rec *r = &recs[id % RING];
    int i = r->live_index;

    if (i < 0 || r->id != id)
        return;
    live[i] = live[--nlive];
    live_ids[i] = live_ids[nlive];
    recs[live_ids[i] % RING].live_index = i;
    r->live_index = -1;
    r->handler = NULL;
}

static int handler(tulip_stream *s, void *arg)
{
    char buf[MAX_MSG];
    uint32_t id;
    size_t partial;
    ssize_t n;
    int rc = 0;

    (void)arg;
    n = tulip_stream_read_exactly(s, &id, sizeof(id), &partial);
    if (n < 0) /* a client that reset before its first message */
        return n == -ECANCELED || n == TULIP_EINCOMPLETE || n == -ECONNRESET
                   ? 0
                   : (int)n;
    if (recs[id % RING].id != id)
        return -EPROTO;
    live_add(id);
    while ((n = tulip_stream_read(s, buf, sizeof(buf))) > 0) {
        rc = tulip_stream_write(s, buf, (size_t)n);
        if (!rc)
            rc = tulip_stream_drain(s);
        if (rc)
            break;
    }
    live_remove(id);
    if (n < 0)
        rc = (int)n;
    if (rc == -ECANCELED)
        return rc; /* the chaos task's: not reported by the server */
    if (rc && injected(&recs[id % RING], rc)) {
        expected_errs++;
        return 0;
    }
    if (rc)
        bad("handler", id, rc);
    return 0;
}

static int chaos(void *arg)
{
    (void)arg;
    while (!stopping) {
        int rc = tulip_sleep(CHAOS_NS);
        if (rc)
            return rc == -ECANCELED ? 0 : rc;
        if (!nlive)
            continue;
        int i = (int)rnd((uint32_t)nlive);
        recs[live_ids[i] % RING].victim = true;
        tulip_task_cancel(live[i]);
        cancels++;
    }
    return 0;
}

/* ---- the clients ------------------------------------------------------------
 */

static int set_rst(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};

    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0 ? -errno
                                                                    : 0;
}

/* One connection: connect, a few exchanges, close or reset. */
static void one_conn(void)
{
    char out[MAX_MSG], in[MAX_MSG], ps[16];
    uint32_t id = next_id++;
    struct conn_rec *r = &recs[id % RING];
    tulip_stream *s;
    size_t partial;
    long rc;
    int fd;

    *r = (struct conn_rec){.id = id, .live_index = -1};
    snprintf(ps, sizeof(ps), "%d", port);
    rc = tulip_tcp_connect(&fd, "127.0.0.1", ps, NULL);
    if (rc) {
        bad("connect", id, rc);
        return;
    }
    rc = tulip_stream_new(&s, fd, NULL);
    if (rc) {
        close(fd);
        bad("stream", id, rc);
        return;
    }
    conns++;
    rc = tulip_stream_write(s, &id, sizeof(id));
    for (int k = 1 + (int)rnd(4); k > 0 && !rc && !stopping; k--) {
        size_t n = 1 + rnd(MAX_MSG);
        for (size_t i = 0; i < n; i++)
            out[i] = (char)(id + i);
        rc = tulip_stream_write(s, out, n);
        if (!rc)
            rc = tulip_stream_drain(s);
        if (!rc)
            rc = tulip_stream_read_exactly(s, in, n, &partial);
        if (rc >= 0 && memcmp(in, out, n) != 0)
            rc = -EBADMSG;
        if (rc >= 0) {
            rc = 0;
            exchanges++;
            rc = tulip_sleep((int64_t)rnd(50) * TULIP_MSEC);
        }
    }
    if (rc == 0 && rnd(100) < RST_PERCENT) {
        r->rst = true;
        resets++;
        rc = set_rst(tulip_stream_fd(s));
        tulip_stream_abort(s);
    } else {
        long c = tulip_stream_wait_closed(s);
        rc = rc ? rc : c;
    }
    tulip_stream_free(s);
    if (rc == -ECANCELED)
        return;
    if (rc && injected(r, rc))
        expected_errs++;
    else if (rc)
        bad("client", id, rc);
}

static int client(void *arg)
{
    (void)arg;
    tulip_sleep((int64_t)rnd(1000) * TULIP_MSEC); /* spread the start */
    while (!stopping)
        one_conn();
    return 0;
}

/* ---- sampling
 * ---------------------------------------------------------------- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

static long rss_kib(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static struct test_alloc hook;
static int fds_base;
static long long bytes_base;
static long rss_warm = -1, rss_max, rss_min = -1;
static int fds_max;
static int failures;

static void fail(const char *fmt, const char *what, long a, long b)
{
    printf("soak: FAIL: ");
    printf(fmt, what, a, b);
    printf("\n");
    failures++;
}

static int main_task(void *arg)
{
    struct tulip_server_opts o = {.host = "127.0.0.1",
                                  .port = "0",
                                  .listen.backlog = 4096,
                                  .stack_size = STACK,
                                  .linger_ns = TULIP_SEC};
    struct tulip_task_opts to = {.stack_size = STACK};
    int warm = run_seconds / 3 > 0 ? run_seconds / 3 : 1;
    tulip_server *srv;
    tulip_group *g;
    int rc, cancelled;

    (void)arg;
    rc = tulip_server_start(&srv, handler, NULL, &o);
    if (rc)
        return rc;
    port = tulip_server_port(srv);
    rc = tulip_group_new(&g);
    if (rc)
        return rc;
    for (int i = 0; i < nclients && !rc; i++)
        rc = tulip_group_spawn(g, client, NULL, &to, NULL);
    if (!rc)
        rc = tulip_group_spawn(g, chaos, NULL, &to, NULL);
    for (int sec = 1; sec <= run_seconds && !rc; sec++) {
        rc = tulip_sleep(TULIP_SEC);
        if (!sampling)
            continue;
        long rss = rss_kib();
        int fds = count_fds();
        struct tulip_stack_stats st;
        tulip_stack_stats(&st);
        if (!quiet)
            printf(
                "t=%3ds rss %6ld KiB fds %5d library %8lld B stacks %4zu+%4zu "
                "conns %7ld resets %6ld cancels %5ld\n",
                sec, rss, fds, hook.live_bytes, st.in_use, st.cached, conns,
                resets, cancels);
        fflush(stdout);
        if (sec == warm)
            rss_warm = rss;
        if (sec > warm) {
            rss_max = rss > rss_max ? rss : rss_max;
            rss_min = rss_min < 0 || rss < rss_min ? rss : rss_min;
            fds_max = fds > fds_max ? fds : fds_max;
        }
    }
    stopping = true;
    rc = rc ? rc : tulip_group_wait(g);
    cancelled = tulip_server_close(srv, 5 * TULIP_SEC);
    tulip_server_free(srv);
    return rc ? rc : cancelled < 0 ? cancelled : 0;
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    int rc, result = -1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            nclients = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = true;
        else {
            fprintf(stderr, "usage: %s [--seconds N] [--clients N] [--quiet]\n",
                    argv[0]);
            return 2;
        }
    }
    if (seconds < 3 || nclients < 1 || nclients > RING / 4) {
        fprintf(stderr, "soak: --seconds >= 3, --clients in 1..%d\n", RING / 4);
        return 2;
    }
    /* two fds per connection, and room for the churn */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < (rlim_t)nclients * 4 + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* The static tables, touched now so that their pages do not count as
     * growth. */
    memset(recs, 0, sizeof(recs));
    memset(live, 0, sizeof(live));
    memset(live_ids, 0, sizeof(live_ids));
    test_alloc_install(&hook);
    fds_base = count_fds();
    /* A first, short cycle brings the library's lasting bookkeeping (the
     * stack pool's lists, sized by the peak of live tasks) to its level;
     * the measured cycle must end at that level, whatever its length. */
    run_seconds = 3;
    rc = tulip_run(main_task, NULL, &result, NULL);
    tulip_pool_shutdown();
    tulip_stack_trim();
    bytes_base = hook.live_bytes;
    if (!rc && !result) {
        stopping = false;
        run_seconds = seconds;
        sampling = true;
        conns = exchanges = resets = cancels = expected_errs = 0;
        rc = tulip_run(main_task, NULL, &result, NULL);
        tulip_pool_shutdown();
        tulip_stack_trim();
    }
    printf("soak: %d s, %d clients: %ld connections, %ld exchanges, %ld "
           "resets, %ld handlers cancelled, %ld injected errors seen\n",
           seconds, nclients, conns, exchanges, resets, cancels, expected_errs);
    printf("soak: rss after warm-up %ld KiB, then %ld..%ld KiB (%+.1f%%); "
           "fds %d at most, %d at the end, %d before\n",
           rss_warm, rss_min, rss_max,
           rss_warm > 0
               ? 100.0 * (double)(rss_max - rss_warm) / (double)rss_warm
               : 0.0,
           fds_max, count_fds(), fds_base);
    if (rc || result)
        fail("%s: tulip_run %ld, result %ld", "run", rc, result);
    if (unexpected)
        fail("%s: %ld unexpected errors", first_unexpected, unexpected, 0);
    if (conns < nclients)
        fail("%s: %ld connections for %ld clients", "churn", conns, nclients);
    if (!SOAK_ASAN && rss_warm > 0 &&
        (double)rss_max > (double)rss_warm * (1 + RSS_SLACK))
        fail("%s: %ld KiB, after warm-up %ld KiB", "rss grew", rss_max,
             rss_warm);
    if (count_fds() != fds_base)
        fail("%s: %ld open, %ld before", "fds", count_fds(), fds_base);
    if (hook.live_bytes != bytes_base)
        fail("%s: %ld bytes held, %ld before", "library memory",
             (long)hook.live_bytes, (long)bytes_base);
    test_alloc_remove();
    printf("soak: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
