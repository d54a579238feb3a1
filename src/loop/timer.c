/* SPDX-License-Identifier: MIT */
/*
 * Timers: a min-heap ordered by (deadline, insertion sequence), so timers
 * due at the same time fire in the order they were armed (asyncio's
 * call_at, libuv's timer_less_than + start_id). Every timer knows its
 * position (heap_index), which makes stop O(log n) without the lazy
 * "cancelled" entries asyncio leaves in its heap.
 *
 * The heap is 4-ary, of 16-byte entries {deadline, timer}, laid out so that
 * the four children of a node share one 64-byte cache line: the root sits at
 * index 3, the children of index p are 4p-8 .. 4p-5, the parent of c is
 * c/4 + 2. A pop then touches log4(n) lines (10 for a million timers)
 * instead of a binary heap's log2(n), and compares deadlines without
 * following the pointers.
 *
 * Due timers are moved, in heap order, into loop->due[] and run after the
 * pass's other ready callbacks. due[] always has room for every armed timer
 * (it grows with the heap), so moving never allocates and never fails.
 */
#include "../prefix.h"
#include "loop_int.h"
#include "../hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_ROOT 3u
#define HEAP_LINE 64u

static inline bool timer_heap_less(struct tulip__heap_entry a,
                                   struct tulip__heap_entry b)
{
    if (a.deadline_ns != b.deadline_ns)
        return a.deadline_ns < b.deadline_ns;
    return a.t->seq < b.t->seq;
}

static inline void timer_heap_set(struct tulip__heap_entry *heap, size_t i,
                                  struct tulip__heap_entry e)
{
    heap[i] = e;
    e.t->heap_index = i;
}

static void timer_sift_up(struct tulip__heap_entry *heap, size_t i,
                          struct tulip__heap_entry e)
{
    while (i > HEAP_ROOT) {
        size_t parent = i / 4 + 2;
        if (!timer_heap_less(e, heap[parent]))
            break;
        timer_heap_set(heap, i, heap[parent]);
        i = parent;
    }
    timer_heap_set(heap, i, e);
}

/* Put e at index i (a hole) and move it down; last is the last used index.
 * With track false, the moved timers' heap_index are left stale (the bulk
 * move of tulip__timer_move_due rewrites them all afterwards). */
static inline __attribute__((always_inline)) void
timer_sift_down_x(struct tulip__heap_entry *heap, size_t i, size_t last,
                  struct tulip__heap_entry e, bool track)
{
    for (;;) {
        size_t c = 4 * i - 8;
        if (c > last)
            break;
        size_t end = c + 3 < last ? c + 3 : last;
        size_t m = c;
        for (size_t k = c + 1; k <= end; k++)
            if (timer_heap_less(heap[k], heap[m]))
                m = k;
        if (!timer_heap_less(heap[m], e))
            break;
        if (track)
            timer_heap_set(heap, i, heap[m]);
        else
            heap[i] = heap[m];
        i = m;
    }
    if (track)
        timer_heap_set(heap, i, e);
    else
        heap[i] = e;
}

static void timer_sift_down(struct tulip__heap_entry *heap, size_t i,
                            size_t last, struct tulip__heap_entry e)
{
    timer_sift_down_x(heap, i, last, e, true);
}

/* Remove the entry at heap index i. */
static void timer_heap_remove(tulip_loop *loop, size_t i)
{
    struct tulip__heap_entry *heap = loop->heap;
    size_t last = HEAP_ROOT + --loop->heap_size;
    heap[i].t->heap_index = TULIP__TIMER_IDLE;
    if (i == last)
        return;
    struct tulip__heap_entry e = heap[last];
    if (i > HEAP_ROOT && timer_heap_less(e, heap[i / 4 + 2]))
        timer_sift_up(heap, i, e);
    else
        timer_sift_down(heap, i, last - 1, e);
}

/* Bytes allocated for a heap of cap timers. */
static size_t timer_heap_bytes(size_t cap)
{
    return (cap + HEAP_ROOT) * sizeof(struct tulip__heap_entry) + HEAP_LINE;
}

/* Make room for one more timer in the heap and in due[]. The heap array is
 * aligned by hand to a cache line (the allocator hook promises no more than
 * malloc's 16 bytes). */
