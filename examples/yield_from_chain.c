/* SPDX-License-Identifier: MIT */
/*
 * Brett Cannon's bottom/middle/top chain, from "How the heck does
 * async/await work in Python 3.5?": a value yielded at the bottom comes out
 * at the top, the value sent in at the top goes down to the bottom, and the
 * bottom's return value comes back up through each yield from.
 *
 *   def bottom():
 *       # Returning the yield lets the value that goes up the call stack to
 *       # come right back down.
 *       return (yield 42)
 *
 *   def middle():
 *       return (yield from bottom())
 *
 *   def top():
 *       return (yield from middle())
 *
 *   # Get the generator.
 *   gen = top()
 *   value = next(gen)
 *   print(value)  # Prints '42'.
 *   try:
 *       value = gen.send(value * 2)
 *   except StopIteration as exc:
 *       value = exc.value
 *   print(value)  # Prints '84'.
 *
 * Each level is a generator object of its own, delegated to with
 * tulip_yield_from(). Prints 42 then 84, as the Python program does.
 */
#include <stdint.h>
#include <stdio.h>

#include "tulip.h"

/* return (yield 42) */
static int bottom(void *arg, void **ret)
{
    (void)arg;
    return tulip_yield((void *)(intptr_t)42, ret);
}

/* return (yield from <a new generator running fn>) */
static int delegate_to(tulip_gen_fn *fn, void **ret)
{
    tulip_gen *sub;
    int rc = tulip_gen_new(&sub, fn, NULL);

    if (rc < 0)
        return rc;
    rc = tulip_yield_from(sub, ret);
    tulip_gen_free(sub);
    return rc;
}

static int middle(void *arg, void **ret)
{
    (void)arg;
    return delegate_to(bottom, ret);
}

static int top(void *arg, void **ret)
{
    (void)arg;
    return delegate_to(middle, ret);
}

int main(void)
{
    tulip_gen *gen;
    void *value;
    int rc;

    rc = tulip_gen_new(&gen, top, NULL);
    if (rc < 0) {
        fprintf(stderr, "tulip_gen_new: %s\n", tulip_strerror(rc));
        return 1;
    }
    tulip_gen_next(gen, &value); /* value = next(gen) */
    printf("%ld\n", (long)(intptr_t)value);
    rc = tulip_gen_send(gen, (void *)((intptr_t)value * 2), &value);
    if (rc != TULIP_STOP) { /* StopIteration, whose .value is 84 */
        fprintf(stderr, "send: %s\n", tulip_strerror(rc));
        return 1;
    }
    printf("%ld\n", (long)(intptr_t)value);
    tulip_gen_free(gen);
    return 0;
}
