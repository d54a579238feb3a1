/* SPDX-License-Identifier: MIT */
/*
 * Thread pools and DNS: tulip_to_thread results, more jobs than threads
 * (never more running at once than the pool's size), a cancelled or timed
 * out task abandoning its job safely (a running job finishes and its
 * abandon callback frees its argument; a queued one never runs), sizes and
 * bad arguments, shutdown and restart, allocation failure, and the DNS pool:
 * "localhost" resolves quickly while the blocking pool is full of sleeping
 * jobs, getaddrinfo/getnameinfo results and errors, and lookups abandoned by
 * a deadline. Every test runs on the real clock, closes its loop with 0,
 * leaks nothing, and joins the pools' threads at the end.
 */
/* ctest: labels=unit;net;backends timeout=180 */
#define _GNU_SOURCE 1
#include "net_fixture.h"

#include "io/io.h" /* white-box: tulip__pool_run holds a DNS thread */

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void pool_begin(void)
{
    fx_begin();
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0); /* the real clock */
    cr_assert_eq(tulip_loop_set_error_handler(loop, fx_on_error, NULL), 0);
}

static void pool_end(void)
{
    fx_end();
    tulip_pool_shutdown();
    cr_assert_eq(tulip_pool_threads(TULIP_POOL_BLOCKING), 0);
    cr_assert_eq(tulip_pool_threads(TULIP_POOL_DNS), 0);
}

