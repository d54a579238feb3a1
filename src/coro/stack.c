/* SPDX-License-Identifier: MIT */
/*
 * Coroutine stacks: reserved in slabs of address space, guarded, pooled.
 *
 * A slab is one anonymous MAP_NORESERVE mapping cut into equal slots, each a
 * guard region followed by a stack. The kernel commits a page only when a
 * coroutine first touches it, so an idle coroutine costs the pages its frames
 * reach (usually one), not its stack size, and reserving 1 GiB of stacks
 * costs nothing until used. Slabs grow (16, 32 ... 1024 slots) so that small
 * programs reserve little and a million coroutines need only about 1,000
 * mappings, which the kernel merges anyway.
 *
 * The guard is installed with MADV_GUARD_INSTALL (Linux 6.13+), which marks
 * page-table entries and adds no memory-map entry; older kernels fall back
 * to mprotect(PROT_NONE), which splits the mapping, costs two of the
 * vm.max_map_count entries (65530 by default) per stack, and so caps a
 * process near 32,700 live stacks (libdill#130, srs#509). TULIP_GUARD=
 * mprotect in the environment forces the fallback, for tests.
 *
 * Freed stacks go to a per-thread, per-size pool: the most recent
 * TULIP_STACK_CACHE stay committed ("warm", reused without a page fault);
 * older ones go cold, and their pages are given back with MADV_FREE (the
 * guard survives it; see make_cold) once they have stayed unused for the
 * decay time (tulip_stack_set_decay, 1 s by default), or when the thread's
 * loop has nothing to run and waits; they are reused after the warm ones.
 * tulip_stack_trim() gives everything back at once. Stacks belong to the
 * thread whose pool they came from.
 */
#include "../prefix.h"
#include "coro.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if TULIP_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 UAPI */
#endif

#define STACK_SIZE_MAX ((size_t)1 << 30)
#define SLAB_SLOTS_FIRST 16u
#define SLAB_SLOTS_MAX 1024u
#define WARM_CAP (TULIP_STACK_CACHE > 0 ? TULIP_STACK_CACHE : 1u)
#define STACK_AHEAD 4u       /* cold stacks prefetched this far ahead */
#define STACK_AHEAD_LINES 8u /* top lines of each */

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };

struct stack_class {
    size_t size;          /* usable bytes of each stack */
    char *warm[WARM_CAP]; /* ring of committed free stacks, oldest first */
    unsigned warm_head;   /* index of the oldest */
    unsigned warm_len;    /* how many */
    char **cold;          /* free stacks beyond the warm ring: the last
                             `cooling` still committed, the others given
                             back to the kernel */
    size_t cold_len;
    size_t cold_cap;
    size_t cooling;    /* entries at the end of cold not yet advised */
    size_t gen_mark;   /* cold[gen_mark..] went cold after gen_start */
    int64_t gen_start; /* when the current generation began (coarse) */
    char *slab_next;   /* next uncarved slot of the newest slab */
    size_t slab_left;  /* slots left in it */
    size_t slab_slots; /* slots of the next slab */
    size_t in_use;     /* stacks handed out and not returned */
};

struct slab {
    char *base; /* the mapping */
    size_t len; /* its length */
};

struct stack_pool {
    struct stack_class *cls; /* one per stack size in use */
    size_t ncls;
    struct stack_class *last; /* the class used last: the fast path */
    struct slab *slabs;       /* every mapping, for teardown */
    size_t nslabs;
    size_t slabs_cap;
    size_t reserved; /* bytes of address space in slabs */
};

static _Atomic size_t default_size = TULIP_STACK_SIZE_DEFAULT;
static _Atomic int64_t decay_ns = TULIP_STACK_DECAY_DEFAULT;
static _Atomic int guard_kind = GUARD_UNKNOWN;
static size_t page_size;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_key_t pool_key;
static TULIP_TLS struct stack_pool *pool;

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

