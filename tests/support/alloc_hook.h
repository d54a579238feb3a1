/* SPDX-License-Identifier: MIT */
/*
 * A counting, failing allocator for tests (SQLite's fault simulation, Lua's
 * debug_realloc): installed with tulip_set_allocator(), it counts the bytes
 * and blocks the library holds, and fails allocations on demand, so that a
 * test can prove that every failure returns -ENOMEM and leaks nothing.
 *
 *     struct test_alloc a;
 *     test_alloc_install(&a);
 *     test_alloc_fail_nth(&a, 3, false);  // the 3rd allocation from now fails
 *     ... rc == -ENOMEM ...
 *     test_alloc_fail_nth(&a, 0, false);  // stop failing
 *     cr_assert_eq(a.live_bytes, before);
 *     test_alloc_remove();
 *
 * Memory allocated before the hook was installed may be freed through it;
 * the counters then go below their starting value, which is why they are
 * signed. Install the hook before the library's first allocation (at the
 * start of a test, which Criterion runs in a fresh process) for exact counts.
 */
#ifndef TULIP_TEST_ALLOC_HOOK_H
#define TULIP_TEST_ALLOC_HOOK_H

#include <stdbool.h>
#include <stddef.h>

struct test_alloc {
    long long live_bytes;   /* bytes allocated and not yet freed */
    long long live_blocks;  /* blocks allocated and not yet freed */
    unsigned long attempts; /* allocations and resizes asked for */
    unsigned long failures; /* of which failed on purpose */
    unsigned long fail_at;  /* attempt number that fails; 0: none */
    bool fail_persistent;   /* fail every attempt from fail_at on */
};

/* Zero the counters and install the hook with a as its state. */
void test_alloc_install(struct test_alloc *a);

/* Restore the library's default allocator. */
void test_alloc_remove(void);

/*
 * Make the nth allocation counted from now (1: the next one) fail, and with
 * persistent every later one too. n = 0 stops failing.
 */
void test_alloc_fail_nth(struct test_alloc *a, unsigned long n,
                         bool persistent);

#endif /* TULIP_TEST_ALLOC_HOOK_H */