static void go(tulip_task_fn *fn, void *arg)
{
    cr_assert_eq(tulip_spawn(NULL, loop, fn, arg), 0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* ---- results ----------------------------------------------------------------
 */

static pthread_t main_thread;

static int double_it(void *arg)
{
    int *v = arg;

    sleep_ms(1);
    if (pthread_equal(pthread_self(), main_thread))
        return -1;
    return *v * 2;
}

static int to_thread_body(void *arg)
{
    int v = 21, r = 0, rc;

    (void)arg;
    rc = tulip_to_thread(double_it, &v, &r);
    if (rc)
        return rc;
    return r;
}

Test(pool, to_thread_result)
{
    tulip_task *t;

    pool_begin();
    main_thread = pthread_self();
    t = fx_spawn(to_thread_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 42);
    cr_assert_eq(tulip_pool_threads(TULIP_POOL_BLOCKING), 1); /* lazily */
    cr_assert_eq(tulip_pool_threads(TULIP_POOL_DNS), 0);
    tulip_task_release(t);
    pool_end();
}

static int nop_fn(void *arg)
{
    (void)arg;
    return 0;
}

static int bad_body(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_to_thread(NULL, NULL, NULL), -EINVAL);
    cr_expect_eq(tulip_to_thread(nop_fn, NULL, NULL), 0); /* result NULL */
    tulip_task_cancel(tulip_task_current());
    cr_expect_eq(tulip_to_thread(nop_fn, NULL, NULL), -ECANCELED);
    return 0;
}

Test(pool, sizes_and_bad_input)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int expect = cpus + 4 < 32 ? (int)cpus + 4 : 32;
    tulip_task *t;

    pool_begin();
    cr_assert_eq(tulip_pool_size(TULIP_POOL_BLOCKING), expect);
    cr_assert_eq(tulip_pool_size(TULIP_POOL_DNS), 4);
    cr_assert_eq(tulip_pool_size(7), -EINVAL);
    cr_assert_eq(tulip_pool_threads(-1), -EINVAL);
    cr_assert_eq(tulip_pool_set_size(TULIP_POOL_BLOCKING, 0), -EINVAL);
    cr_assert_eq(tulip_pool_set_size(TULIP_POOL_BLOCKING, 1025), -EINVAL);
    cr_assert_eq(tulip_pool_set_size(2, 4), -EINVAL);
    cr_assert_eq(tulip_pool_set_size(TULIP_POOL_DNS, 2), 0);
    cr_assert_eq(tulip_pool_size(TULIP_POOL_DNS), 2);
    cr_assert_eq(tulip_to_thread(nop_fn, NULL, NULL), -EPERM);
    cr_assert_eq(
        tulip_getaddrinfo("localhost", NULL, NULL, &(struct addrinfo *){NULL}),
        -EPERM);
    t = fx_spawn(bad_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    pool_end();
}

/* ---- more jobs than threads -------------------------------------------------
 */

#define JOBS 60
#define SIZE 4

static atomic_int running_now, running_max, ran;

static int counted_job(void *arg)
{
    int now = atomic_fetch_add(&running_now, 1) + 1;
    int max = atomic_load(&running_max);

    while (now > max && !atomic_compare_exchange_weak(&running_max, &max, now))
        ;
    sleep_ms(2);
    atomic_fetch_sub(&running_now, 1);
    atomic_fetch_add(&ran, 1);
    return (int)(intptr_t)arg;
}

static int many_body(void *arg)
{
    int r = -1, rc;

    rc = tulip_to_thread(counted_job, arg, &r);
    if (rc)
        return rc;
    return r == (int)(intptr_t)arg ? 0 : -1;
}

static int job_errors;

static void count_errors(tulip_task *t, void *arg)
{
    int r = 0;

    (void)arg;
    tulip_task_result(t, &r);
    job_errors += r != 0;
}

Test(pool, more_jobs_than_threads)
{
    pool_begin();
    cr_assert_eq(tulip_pool_set_size(TULIP_POOL_BLOCKING, SIZE), 0);
    job_errors = 0;
    for (int i = 0; i < JOBS; i++) {
        tulip_task *t;
        cr_assert_eq(tulip_spawn(&t, loop, many_body, (void *)(intptr_t)i), 0);
        cr_assert_eq(tulip_task_add_done_callback(t, count_errors, NULL), 0);
        tulip_task_release(t);
    }
    fx_run();
    cr_assert_eq(job_errors, 0);
    cr_assert_eq(atomic_load(&ran), JOBS);
    cr_assert_leq(atomic_load(&running_max), SIZE);
    cr_assert_leq(tulip_pool_threads(TULIP_POOL_BLOCKING), SIZE);
    pool_end();
}

/* ---- abandoned jobs
 * ---------------------------------------------------------- */

static sem_t gate;           /* jobs wait here until the test opens it */
static atomic_int started;   /* jobs that began */
static int abandoned_result; /* what the abandon callback saw */
static int abandoned_calls;

struct gated {
    int value; /* the job's result */
};

static int gated_job(void *arg)
{
    struct gated *g = arg;

    atomic_fetch_add(&started, 1);
    while (sem_wait(&gate) < 0)
        ;
    return g->value;
}

static void free_gated(void *arg, int result)
{
    abandoned_calls++;
    abandoned_result = result;
    free(arg);
}

static int abandon_body(void *arg)
{
    struct gated *g = malloc(sizeof(*g));
    int64_t t0 = tulip_now();
    int r = 0, rc;

    (void)arg;
    g->value = 77;
    rc = tulip_to_thread_ex(gated_job, g, &r, free_gated, t0 + 30 * TULIP_MSEC);
    log_add("rc:%s", tulip_err_name(rc));
    /* it returned at the deadline, without waiting for the job */
    cr_expect_lt(tulip_now() - t0, 5 * TULIP_SEC);
    return rc;
}

static void open_gate(void *arg)
{
    (void)arg;
    log_add("open");
    sem_post(&gate);
}

static int open_gate_later(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_sleep(100 * TULIP_MSEC), 0);
    open_gate(NULL);
    return 0;
}

