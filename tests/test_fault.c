/* SPDX-License-Identifier: MIT */
/*
 * Fault injection: the failure points of src/fault.h in a testing build
 * (-DTULIP_TESTING=ON: the nth call, every call from the nth on, a
 * probability from a seed, the site's own errors, $TULIP_FAULT's syntax),
 * and in every build the regressions that the fault sweep
 * (tests/fault/fault_sweep.c) found: a task group whose wait could not arm
 * its deadline's timer returned 0 with its children cancelled, and a
 * server freed before its supervisor's first step leaked itself and its
 * listening socket.
 */
/* ctest: labels=unit;fault timeout=60 */
#define _GNU_SOURCE 1
#include "net_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include "fault.h"

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

/* ---- the failure points (testing builds) ----------------------------------
 */

#if TULIP_TESTING

Test(fault, nth_call_of_a_site_fails_once)
{
    struct tulip__fault_plan p = {
        .site = TULIP__FAULT_read, .nth = 2, .err = ECONNRESET};
    char b;
    int fds[2];

    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "abc", 3), 3);
    tulip__fault_set(&p);
    cr_assert_eq(TULIP_SYS(read)(fds[0], &b, 1), 1);
    cr_assert_eq(TULIP_SYS(read)(fds[0], &b, 1), -1);
    cr_assert_eq(errno, ECONNRESET);
    cr_assert_eq(TULIP_SYS(read)(fds[0], &b, 1), 1);
    cr_assert_eq(b, 'b'); /* the failed call read nothing */
    cr_assert_eq(tulip__fault_calls(TULIP__FAULT_read), 3);
    cr_assert_eq(tulip__fault_calls(-1), 3);
    cr_assert_eq(tulip__fault_failed(), 1);
    cr_assert_eq(tulip__fault_failed_hard(), 1);
    tulip__fault_set(NULL);
    cr_assert_eq(tulip__fault_calls(-1), 0);
    close(fds[0]);
    close(fds[1]);
}

Test(fault, every_call_from_nth_and_other_sites_untouched)
{
    struct tulip__fault_plan p = {
        .site = TULIP__FAULT_eventfd, .nth = 2, .every = true};
    int fd;

    tulip__fault_set(&p);
    fd = TULIP_SYS(eventfd)(0, 0);
    cr_assert_geq(fd, 0);
    close(fd);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(TULIP_SYS(eventfd)(0, 0), -1);
        cr_assert_eq(errno, EMFILE); /* the site's first error */
    }
    fd = TULIP_SYS(socket)(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    close(fd);
    tulip__fault_set(NULL);
}

Test(fault, alloc_fails_and_the_library_reports_enomem)
{
    struct tulip__fault_plan p = {.site = TULIP__FAULT_alloc, .nth = 1};
    tulip_loop *l = NULL;

    tulip__fault_set(&p);
    cr_assert_eq(tulip_loop_new(&l, NULL), -ENOMEM);
    cr_assert_null(l);
    cr_assert_eq(tulip__fault_failed(), 1);
    tulip__fault_set(NULL);
}

Test(fault, probability_is_repeatable_from_the_seed)
{
    struct tulip__fault_plan p = {.site = -1, .p = 0.3, .seed = 7};
    bool first[200];
    int fails = 0;

    tulip__fault_set(&p);
    for (int i = 0; i < 200; i++)
        fails += first[i] = TULIP_FAULT(alloc);
    cr_assert(fails > 30 && fails < 100, "%d of 200 failed", fails);
    tulip__fault_set(&p);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(TULIP_FAULT(alloc), first[i]);
    tulip__fault_set(NULL);
}

Test(fault, site_errors_are_picked_when_none_is_given)
{
    struct tulip__fault_plan p = {.site = -1, .nth = 1, .every = true};
    int n;
    const int *errs = tulip__fault_site_errors(TULIP__FAULT_accept4, &n);
    bool seen[8] = {0};

    cr_assert_eq(n, 4);
    tulip__fault_set(&p);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(TULIP_SYS(accept4)(-1, NULL, NULL, 0), -1);
        for (int e = 0; e < n; e++)
            seen[e] |= errno == errs[e];
    }
    tulip__fault_set(NULL);
    for (int e = 0; e < n; e++)
        cr_assert(seen[e], "%s never picked", tulip__fault_errno_name(errs[e]));
}

Test(fault, parse_the_environment_syntax)
{
    struct tulip__fault_plan p;

    cr_assert_eq(tulip__fault_parse("site=read,nth=17,err=ECONNRESET", &p), 0);
    cr_assert_eq(p.site, TULIP__FAULT_read);
    cr_assert_eq(p.nth, 17);
    cr_assert_eq(p.err, ECONNRESET);
    cr_assert_not(p.every);
    cr_assert_eq(tulip__fault_parse("site=any,p=0.25,seed=9,every=1", &p), 0);
    cr_assert_eq(p.site, -1);
    cr_assert_float_eq(p.p, 0.25, 1e-12);
    cr_assert_eq(p.seed, 9);
    cr_assert(p.every);
    cr_assert_eq(tulip__fault_parse("site=nope", &p), -EINVAL);
    cr_assert_eq(tulip__fault_parse("err=EWHAT", &p), -EINVAL);
    cr_assert_eq(tulip__fault_parse("nth=x", &p), -EINVAL);
    cr_assert_eq(tulip__fault_parse("p=2", &p), -EINVAL);
    cr_assert_eq(tulip__fault_parse("nth", &p), -EINVAL);
    cr_assert_eq(tulip__fault_parse("color=red", &p), -EINVAL);
    cr_assert_eq(tulip__fault_parse(NULL, &p), -EINVAL);
    cr_assert_eq(tulip__fault_site_by_name("epoll_wait"),
                 TULIP__FAULT_epoll_wait);
    cr_assert_str_eq(tulip__fault_site_name(TULIP__FAULT_pipe2), "pipe2");
    cr_assert_str_eq(tulip__fault_site_name(-1), "any");
}

