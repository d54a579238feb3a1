/* SPDX-License-Identifier: MIT */
/*
 * Coroutine stacks: the pool's counters (in use, cached, released,
 * reserved) and tulip_stack_trim(), the default-size setting and its
 * validation, stacks of several sizes alive at once, generators that use
 * nearly all of their stack (and yield from the deepest frame), both guard
 * kinds, per-thread pools, and the floating-point control state that every
 * coroutine keeps for itself across switches.
 *
 * Bodies never use cr_assert (it would longjmp off a coroutine stack); they
 * record into structs that the test checks on its main stack. Criterion
 * runs each test in a fresh process, so a test that sets TULIP_GUARD
 * before its first tulip call sees the setting.
 */
/* ctest: labels=unit timeout=120 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"
#include "tulip.h"

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((intptr_t)(p))
#define KIB ((size_t)1024)
#define MIB (1024 * KIB)

/* DESIGN.md: on x86_64 the switch keeps MXCSR and the x87 control word per
 * coroutine; elsewhere the floating-point control state is not switched. */
#if defined(__x86_64__) && !defined(TULIP_ARCH_GENERIC)
#define FP_STATE_PER_CORO 1
#else
#define FP_STATE_PER_CORO 0
#endif

static struct tulip_stack_stats stats(void)
{
    struct tulip_stack_stats st;

    tulip_stack_stats(&st);
    return st;
}

static void assert_no_stacks(void)
{
    cr_assert_eq(stats().in_use, 0, "%zu stacks still in use", stats().in_use);
}

static int yield_once(void *arg, void **ret)
{
    (void)ret;
    return tulip_yield(arg, NULL);
}

static tulip_gen *new_sized(size_t size, tulip_gen_fn *fn, void *arg)
{
    struct tulip_coro_opts o = {size, NULL};
    tulip_gen *g = NULL;

    cr_assert_eq(tulip_gen_new_ex(&g, fn, arg, &o), 0, "size %zu", size);
    return g;
}

/* ---- pool counters ------------------------------------------------------- */

Test(pool, counters_start_empty)
{
    struct tulip_stack_stats st = stats();

    cr_assert_eq(st.in_use, 0);
    cr_assert_eq(st.cached, 0);
    cr_assert_eq(st.released, 0);
    cr_assert_eq(st.reserved, 0);
    cr_assert_eq(st.guard_kind, 0, "no guard installed yet");
}

Test(pool, in_use_counts_live_stacks)
{
    tulip_gen *g[3];
    int i;

    for (i = 0; i < 3; i++) {
        cr_assert_eq(tulip_gen_new(&g[i], yield_once, NULL), 0);
        cr_assert_eq(stats().in_use, (size_t)i + 1);
    }
    cr_assert_geq(stats().reserved, 3 * tulip_get_stack_size());
    cr_assert(stats().guard_kind == 1 || stats().guard_kind == 2);
    cr_assert_eq(tulip_gen_next(g[0], NULL), 0);
    cr_assert_eq(stats().in_use, 3, "a suspended generator keeps its stack");
    cr_assert_eq(tulip_gen_next(g[0], NULL), TULIP_STOP);
    cr_assert_eq(stats().in_use, 2, "a finished one gives it back at once");
    cr_assert_eq(tulip_gen_close(g[1]), 0);
    cr_assert_eq(stats().in_use, 1, "so does a closed one");
    for (i = 0; i < 3; i++)
        tulip_gen_free(g[i]);
    assert_no_stacks();
}

#define POOL_N 200