static int timer_heap_grow(tulip_loop *loop)
{
    size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
    /* due[] has two pointers per heap slot: room for the due timers, and
     * for timer_bulk_move's scratch entries. */
    if (loop->due_cap < 2 * cap) {
        /* NOLINTBEGIN(bugprone-sizeof-expression): an array of pointers */
        struct tulip__timer **due = tulip__realloc(
            loop->due, loop->due_cap * sizeof(*due), 2 * cap * sizeof(*due));
        /* NOLINTEND(bugprone-sizeof-expression) */
        if (!due)
            return -ENOMEM;
        loop->due = due;
        loop->due_cap = 2 * cap;
    }
    size_t bytes = (cap + HEAP_ROOT) * sizeof(struct tulip__heap_entry);
    void *mem = tulip__alloc(bytes + HEAP_LINE);
    if (!mem)
        return -ENOMEM; /* due[] keeps its larger size: harmless */
    uintptr_t a =
        ((uintptr_t)mem + HEAP_LINE - 1) & ~(uintptr_t)(HEAP_LINE - 1);
    struct tulip__heap_entry *heap = (struct tulip__heap_entry *)a;
    if (loop->heap_size)
        memcpy(heap + HEAP_ROOT, loop->heap + HEAP_ROOT,
               loop->heap_size * sizeof(*heap));
    if (loop->heap_mem)
        tulip__free(loop->heap_mem, timer_heap_bytes(loop->heap_cap));
    loop->heap_mem = mem;
    loop->heap = heap;
    loop->heap_cap = cap;
    return 0;
}

void tulip__timer_init(struct tulip__timer *t,
                       void (*fn)(struct tulip__timer *))
{
    t->deadline_ns = 0;
    t->seq = 0;
    t->heap_index = TULIP__TIMER_IDLE;
    t->fn = fn;
}

bool tulip__timer_armed(const struct tulip__timer *t)
{
    return t->heap_index != TULIP__TIMER_IDLE;
}

int tulip__loop_timer_start(tulip_loop *loop, struct tulip__timer *t,
                            int64_t deadline_ns)
{
    TULIP__HOOK(check_thread, loop, "a timer armed");
    tulip__loop_timer_stop(loop, t);
    if (tulip__unlikely(loop->heap_size == loop->heap_cap)) {
        int rc = timer_heap_grow(loop);
        if (rc < 0)
            return rc;
    }
    t->deadline_ns = deadline_ns;
    t->seq = loop->timer_seq++;
    if (!loop->heap_size || deadline_ns > loop->heap_max_ns)
        loop->heap_max_ns = deadline_ns; /* an upper bound of the heap's */
    struct tulip__heap_entry e = {deadline_ns, t};
    timer_sift_up(loop->heap, HEAP_ROOT + loop->heap_size++, e);
    return 0;
}

void tulip__loop_timer_disarm(tulip_loop *loop, struct tulip__timer *t)
{
    size_t i = t->heap_index;
    if (i == TULIP__TIMER_IDLE)
        return;
    if (i & TULIP__TIMER_DUE) {
        loop->due[i & ~TULIP__TIMER_DUE] = NULL;
        t->heap_index = TULIP__TIMER_IDLE;
        return;
    }
    timer_heap_remove(loop, i);
}

/* Sort a[0..k) by (deadline, seq) with an LSD radix sort on the deadline
 * (8-bit digits, only as many passes as the key range needs) and then the
 * runs of equal deadlines by seq. tmp has room for k entries. Returns the
 * buffer that holds the result (a or tmp). */
static int timer_bulk_cmp_seq(const void *x, const void *y)
{
    const struct tulip__heap_entry *a = x, *b = y;
    return (a->t->seq > b->t->seq) - (a->t->seq < b->t->seq);
}

static struct tulip__heap_entry *timer_bulk_sort(struct tulip__heap_entry *a,
                                                 struct tulip__heap_entry *tmp,
                                                 size_t k, int64_t min,
                                                 uint64_t range)
{
    size_t count[256];
    for (unsigned shift = 0; shift < 64 && (range >> shift); shift += 8) {
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < k; i++)
            count[(((uint64_t)a[i].deadline_ns - (uint64_t)min) >> shift) &
                  255]++;
        size_t sum = 0;
        for (size_t d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < k; i++)
            tmp[count[(((uint64_t)a[i].deadline_ns - (uint64_t)min) >> shift) &
                      255]++] = a[i];
        struct tulip__heap_entry *x = a;
        a = tmp;
        tmp = x;
    }
    for (size_t i = 0, j; i < k; i = j) {
        for (j = i + 1; j < k && a[j].deadline_ns == a[i].deadline_ns; j++)
            ;
        if (j - i > 1)
            qsort(a + i, j - i, sizeof(*a), timer_bulk_cmp_seq);
    }
    return a;
}

