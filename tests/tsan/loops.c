/* SPDX-License-Identifier: MIT */
/*
 * Loops in several threads at once, for TSan: four threads each run a loop
 * of their own, with a ring of messages between them (a task of each loop
 * sends pings to the next loop through tulip_call_soon_threadsafe, and
 * answers the pings of the previous one), a local pipeline (a producer and
 * a consumer on a bounded queue, under a lock) and jobs on the shared
 * blocking pool. It runs twice: plainly, then with tracing (one writer
 * thread, per-thread buffers) and debug mode (a registry of loops and
 * spawn sites) on, which are process-wide and so shared by the loops.
 */
#define _GNU_SOURCE 1
#include "plain.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum { LOOPS = 4, PINGS = 300, ITEMS = 200, JOBS = 20 };

struct peer {
    int id;               /* 0 .. LOOPS-1 */
    tulip_loop *loop;     /* made and run by the peer's thread */
    tulip_queue *pings;   /* pings from the previous peer */
    tulip_queue *replies; /* replies from the next peer */
    struct peer *next;    /* pings go there */
    struct peer *prev;    /* replies go there */
    int result;           /* of the peer's run: 0 when all went well */
    int running;          /* its tasks not yet done */
};

static struct peer peers[LOOPS];
static pthread_barrier_t made, ran;

/* A message crossing from one loop to another. */
struct msg {
    tulip_queue *to; /* a queue of the receiving loop */
    intptr_t value;  /* never 0 */
};

static void deliver_cb(void *arg)
{
    struct msg *m = arg;

    PLAIN_EQ(tulip_queue_try_put(m->to, (void *)m->value), 0);
    free(m);
}

static int post(struct peer *to, tulip_queue *q, intptr_t value)
{
    struct msg *m = malloc(sizeof(*m));

    if (!m)
        return -ENOMEM;
    m->to = q;
    m->value = value;
    return tulip_call_soon_threadsafe(to->loop, deliver_cb, m);
}

static int pinger(void *arg)
{
    struct peer *p = arg;

    for (intptr_t i = 1; i <= PINGS; i++) {
        void *item;
        int rc = post(p->next, p->next->pings, i);
        if (rc != 0)
            return rc;
        rc = tulip_queue_get(p->replies, &item);
        if (rc != 0)
            return rc;
        if ((intptr_t)item != i * 1000 + p->next->id)
            return -EPROTO;
    }
    return 0;
}

