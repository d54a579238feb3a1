/* SPDX-License-Identifier: MIT */
/*
 * Chapter 4 of Jordan Moldow's "jmoldow-python3-async-tutorial", "Event
 * loops": a rudimentary event loop that runs factorial generators one after
 * the other, or interleaved one step each.
 *
 *   def _factorial(N):
 *       if 0 <= N <= 1:
 *           return 1
 *       if N == 2:
 *           return 2
 *       product = N * (N - 1)
 *       n = N - 2
 *       while n > 1:
 *           print("partial product for", f"{N}!", "is", product)
 *           yield product
 *           product *= n
 *           n -= 1
 *       return product
 *
 *   def run(*args, interleave):
 *       d = OrderedDict(args)
 *       rounds = 0
 *       mode = "interleaved" if interleave else "non-interleaved"
 *       print("Starting", mode, "computations.")
 *       while d:
 *           rounds += 1
 *           generator, on_complete = d.popitem(last=False)
 *           try:
 *               step(generator)
 *           except StopIteration as exc:
 *               print("Completed", generator.__name__, "after", rounds,
 *                     "rounds")
 *               on_complete(generator, exc.value)
 *           else:
 *               d[generator] = on_complete
 *               d.move_to_end(generator, last=interleave)
 *
 *   def print_result(factorial_generator, result):
 *       print(factorial_generator.__name__, '==', result)
 *
 *   run((factorial(12), print_result), (factorial(8), print_result),
 *       (factorial(4), print_result), interleave=False)
 *   print()
 *   run((factorial(12), print_result), (factorial(8), print_result),
 *       (factorial(4), print_result), interleave=True)
 *
 * (factorial(N) checks N and names the generator "factorial(N)".) Prints the
 * notebook's output exactly: factorial(12), 8 and 4 complete after 10, 16
 * and 18 rounds one after the other, and after 18, 14 and 6 rounds
 * interleaved.
 *
 * Built on generators (tulip_gen_*), not on tasks, because that is what the
 * chapter is about: before any real event loop, a loop is just code that
 * resumes generators in some order, and the order is the whole difference
 * between the two runs. tulip's task loop has one fixed, FIFO order, which
 * is the interleaved mode only; the non-interleaved mode needs a scheduler
 * that puts a generator back at the front, which is this program's own.
 *
 * What differs: the OrderedDict becomes a small array used as a queue, and
 * the callback a function pointer. The generator's name is given with
 * tulip_gen_new_ex() and read back with tulip_gen_name(), where Python sets
 * __name__. StopIteration.value is the body's *ret; products are carried in
 * a void * (intptr_t), which holds 12! on every platform tulip runs on.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tulip.h"

typedef void on_complete_fn(tulip_gen *g, intptr_t result);

/* One (generator, callback) pair of run()'s OrderedDict. */
struct entry {
    tulip_gen *gen;              /* the computation */
    on_complete_fn *on_complete; /* called with its result */
};

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

static int factorial_body(void *arg, void **ret)
{
    intptr_t big_n = (intptr_t)arg;
    intptr_t product;

    if (big_n <= 1) {
        *ret = (void *)(intptr_t)1;
        return 0;
    }
    if (big_n == 2) {
        *ret = (void *)(intptr_t)2;
        return 0;
    }
    product = big_n * (big_n - 1);
    for (intptr_t n = big_n - 2; n > 1; n--) {
        int rc;

        printf("partial product for %ld! is %ld\n", (long)big_n, (long)product);
        rc = tulip_yield((void *)product, NULL);
        if (rc < 0)
            return rc; /* thrown into, or closed */
        product *= n;
    }
    *ret = (void *)product;
    return 0;
}

/* factorial(N): check N, make the generator and name it. */
static int factorial(tulip_gen **out, int big_n)
{
    struct tulip_coro_opts opts = {0};
    char name[32];

    if (big_n < 0)
        return -EINVAL; /* ValueError: requires a non-negative int */
    snprintf(name, sizeof(name), "factorial(%d)", big_n);
    opts.name = name;
    return tulip_gen_new_ex(out, factorial_body, (void *)(intptr_t)big_n,
                            &opts);
}

static void print_result(tulip_gen *g, intptr_t result)
{
    printf("%s == %ld\n", tulip_gen_name(g), (long)result);
}

static int run(struct entry *d, int n, bool interleave)
{
    int rounds = 0;

    printf("Starting %s computations.\n",
           interleave ? "interleaved" : "non-interleaved");
    while (n > 0) {
        struct entry e = d[0]; /* d.popitem(last=False) */
        void *value;
        int rc;

        rounds++;
        memmove(&d[0], &d[1], (size_t)(n - 1) * sizeof(*d));
        n--;
        rc = tulip_gen_next(e.gen, &value); /* step(generator) */
        if (rc == TULIP_STOP) {
            printf("Completed %s after %d rounds\n", tulip_gen_name(e.gen),
                   rounds);
            e.on_complete(e.gen, (intptr_t)value);
            continue;
        }
        if (rc < 0)
            return fail("tulip_gen_next", rc);
        if (interleave) { /* back at the end */
            d[n] = e;
        } else { /* back at the front */
            memmove(&d[1], &d[0], (size_t)n * sizeof(*d));
            d[0] = e;
        }
        n++;
    }
    return 0;
}

static int run_factorials(bool interleave)
{
    static const int numbers[3] = {12, 8, 4};
    struct entry d[3];
    tulip_gen *gens[3] = {NULL, NULL, NULL};
    int rc = 0;

    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = factorial(&gens[i], numbers[i]);
        if (rc < 0)
            fail("tulip_gen_new_ex", rc);
        d[i].gen = gens[i];
        d[i].on_complete = print_result;
    }
    if (rc == 0)
        rc = run(d, 3, interleave);
    for (int i = 0; i < 3; i++)
        tulip_gen_free(gens[i]);
    return rc;
}

int main(void)
{
    if (run_factorials(false) < 0)
        return 1;
    printf("\n");
    if (run_factorials(true) < 0)
        return 1;
    return 0;
}
