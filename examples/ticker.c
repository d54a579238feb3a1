/* SPDX-License-Identifier: MIT */
/*
 * An async generator that ticks with sleeps and is closed early, and one that
 * is abandoned and closed by tulip_run() at exit, running its cleanup.
 *
 *   async def ticker(n):
 *       try:
 *           for i in range(n):
 *               await asyncio.sleep(1)
 *               yield i
 *       finally:
 *           print("ticker: cleaning up")
 *           await asyncio.sleep(1)      # cleanup may await too
 *           print("ticker: clean")
 *
 *   async def main():
 *       async with contextlib.aclosing(ticker(10)) as t:
 *           async for i in t:
 *               print("tick", i)
 *               if i == 2:
 *                   break
 *       abandoned = ticker(10)
 *       print("abandoned at", await anext(abandoned))
 *
 *   asyncio.run(main())    # shutdown_asyncgens closes `abandoned`
 *
 * In tulip a generator resumed from a task may call any suspending function
 * in its body; tulip_gen_close() from the task is aclose(). Runs on the
 * virtual clock, so the 7 seconds it sleeps take no time; times are printed
 * to show when each line happens.
 */
#include <stdint.h>
#include <stdio.h>

#include "tulip.h"

static int ticker(void *arg, void **ret)
{
    intptr_t n = (intptr_t)arg;
    int rc = 0;

    (void)ret;
    for (intptr_t i = 0; i < n && rc == 0; i++) {
        rc = tulip_sleep(TULIP_SEC);
        if (rc == 0)
            rc = tulip_yield((void *)i, NULL);
    }
    /* finally: runs on close (TULIP_GENEXIT), error or exhaustion */
    printf("[%.0f s] ticker: cleaning up\n", (double)tulip_now() / 1e9);
    tulip_sleep(TULIP_SEC);
    printf("[%.0f s] ticker: clean\n", (double)tulip_now() / 1e9);
    return rc == TULIP_GENEXIT ? 0 : rc;
}

static tulip_gen *abandoned;

static int main_task(void *arg)
{
    tulip_gen *t;
    void *v;
    int rc;

    (void)arg;
    rc = tulip_gen_new(&t, ticker, (void *)10);
    if (rc < 0)
        return rc;
    while ((rc = tulip_gen_next(t, &v)) == 0) {
        printf("[%.0f s] tick %ld\n", (double)tulip_now() / 1e9,
               (long)(intptr_t)v);
        if ((intptr_t)v == 2)
            break;
    }
    rc = tulip_gen_close(t); /* aclose() */
    tulip_gen_free(t);
    if (rc < 0)
        return rc;
    rc = tulip_gen_new(&abandoned, ticker, (void *)10);
    if (rc < 0)
        return rc;
    rc = tulip_gen_next(abandoned, &v);
    if (rc < 0)
        return rc;
    printf("[%.0f s] abandoned at %ld\n", (double)tulip_now() / 1e9,
           (long)(intptr_t)v);
    return 0;
}

int main(void)
{
    struct tulip_run_opts opts = {.loop = {.virtual_clock = true}};
    int result = 0;
    int rc = tulip_run(main_task, NULL, &result, &opts);

    if (rc < 0 || result < 0) {
        fprintf(stderr, "ticker: %s\n", tulip_strerror(rc < 0 ? rc : result));
        return 1;
    }
    printf("generator left %s\n", tulip_gen_state(abandoned) == TULIP_GEN_CLOSED
                                      ? "closed"
                                      : "suspended");
    tulip_gen_free(abandoned);
    return 0;
}