Test(pool, timed_out_task_abandons_running_job)
{
    tulip_task *t;

    pool_begin();
    sem_init(&gate, 0, 0);
    abandoned_calls = 0;
    t = fx_spawn(abandon_body, NULL);
    go(open_gate_later, NULL);
    fx_run(); /* runs until the abandoned job has finished */
    cr_assert_eq(fx_result(t), -ETIMEDOUT);
    cr_assert_eq(abandoned_calls, 1);
    cr_assert_eq(abandoned_result, 77);
    FX_LOG_IS("rc:ETIMEDOUT open");
    tulip_task_release(t);
    pool_end();
    sem_destroy(&gate);
}

static void cancel_cb(void *arg)
{
    tulip_task_cancel(arg);
}

/* With one thread, the first job runs (blocked), the second waits in the
 * queue; cancelling the second task takes its job back: it never runs. */
Test(pool, cancelled_task_withdraws_queued_job)
{
    tulip_task *a, *b;

    pool_begin();
    sem_init(&gate, 0, 0);
    atomic_store(&started, 0);
    abandoned_calls = 0;
    cr_assert_eq(tulip_pool_set_size(TULIP_POOL_BLOCKING, 1), 0);
    a = fx_spawn(abandon_body, NULL); /* times out at 30 ms, job runs */
    b = fx_spawn(abandon_body, NULL);
    cr_assert_eq(tulip_call_later(loop, 10 * TULIP_MSEC, cancel_cb, b, NULL),
                 0);
    go(open_gate_later, NULL); /* the first job ends at 100 ms */
    fx_run();
    cr_assert_eq(fx_result(a), -ETIMEDOUT);
    cr_assert_eq(fx_result(b), -ECANCELED);
    cr_assert_eq(atomic_load(&started), 1); /* the second never ran */
    cr_assert_eq(abandoned_calls, 2);
    FX_LOG_IS("rc:ECANCELED rc:ETIMEDOUT open");
    tulip_task_release(a);
    tulip_task_release(b);
    pool_end();
    sem_destroy(&gate);
}

/* A cancel and the job's completion in the same pass: once the job runs,
 * the loop thread is held (a task that blocks) while the job asks the
 * loop thread to cancel its task and returns, so that the next pass both
 * finds the job done (the eventfd) and runs the cancel; the task then
 * wakes cancelled with a job the loop has already delivered: it must
 * still be freed and its abandon callback called, with the job's result. */
static tulip_task *same_pass_task;
static atomic_int same_pass_started, same_pass_go, same_pass_returning;

static int cancels_its_task(void *arg)
{
    struct gated *g = arg;

    atomic_store(&same_pass_started, 1);
    while (!atomic_load(&same_pass_go))
        sleep_ms(1);
    /* 1: returning, the cancel queued; 2: the call failed */
    atomic_store(
        &same_pass_returning,
        tulip_call_soon_threadsafe(loop, cancel_cb, same_pass_task) ? 2 : 1);
    return g->value;
}

static int same_pass_body(void *arg)
{
    struct gated *g = malloc(sizeof(*g));

    (void)arg;
    g->value = 42;
    return tulip_to_thread_ex(cancels_its_task, g, NULL, free_gated,
                              TULIP_FOREVER);
}

static int hold_loop_until_job_returned(void *arg)
{
    (void)arg;
    while (!atomic_load(&same_pass_started))
        cr_expect_eq(tulip_sleep(0), 0);
    atomic_store(&same_pass_go, 1);
    while (!atomic_load(&same_pass_returning))
        sleep_ms(1);
    sleep_ms(50); /* the worker signals the loop after fn returns */
    return 0;
}

Test(pool, cancel_in_the_pass_of_the_job_completion)
{
    pool_begin();
    abandoned_calls = 0;
    atomic_store(&same_pass_started, 0);
    atomic_store(&same_pass_go, 0);
    atomic_store(&same_pass_returning, 0);
    same_pass_task = fx_spawn(same_pass_body, NULL);
    go(hold_loop_until_job_returned, NULL);
    fx_run();
    cr_assert_eq(atomic_load(&same_pass_returning), 1);
    cr_assert_eq(fx_result(same_pass_task), -ECANCELED);
    cr_assert_eq(abandoned_calls, 1);
    cr_assert_eq(abandoned_result, 42);
    tulip_task_release(same_pass_task);
    pool_end();
}

