/* SPDX-License-Identifier: MIT */
/*
 * The install test's program (tests/test_install.cmake): built against an
 * installed tulip through pkg-config only, it runs a generator to prove that
 * the header, the library and the context switch all arrived.
 */
#include <stdint.h>
#include <stdio.h>
#include <tulip.h>

static int count(void *arg, void **ret)
{
    intptr_t i, n = (intptr_t)arg;

    for (i = 0; i < n; i++) {
        int rc = tulip_yield((void *)i, NULL);
        if (rc)
            return rc;
    }
    *ret = (void *)n;
    return 0;
}

int main(void)
{
    tulip_gen *g;
    void *v;
    intptr_t sum = 0;
    int rc;

    if (tulip_gen_new(&g, count, (void *)(intptr_t)4) != 0)
        return 1;
    while ((rc = tulip_gen_next(g, &v)) == 0)
        sum += (intptr_t)v;
    tulip_gen_free(g);
    if (rc != TULIP_STOP || sum != 6 || (intptr_t)v != 4)
        return 1;
    printf("installed tulip works\n");
    return 0;
}
