/* SPDX-License-Identifier: MIT */
/*
 * Brett Cannon's jumping_range, from "How the heck does async/await work in
 * Python 3.5?": a generator whose yield is also how it receives a jump.
 *
 *   def jumping_range(up_to):
 *       index = 0
 *       while index < up_to:
 *           jump = yield index
 *           if jump is None:
 *               jump = 1
 *           index += jump
 *
 * Prints 0 2 3 2 3 4, one per line, as the Python program does.
 */
#include <stdint.h>
#include <stdio.h>

#include "tulip.h"

static int jumping_range(void *arg, void **ret)
{
    intptr_t up_to = (intptr_t)arg;
    intptr_t index = 0;

    (void)ret;
    while (index < up_to) {
        void *jump;
        int rc = tulip_yield((void *)index, &jump);
        if (rc < 0)
            return rc;
        index += jump ? (intptr_t)jump : 1;
    }
    return 0;
}

int main(void)
{
    tulip_gen *it;
    void *v;
    int rc;

    rc = tulip_gen_new(&it, jumping_range, (void *)5);
    if (rc < 0) {
        fprintf(stderr, "tulip_gen_new: %s\n", tulip_strerror(rc));
        return 1;
    }
    tulip_gen_next(it, &v); /* print(next(it)) */
    printf("%ld\n", (long)(intptr_t)v);
    tulip_gen_send(it, (void *)2, &v); /* print(it.send(2)) */
    printf("%ld\n", (long)(intptr_t)v);
    tulip_gen_next(it, &v); /* print(next(it)) */
    printf("%ld\n", (long)(intptr_t)v);
    tulip_gen_send(it, (void *)-1, &v); /* print(it.send(-1)) */
    printf("%ld\n", (long)(intptr_t)v);
    while (tulip_gen_next(it, &v) == 0) /* for x in it: print(x) */
        printf("%ld\n", (long)(intptr_t)v);
    tulip_gen_free(it);
    return 0;
}