/* A loop closed while an abandoned job still runs waits for it. */
static int fire_and_forget(void *arg)
{
    struct gated *g = malloc(sizeof(*g));

    (void)arg;
    g->value = 5;
    tulip_task_cancel(tulip_task_current());
    /* cancelled: returns at once */
    return tulip_to_thread_ex(gated_job, g, NULL, free_gated, TULIP_FOREVER);
}

static int start_then_stop(void *arg)
{
    struct gated *g = malloc(sizeof(*g));
    int rc;

    (void)arg;
    g->value = 9;
    rc = tulip_to_thread_ex(gated_job, g, NULL, free_gated,
                            tulip_now() + 20 * TULIP_MSEC);
    tulip_loop_stop(loop);
    return rc;
}

static void *open_gate_thread(void *arg)
{
    (void)arg;
    sleep_ms(100);
    sem_post(&gate);
    return NULL;
}

Test(pool, loop_close_waits_for_abandoned_job)
{
    tulip_task *t, *u;
    pthread_t th;

    pool_begin();
    sem_init(&gate, 0, 0);
    abandoned_calls = 0;
    u = fx_spawn(fire_and_forget, NULL);
    t = fx_spawn(start_then_stop, NULL);
    cr_assert_eq(tulip_loop_run_forever(loop), 0); /* stops at 20 ms */
    cr_assert_eq(fx_result(t), -ETIMEDOUT);
    cr_assert_eq(fx_result(u), -ECANCELED);
    tulip_task_release(t);
    tulip_task_release(u);
    pthread_create(&th, NULL, open_gate_thread, NULL);
    cr_assert_eq(abandoned_calls, 1); /* u's, at once: -ECANCELED */
    pool_end(); /* closing the loop waits for the job, then frees it */
    cr_assert_eq(abandoned_calls, 2);
    cr_assert_eq(abandoned_result, 9);
    pthread_join(th, NULL);
    sem_destroy(&gate);
}

Test(pool, shutdown_and_restart)
{
    tulip_task *t;

    pool_begin();
    main_thread = pthread_self();
    for (int round = 0; round < 3; round++) {
        t = fx_spawn(to_thread_body, NULL);
        fx_run();
        cr_assert_eq(fx_result(t), 42);
        tulip_task_release(t);
        cr_assert_eq(tulip_pool_threads(TULIP_POOL_BLOCKING), 1);
        tulip_pool_shutdown();
        cr_assert_eq(tulip_pool_threads(TULIP_POOL_BLOCKING), 0);
    }
    pool_end();
}

static int nomem_body(void *arg)
{
    int v = 1, r = 0;
    int *rcs = arg;

    for (int i = 1; i <= 4; i++) {
        test_alloc_fail_nth(&alloc_c, (unsigned long)i, false);
        rcs[i] = tulip_to_thread(double_it, &v, &r);
        test_alloc_fail_nth(&alloc_c, 0, false);
    }
    return 0;
}

Test(pool, allocation_failure)
{
    int rcs[5] = {0};
    tulip_task *t;

    pool_begin();
    main_thread = pthread_self();
    t = fx_spawn(nomem_body, rcs);
    fx_run();
    cr_assert_eq(rcs[1], -ENOMEM);
    for (int i = 1; i <= 4; i++)
        cr_assert(rcs[i] == 0 || rcs[i] == -ENOMEM, "rc %d", rcs[i]);
    cr_assert_eq(rcs[4], 0);
    tulip_task_release(t);
    pool_end();
}

/* ---- DNS
 * ----------------------------------------------------------------------- */