/* With a decay time of 0, stacks beyond the warm ones go back at once. */
Test(pool, freed_stacks_are_cached_then_released)
{
    tulip_gen *g[POOL_N];
    struct tulip_stack_stats st;
    size_t reserved;
    int i;

    cr_assert_eq(tulip_stack_set_decay(0), 0);
    for (i = 0; i < POOL_N; i++)
        cr_assert_eq(tulip_gen_new(&g[i], yield_once, NULL), 0);
    reserved = stats().reserved;
    for (i = 0; i < POOL_N; i++)
        tulip_gen_free(g[i]);
    st = stats();
    cr_assert_eq(st.in_use, 0);
    cr_assert_eq(st.cached + st.released, POOL_N, "every stack is pooled");
    cr_assert_geq(st.cached, 1, "the most recent stay warm");
    cr_assert_lt(st.cached, POOL_N, "beyond a cap they go cold");
    /* Reuse: the same number again reserves no more address space. */
    for (i = 0; i < POOL_N; i++)
        cr_assert_eq(tulip_gen_new(&g[i], yield_once, NULL), 0);
    st = stats();
    cr_assert_eq(st.reserved, reserved);
    cr_assert_eq(st.cached + st.released, 0);
    for (i = 0; i < POOL_N; i++)
        tulip_gen_free(g[i]);
    cr_assert_eq(tulip_stack_set_decay(TULIP_SEC), 0);
    assert_no_stacks();
}

static void make_and_free(int n)
{
    tulip_gen *g[POOL_N];

    cr_assert_leq(n, POOL_N);
    for (int i = 0; i < n; i++)
        cr_assert_eq(tulip_gen_new(&g[i], yield_once, NULL), 0);
    for (int i = 0; i < n; i++)
        tulip_gen_free(g[i]);
}

/* Stacks beyond the warm 64 stay committed for the decay time: one that
 * went cold in a generation older than the decay time goes back at the
 * next check (every 64 stacks going cold), the newer ones stay. */
Test(pool, cold_stacks_go_back_after_the_decay_time)
{
    struct tulip_stack_stats st;

    tulip_stack_trim();
    cr_assert_eq(tulip_stack_set_decay(TULIP_SEC), 0);
    make_and_free(192); /* 64 warm (1 in the stress build), the rest cold */
    st = stats();
    cr_assert_eq(st.cached, 192, "cold but not given back yet");
    cr_assert_eq(st.released, 0);
    /* Shorten the decay time and wait well past it (the coarse clock ticks
     * every few ms), then let 64 more go cold: the first generation goes
     * back. (Shortened only now, so that a slow run under a sanitizer
     * cannot see it elapse during the first burst.) */
    cr_assert_eq(tulip_stack_set_decay(10 * TULIP_MSEC), 0);
    struct timespec nap_50ms = {0, 50 * 1000 * 1000};
    nanosleep(&nap_50ms, NULL);
    make_and_free(128); /* reuses the warm ones and the newest cold */
    st = stats();
    /* Default build: the 64 cold ones not reused go back, 128 stay. (The
     * stress build keeps one warm stack and checks at every stack.) */
    cr_assert_eq(st.cached + st.released, 192);
    cr_assert_geq(st.released, 1, "released %zu", st.released);
    cr_assert_leq(st.released, 64, "released %zu", st.released);
    cr_assert_eq(tulip_stack_set_decay(-1), -EINVAL);
    cr_assert_eq(tulip_stack_set_decay(TULIP_SEC), 0);
    tulip_stack_trim();
    assert_no_stacks();
}

static int nap(void *arg)
{
    (void)arg;
    /* Long enough that the loop still has to wait after its first pass,
     * even under qemu. */
    return tulip_sleep(100 * TULIP_MSEC);
}

/* A loop with nothing to run gives the cold stacks back before it waits,
 * however long the decay time. */
Test(pool, idle_loop_gives_cold_stacks_back)
{
    struct tulip_stack_stats st;
    int result = -1;

    tulip_stack_trim();
    cr_assert_eq(tulip_stack_set_decay(TULIP_SEC), 0);
    make_and_free(192);
    cr_assert_eq(stats().released, 0);
    cr_assert_eq(tulip_run(nap, NULL, &result, NULL), 0);
    cr_assert_eq(result, 0);
    st = stats();
    /* Only the warm ones (64; 1 in the stress build) stay committed; the
     * main task's stack came back to them. */
    cr_assert_eq(st.cached + st.released, 192);
    cr_assert_geq(st.released, 128, "released %zu", st.released);
    cr_assert_leq(st.cached, 64);
    tulip_stack_trim();
    assert_no_stacks();
}

