/* SPDX-License-Identifier: MIT */
/*
 * The tracer's binary format, shared by the library (src/diag/trace.c
 * records it, converts it to JSON at tulip_trace_stop) and tools/tulip-trace
 * (which reads a binary trace left by a program that never stopped tracing,
 * a crash). Standard C only, so that the tool compiles it on its own.
 *
 * A file is a header record and then 32-byte records, in the order the
 * writer got the buffers (each buffer is one thread's, in time order). A
 * trace that was stopped ends with a TREC_STOP record; one without it was
 * cut short, and its complete records are all that counts.
 */
#ifndef TULIP_TRACE_FMT_H
#define TULIP_TRACE_FMT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TREC_MAGIC "TULIPTR1" /* the first 8 bytes of a binary trace */
#define TREC_GEN_TID_BASE 1000000000ull /* generator rows */
#define TREC_WAKE_YIELD 100u            /* wake reason of a sleep(0) */
#define TREC_NAME_MAX 32                /* a name record's payload */

enum {
    TREC_HEADER, /* the magic over ts; tid = start; arg = pid; aux = 1 */
    TREC_BEGIN,  /* step of task tid begins (and ends its wait if any) */
    TREC_END,    /* it ends; aux = 1 if it suspended (a wait starts) */
    TREC_WAKE,   /* woken: aux = why, arg = waker id, fd + 1 << 32, 0 loop */
    TREC_YIELD,  /* sleep(0): suspended and woken at once */
    TREC_NAME,   /* tid is called...: the next record is the name's bytes */
    TREC_SPAWN,  /* task tid spawned; arg = spawner task id */
    TREC_CANCEL, /* cancel requested; arg = requester task id */
    TREC_IO,     /* fd ready: arg = fd, aux = revents (loop row) */
    TREC_READY,  /* counter: arg = entries ready at the start of a pass */
    TREC_GBEGIN, /* generator resumed; tid = its row */
    TREC_GEND,
    TREC_STOP /* tracing stopped: the trace is complete */
};

struct trec {
    int64_t ts; /* CLOCK_MONOTONIC ns */
    uint64_t tid;
    uint64_t arg;
    uint32_t kind;
    uint32_t aux;
};
_Static_assert(sizeof(struct trec) == 32, "two records per cache line");

/* What a conversion found. */
struct trec_stats {
    long long records; /* complete records read */
    long long events;  /* JSON events written */
    bool truncated;    /* no STOP record: the program did not stop tracing */
    bool bad_header;   /* not a binary trace */
};

/* Whether the first bytes (n of them) are a binary trace's. */
__attribute__((visibility("hidden"))) bool
tulip__trec_is_binary(const void *head, size_t n);

/* Convert the binary trace read from in into Chrome trace-event JSON on
 * out (one event a line, a complete array even for a cut trace: slices
 * left open are closed at the last timestamp). Returns 0, -EINVAL if in
 * is not a binary trace, -ENOMEM, or the negative errno of a failed
 * write (out's error). */
__attribute__((visibility("hidden"))) int
tulip__trec_to_json(FILE *in, FILE *out, struct trec_stats *st);

#endif /* TULIP_TRACE_FMT_H */
