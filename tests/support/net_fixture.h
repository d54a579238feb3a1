/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the tests that do real I/O (fds, sockets, streams,
 * servers, the thread pool): task_fixture.h's leak checks around a loop on
 * the real clock, the pools shut down at the end so that no worker thread
 * outlives the test, and timing tolerances widened on slow machines
 * (valgrind) by $TULIP_TEST_TIMEOUT_MULTIPLIER (STYLE.md rule 32).
 */
#ifndef TULIP_NET_FIXTURE_H
#define TULIP_NET_FIXTURE_H

#include "task_fixture.h"

#include <stdlib.h>

/* ns, times the test timeout multiplier. */
static FX_UNUSED int64_t slow_ns(int64_t ns)
{
    const char *m = getenv("TULIP_TEST_TIMEOUT_MULTIPLIER");
    long k = m ? atol(m) : 1;

    return ns * (k > 1 ? k : 1);
}

/* A loop on the real clock (I/O with the kernel), with the fixture's leak
 * checks. */
static FX_UNUSED void net_begin(void)
{
    struct tulip_loop_opts o = {0};

    fx_begin();
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    cr_assert_eq(tulip_loop_set_error_handler(loop, fx_on_error, NULL), 0);
}

static FX_UNUSED void net_end(void)
{
    fx_end();
    tulip_pool_shutdown();
}

#endif /* TULIP_NET_FIXTURE_H */