Test(pool, trim_releases_every_cached_stack)
{
    tulip_gen *g[8];
    struct tulip_stack_stats st;
    int i;

    for (i = 0; i < 8; i++)
        cr_assert_eq(tulip_gen_new(&g[i], yield_once, NULL), 0);
    cr_assert_eq(tulip_gen_next(g[0], NULL), 0);
    for (i = 1; i < 8; i++)
        tulip_gen_free(g[i]);
    tulip_stack_trim();
    st = stats();
    cr_assert_eq(st.in_use, 1, "trim leaves live stacks alone");
    cr_assert_eq(st.cached, 0);
    cr_assert_eq(st.released, 7);
    cr_assert_eq(tulip_gen_next(g[0], NULL), TULIP_STOP);
    tulip_gen_free(g[0]);
    tulip_stack_trim();
    cr_assert_eq(stats().released, 8);
    /* A released stack is reused, and works. */
    cr_assert_eq(tulip_gen_new(&g[0], yield_once, V(7)), 0);
    cr_assert_eq(stats().released, 7);
    cr_assert_eq(tulip_gen_next(g[0], NULL), 0);
    tulip_gen_free(g[0]);
    assert_no_stacks();
}

Test(pool, trim_on_empty_pool)
{
    tulip_stack_trim();
    cr_assert_eq(stats().reserved, 0);
}

/* ---- using the stack ----------------------------------------------------- */

struct deep {
    size_t target;  /* bytes of stack to use */
    size_t used;    /* bytes used at the deepest frame */
    int depth;      /* frames at the deepest point */
    int corrupt;    /* frames whose contents changed across the yield */
    int yield_deep; /* yield from the deepest frame */
};

/* Recurse until `target` bytes below `top` are in use, filling every frame
 * with a pattern that is checked on the way back up. */
static int recurse(struct deep *d, uintptr_t top, int depth)
{
    volatile unsigned char buf[384];
    uintptr_t here = (uintptr_t)buf;
    size_t i, base = (size_t)depth;
    int n;

    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(base + i);
    if (top - here < d->target) {
        n = recurse(d, top, depth + 1);
    } else {
        d->used = top - here;
        d->depth = depth;
        n = d->yield_deep ? tulip_yield(V(depth), NULL) : 0;
    }
    for (i = 0; i < sizeof(buf); i++)
        d->corrupt += buf[i] != (unsigned char)(base + i);
    return n;
}

static int deep_body(void *arg, void **ret)
{
    struct deep *d = arg;
    char top;

    (void)ret;
    return recurse(d, (uintptr_t)&top, 0);
}

/* Most of the stack: all but 8 KiB for the entry frames and the yield. */
static size_t most_of(size_t size)
{
    return size - 8 * KIB;
}

Test(use, recursion_uses_most_of_default_stack)
{
    size_t size = tulip_get_stack_size();
    struct deep d = {most_of(size), 0, 0, 0, 0};
    tulip_gen *g = new_sized(0, deep_body, &d);

    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    cr_assert_geq(d.used, most_of(size));
    cr_assert_lt(d.used, size);
    cr_assert_eq(d.corrupt, 0);
    tulip_gen_free(g);
    assert_no_stacks();
}

#define NSIZES 5

Test(use, several_sizes_alive_at_once)
{
    size_t sizes[NSIZES] = {tulip_stack_size_min(), 64 * KIB, 256 * KIB,
                            1 * MIB, 8 * MIB};
    struct deep d[NSIZES];
    tulip_gen *g[NSIZES];
    void *v;
    int i;

    /* Each yields from the bottom of its stack, so all are deep at once. */
    for (i = 0; i < NSIZES; i++) {
        d[i] = (struct deep){most_of(sizes[i]), 0, 0, 0, 1};
        g[i] = new_sized(sizes[i], deep_body, &d[i]);
        cr_assert_eq(tulip_gen_next(g[i], &v), 0);
        cr_assert_eq(I(v), d[i].depth);
    }
    cr_assert_eq(stats().in_use, NSIZES);
    for (i = NSIZES - 1; i >= 0; i--) {
        cr_assert_eq(tulip_gen_next(g[i], NULL), TULIP_STOP);
        cr_assert_geq(d[i].used, most_of(sizes[i]), "size %zu", sizes[i]);
        cr_assert_eq(d[i].corrupt, 0, "size %zu", sizes[i]);
        tulip_gen_free(g[i]);
    }
    assert_no_stacks();
    cr_assert_eq(stats().cached + stats().released, NSIZES);
}

