/* SPDX-License-Identifier: MIT */
/*
 * Brett Cannon's eager_range and lazy_range, from "How the heck does
 * async/await work in Python 3.5?": the same sequence built as a list, or
 * produced one value at a time by a generator, and then by a generator that
 * delegates to a nested one with yield from.
 *
 *   def eager_range(up_to):
 *       """Create a list of integers, from 0 to up_to, exclusive."""
 *       sequence = []
 *       index = 0
 *       while index < up_to:
 *           sequence.append(index)
 *           index += 1
 *       return sequence
 *
 *   def lazy_range(up_to):
 *       """Generator to return the sequence of integers from 0 to up_to,
 *       exclusive."""
 *       index = 0
 *       while index < up_to:
 *           yield index
 *           index += 1
 *
 *   def lazy_range(up_to):
 *       """Generator to return the sequence of integers from 0 to up_to,
 *       exclusive."""
 *       index = 0
 *       def gratuitous_refactor():
 *           nonlocal index
 *           while index < up_to:
 *               yield index
 *               index += 1
 *       yield from gratuitous_refactor()
 *
 * The article defines these without a driver; this program prints the
 * three sequences as Python's print(eager_range(10)),
 * print(list(lazy_range(10))) and print(list(refactored(10))) do: three
 * identical lines. The nested generator runs with tulip_yield_from_fn(), on
 * the stack of the one that delegates to it, and shares its `index` through
 * a pointer as the closure shares it through nonlocal.
 */
#include <stdint.h>
#include <stdio.h>

#include "tulip.h"

#define UP_TO 10

static size_t eager_range(long up_to, long *sequence)
{
    size_t n = 0;
    long index = 0;

    while (index < up_to) {
        sequence[n++] = index;
        index += 1;
    }
    return n;
}

static int lazy_range(void *arg, void **ret)
{
    intptr_t up_to = (intptr_t)arg;
    intptr_t index = 0;
    int rc;

    (void)ret;
    while (index < up_to) {
        rc = tulip_yield((void *)index, NULL);
        if (rc < 0)
            return rc;
        index += 1;
    }
    return 0;
}

/* The closure's variables: index is shared (nonlocal), up_to read. */
struct range_frame {
    intptr_t index;
    intptr_t up_to;
};

static int gratuitous_refactor(void *arg, void **ret)
{
    struct range_frame *f = arg;
    int rc;

    (void)ret;
    while (f->index < f->up_to) {
        rc = tulip_yield((void *)f->index, NULL);
        if (rc < 0)
            return rc;
        f->index += 1;
    }
    return 0;
}

static int lazy_range_refactored(void *arg, void **ret)
{
    struct range_frame f = {0, (intptr_t)arg};

    (void)ret;
    return tulip_yield_from_fn(gratuitous_refactor, &f, NULL);
}

/* print(...) of a list of ints. */
static void print_list(const long *v, size_t n)
{
    size_t i;

    putchar('[');
    for (i = 0; i < n; i++)
        printf("%s%ld", i ? ", " : "", v[i]);
    puts("]");
}

/* list(generator): run it to the end. Returns the count, or -1. */
static long list_of(tulip_gen_fn *fn, long up_to, long *out, size_t cap)
{
    tulip_gen *g;
    void *v;
    size_t n = 0;
    int rc = tulip_gen_new(&g, fn, (void *)(intptr_t)up_to);

    if (rc < 0)
        return -1;
    while ((rc = tulip_gen_next(g, &v)) == 0) {
        if (n == cap)
            break;
        out[n++] = (long)(intptr_t)v;
    }
    tulip_gen_free(g);
    return rc == TULIP_STOP ? (long)n : -1;
}

int main(void)
{
    long seq[UP_TO];
    long n;

    print_list(seq, eager_range(UP_TO, seq));
    n = list_of(lazy_range, UP_TO, seq, UP_TO);
    if (n < 0)
        return 1;
    print_list(seq, (size_t)n);
    n = list_of(lazy_range_refactored, UP_TO, seq, UP_TO);
    if (n < 0)
        return 1;
    print_list(seq, (size_t)n);
    return 0;
}