/*
 * Move the due timers of the heap to due[n..] in one go: partition the heap
 * array (due entries to a scratch area, the others packed at its front),
 * radix-sort the due ones, rebuild the heap of the others bottom-up, and
 * rewrite every index once. O(heap size + due * passes) with sequential
 * memory access, against a pop's log4(n) dependent cache misses and index
 * writes to random timers. The scratch area is due[] beyond n: due[] has two
 * pointers per heap slot (timer_heap_grow), room for the entries. Returns
 * the new due count.
 */
static size_t timer_bulk_move(tulip_loop *loop, int64_t now_ns, size_t n)
{
    struct tulip__heap_entry *heap = loop->heap;
    struct tulip__heap_entry *scratch =
        (struct tulip__heap_entry *)(void *)(loop->due + n);
    size_t size = loop->heap_size, m = HEAP_ROOT, k = 0;
    int64_t min = heap[HEAP_ROOT].deadline_ns, max = min;
    for (size_t i = HEAP_ROOT; i < HEAP_ROOT + size; i++) {
        struct tulip__heap_entry e = heap[i];
        if (e.deadline_ns <= now_ns) {
            scratch[k++] = e;
            max = e.deadline_ns > max ? e.deadline_ns : max;
        } else {
            heap[m++] = e;
        }
    }
    struct tulip__heap_entry *sorted = timer_bulk_sort(
        scratch, heap + m, k, min, (uint64_t)max - (uint64_t)min);
    /* Entries become pointers in place: due[n + i] lies at or below
     * scratch[i], whose entry is read before it is written. */
    for (size_t i = 0; i < k; i++) {
        if (i + 8 < k)
            __builtin_prefetch(sorted[i + 8].t, 1);
        struct tulip__timer *t = sorted[i].t;
        t->heap_index = TULIP__TIMER_DUE | (n + i);
        loop->due[n + i] = t;
    }
    loop->heap_size = m - HEAP_ROOT;
    if (m > HEAP_ROOT + 1)
        for (size_t p = (m - 1) / 4 + 2; p >= HEAP_ROOT; p--)
            timer_sift_down_x(heap, p, m - 1, heap[p], false);
    for (size_t i = HEAP_ROOT; i < m; i++)
        heap[i].t->heap_index = i;
    return n + k;
}

/*
 * Move every timer whose deadline has come (deadline <= now) from the heap
 * to due[], in (deadline, sequence) order. asyncio moves timers with
 * when < now + clock_resolution; with a nanosecond clock that is <= now.
 *
 * A few due timers are popped one by one. When many fall due together, the
 * pops' dependent cache misses and index writes dominate, so once the
 * timers moved outnumber an eighth of those left (or at once, if even the
 * latest deadline ever armed has passed) the rest move by timer_bulk_move,
 * whose O(heap size) cost is then at most 8 steps per timer moved.
 */
void tulip__timer_move_due(tulip_loop *loop, int64_t now_ns)
{
    struct tulip__heap_entry *heap = loop->heap;
    size_t n = loop->due_count;
    size_t moved = 0;
    if (loop->heap_size > 64 && loop->heap_max_ns <= now_ns) {
        loop->due_count = timer_bulk_move(loop, now_ns, n);
        return;
    }
    while (loop->heap_size && heap[HEAP_ROOT].deadline_ns <= now_ns) {
        if (++moved * 8 >= loop->heap_size && loop->heap_size > 64) {
            n = timer_bulk_move(loop, now_ns, n);
            break;
        }
        struct tulip__timer *t = heap[HEAP_ROOT].t;
        timer_heap_remove(loop, HEAP_ROOT);
        t->heap_index = TULIP__TIMER_DUE | n;
        loop->due[n++] = t;
    }
    loop->due_count = n;
}

void tulip__timer_free_all(tulip_loop *loop)
{
    for (size_t i = 0; i < loop->heap_size; i++)
        loop->heap[HEAP_ROOT + i].t->heap_index = TULIP__TIMER_IDLE;
    loop->heap_size = 0;
    if (loop->heap_mem)
        tulip__free(loop->heap_mem, timer_heap_bytes(loop->heap_cap));
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    tulip__free(loop->due, loop->due_cap * sizeof(*loop->due));
    loop->heap_mem = NULL;
    loop->heap = NULL;
    loop->due = NULL;
    loop->heap_cap = 0;
    loop->due_cap = 0;
}