Test(use, stacks_do_not_overlap)
{
    struct deep d[4];
    tulip_gen *g[4];
    int i;

    /* Interleave four deep generators of the smallest size: each one's
     * frames must survive the others' use of theirs. */
    for (i = 0; i < 4; i++) {
        d[i] = (struct deep){most_of(tulip_stack_size_min()), 0, 0, 0, 1};
        g[i] = new_sized(tulip_stack_size_min(), deep_body, &d[i]);
    }
    for (i = 0; i < 4; i++)
        cr_assert_eq(tulip_gen_next(g[i], NULL), 0);
    for (i = 0; i < 4; i++) {
        cr_assert_eq(tulip_gen_next(g[i], NULL), TULIP_STOP);
        cr_assert_eq(d[i].corrupt, 0);
        tulip_gen_free(g[i]);
    }
    assert_no_stacks();
}

/* ---- the default size ---------------------------------------------------- */

Test(stack_size, validation)
{
    size_t def = tulip_get_stack_size(), min = tulip_stack_size_min();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    cr_assert_geq(def, min);
    cr_assert_eq(tulip_set_stack_size(0), -EINVAL);
    cr_assert_eq(tulip_set_stack_size(min - 1), -EINVAL);
    cr_assert_eq(tulip_set_stack_size(((size_t)1 << 30) + 1), -EINVAL);
    cr_assert_eq(tulip_set_stack_size(SIZE_MAX), -EINVAL);
    cr_assert_eq(tulip_get_stack_size(), def, "a refused size changes none");
    cr_assert_eq(tulip_set_stack_size(min), 0);
    cr_assert_eq(tulip_get_stack_size(), min);
    cr_assert_eq(tulip_set_stack_size(min + 1), 0);
    cr_assert_eq(tulip_get_stack_size(), min + page, "rounded up to a page");
    cr_assert_eq(tulip_set_stack_size((size_t)1 << 30), 0);
    cr_assert_eq(tulip_set_stack_size(def), 0);
    cr_assert_eq(tulip_get_stack_size(), def);
}

Test(stack_size, new_default_is_used)
{
    size_t def = tulip_get_stack_size(), size = 2 * MIB;
    struct deep d = {most_of(size), 0, 0, 0, 0};
    tulip_gen *g;

    cr_assert_lt(def, size);
    cr_assert_eq(tulip_set_stack_size(size), 0);
    g = new_sized(0, deep_body, &d); /* would overflow a default stack */
    cr_assert_eq(tulip_set_stack_size(def), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    cr_assert_geq(d.used, most_of(size));
    tulip_gen_free(g);
    assert_no_stacks();
}

/* ---- guards -------------------------------------------------------------- */

/* Mappings with no access at all in /proc/self/maps. */
static int count_noaccess_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;

    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, " ---p ") != NULL;
    fclose(f);
    return n;
}

Test(guard, mprotect_fallback)
{
    struct deep d = {most_of(64 * KIB), 0, 0, 0, 0};
    tulip_gen *g[3];
    int before, i;

    cr_assert_eq(setenv("TULIP_GUARD", "mprotect", 1), 0);
    before = count_noaccess_maps();
    for (i = 0; i < 3; i++)
        g[i] = new_sized(64 * KIB, deep_body, &d);
    cr_assert_eq(stats().guard_kind, 2, "TULIP_GUARD=mprotect");
    cr_assert_geq(count_noaccess_maps(), before + 3,
                  "each guard is a PROT_NONE mapping of its own");
    cr_assert_eq(tulip_gen_next(g[1], NULL), TULIP_STOP);
    cr_assert_geq(d.used, most_of(64 * KIB));
    cr_assert_eq(d.corrupt, 0);
    for (i = 0; i < 3; i++)
        tulip_gen_free(g[i]);
    assert_no_stacks();
}

