/* SPDX-License-Identifier: MIT */
/*
 * Memory of idle coroutines: N generators, each suspended inside its body
 * with a little of its stack in use (a 256-byte local array, as a real body
 * would have), every one with its guard.
 *
 *   rss.coro_100k, rss.coro_1m    VmRSS growth / N, KiB per coroutine: the
 *                                 stack pages it touched plus its generator
 *                                 object (target at 1M: <= 4.4 KiB, neco 4.4)
 *   rss.pte_100k, rss.pte_1m      VmPTE growth / N: page tables, which VmRSS
 *                                 does not count, shown apart for honesty
 *   rss.maps_100k, rss.maps_1m    entries in /proc/self/maps afterwards
 *                                 (MADV_GUARD_INSTALL guards add none;
 *                                 mprotect guards would need two each and
 *                                 stop near 32,700 coroutines)
 *   rss.create_100k, rss.create_1m  ns per coroutine to create it and run it
 *                                 to its first yield (page faults included)
 *
 * Each size runs in a child process of its own, so that one size's pool and
 * page tables do not flatter the next, and the child exits without freeing
 * (what freeing costs is not measured here). The array of generator handles
 * is allocated and touched before the baseline is read, so it is not counted.
 * No sysctl is changed. With --smoke both sizes are 2,000 coroutines.
 */
#include "prefix.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "tulip.h"

static int idle_body(void *arg, void **ret)
{
    volatile char buf[256];

    (void)ret;
    memset((char *)buf, (int)(uintptr_t)arg, sizeof(buf));
    tulip_yield(NULL, NULL);
    return buf[0];
}

static const char *guard_name(int kind)
{
    return kind == 1 ? "MADV_GUARD_INSTALL" : kind == 2 ? "mprotect" : "none";
}

/* Create n idle coroutines and report; runs in a child. */
static int measure(long n, const char *tag)
{
    tulip_gen **g = calloc((size_t)n, sizeof(*g));
    struct tulip_stack_stats st;
    long rss0, rss1, pte0, pte1, maps;
    int64_t t0, t1;
    char name[64];
    long i;

    if (!g) {
        perror("bench_rss: calloc");
        return 1;
    }
    memset(g, 0, (size_t)n * sizeof(*g)); /* committed before the baseline */
    rss0 = bench_status_kib("VmRSS");
    pte0 = bench_status_kib("VmPTE");
    t0 = bench_now_ns();
    for (i = 0; i < n; i++) {
        int rc = tulip_gen_new(&g[i], idle_body, (void *)(uintptr_t)i);
        if (rc == 0)
            rc = tulip_gen_next(g[i], NULL);
        if (rc != 0) {
            fprintf(stderr, "bench_rss: coroutine %ld of %ld: %s\n", i, n,
                    tulip_strerror(rc));
            return 1;
        }
    }
    t1 = bench_now_ns();
    rss1 = bench_status_kib("VmRSS");
    pte1 = bench_status_kib("VmPTE");
    maps = bench_map_count();
    tulip_stack_stats(&st);
    if (st.guard_kind == 0 || st.in_use != (size_t)n) {
        fprintf(stderr, "bench_rss: guard %s, %zu stacks in use of %ld\n",
                guard_name(st.guard_kind), st.in_use, n);
        return 1;
    }
    fprintf(stderr,
            "bench_rss: %ld coroutines, guards by %s, %.1f GiB "
            "reserved\n",
            n, guard_name(st.guard_kind), (double)st.reserved / (1 << 30));
    snprintf(name, sizeof(name), "rss.coro_%s", tag);
    bench_report(name, (double)(rss1 - rss0) / (double)n, "KiB/coro");
    snprintf(name, sizeof(name), "rss.pte_%s", tag);
    bench_report(name, (double)(pte1 - pte0) / (double)n, "KiB/coro");
    snprintf(name, sizeof(name), "rss.maps_%s", tag);
    bench_report(name, (double)maps, "maps");
    snprintf(name, sizeof(name), "rss.create_%s", tag);
    bench_report(name, (double)(t1 - t0) / (double)n, "ns/op");
    return 0; /* exit without freeing: the process ends here */
}

static int in_child(long n, const char *tag)
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("bench_rss: fork");
        return 1;
    }
    if (pid == 0)
        _exit(measure(n, tag) != 0 || fflush(stdout) != 0);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_rss: the %s run failed\n", tag);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int smoke = bench_is_smoke(argc, argv);
    int rc = 0;

    rc |= in_child(smoke ? 2000 : 100000, "100k");
    rc |= in_child(smoke ? 2000 : 1000000, "1m");
    return rc;
}