#else /* !TULIP_TESTING */

Test(fault, points_are_the_plain_calls)
{
    char b;
    int fds[2];

    cr_assert_eq(TULIP_FAULT(alloc), 0);
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    cr_assert_eq(TULIP_SYS(read)(fds[0], &b, 1), 1);
    close(fds[0]);
    close(fds[1]);
}

#endif /* TULIP_TESTING */

/* ---- regressions found by the sweep ---------------------------------------
 */

static int sleeps_long(void *arg)
{
    (void)arg;
    return tulip_sleep(3600 * TULIP_SEC);
}

/* group_wait under a deadline, with the deadline's timer unable to be armed
 * (the loop's first timer: the heap must grow). */
static int wait_without_timer_memory(void *arg)
{
    struct tulip_scope sc;
    tulip_group *g;
    int rc;

    (void)arg;
    cr_expect_eq(tulip_scope_enter(&sc, tulip_now() + TULIP_SEC, 0), 0);
    cr_expect_eq(tulip_group_new(&g), 0);
    cr_expect_eq(tulip_group_spawn(g, sleeps_long, NULL, NULL, NULL), 0);
    test_alloc_fail_nth(&alloc_c, 1, false);
    rc = tulip_group_wait(g);
    test_alloc_fail_nth(&alloc_c, 0, false);
    cr_expect_eq(tulip_scope_exit(&sc), 0);
    return rc;
}

Test(fault_regress, group_wait_reports_enomem_not_success)
{
    fx_begin();
    tulip_task *t = fx_spawn(wait_without_timer_memory, NULL);
    cr_assert_eq(fx_run_until(t), -ENOMEM);
    cr_assert_eq(alloc_c.failures, 1);
    tulip_task_release(t);
    fx_end();
}

static int never_called(tulip_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    return -EIO;
}

static int start_then_free(void *arg)
{
    struct tulip_server_opts o = {.host = "127.0.0.1", .port = "0"};
    tulip_server *srv;
    int rc = tulip_server_start(&srv, never_called, NULL, &o);

    (void)arg;
    if (rc)
        return rc;
    tulip_server_free(srv); /* before its supervisor's first step */
    return tulip_sleep(TULIP_MSEC);
}

Test(fault_regress, server_freed_before_it_starts_leaks_nothing)
{
    net_begin();
    int fds0 = count_fds();
    tulip_task *t = fx_spawn(start_then_free, NULL);
    cr_assert_eq(fx_run_until(t), 0);
    tulip_task_release(t);
    cr_assert_eq(count_fds(), fds0, "fds: %d, not %d", count_fds(), fds0);
    net_end();
}

Test(fault_regress, server_freed_outside_tasks_before_the_loop_runs)
{
    struct tulip_server_opts o = {
        .host = "127.0.0.1", .port = "0", .loop = NULL};
    tulip_server *srv;

    net_begin();
    int fds0 = count_fds();
    o.loop = loop;
    cr_assert_eq(tulip_server_start(&srv, never_called, NULL, &o), 0);
    cr_assert_eq(count_fds(), fds0 + 1);
    tulip_server_free(srv);
    cr_assert_eq(count_fds(), fds0);
    cr_assert_eq(tulip_loop_run(loop), 0);
    net_end();
}

/* A connection accepted, its handler spawned but not started, when the
 * server is freed: the handler is cancelled before its first step. */
static int connect_and_wait(void *arg)
{
    char ps[16], b;
    int fd, rc;

    snprintf(ps, sizeof(ps), "%d", *(int *)arg);
    rc = tulip_tcp_connect(&fd, "127.0.0.1", ps, NULL);
    if (rc)
        return rc;
    /* end of file when dropped; never in a leak */
    rc = (int)tulip_recv_until(fd, &b, 1, 0, tulip_now() + slow_ns(TULIP_SEC));
    tulip_fd_close(fd);
    return rc;
}

static int free_with_unstarted_handler(void *arg)
{
    struct tulip_server_opts o = {.host = "127.0.0.1", .port = "0"};
    tulip_server *srv;
    tulip_task *c;
    int port, rc;

    (void)arg;
    rc = tulip_server_start(&srv, never_called, NULL, &o);
    if (rc)
        return rc;
    port = tulip_server_port(srv);
    rc = tulip_spawn(&c, NULL, connect_and_wait, &port);
    if (rc)
        return rc;
    while (!rc && tulip_server_connections(srv) == 0)
        rc = tulip_sleep(0);
    tulip_server_free(srv); /* the handler has not run yet */
    rc = rc ? rc : tulip_task_join(c, &rc);
    tulip_task_release(c);
    return rc;
}

Test(fault_regress, server_freed_with_a_handler_not_started)
{
    net_begin();
    int fds0 = count_fds();
    tulip_task *t = fx_spawn(free_with_unstarted_handler, NULL);
    cr_assert_eq(fx_run_until(t), 0);
    tulip_task_release(t);
    cr_assert_eq(count_fds(), fds0, "fds: %d, not %d", count_fds(), fds0);
    net_end();
}
