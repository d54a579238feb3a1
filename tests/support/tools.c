/* SPDX-License-Identifier: MIT */
/*
 * Detection of the tools the tests run under (tools.h). Valgrind's client
 * request header is optional: without it, nothing is detected.
 */
#include "tools.h"

#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TOOLS_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef TOOLS_VALGRIND
#define TOOLS_VALGRIND() 0
#endif

bool test_under_valgrind(void)
{
    return TOOLS_VALGRIND();
}

bool test_forced_yield(void)
{
#if defined(TULIP_STRESS) && TULIP_STRESS
    const char *e = getenv("TULIP_STRESS_YIELD");

    return e && strcmp(e, "1") == 0; /* as src/task/task.c reads it */
#else
    return false;
#endif
}

int test_scaled(int n, int div)
{
    if (!test_under_valgrind() || div <= 1)
        return n;
    return n / div > 0 ? n / div : 1;
}