static int64_t lookup_ns;
static tulip_event *resolved_ev; /* set once "localhost" resolved */

static int resolve_localhost(void *arg)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int64_t t0 = tulip_now();
    int rc;

    (void)arg;
    rc = tulip_getaddrinfo("localhost", "80", &hints, &res);
    lookup_ns = tulip_now() - t0;
    if (rc)
        return rc;
    cr_expect_eq(res->ai_family, AF_INET);
    cr_expect_eq(ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr),
                 INADDR_LOOPBACK);
    cr_expect_eq(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 80);
    tulip_freeaddrinfo(res);
    log_add("resolved");
    if (resolved_ev)
        tulip_event_set(resolved_ev);
    return 0;
}

static int blocking_job(void *arg)
{
    (void)arg;
    while (sem_wait(&gate) < 0)
        ;
    return 0;
}

static int blocker(void *arg)
{
    (void)arg;
    return tulip_to_thread(blocking_job, NULL, NULL);
}

static int release_blockers(void *arg)
{
    int n = (int)(intptr_t)arg;

    /* the lookup completes while every blocking thread is busy; the
     * deadline only keeps a failing test from hanging */
    cr_expect_eq(tulip_event_wait_until(resolved_ev,
                                        tulip_now() + slow_ns(10 * TULIP_SEC)),
                 0);
    log_add("release");
    for (int i = 0; i < n; i++)
        sem_post(&gate);
    return 0;
}

Test(pool, dns_not_starved_by_blocking_jobs)
{
    tulip_task *r;
    int n = 8; /* jobs: the 2 threads, and 6 queued behind them */

    pool_begin();
    sem_init(&gate, 0, 0);
    cr_assert_eq(tulip_pool_set_size(TULIP_POOL_BLOCKING, 2), 0);
    cr_assert_eq(tulip_event_new(&resolved_ev), 0);
    for (int i = 0; i < n; i++)
        go(blocker, NULL);
    r = fx_spawn(resolve_localhost, NULL);
    go(release_blockers, (void *)(intptr_t)n);
    fx_run();
    cr_assert_eq(fx_result(r), 0);
    FX_LOG_IS("resolved release");
    cr_assert_lt(lookup_ns, slow_ns(2 * TULIP_SEC));
    tulip_task_release(r);
    tulip_event_free(resolved_ev);
    resolved_ev = NULL;
    pool_end();
    sem_destroy(&gate);
}

static int gai_errors_body(void *arg)
{
    struct addrinfo h = {.ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char host[64], serv[16], tiny[4];

    (void)arg;
    cr_expect_eq(tulip_getaddrinfo("bogus host", "80", &h, &res),
                 TULIP_EAI_NONAME);
    cr_expect_null(res);
    h.ai_flags = 0;
    h.ai_socktype = SOCK_STREAM;
    cr_expect_eq(tulip_getaddrinfo("127.0.0.1", "no-such-service-y", &h, &res),
                 TULIP_EAI_SERVICE);
    cr_expect_eq(tulip_getaddrinfo("127.0.0.1", "65536", &h, &res),
                 TULIP_EAI_SERVICE);
    h.ai_family = 12345;
    cr_expect_eq(tulip_getaddrinfo("127.0.0.1", "80", &h, &res), -EAFNOSUPPORT);
    h.ai_family = AF_UNSPEC;
    h.ai_flags = 0x7fff0000;
    cr_expect_eq(tulip_getaddrinfo("127.0.0.1", "80", &h, &res), -EINVAL);
    /* a numeric host and port need no thread */
    h.ai_flags = 0;
    cr_expect_eq(tulip_getaddrinfo("::1", "443", &h, &res), 0);
    cr_expect_eq(res->ai_family, AF_INET6);
    tulip_freeaddrinfo(res);
    tulip_freeaddrinfo(NULL);
    /* getnameinfo */
    sin.sin_port = htons(80);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_expect_eq(tulip_getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
                                   sizeof(host), serv, sizeof(serv),
                                   NI_NUMERICHOST | NI_NUMERICSERV),
                 0);
    cr_expect_str_eq(host, "127.0.0.1");
    cr_expect_str_eq(serv, "80");
    cr_expect_eq(tulip_getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
                                   sizeof(host), NULL, 0, 0),
                 0);
    cr_expect_str_eq(host, "localhost"); /* /etc/hosts */
    cr_expect_eq(tulip_getnameinfo((struct sockaddr *)&sin, sizeof(sin), tiny,
                                   sizeof(tiny), NULL, 0, NI_NUMERICHOST),
                 -ENOSPC);
    cr_expect_eq(tulip_getnameinfo(NULL, 0, host, sizeof(host), NULL, 0, 0),
                 -EINVAL);
    cr_expect_eq(tulip_getnameinfo((struct sockaddr *)&sin, sizeof(sin), NULL,
                                   0, NULL, 0, 0),
                 -EINVAL);
    cr_expect_leq(tulip_pool_threads(TULIP_POOL_DNS), 4);
    return 0;
}

