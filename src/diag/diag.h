/* SPDX-License-Identifier: MIT */
/*
 * The diagnostics layer's private interface: trace.c owns the hook table
 * (src/hooks.h) and dispatches each hook to the tracer and to debug mode
 * (debug.c); dump.c prints the task list. Everything here is off unless
 * TULIP_TRACE, TULIP_DEBUG or the matching calls of tulip.h turn it on.
 */
#ifndef TULIP_DIAG_H
#define TULIP_DIAG_H

#include "../hooks.h"
#include "../task/task.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Debug mode is on (tulip_debug_enable or TULIP_DEBUG=1). */
TULIP_PRIVATE extern bool tulip__debug_on;

/* Install or remove the hook table after a change of what is on. */
TULIP_PRIVATE void tulip__trace_update_hooks(void);

/* Debug mode's side of the hooks (debug.c). */
TULIP_PRIVATE void tulip__debug_step_begin(struct tulip_task *t);
TULIP_PRIVATE void tulip__debug_step_end(struct tulip_task *t);
TULIP_PRIVATE void tulip__debug_spawn(struct tulip_task *t, void *site);
TULIP_PRIVATE void tulip__debug_release(struct tulip_task *t);
TULIP_PRIVATE void tulip__debug_check_thread(tulip_loop *loop,
                                             const char *what);
TULIP_PRIVATE void tulip__debug_pass(tulip_loop *loop);

/* Read TULIP_DEBUG_SLOW_MS (once). */
TULIP_PRIVATE void tulip__debug_configure(void);

/* Mark loop as created with opts.debug (on), or forget it (off, at its
 * close); returns whether it was so marked. */
TULIP_PRIVATE bool tulip__debug_loop_set(tulip_loop *loop, bool on);

/* Whether loop was created with opts.debug. */
TULIP_PRIVATE bool tulip__debug_loop_is(const tulip_loop *loop);

/* Where t was spawned (debug mode), or NULL: up to *n return addresses. */
TULIP_PRIVATE void *const *tulip__debug_spawn_site(const struct tulip_task *t,
                                                   int *n);

/* Print where t was spawned, one frame a line (debug mode). */
TULIP_PRIVATE void tulip__debug_print_site(FILE *f, const struct tulip_task *t);

/* The last loop a pass ran on (for the SIGQUIT dump), or NULL. */
TULIP_PRIVATE tulip_loop *tulip__debug_last_loop(void);

#endif /* TULIP_DIAG_H */
