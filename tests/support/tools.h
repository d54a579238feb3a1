/* SPDX-License-Identifier: MIT */
/*
 * What the tests run under, for the few tests that must scale down or leave
 * out what a tool cannot do: Valgrind is about fifty times slower at
 * creating stacks, and computes floating point in round-to-nearest whatever
 * the control words say (its manual, "Limitations"). The stress build's
 * forced yield (TULIP_STRESS_YIELD=1) makes every suspending call yield
 * first, even where asyncio's fast path returns at once (docs/checks.md):
 * a test that asserts such a fast path, or the exact schedule that follows
 * from it, skips that assertion under it, saying why.
 */
#ifndef TULIP_TEST_TOOLS_H
#define TULIP_TEST_TOOLS_H

#include <stdbool.h>

/* Whether the program runs under Valgrind. */
bool test_under_valgrind(void);

/* Whether the library yields at every suspension point: a stress build
 * (TULIP_STRESS) run with TULIP_STRESS_YIELD=1. */
bool test_forced_yield(void);

/* Inside a Criterion test, on the main stack: skip the rest of the test
 * under the forced yield, for the reason given (a string literal). */
#define SKIP_UNDER_FORCED_YIELD(why)                                           \
    do {                                                                       \
        if (test_forced_yield())                                               \
            cr_skip_test("forced yield: %s", why);                             \
    } while (0)

/* n, or n / div under Valgrind (at least 1): a workload size. */
int test_scaled(int n, int div);

#endif /* TULIP_TEST_TOOLS_H */
