/* SPDX-License-Identifier: MIT */
/*
 * Support for the plain test programs of tests/tsan/: the tests of what
 * crosses threads, which must run under ThreadSanitizer, where Criterion
 * cannot start (its BoxFort arena cannot be mapped, Criterion issue #274).
 * Each program is one main() that runs its cases in order and exits 0, or
 * prints the first failed check and exits 1. They also run in the ordinary
 * suite (CTest label "thread").
 *
 * PLAIN_CHECK(cond) and PLAIN_EQ(a, b) may be used on any thread and on
 * coroutine stacks (they exit, they do not unwind). plain_begin()
 * counts the library's memory with atomic counters (pool threads allocate
 * too), so that a case can check that everything was given back.
 */
#ifndef TULIP_TEST_PLAIN_H
#define TULIP_TEST_PLAIN_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tulip.h"

#define PLAIN_UNUSED __attribute__((unused))

#define PLAIN_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define PLAIN_EQ(a, b)                                                         \
    do {                                                                       \
        long long plain_a_ = (long long)(a), plain_b_ = (long long)(b);        \
        if (plain_a_ != plain_b_) {                                            \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",          \
                    __FILE__, __LINE__, #a, #b, plain_a_, plain_b_);           \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Bytes and blocks the library holds through the allocation hook. */
static atomic_llong plain_live_bytes;
static atomic_llong plain_live_blocks;

static PLAIN_UNUSED void *plain_alloc(void *ud, void *ptr, size_t old_size,
                                      size_t new_size)
{
    void *p;

    (void)ud;
    if (new_size == 0) {
        if (ptr) {
            free(ptr);
            atomic_fetch_sub(&plain_live_bytes, (long long)old_size);
            atomic_fetch_sub(&plain_live_blocks, 1);
        }
        return NULL;
    }
    p = realloc(ptr, new_size);
    if (!p)
        return NULL;
    atomic_fetch_add(&plain_live_bytes, (long long)new_size);
    if (ptr)
        atomic_fetch_sub(&plain_live_bytes, (long long)old_size);
    else
        atomic_fetch_add(&plain_live_blocks, 1);
    return p;
}

static int plain_nothing(void *arg)
{
    (void)arg;
    return tulip_sleep(0);
}

/*
 * Install the counting hook, use the library once on this thread (which
 * makes the thread's stack pool, kept until the thread exits), and return
 * the marks that PLAIN_NO_LEAK compares with. Call it first in main().
 */
static PLAIN_UNUSED void plain_begin(long long *bytes0, long long *blocks0)
{
    tulip_loop *loop;

    tulip_set_allocator(plain_alloc, NULL);
    PLAIN_EQ(tulip_loop_new(&loop, NULL), 0);
    PLAIN_EQ(tulip_spawn(NULL, loop, plain_nothing, NULL), 0);
    PLAIN_EQ(tulip_loop_run(loop), 0);
    PLAIN_EQ(tulip_loop_close(loop), 0);
    tulip_stack_trim();
    *bytes0 = atomic_load(&plain_live_bytes);
    *blocks0 = atomic_load(&plain_live_blocks);
}

/* Fail unless the library holds as many bytes and blocks as at the marks
 * (once this thread's cached stacks are given back). */
#define PLAIN_NO_LEAK(bytes0, blocks0)                                         \
    do {                                                                       \
        tulip_stack_trim();                                                    \
        PLAIN_EQ(atomic_load(&plain_live_bytes), (bytes0));                    \
        PLAIN_EQ(atomic_load(&plain_live_blocks), (blocks0));                  \
    } while (0)

/* Sleep the calling thread (not a task) for ms milliseconds. */
static PLAIN_UNUSED void plain_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Print the case's name, so that a failure says where it happened. */
static PLAIN_UNUSED void plain_case(const char *prog, const char *name)
{
    printf("%s: %s\n", prog, name);
    fflush(stdout);
}

#endif /* TULIP_TEST_PLAIN_H */
