/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the bench_<topic>.c programs: the output convention,
 * --smoke, a monotonic clock, medians, and a compiler barrier.
 *
 * The convention (bench/README.md): a program prints one line per metric,
 * `name value unit`, where every unit is lower-is-better (ns/op, us/op, s,
 * KiB/coro, MiB, x ...), and `--smoke` runs a tiny size in well under two
 * seconds so that CTest can prove the program still works. bench/run.sh
 * repeats whole programs and takes medians across runs; the programs
 * themselves take medians of inner repetitions so that one preempted slice
 * (frequent on the shared VM, see bench/README.md) does not move a figure.
 *
 * Everything here is static inline, so a program that includes this header
 * adds no symbol that could clash with another program's own helpers.
 */
#ifndef TULIP_BENCH_H
#define TULIP_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* True when the program was started with --smoke. */
static inline int bench_is_smoke(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--smoke") == 0)
            return 1;
    return 0;
}

/* Monotonic time in nanoseconds. */
static inline int64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Print one metric line; flushed so that a crash later loses nothing. */
static inline void bench_report(const char *name, double value,
                                const char *unit)
{
    printf("%s %.*f %s\n", name, value < 10 ? 2 : (value < 1000 ? 1 : 0), value,
           unit);
    fflush(stdout);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v in place); n must be at least 1. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Make the compiler believe p is read and memory is clobbered, so that the
 * work producing it cannot be removed as dead code. */
static inline void bench_escape(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* A field of /proc/self/status in KiB (VmRSS, VmPTE ...), or -1. */
static inline long bench_status_kib(const char *field)
{
    char line[256];
    size_t n = strlen(field);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* The number of memory-map entries (lines of /proc/self/maps), or -1. */
static inline long bench_map_count(void)
{
    long n = 0;
    int c;
    FILE *f = fopen("/proc/self/maps", "r");

    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

#endif /* TULIP_BENCH_H */
