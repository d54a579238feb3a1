/* SPDX-License-Identifier: MIT */
/*
 * The loop's real clock: CLOCK_MONOTONIC in nanoseconds (about 20 ns through
 * the vDSO here), which never jumps with the wall clock. The loop reads it
 * only when a timer is armed or someone asks for the time; a loop on the
 * virtual clock never reads it at all.
 */
#include "../prefix.h"
#include "loop_int.h"

#include <time.h>

int64_t tulip__clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}
