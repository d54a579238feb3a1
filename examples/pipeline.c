/* SPDX-License-Identifier: MIT */
/*
 * A bounded producer/consumer pipeline with Python 3.13's Queue.shutdown:
 * a producer makes jobs faster than three workers can do them, so the
 * bounded queue (maxsize 2) pushes back on it; once every job is put, the
 * producer waits for the queue to be joined (every job done) and shuts it
 * down, which tells each idle worker to leave, the clean ending that
 * asyncio's queues had no way to express before 3.13.
 *
 *   async def producer(q):
 *       for job in range(1, 9):
 *           await q.put(job)            # waits while the queue is full
 *           print(f"{t()} put job {job}")
 *           await asyncio.sleep(0.25)
 *       await q.join()                  # until every job is task_done
 *       print(f"{t()} all jobs done: shutting the queue down")
 *       q.shutdown()
 *
 *   async def worker(name, q):
 *       while True:
 *           try:
 *               job = await q.get()
 *           except asyncio.QueueShutDown:
 *               print(f"{t()} {name}: queue shut down, leaving"); return
 *           await asyncio.sleep(job % 3 + 1)   # the work
 *           print(f"{t()} {name}: job {job} done")
 *           q.task_done()
 *
 *   async def main():
 *       q = asyncio.Queue(maxsize=2)
 *       async with asyncio.TaskGroup() as tg:
 *           tg.create_task(producer(q))
 *           for i in range(1, 4):
 *               tg.create_task(worker(f"worker-{i}", q))
 *
 * Runs on the virtual clock, so the times printed (seconds since the start)
 * are exact and the output is always the same; --real runs in real time.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tulip.h"

#define JOBS 8
#define WORKERS 3

static tulip_queue *queue;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

/* Seconds since the start, like f"{loop.time() - start:5.2f}". */
static double t(void)
{
    static int64_t start = -1;

    if (start < 0)
        start = tulip_now();
    return (double)(tulip_now() - start) / (double)TULIP_SEC;
}

static int producer(void *arg)
{
    int rc;

    (void)arg;
    for (intptr_t job = 1; job <= JOBS; job++) {
        rc = tulip_queue_put(queue, (void *)job);
        if (rc < 0)
            return fail("tulip_queue_put", rc);
        printf("%5.2f put job %d\n", t(), (int)job);
        rc = tulip_sleep(TULIP_SEC / 4);
        if (rc < 0)
            return rc;
    }
    rc = tulip_queue_join(queue);
    if (rc < 0)
        return fail("tulip_queue_join", rc);
    printf("%5.2f all jobs done: shutting the queue down\n", t());
    return tulip_queue_shutdown(queue, false);
}

static int worker(void *arg)
{
    const char *name = arg;
    void *job;
    int rc;

    for (;;) {
        rc = tulip_queue_get(queue, &job);
        if (rc == TULIP_ESHUTDOWN) {
            printf("%5.2f %s: queue shut down, leaving\n", t(), name);
            return 0;
        }
        if (rc < 0)
            return fail("tulip_queue_get", rc);
        rc = tulip_sleep(((intptr_t)job % 3 + 1) * TULIP_SEC);
        if (rc < 0)
            return rc;
        printf("%5.2f %s: job %d done\n", t(), name, (int)(intptr_t)job);
        tulip_queue_task_done(queue);
    }
}

static int main_task(void *arg)
{
    static const char *const names[WORKERS] = {"worker-1", "worker-2",
                                               "worker-3"};
    struct tulip_queue_opts qo = {TULIP_QUEUE_FIFO, 2, NULL};
    tulip_group *tg;
    int rc, i;

    (void)arg;
    t(); /* the start */
    rc = tulip_queue_new(&queue, &qo);
    if (rc < 0)
        return fail("tulip_queue_new", rc);
    rc = tulip_group_new(&tg);
    if (rc < 0) {
        tulip_queue_free(queue);
        return fail("tulip_group_new", rc);
    }
    rc = tulip_group_spawn(tg, producer, NULL, NULL, NULL);
    for (i = 0; i < WORKERS && rc == 0; i++)
        rc = tulip_group_spawn(tg, worker, (void *)names[i], NULL, NULL);
    if (rc < 0)
        tulip_group_cancel(tg);
    i = tulip_group_wait(tg);
    tulip_queue_free(queue);
    return rc < 0 ? rc : i;
}

int main(int argc, char **argv)
{
    struct tulip_run_opts opts = {0};
    int result = 0;
    int rc;

    opts.loop.virtual_clock = !(argc > 1 && strcmp(argv[1], "--real") == 0);
    rc = tulip_run(main_task, NULL, &result, &opts);
    if (rc < 0)
        return fail("tulip_run", rc);
    return result == 0 ? 0 : 1;
}
