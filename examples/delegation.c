/* SPDX-License-Identifier: MIT */
/*
 * Delegation of send, throw and close through yield from, from jmoldow's
 * "jmoldow-python3-async-tutorial", chapter 3 ("yield from syntax for
 * delegating to subgenerator"): a delegator restarts its subgenerator each
 * time it finishes or fails with an ignorable error, and every send, throw
 * and close reaches the subgenerator first.
 *
 *   class IgnorableError(Exception): pass
 *   class StopSubGenerator(Exception): pass
 *
 *   def yield_sent_values():
 *       value = None
 *       while True:
 *           print('yielding', value)
 *           try:
 *               value = (yield value)
 *           except GeneratorExit:
 *               print('Received GeneratorExit, returning')
 *               return
 *           except StopSubGenerator:
 *               print('Received StopSubGenerator, returning')
 *               return
 *           except Exception as exc:
 *               print('Received', repr(exc), 'and will re-raise')
 *               raise
 *           print('received', value)
 *
 *   def delegator_function():
 *       while True:
 *           try:
 *               yield from yield_sent_values()
 *           except IgnorableError:
 *               print('Caught IgnorableError from subgenerator, '
 *                     'restarting subgenerator')
 *           except GeneratorExit:
 *               print('Received GeneratorExit from subgenerator, returning')
 *               return
 *           except Exception as exc:
 *               print('Received', repr(exc), 'from subgenerator, re-raising')
 *               raise
 *           else:
 *               print('Subgenerator stopped cleanly, restarting '
 *                     'subgenerator')
 *
 *   delegator = delegator_function()
 *   next(delegator)
 *   print(delegator.send(3))
 *   print(delegator.send(4))
 *   print(delegator.throw(IgnorableError))
 *   print(delegator.throw(StopSubGenerator))
 *   delegator.close()
 *
 * Prints the chapter's transcript exactly (asyncio.md D.3; Python 3.11
 * prints the same). Note how close() first closes the subgenerator, which
 * returns, and then raises GeneratorExit in the delegator at its yield
 * from. Each subgenerator is a generator object of its own, run with
 * tulip_yield_from(); exceptions are negative codes.
 */
#include <stdint.h>
#include <stdio.h>

#include "tulip.h"

#define IGNORABLE_ERROR (-7001)    /* class IgnorableError(Exception) */
#define STOP_SUB_GENERATOR (-7002) /* class StopSubGenerator(Exception) */

static const char *exc_repr(int err)
{
    switch (err) {
    case IGNORABLE_ERROR:
        return "IgnorableError()";
    case STOP_SUB_GENERATOR:
        return "StopSubGenerator()";
    default:
        return tulip_err_name(err);
    }
}

/* print() of a small int that may be None, after a prefix. */
static void print_value(const char *prefix, void *v)
{
    if (v)
        printf("%s%ld\n", prefix, (long)(intptr_t)v);
    else
        printf("%sNone\n", prefix);
}

static int yield_sent_values(void *arg, void **ret)
{
    void *value = NULL;
    int rc;

    (void)arg;
    (void)ret;
    for (;;) {
        print_value("yielding ", value);
        rc = tulip_yield(value, &value);
        if (rc == TULIP_GENEXIT) {
            printf("Received GeneratorExit, returning\n");
            return 0;
        }
        if (rc == STOP_SUB_GENERATOR) {
            printf("Received StopSubGenerator, returning\n");
            return 0;
        }
        if (rc < 0) {
            printf("Received %s and will re-raise\n", exc_repr(rc));
            return rc;
        }
        print_value("received ", value);
    }
}

/* yield from yield_sent_values() */
static int yield_from_sub(void)
{
    tulip_gen *sub;
    int rc = tulip_gen_new(&sub, yield_sent_values, NULL);

    if (rc < 0)
        return rc;
    rc = tulip_yield_from(sub, NULL);
    tulip_gen_free(sub);
    return rc;
}

static int delegator_function(void *arg, void **ret)
{
    int rc;

    (void)arg;
    (void)ret;
    for (;;) {
        rc = yield_from_sub();
        if (rc == IGNORABLE_ERROR) {
            printf("Caught IgnorableError from subgenerator, restarting "
                   "subgenerator\n");
        } else if (rc == TULIP_GENEXIT) {
            printf("Received GeneratorExit from subgenerator, returning\n");
            return 0;
        } else if (rc < 0) {
            printf("Received %s from subgenerator, re-raising\n", exc_repr(rc));
            return rc;
        } else {
            printf("Subgenerator stopped cleanly, restarting "
                   "subgenerator\n");
        }
    }
}

int main(void)
{
    tulip_gen *delegator;
    void *v;
    int rc;

    rc = tulip_gen_new(&delegator, delegator_function, NULL);
    if (rc < 0) {
        fprintf(stderr, "tulip_gen_new: %s\n", tulip_strerror(rc));
        return 1;
    }
    tulip_gen_next(delegator, NULL);
    tulip_gen_send(delegator, (void *)(intptr_t)3, &v);
    print_value("", v);
    tulip_gen_send(delegator, (void *)(intptr_t)4, &v);
    print_value("", v);
    tulip_gen_throw(delegator, IGNORABLE_ERROR, &v);
    print_value("", v);
    tulip_gen_throw(delegator, STOP_SUB_GENERATOR, &v);
    print_value("", v);
    rc = tulip_gen_close(delegator);
    tulip_gen_free(delegator);
    return rc == 0 ? 0 : 1;
}
