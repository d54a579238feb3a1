/* SPDX-License-Identifier: MIT */
/*
 * What the tests run under, for the few tests that must scale down or leave
 * out what a tool cannot do: Valgrind is about fifty times slower at
 * creating stacks, and computes floating point in round-to-nearest whatever
 * the control words say (its manual, "Limitations").
 */
#ifndef TULIP_TEST_TOOLS_H
#define TULIP_TEST_TOOLS_H

#include <stdbool.h>

/* Whether the program runs under Valgrind. */
bool test_under_valgrind(void);

/* n, or n / div under Valgrind (at least 1): a workload size. */
int test_scaled(int n, int div);

#endif /* TULIP_TEST_TOOLS_H */
