/* SPDX-License-Identifier: MIT */
/*
 * The counting, failing allocator of alloc_hook.h: realloc and free
 * underneath, so that blocks it hands out are compatible with the
 * library's default allocator, plus counters and a failure countdown.
 */
#include "alloc_hook.h"

#include <stdlib.h>
#include <string.h>

#include "tulip.h"

/* Whether this attempt is one the test asked to fail. */
static bool should_fail(struct test_alloc *a)
{
    a->attempts++;
    if (a->fail_at == 0 || a->attempts < a->fail_at)
        return false;
    if (a->attempts > a->fail_at && !a->fail_persistent)
        return false;
    a->failures++;
    return true;
}

static void *hook(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    struct test_alloc *a = ud;
    void *p;

    if (new_size == 0) {
        if (ptr) {
            a->live_bytes -= (long long)old_size;
            a->live_blocks--;
        }
        free(ptr);
        return NULL;
    }
    if (should_fail(a))
        return NULL; /* a failed resize leaves ptr as it was */
    p = realloc(ptr, new_size);
    if (!p)
        return NULL;
    if (ptr)
        a->live_bytes -= (long long)old_size;
    else
        a->live_blocks++;
    a->live_bytes += (long long)new_size;
    return p;
}

void test_alloc_install(struct test_alloc *a)
{
    memset(a, 0, sizeof(*a));
    tulip_set_allocator(hook, a);
}

void test_alloc_remove(void)
{
    tulip_set_allocator(NULL, NULL);
}

void test_alloc_fail_nth(struct test_alloc *a, unsigned long n, bool persistent)
{
    a->fail_at = n ? a->attempts + n : 0;
    a->fail_persistent = persistent;
}