Test(guard, default_kind)
{
    tulip_gen *g;
    int kind;

    cr_assert_eq(tulip_gen_new(&g, yield_once, NULL), 0);
    kind = stats().guard_kind;
    cr_assert(kind == 1 || kind == 2, "guard_kind %d", kind);
    if (!getenv("TULIP_GUARD") && kind == 2)
        cr_log_info("MADV_GUARD_INSTALL unsupported: mprotect guards");
    tulip_gen_free(g);
}

/* ---- threads ------------------------------------------------------------- */

struct thread_run {
    int rc[3];           /* next, next, in_use after free */
    size_t in_use_there; /* the thread's own count while running */
};

static void *thread_main(void *arg)
{
    struct thread_run *t = arg;
    tulip_gen *g;

    if (tulip_gen_new(&g, yield_once, V(5)) != 0)
        return NULL;
    t->rc[0] = tulip_gen_next(g, NULL);
    t->in_use_there = stats().in_use;
    t->rc[1] = tulip_gen_next(g, NULL);
    tulip_gen_free(g);
    t->rc[2] = (int)stats().in_use;
    return NULL;
}

Test(threads, each_thread_has_its_own_pool)
{
    struct thread_run t = {{-1, -1, -1}, 0};
    pthread_t th;
    tulip_gen *g;

    cr_assert_eq(tulip_gen_new(&g, yield_once, NULL), 0);
    cr_assert_eq(pthread_create(&th, NULL, thread_main, &t), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(t.rc[0], 0);
    cr_assert_eq(t.rc[1], TULIP_STOP);
    cr_assert_eq(t.in_use_there, 1, "the thread counts only its own");
    cr_assert_eq(t.rc[2], 0);
    cr_assert_eq(stats().in_use, 1, "main's count is untouched");
    tulip_gen_free(g);
    assert_no_stacks();
}

/* ---- floating-point control state ---------------------------------------- */

/*
 * The rounding-control fields of MXCSR (bits 13-14, SSE) and of the x87
 * control word (bits 10-11) are read and written directly rather than
 * through fesetround(), which sets both at once and needs libm: this way
 * each is checked on its own. Both encode 0 nearest, 1 down, 2 up, 3 zero.
 */
enum { RN, RD, RU, RZ };

#if FP_STATE_PER_CORO
static unsigned mxcsr_get(void)
{
    unsigned v;

    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static void mxcsr_set(unsigned v)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(v));
}

static unsigned short x87_get(void)
{
    unsigned short v;

    __asm__ volatile("fnstcw %0" : "=m"(v));
    return v;
}

static void x87_set(unsigned short v)
{
    __asm__ volatile("fldcw %0" : : "m"(v));
}
#else  /* !FP_STATE_PER_CORO: the tests are skipped */
static unsigned mxcsr_get(void)
{
    return 0;
}

static void mxcsr_set(unsigned v)
{
    (void)v;
}

static unsigned short x87_get(void)
{
    return 0;
}

static void x87_set(unsigned short v)
{
    (void)v;
}
#endif /* FP_STATE_PER_CORO */

static void set_round(unsigned sse, unsigned x87)
{
    mxcsr_set((mxcsr_get() & ~0x6000u) | sse << 13);
    x87_set((unsigned short)((x87_get() & ~0x0c00u) | x87 << 10));
}

/* Both modes as one number: sse * 4 + x87. */
static unsigned get_round(void)
{
    return ((mxcsr_get() >> 13) & 3u) * 4 + ((x87_get() >> 10) & 3u);
}

#define ROUND(sse, x87) ((sse)*4u + (x87))

struct fp {
    unsigned seen[3];     /* the body's modes: at start, after each resume */
    long double third[2]; /* 1/3 on the x87 after resumes, up then down */
};