static int ponger(void *arg)
{
    struct peer *p = arg;

    for (intptr_t i = 1; i <= PINGS; i++) {
        void *item;
        int rc = tulip_queue_get(p->pings, &item);
        if (rc != 0)
            return rc;
        if ((intptr_t)item != i)
            return -EPROTO;
        rc = post(p->prev, p->prev->replies, i * 1000 + p->id);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- the local pipeline -------------------------------------------------- */

struct pipe_state {
    tulip_queue *q;
    tulip_lock *lock;
    long sum; /* under lock */
};

static int producer(void *arg)
{
    struct pipe_state *ps = arg;

    for (intptr_t i = 1; i <= ITEMS; i++) {
        int rc = tulip_queue_put(ps->q, (void *)i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int consumer(void *arg)
{
    struct pipe_state *ps = arg;

    for (int i = 0; i < ITEMS; i++) {
        void *item;
        int rc = tulip_queue_get(ps->q, &item);
        if (rc != 0)
            return rc;
        rc = tulip_lock_acquire(ps->lock);
        if (rc != 0)
            return rc;
        if (i % 16 == 0)
            tulip_sleep(0); /* hold the lock across a turn */
        ps->sum += (long)(intptr_t)item;
        tulip_lock_release(ps->lock);
    }
    return 0;
}

/* ---- jobs on the shared pool -------------------------------------------- */

static int triple_job(void *arg)
{
    int *v = arg;
    *v *= 3;
    return *v + 1;
}

static int jobs(void *arg)
{
    (void)arg;
    for (int i = 1; i <= JOBS; i++) {
        int v = i, result = 0;
        int rc = tulip_to_thread(triple_job, &v, &result);
        if (rc != 0)
            return rc;
        if (v != 3 * i || result != 3 * i + 1)
            return -EPROTO;
        if (i % 4 == 0 && (rc = tulip_sleep(TULIP_SEC / 1000)) != 0)
            return rc;
    }
    return 0;
}

/* ---- one peer's thread ----------------------------------------------------
 */

static void task_done_cb(tulip_task *t, void *arg)
{
    struct peer *p = arg;

    (void)t;
    if (--p->running == 0)
        tulip_loop_stop(p->loop);
}

static int peer_main(struct peer *p)
{
    struct tulip_queue_opts bounded = {.maxsize = 4};
    struct pipe_state ps = {0};
    tulip_task *t[5];
    int rc = 0;

    PLAIN_EQ(tulip_queue_new(&ps.q, &bounded), 0);
    PLAIN_EQ(tulip_lock_new(&ps.lock), 0);
    PLAIN_EQ(tulip_spawn(&t[0], p->loop, pinger, p), 0);
    PLAIN_EQ(tulip_spawn(&t[1], p->loop, ponger, p), 0);
    PLAIN_EQ(tulip_spawn(&t[2], p->loop, producer, &ps), 0);
    PLAIN_EQ(tulip_spawn(&t[3], p->loop, consumer, &ps), 0);
    PLAIN_EQ(tulip_spawn(&t[4], p->loop, jobs, NULL), 0);
    /* tulip_loop_run() would return when the tasks only wait for posts
     * from other threads: run until the last task is done */
    p->running = 5;
    for (int i = 0; i < 5; i++)
        PLAIN_EQ(tulip_task_add_done_callback(t[i], task_done_cb, p), 0);
    PLAIN_EQ(tulip_loop_run_forever(p->loop), 0);
    for (int i = 0; i < 5; i++) {
        int result = -1;
        PLAIN_EQ(tulip_task_result(t[i], &result), 0);
        if (result != 0) {
            fprintf(stderr, "loops: peer %d task %d: %s\n", p->id, i,
                    tulip_strerror(result));
            rc = result;
        }
        tulip_task_release(t[i]);
    }
    PLAIN_EQ(ps.sum, (long)ITEMS * (ITEMS + 1) / 2);
    tulip_queue_free(ps.q);
    tulip_lock_free(ps.lock);
    return rc;
}

static void *peer_thread(void *arg)
{
    struct peer *p = arg;

    PLAIN_EQ(tulip_loop_new(&p->loop, NULL), 0);
    PLAIN_EQ(tulip_queue_new(&p->pings, NULL), 0);
    PLAIN_EQ(tulip_queue_new(&p->replies, NULL), 0);
    pthread_barrier_wait(&made); /* every loop exists before any post */
    p->result = peer_main(p);
    /* nobody posts to a loop whose peers are done with it: close after
     * every run has ended */
    pthread_barrier_wait(&ran);
    tulip_queue_free(p->pings);
    tulip_queue_free(p->replies);
    PLAIN_EQ(tulip_loop_close(p->loop), 0);
    return NULL;
}

static void ring(void)
{
    pthread_t th[LOOPS];

    PLAIN_EQ(pthread_barrier_init(&made, NULL, LOOPS), 0);
    PLAIN_EQ(pthread_barrier_init(&ran, NULL, LOOPS), 0);
    for (int i = 0; i < LOOPS; i++) {
        peers[i].id = i;
        peers[i].next = &peers[(i + 1) % LOOPS];
        peers[i].prev = &peers[(i + LOOPS - 1) % LOOPS];
        peers[i].result = -1;
    }
    for (int i = 0; i < LOOPS; i++)
        PLAIN_EQ(pthread_create(&th[i], NULL, peer_thread, &peers[i]), 0);
    for (int i = 0; i < LOOPS; i++)
        PLAIN_EQ(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < LOOPS; i++)
        PLAIN_EQ(peers[i].result, 0);
    PLAIN_EQ(pthread_barrier_destroy(&made), 0);
    PLAIN_EQ(pthread_barrier_destroy(&ran), 0);
}

int main(void)
{
    char path[] = "/tmp/tulip-tsan-loops-XXXXXX";
    long long bytes0, blocks0;
    char head[2] = {0};
    FILE *f;
    int fd;

    plain_begin(&bytes0, &blocks0);
    plain_case("loops", "four loops in four threads");
    ring();
    tulip_pool_shutdown();
    PLAIN_NO_LEAK(bytes0, blocks0);

    plain_case("loops", "again, with tracing and debug mode on");
    fd = mkstemp(path);
    PLAIN_CHECK(fd >= 0);
    close(fd);
    PLAIN_EQ(tulip_trace_start(path), 0);
    PLAIN_EQ(tulip_debug_enable(true), 0);
    tulip_debug_set_slow(60 * TULIP_SEC); /* sanitizers are slow */
    ring();
    PLAIN_EQ(tulip_debug_enable(false), 0);
    PLAIN_EQ(tulip_trace_stop(), 0);
    tulip_pool_shutdown();
    f = fopen(path, "r");
    PLAIN_CHECK(f != NULL);
    PLAIN_EQ(fread(head, 1, 1, f), 1);
    PLAIN_EQ(head[0], '[');
    PLAIN_EQ(fseek(f, 0, SEEK_END), 0);
    PLAIN_CHECK(ftell(f) > 1000); /* events of every loop were written */
    fclose(f);
    unlink(path);
    PLAIN_NO_LEAK(bytes0, blocks0);
    return 0;
}