Test(pool, dns_results_and_errors)
{
    tulip_task *t;

    pool_begin();
    t = fx_spawn(gai_errors_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    pool_end();
}

/*
 * Lookups whose task gives up while they wait in the DNS pool's queue (its
 * one thread held by a gated job, white-box): each is taken back and freed
 * at once, and the pool is fine afterwards.
 */
static int hold_dns_thread(void *arg)
{
    struct gated g = {3};
    int r = 0, rc;

    (void)arg;
    rc = tulip__pool_run(tulip__task_running(), TULIP_POOL_DNS, gated_job, &g,
                         NULL, TULIP_FOREVER, &r);
    return rc ? rc : r;
}

static int gai_abandon_body(void *arg)
{
    struct addrinfo *res = NULL;
    int rc;

    (void)arg;
    rc = tulip_getaddrinfo_until("localhost", "80", NULL, &res,
                                 tulip_now() + 20 * TULIP_MSEC);
    cr_expect_null(res);
    return rc;
}

static int gni_abandon_body(void *arg)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char host[64];

    (void)arg;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return tulip_getnameinfo_until((struct sockaddr *)&sin, sizeof(sin), host,
                                   sizeof(host), NULL, 0, 0,
                                   tulip_now() + 20 * TULIP_MSEC);
}

static int gai_cancelled_first(void *arg)
{
    struct addrinfo *res = NULL;

    (void)arg;
    tulip_task_cancel(tulip_task_current());
    return tulip_getaddrinfo("localhost", "80", NULL, &res);
}

static int resolve_after_gate(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_sleep(50 * TULIP_MSEC), 0);
    sem_post(&gate);
    return resolve_localhost(NULL);
}

Test(pool, dns_abandoned)
{
    tulip_task *t[13];

    pool_begin();
    sem_init(&gate, 0, 0);
    cr_assert_eq(tulip_pool_set_size(TULIP_POOL_DNS, 1), 0);
    t[12] = fx_spawn(hold_dns_thread, NULL);
    for (int i = 0; i < 10; i++)
        t[i] = fx_spawn(i % 2 ? gni_abandon_body : gai_abandon_body, NULL);
    t[10] = fx_spawn(gai_cancelled_first, NULL);
    t[11] = fx_spawn(resolve_after_gate, NULL); /* still fine */
    fx_run();
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(fx_result(t[i]), -ETIMEDOUT);
        tulip_task_release(t[i]);
    }
    cr_assert_eq(fx_result(t[10]), -ECANCELED);
    cr_assert_eq(fx_result(t[11]), 0);
    cr_assert_eq(fx_result(t[12]), 3);
    tulip_task_release(t[10]);
    tulip_task_release(t[11]);
    tulip_task_release(t[12]);
    pool_end();
    sem_destroy(&gate);
}
