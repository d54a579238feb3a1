/* SPDX-License-Identifier: MIT */
/*
 * Generators through the public API:
 *
 *   gen.next       one tulip_gen_next() round trip: resume the body, which
 *                  yields straight back (two switches plus the protocol)
 *   gen.lifecycle  tulip_gen_new() + tulip_gen_next() until TULIP_STOP +
 *                  tulip_gen_free() of a body that returns at once, with the
 *                  object cache and the warm stack ring hot (libdill's
 *                  perf/go.c: 42 ns here; neco 58 ns; target <= 40 ns)
 *
 * Each figure is the median of 201 short batches (about 0.5 ms each, well
 * under a scheduler time slice, so that preempted batches are outliers the
 * median ignores), after a warm-up batch.
 * The peer bench/peers/gen_python.py does the same work with Python
 * generators.
 */
#include "prefix.h"

#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "tulip.h"

#define BATCHES 201

static int yield_forever(void *arg, void **ret)
{
    uintptr_t k = 0;

    (void)arg;
    (void)ret;
    for (;;)
        if (tulip_yield((void *)++k, NULL) != 0)
            return 0;
}

static int return_at_once(void *arg, void **ret)
{
    *ret = arg;
    return 0;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_gen: %s: %s\n", what, tulip_strerror(rc));
    exit(1);
}

/* n resumes of one generator; ns per round trip. */
static double batch_next(tulip_gen *g, long n)
{
    int64_t t0 = bench_now_ns();
    void *v = NULL;
    long i;

    for (i = 0; i < n; i++) {
        int rc = tulip_gen_next(g, &v);
        if (rc != 0)
            die("tulip_gen_next", rc);
    }
    bench_escape(v);
    return (double)(bench_now_ns() - t0) / (double)n;
}

/* n create-run-destroy cycles; ns per cycle. */
static double batch_lifecycle(long n)
{
    int64_t t0 = bench_now_ns();
    void *v = NULL;
    long i;

    for (i = 0; i < n; i++) {
        tulip_gen *g;
        int rc = tulip_gen_new(&g, return_at_once, (void *)i);
        if (rc != 0)
            die("tulip_gen_new", rc);
        rc = tulip_gen_next(g, &v);
        if (rc != TULIP_STOP)
            die("tulip_gen_next", rc);
        tulip_gen_free(g);
    }
    bench_escape(v);
    return (double)(bench_now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    int smoke = bench_is_smoke(argc, argv);
    long n = 10000; /* per batch: about 0.5 ms */
    int batches = smoke ? 3 : BATCHES;
    double next[BATCHES], life[BATCHES];
    tulip_gen *g;
    int b, rc;

    rc = tulip_gen_new(&g, yield_forever, NULL);
    if (rc != 0)
        die("tulip_gen_new", rc);
    batch_next(g, n / 10); /* warm-up */
    batch_lifecycle(n / 10);
    for (b = 0; b < batches; b++) {
        next[b] = batch_next(g, n);
        life[b] = batch_lifecycle(n);
    }
    tulip_gen_free(g);
    bench_report("gen.next", bench_median(next, batches), "ns/op");
    bench_report("gen.lifecycle", bench_median(life, batches), "ns/op");
    return 0;
}
