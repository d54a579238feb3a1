/* SPDX-License-Identifier: MIT */
/*
 * The representative programs of the fault sweep (fault_sweep.c), each a
 * main task for tulip_run(): spawn/cancel/sleep in a task group, a queue
 * pipeline, the echo server with clients over loopback, and a
 * readline/readexactly exchange over pipes. Each returns 0 when its result
 * is correct, a negative error when something failed (clearly), and a
 * positive number when the result is wrong.
 */
#ifndef TULIP_TEST_FAULT_SCENARIOS_H
#define TULIP_TEST_FAULT_SCENARIOS_H

#include <stdbool.h>

struct fault_scenario {
    const char *name;
    int (*main)(void *arg);
    bool virtual_clock; /* run on the virtual clock */
};

extern const struct fault_scenario fault_scenarios[];
extern const int fault_nscenarios;

#endif /* TULIP_TEST_FAULT_SCENARIOS_H */