static void pool_destroy(void *p)
{
    struct stack_pool *sp = p;
    size_t i, busy = 0;

    /* The exiting thread's cache of generator objects goes with it (key
     * destructors run on the exiting thread, so its TLS is still there);
     * ASan and valgrind reported it as lost. */
    tulip__gen_cache_trim();
    for (i = 0; i < sp->ncls; i++)
        busy += sp->cls[i].in_use;
    if (busy)
        return; /* live coroutines still use these stacks: keep them */
    for (i = 0; i < sp->nslabs; i++)
        munmap(sp->slabs[i].base, sp->slabs[i].len);
    for (i = 0; i < sp->ncls; i++)
        tulip__free(sp->cls[i].cold, sp->cls[i].cold_cap * sizeof(char *));
    tulip__free(sp->cls, sp->ncls * sizeof(*sp->cls));
    tulip__free(sp->slabs, sp->slabs_cap * sizeof(*sp->slabs));
    tulip__free(sp, sizeof(*sp));
}

static void pool_once_init(void)
{
    const char *g = getenv("TULIP_GUARD");

    page_size = (size_t)sysconf(_SC_PAGESIZE);
    if (g && strcmp(g, "mprotect") == 0)
        atomic_store(&guard_kind, GUARD_MPROTECT);
    /* Thread exit releases the thread's pool. */
    if (pthread_key_create(&pool_key, pool_destroy) != 0)
        tulip__panic("pthread_key_create failed");
}

static struct stack_pool *pool_get(void)
{
    if (tulip__likely(pool != NULL))
        return pool;
    pthread_once(&pool_once, pool_once_init);
    pool = tulip__calloc(sizeof(*pool));
    if (pool)
        pthread_setspecific(pool_key, pool);
    return pool;
}

size_t tulip__stack_round(size_t size)
{
    pthread_once(&pool_once, pool_once_init);
    if (size == 0)
        return atomic_load_explicit(&default_size, memory_order_relaxed);
    if (size < TULIP_STACK_SIZE_MIN || size > STACK_SIZE_MAX)
        return 0;
    return round_up(size, page_size);
}

static struct stack_class *class_get(struct stack_pool *sp, size_t size)
{
    struct stack_class *c = sp->last;
    size_t i;

    /* Nearly every program uses one size: remember the last class. It is
     * reset below whenever cls moves, so it never dangles. */
    if (tulip__likely(c != NULL && c->size == size))
        return c;
    for (i = 0; i < sp->ncls; i++)
        if (sp->cls[i].size == size)
            return sp->last = &sp->cls[i];
    c = tulip__realloc(sp->cls, sp->ncls * sizeof(*c),
                       (sp->ncls + 1) * sizeof(*c));
    if (!c)
        return NULL;
    sp->cls = c;
    c = &sp->cls[sp->ncls++];
    memset(c, 0, sizeof(*c));
    c->size = size;
    c->slab_slots = SLAB_SLOTS_FIRST;
    return sp->last = c;
}

/* Install the guard region [p, p + TULIP_STACK_GUARD). */
static int guard_install(char *p)
{
    int kind = atomic_load_explicit(&guard_kind, memory_order_relaxed);

    if (kind != GUARD_MPROTECT) {
        if (madvise(p, TULIP_STACK_GUARD, MADV_GUARD_INSTALL) == 0) {
            atomic_store_explicit(&guard_kind, GUARD_MADVISE,
                                  memory_order_relaxed);
            return 0;
        }
        if (errno != EINVAL)
            return -errno;
        /* The kernel predates 6.13. */
        atomic_store_explicit(&guard_kind, GUARD_MPROTECT,
                              memory_order_relaxed);
    }
    if (mprotect(p, TULIP_STACK_GUARD, PROT_NONE) == 0)
        return 0;
    /* ENOMEM here is usually vm.max_map_count. */
    return -errno;
}

