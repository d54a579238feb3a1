/* SPDX-License-Identifier: MIT */
/*
 * Task-local storage (contextvars): a request id that every log line
 * shows, set once per request and read by nested calls that take no
 * argument for it, while three requests run interleaved. A callback
 * scheduled by a request logs with that request's id too; code outside
 * the requests sees the default. The ids are heap strings that the
 * variable's destructor frees once the last context holding them is gone.
 *
 *   request_id = ContextVar("request_id", default="-")
 *
 *   def log(msg):
 *       print(f"{t()} [{request_id.get()}] {msg}")
 *
 *   async def query(sql):                  # no request id parameter
 *       log(f"query {sql}")
 *       await asyncio.sleep(0.2)
 *       log("query done")
 *
 *   async def handle(n, user, delay):
 *       request_id.set(f"req-{n}")
 *       log(f"start, user {user}")
 *       await asyncio.sleep(delay)
 *       await query(f"select * from orders where user = '{user}'")
 *       asyncio.get_running_loop().call_soon(log, "callback")
 *       log("done")
 *
 *   async def main():
 *       log("serving")
 *       async with asyncio.TaskGroup() as tg:
 *           for n, (user, delay) in enumerate([("ann", 0.3), ("bob", 0.1),
 *                                              ("cy", 0.2)], 1):
 *               tg.create_task(handle(n, user, delay))
 *       log("all served")
 *
 * Runs on the virtual clock, so the times printed are exact and the output
 * is always the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tulip.h"

static tulip_ctxvar *request_id;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

static double t(void)
{
    static int64_t start = -1;

    if (start < 0)
        start = tulip_now();
    return (double)(tulip_now() - start) / (double)TULIP_SEC;
}

static void log_line(const char *msg)
{
    printf("%3.1f [%s] %s\n", t(), (const char *)tulip_ctxvar_get(request_id),
           msg);
}

static void log_cb(void *msg)
{
    log_line(msg);
}

/* The destructor of request ids: they are malloc'ed. */
static void free_id(void *id)
{
    printf("    (%s freed)\n", (char *)id);
    free(id);
}

static int query(const char *sql)
{
    char msg[128];

    snprintf(msg, sizeof(msg), "query %s", sql);
    log_line(msg);
    int rc = tulip_sleep(200 * TULIP_MSEC);
    if (rc == 0)
        log_line("query done");
    return rc;
}

struct request {
    int n;
    const char *user;
    int delay_ms;
};

static int handle(void *arg)
{
    const struct request *r = arg;
    char msg[96];
    int rc;

    char *id = malloc(16);
    if (!id)
        return -ENOMEM;
    snprintf(id, 16, "req-%d", r->n);
    rc = tulip_ctxvar_set(request_id, id, NULL); /* owned by it now */
    if (rc < 0) {
        free(id);
        return fail("tulip_ctxvar_set", rc);
    }
    snprintf(msg, sizeof(msg), "start, user %s", r->user);
    log_line(msg);
    rc = tulip_sleep(r->delay_ms * TULIP_MSEC);
    if (rc < 0)
        return rc;
    snprintf(msg, sizeof(msg), "select * from orders where user = '%s'",
             r->user);
    rc = query(msg);
    if (rc < 0)
        return rc;
    rc = tulip_call_soon(tulip_loop_current(), log_cb,
                         (void *)(uintptr_t) "callback", NULL);
    if (rc < 0)
        return fail("tulip_call_soon", rc);
    log_line("done");
    return 0;
}

static int main_task(void *arg)
{
    static const struct request reqs[] = {
        {1, "ann", 300}, {2, "bob", 100}, {3, "cy", 200}};
    tulip_group *tg;
    int rc;

    (void)arg;
    t();
    log_line("serving");
    rc = tulip_group_new(&tg);
    if (rc < 0)
        return fail("tulip_group_new", rc);
    for (size_t i = 0; i < 3 && rc == 0; i++)
        rc = tulip_group_spawn(tg, handle, (void *)&reqs[i], NULL, NULL);
    if (rc < 0)
        tulip_group_cancel(tg);
    int wrc = tulip_group_wait(tg);
    log_line("all served");
    return rc < 0 ? rc : wrc;
}

int main(void)
{
    struct tulip_run_opts opts = {0};
    int result = 0;
    int rc;

    rc = tulip_ctxvar_new(&request_id, (void *)(uintptr_t) "-", free_id);
    if (rc < 0)
        return fail("tulip_ctxvar_new", rc);
    opts.loop.virtual_clock = true;
    rc = tulip_run(main_task, NULL, &result, &opts);
    tulip_ctxvar_free(request_id);
    if (rc < 0)
        return fail("tulip_run", rc);
    return result == 0 ? 0 : 1;
}