/* Set unusual modes, yield, and check they are still in force. */
static int fp_body(void *arg, void **ret)
{
    struct fp *f = arg;
    volatile long double one = 1.0L, three = 3.0L;

    (void)ret;
    f->seen[0] = get_round();
    set_round(RU, RD);
    if (tulip_yield(NULL, NULL) < 0)
        return -EINTR;
    f->seen[1] = get_round();
    set_round(RZ, RU);
    if (tulip_yield(NULL, NULL) < 0)
        return -EINTR;
    f->seen[2] = get_round();
    f->third[0] = one / three; /* on the x87: rounded up */
    set_round(RZ, RD);
    f->third[1] = one / three;
    return 0;
}

Test(fp, rounding_modes_are_kept_per_coroutine)
{
    struct fp f;
    unsigned saved = get_round();
    tulip_gen *g;

    if (!FP_STATE_PER_CORO)
        cr_skip_test("the switch keeps FP control state on x86_64 only");
    memset(&f, 0, sizeof(f));
    set_round(RN, RN);
    cr_assert_eq(tulip_gen_new(&g, fp_body, &f), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(f.seen[0], ROUND(RN, RN), "a new coroutine starts as main");
    cr_assert_eq(get_round(), ROUND(RN, RN), "the body's modes stay there");
    set_round(RD, RZ);
    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(f.seen[1], ROUND(RU, RD), "the body's modes came back");
    cr_assert_eq(get_round(), ROUND(RD, RZ), "main's modes came back");
    set_round(RU, RU);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    cr_assert_eq(f.seen[2], ROUND(RZ, RU));
    cr_assert(test_under_valgrind() || f.third[0] > f.third[1],
              "the x87 really rounded as set");
    cr_assert_eq(get_round(), ROUND(RU, RU), "main's survive the exit");
    set_round((saved >> 2) & 3u, saved & 3u);
    tulip_gen_free(g);
    assert_no_stacks();
}

/* A new coroutine starts with the modes of whoever first resumes it, not
 * with its creator's (arch.h: reading them at creation cost 6 ns). */
Test(fp, new_coroutine_starts_with_first_resumer_modes)
{
    struct fp f;
    tulip_gen *g;

    if (!FP_STATE_PER_CORO)
        cr_skip_test("the switch keeps FP control state on x86_64 only");
    memset(&f, 0, sizeof(f));
    set_round(RZ, RU);
    cr_assert_eq(tulip_gen_new(&g, fp_body, &f), 0);
    set_round(RN, RN);
    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(f.seen[0], ROUND(RN, RN), "the first resumer's");
    cr_assert_eq(get_round(), ROUND(RN, RN));
    tulip_gen_free(g);
}

/* ---- beyond the mprotect limit ------------------------------------------- */

#define BEYOND 40000 /* mprotect guards stop near 32,700 (tulip.h) */

/* DESIGN.md decision 2: with MADV_GUARD_INSTALL, guards add no memory-map
 * entries, so more live stacks than vm.max_map_count / 2 are possible. */
Test(guard, more_stacks_than_mprotect_allows)
{
    tulip_gen **g;
    size_t min = tulip_stack_size_min();
    int i;

    if (test_under_valgrind())
        cr_skip_test("too slow under valgrind; 10k stacks are in test_gen");
    g = calloc(BEYOND, sizeof(*g));
    cr_assert_not_null(g);
    g[0] = new_sized(min, yield_once, NULL);
    if (stats().guard_kind != 1) {
        tulip_gen_free(g[0]);
        free(g);
        cr_skip_test("mprotect guards: limited by vm.max_map_count");
    }
    for (i = 1; i < BEYOND; i++)
        g[i] = new_sized(min, yield_once, V(i));
    for (i = 0; i < BEYOND; i++)
        cr_assert_eq(tulip_gen_next(g[i], NULL), 0);
    cr_assert_eq(stats().in_use, BEYOND);
    for (i = 0; i < BEYOND; i++)
        tulip_gen_free(g[i]);
    free(g);
    assert_no_stacks();
}