static int slab_new(struct stack_pool *sp, struct stack_class *c)
{
    size_t stride = TULIP_STACK_GUARD + c->size;
    size_t slots = c->slab_slots;
    size_t len = stride * slots;
    struct slab *s;
    char *base;

    if (sp->nslabs == sp->slabs_cap) {
        size_t cap = sp->slabs_cap ? 2 * sp->slabs_cap : 16;
        s = tulip__realloc(sp->slabs, sp->slabs_cap * sizeof(*s),
                           cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        sp->slabs = s;
        sp->slabs_cap = cap;
    }
    base = TULIP_SYS(mmap)(
        NULL, len, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return -ENOMEM;
    sp->slabs[sp->nslabs].base = base;
    sp->slabs[sp->nslabs].len = len;
    sp->nslabs++;
    sp->reserved += len;
    c->slab_next = base;
    c->slab_left = slots;
    if (c->slab_slots < SLAB_SLOTS_MAX)
        c->slab_slots *= 2;
    return 0;
}

/* Carve a fresh stack from the newest slab, installing its guard. */
static int carve(struct stack_pool *sp, struct stack_class *c, char **lo)
{
    int rc;

    if (c->slab_left == 0) {
        rc = slab_new(sp, c);
        if (rc)
            return rc;
    }
    rc = guard_install(c->slab_next);
    if (rc)
        return rc == -ENOMEM || rc == -EAGAIN ? -ENOMEM : rc;
    *lo = c->slab_next + TULIP_STACK_GUARD;
    c->slab_next += TULIP_STACK_GUARD + c->size;
    c->slab_left--;
    return 0;
}

/* Everything but the fast path of tulip__stack_get(). */
static __attribute__((noinline)) int stack_get_slow(size_t size,
                                                    struct tulip__stack *st)
{
    struct stack_pool *sp = pool_get();
    struct stack_class *c;
    char *lo;
    int rc;

    if (!sp)
        return -ENOMEM;
    c = class_get(sp, size);
    if (!c)
        return -ENOMEM;
    if (c->warm_len) {
        c->warm_len--;
        lo = c->warm[(c->warm_head + c->warm_len) % WARM_CAP];
    } else if (c->cold_len) {
        lo = c->cold[--c->cold_len]; /* the newest: maybe still committed */
        /* A burst of spawns takes them in a row, each writing the top of
         * its stack (the first frame, a task object): fetch the top of
         * one a few places on, so that its TLB and cache misses overlap
         * the spawns in between. */
        if (c->cold_len > STACK_AHEAD) {
            char *top = c->cold[c->cold_len - 1 - STACK_AHEAD] + size;
            for (size_t i = 1; i <= STACK_AHEAD_LINES; i++)
                __builtin_prefetch(top - 64 * i, 1);
        }
        if (c->cooling)
            c->cooling--;
        if (c->gen_mark > c->cold_len)
            c->gen_mark = c->cold_len;
    } else {
        rc = carve(sp, c, &lo);
        if (rc)
            return rc;
    }
    c->in_use++;
    st->lo = lo;
    st->size = size;
    return 0;
}

static int addr_cmp(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;

    return x < y ? -1 : x > y;
}

/*
 * Give back the pages of the cold stacks [from, to) with `advice`.
 * Slots of a slab are adjacent, so the stacks are sorted and runs of
 * neighbours (with the guards between them, which both advices keep) go in
 * one call: freeing a burst of a million tasks costs a few thousand
 * syscalls, not a million.
 */
static void advise_cold(struct stack_class *c, size_t from, size_t to,
                        int advice)
{
    size_t stride = TULIP_STACK_GUARD + c->size;
    char **v = c->cold + from;
    size_t n = to - from, i = 0, j;
    /* mprotect guards split the mapping: advise those stacks one by one. */
    int merge = atomic_load_explicit(&guard_kind, memory_order_relaxed) ==
                GUARD_MADVISE;

    /* Stacks of a burst usually go cold in address order, or in reverse
     * when they were taken from the cold list (newest first): sort only
     * when neither holds (the sort was a tenth of a burst). */
    for (i = 1; merge && i < n && v[i - 1] > v[i]; i++)
        ;
    if (merge && n > 1 && i == n) {
        for (i = 0, j = n - 1; i < j; i++, j--) {
            char *x = v[i];
            v[i] = v[j];
            v[j] = x;
        }
    }
    for (i = 1; merge && i < n && v[i - 1] < v[i]; i++)
        ;
    if (merge && i < n)
        qsort(v, n, sizeof(*v), addr_cmp);
    i = 0;
    while (i < n) {
        for (j = i + 1; merge && j < n && v[j] == v[j - 1] + stride; j++)
            ;
        madvise(v[i], (size_t)(v[j - 1] - v[i]) + c->size, advice);
        i = j;
    }
}

static int64_t coarse_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Give back the cooling stacks that went cold in an earlier generation
 * (all of them if `all`), with MADV_FREE. Generations last the decay time,
 * so a stack is given back between one and two decay times after it went
 * cold, unless it is reused first (cold stacks are reused newest first).
 * Giving back a burst's stacks at once cost half the time of spawning and
 * finishing a million tasks in a row (bench_task spawn_await: the syscalls,
 * and the TLB misses when the stacks were reused a moment later), which is
 * why the pages wait: jemalloc's dirty-page decay, with generations
 * instead of a curve.
 */
static void cool_decay(struct stack_class *c, bool all)
{
    size_t first = c->cold_len - c->cooling;
    int64_t d = atomic_load_explicit(&decay_ns, memory_order_relaxed), now;

    if (!c->cooling)
        return;
    if (all || d == 0) {
        advise_cold(c, first, c->cold_len, MADV_FREE);
        c->cooling = 0;
        c->gen_mark = c->cold_len;
        return;
    }
    now = coarse_now_ns();
    if (now - c->gen_start < d)
        return;
    if (c->gen_mark > first) {
        advise_cold(c, first, c->gen_mark, MADV_FREE);
        c->cooling = c->cold_len - c->gen_mark;
    }
    c->gen_mark = c->cold_len;
    c->gen_start = now;
}

/*
 * A stack leaves the warm ring: it joins the cold ones still committed
 * ("cooling"), given back by cool_decay (checked every TULIP_STACK_CACHE
 * stacks, so that the clock is read rarely). MADV_FREE lets the kernel take
 * the pages when it needs memory; until then reusing the stack costs no
 * page fault (about 1.3 us each on this kind of VM), which is what a burst
 * of a million short tasks needs. tulip_stack_trim() gives pages back at
 * once instead (MADV_DONTNEED).
 */
static void make_cold(struct stack_class *c, char *lo)
{
    if (c->cold_len == c->cold_cap) {
        size_t cap = c->cold_cap ? 2 * c->cold_cap : 64;
        char **p = tulip__realloc(c->cold, c->cold_cap * sizeof(char *),
                                  cap * sizeof(char *));
        if (!p)
            return; /* lose track of one stack rather than fail a free */
        c->cold = p;
        c->cold_cap = cap;
    }
    c->cold[c->cold_len++] = lo;
    if (++c->cooling % (TULIP_STACK_CACHE ? TULIP_STACK_CACHE : 1) == 0)
        cool_decay(c, false);
}

void tulip__stack_idle(void)
{
    struct stack_pool *sp = pool;
    size_t i;

    if (!sp)
        return;
    for (i = 0; i < sp->ncls; i++)
        cool_decay(&sp->cls[i], true);
}

/* Everything but the fast path of tulip__stack_put(). */
static __attribute__((noinline)) void stack_put_slow(struct tulip__stack *st)
{
    struct stack_pool *sp = pool_get();
    struct stack_class *c;

    if (!st->lo)
        return;
    c = sp ? class_get(sp, st->size) : NULL;
    if (TULIP_NEVER(c == NULL))
        return; /* no memory for bookkeeping: the stack is leaked */
#if TULIP_HAVE_ASAN
    /* Frames abandoned on the stack leave poisoned redzones behind. */
    __asan_unpoison_memory_region(st->lo, st->size);
#endif
    if (c->in_use)
        c->in_use--;
    if (TULIP_STACK_CACHE == 0) {
        make_cold(c, st->lo);
    } else if (c->warm_len < WARM_CAP) {
        c->warm[(c->warm_head + c->warm_len++) % WARM_CAP] = st->lo;
    } else {
        /* The warm ring is full: its oldest stack goes cold. */
        make_cold(c, c->warm[c->warm_head]);
        c->warm[c->warm_head] = st->lo;
        c->warm_head = (c->warm_head + 1) % WARM_CAP;
    }
    st->lo = NULL;
}

/*
 * The fast paths, taken when a coroutine of the size used last is created or
 * finishes and the warm ring has a stack (or room for one): a handful of
 * instructions and no call, since creating and finishing a coroutine is meant
 * to cost about as much as two switches. They live apart from the slow paths
 * so that the compiler does not save registers for the slow ones first.
 * ASan builds always take the slow path of put, which unpoisons the stack.
 */
int tulip__stack_get(size_t size, struct tulip__stack *st)
{
    struct stack_pool *sp = pool;
    struct stack_class *c = sp ? sp->last : NULL;

    if (tulip__likely(c != NULL && c->size == size && c->warm_len)) {
        c->warm_len--;
        st->lo = c->warm[(c->warm_head + c->warm_len) % WARM_CAP];
        st->size = size;
        c->in_use++;
        return 0;
    }
    return stack_get_slow(size, st);
}

void tulip__stack_put(struct tulip__stack *st)
{
    struct stack_pool *sp = pool;
    struct stack_class *c = sp ? sp->last : NULL;

    if (tulip__likely(!TULIP_HAVE_ASAN && TULIP_STACK_CACHE > 0 && c &&
                      st->lo && c->size == st->size && c->in_use &&
                      c->warm_len < WARM_CAP)) {
        c->in_use--;
        c->warm[(c->warm_head + c->warm_len++) % WARM_CAP] = st->lo;
        st->lo = NULL;
        return;
    }
    stack_put_slow(st);
}

int tulip_set_stack_size(size_t bytes)
{
    size_t size;

    if (bytes == 0)
        return -EINVAL;
    size = tulip__stack_round(bytes);
    if (size == 0)
        return -EINVAL;
    atomic_store(&default_size, size);
    return 0;
}

size_t tulip_get_stack_size(void)
{
    return atomic_load(&default_size);
}

size_t tulip_stack_size_min(void)
{
    return TULIP_STACK_SIZE_MIN;
}

void tulip_stack_stats(struct tulip_stack_stats *st)
{
    struct stack_pool *sp = pool;
    size_t i;

    memset(st, 0, sizeof(*st));
    st->guard_kind = atomic_load(&guard_kind);
    if (!sp)
        return;
    for (i = 0; i < sp->ncls; i++) {
        st->in_use += sp->cls[i].in_use;
        st->cached += sp->cls[i].warm_len;
        st->cached += sp->cls[i].cooling;
        st->released += sp->cls[i].cold_len - sp->cls[i].cooling;
    }
    st->reserved = sp->reserved;
}

void tulip_stack_trim(void)
{
    struct stack_pool *sp = pool;
    size_t i;

    tulip__gen_cache_trim();
    if (!sp)
        return;
    for (i = 0; i < sp->ncls; i++) {
        struct stack_class *c = &sp->cls[i];
        while (c->warm_len) {
            make_cold(c, c->warm[c->warm_head]);
            c->warm_head = (c->warm_head + 1) % WARM_CAP;
            c->warm_len--;
        }
        /* Every cold stack's pages go now, at once: MADV_FREE left them to
         * the kernel's convenience. */
        advise_cold(c, 0, c->cold_len, MADV_DONTNEED);
        c->cooling = 0;
        c->gen_mark = c->cold_len;
    }
}

int tulip_stack_set_decay(int64_t ns)
{
    if (ns < 0)
        return -EINVAL;
    atomic_store(&decay_ns, ns);
    return 0;
}
