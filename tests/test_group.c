/* SPDX-License-Identifier: MIT */
/*
 * Task groups (asyncio.TaskGroup, trio's nursery) through the public API:
 * every child is waited for; the first child to fail cancels its siblings
 * and the body and its error is returned; an outside cancel reaches the
 * children at once; a group inside a timeout scope; nested groups and
 * grandchildren; tulip_group_cancel(); 1000 children; and the misuse and
 * error codes (-EPIPE, -ECANCELED, -EPERM, -EINVAL, -ENOMEM).
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"

static void cancel_cb(void *arg)
{
    cr_expect_eq(tulip_task_cancel(arg), 0);
}

/* A child: sleeps ms, then returns ret; records what its sleep gave. */
struct kid {
    int64_t ms;
    int ret;
    int saw;
    int64_t when;
};

static int kid_body(void *arg)
{
    struct kid *k = arg;
    k->saw = tulip_sleep(k->ms * TULIP_MSEC);
    k->when = tulip_now();
    return k->saw ? k->saw : k->ret;
}

#define MAXK 4

struct par {
    struct kid k[MAXK];
    size_t n;
    int64_t body_ms; /* the body sleeps this long before waiting */
    int body;        /* what the body's sleep returned */
    int64_t body_when;
    int rc; /* group_wait */
    int64_t when;
    int after; /* tulip_check_cancel() after the group */
    int spawn_rc[MAXK];
    tulip_group *g;
};

static int par_body(void *arg)
{
    struct par *p = arg;
    tulip_group *g;

    cr_expect_eq(tulip_group_new(&g), 0);
    p->g = g;
    for (size_t i = 0; i < p->n; i++)
        p->spawn_rc[i] = tulip_group_spawn(g, kid_body, &p->k[i], NULL, NULL);
    if (p->body_ms) {
        p->body = tulip_sleep(p->body_ms * TULIP_MSEC);
        p->body_when = tulip_now();
    }
    p->rc = tulip_group_wait(g);
    p->when = tulip_now();
    p->after = tulip_check_cancel();
    return 0;
}

Test(group, all_children_awaited)
{
    struct par p = {.n = 3, .k = {{30, 0, 0, 0}, {10, 1, 0, 0}, {20, 2, 0, 0}}};

    fx_begin();
    tulip_task *t = fx_spawn(par_body, &p);
    fx_run();
    cr_assert_eq(p.rc, 0);
    cr_assert_eq(p.when, 30 * TULIP_MSEC);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(p.k[i].saw, 0);
    cr_assert_eq(p.after, 0);
    tulip_task_release(t);
    fx_end();
}

Test(group, empty_group)
{
    struct par p = {.n = 0};

    fx_begin();
    tulip_task *t = fx_spawn(par_body, &p);
    fx_run();
    cr_assert_eq(p.rc, 0);
    tulip_task_release(t);
    fx_end();
}

/* The first failure cancels the siblings and the body, at once. */
Test(group, first_failure_cancels_siblings_and_body)
{
    struct par p = {
        .n = 3,
        .body_ms = 5000,
        .k = {{1000, 0, 0, 0}, {10, -EIO, 0, 0}, {20, -EPIPE, 0, 0}}};

    fx_begin();
    tulip_task *t = fx_spawn(par_body, &p);
    fx_run();
    cr_assert_eq(p.rc, -EIO);
    cr_assert_eq(p.body, -ECANCELED);
    cr_assert_eq(p.body_when, 10 * TULIP_MSEC);
    cr_assert_eq(p.k[0].saw, -ECANCELED);
    cr_assert_eq(p.k[0].when, 10 * TULIP_MSEC);
    cr_assert_eq(p.k[2].saw, -ECANCELED);
    cr_assert_eq(p.when, 10 * TULIP_MSEC);
    cr_assert_eq(p.after, 0); /* the parent itself was not cancelled */
    cr_assert_eq(fx_reports, 0);
    tulip_task_release(t);
    fx_end();
}

/* Children with slow shielded cleanup are still waited for. */
static int slow_cleanup_kid(void *arg)
{
    struct tulip_scope sh;
    int rc = tulip_sleep(100 * TULIP_SEC);

    (void)arg;
    tulip_scope_enter(&sh, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    tulip_sleep(2 * TULIP_SEC);
    tulip_scope_exit(&sh);
    log_add("cleaned");
    return rc;
}

static int fail_at_1s(void *arg)
{
    (void)arg;
    tulip_sleep(TULIP_SEC);
    return -EIO;
}

struct slow {
    int rc;
    int64_t when;
};

static int slow_parent(void *arg)
{
    struct slow *s = arg;
    tulip_group *g;

    tulip_group_new(&g);
    tulip_group_spawn(g, slow_cleanup_kid, NULL, NULL, NULL);
    tulip_group_spawn(g, slow_cleanup_kid, NULL, NULL, NULL);
    tulip_group_spawn(g, fail_at_1s, NULL, NULL, NULL);
    s->rc = tulip_group_wait(g);
    s->when = tulip_now();
    return 0;
}

Test(group, waits_for_cleanup_of_cancelled_children)
{
    struct slow s = {0};

    fx_begin();
    tulip_task *t = fx_spawn(slow_parent, &s);
    fx_run();
    cr_assert_eq(s.rc, -EIO);
    cr_assert_eq(s.when, 3 * TULIP_SEC);
    FX_LOG_IS("cleaned cleaned");
    tulip_task_release(t);
    fx_end();
}

/* An outside cancel while the parent waits reaches the children at once. */
Test(group, outside_cancel_in_wait_reaches_children)
{
    struct par p = {.n = 2, .k = {{5000, 0, 0, 0}, {7000, 0, 0, 0}}};

    fx_begin();
    tulip_task *t = fx_spawn(par_body, &p);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(p.rc, -ECANCELED);
    cr_assert_eq(p.when, TULIP_SEC);
    cr_assert_eq(p.k[0].saw, -ECANCELED);
    cr_assert_eq(p.k[0].when, TULIP_SEC);
    cr_assert_eq(p.k[1].when, TULIP_SEC);
    cr_assert_eq(p.after, -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

/* ... and while the parent is still in the body. */
Test(group, outside_cancel_in_body_reaches_children)
{
    struct par p = {
        .n = 2, .body_ms = 3000, .k = {{5000, 0, 0, 0}, {7000, 0, 0, 0}}};

    fx_begin();
    tulip_task *t = fx_spawn(par_body, &p);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(p.body, -ECANCELED);
    cr_assert_eq(p.k[0].when, TULIP_SEC);
    cr_assert_eq(p.k[1].saw, -ECANCELED);
    cr_assert_eq(p.rc, -ECANCELED);
    cr_assert_eq(p.when, TULIP_SEC);
    tulip_task_release(t);
    fx_end();
}

/* A parent already cancelled, with no child left: group_wait still tells
 * -ECANCELED (every suspending call checks first). */
static int cancelled_empty(void *arg)
{
    struct par *p = arg;
    tulip_group *g;

    tulip_group_new(&g);
    tulip_task_cancel(tulip_task_current());
    p->rc = tulip_group_wait(g);
    return 0;
}

Test(group, wait_when_cancelled_without_children)
{
    struct par p = {0};

    fx_begin();
    tulip_task *t = fx_spawn(cancelled_empty, &p);
    fx_run();
    cr_assert_eq(p.rc, -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

struct scoped {
    struct par p;
    int exit;
};

static int scoped_parent(void *arg)
{
    struct scoped *s = arg;
    struct tulip_scope sc;

    tulip_scope_enter(&sc, TULIP_SEC, 0);
    par_body(&s->p);
    s->exit = tulip_scope_exit(&sc);
    return 0;
}

Test(group, inside_timeout_scope)
{
    struct scoped s = {.p = {.n = 2, .k = {{5000, 0, 0, 0}, {500, 0, 0, 0}}}};

    fx_begin();
    tulip_task *t = fx_spawn(scoped_parent, &s);
    fx_run();
    cr_assert_eq(s.p.rc, -ETIMEDOUT);
    cr_assert_eq(s.p.when, TULIP_SEC);
    cr_assert_eq(s.p.k[0].saw, -ECANCELED);
    cr_assert_eq(s.p.k[1].saw, 0);
    cr_assert_eq(s.exit, -ETIMEDOUT);
    cr_assert_eq(s.p.after, -ETIMEDOUT); /* still inside the scope */
    tulip_task_release(t);
    fx_end();
}

/* Nested groups: a failure in the outer group cancels the inner group's
 * body and children too. */
struct nested {
    struct kid inner_k[2];
    int inner_rc, outer_rc;
    int64_t inner_when;
};

static int nested_parent(void *arg)
{
    struct nested *n = arg;
    tulip_group *outer, *inner;

    tulip_group_new(&outer);
    tulip_group_spawn(outer, fail_at_1s, NULL, NULL, NULL);
    tulip_group_new(&inner);
    tulip_group_spawn(inner, kid_body, &n->inner_k[0], NULL, NULL);
    tulip_group_spawn(inner, kid_body, &n->inner_k[1], NULL, NULL);
    n->inner_rc = tulip_group_wait(inner);
    n->inner_when = tulip_now();
    n->outer_rc = tulip_group_wait(outer);
    return 0;
}

Test(group, nested_outer_failure_cancels_inner)
{
    struct nested n = {.inner_k = {{5000, 0, 0, 0}, {6000, 0, 0, 0}}};

    fx_begin();
    tulip_task *t = fx_spawn(nested_parent, &n);
    fx_run();
    cr_assert_eq(n.inner_rc, -ECANCELED);
    cr_assert_eq(n.inner_when, TULIP_SEC);
    cr_assert_eq(n.inner_k[0].saw, -ECANCELED);
    cr_assert_eq(n.inner_k[1].saw, -ECANCELED);
    cr_assert_eq(n.outer_rc, -EIO);
    tulip_task_release(t);
    fx_end();
}

/* Grandchildren: a child that runs a group of its own. Cancelling the top
 * parent reaches them at once. */
static int middle(void *arg)
{
    struct par *p = arg;
    return par_body(p) == 0 ? p->rc : -1;
}

struct tree {
    struct par mid;
    int rc;
};

static int top(void *arg)
{
    struct tree *tr = arg;
    tulip_group *g;

    tulip_group_new(&g);
    tulip_group_spawn(g, middle, &tr->mid, NULL, NULL);
    tr->rc = tulip_group_wait(g);
    return 0;
}

Test(group, cancel_reaches_grandchildren)
{
    struct tree tr = {.mid = {.n = 2, .k = {{5000, 0, 0, 0}, {6000, 0, 0, 0}}}};

    fx_begin();
    tulip_task *t = fx_spawn(top, &tr);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(tr.mid.k[0].saw, -ECANCELED);
    cr_assert_eq(tr.mid.k[0].when, TULIP_SEC);
    cr_assert_eq(tr.mid.k[1].when, TULIP_SEC);
    cr_assert_eq(tr.mid.rc, -ECANCELED);
    cr_assert_eq(tr.rc, -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

/* tulip_group_cancel from the body: children and body cancelled, the
 * group ends normally, the parent is not cancelled. */
static int cancel_own_group(void *arg)
{
    struct par *p = arg;
    tulip_group *g;

    tulip_group_new(&g);
    tulip_group_spawn(g, kid_body, &p->k[0], NULL, NULL);
    tulip_sleep(TULIP_SEC);
    cr_expect_eq(tulip_group_cancel(g), 0);
    p->body = tulip_sleep(TULIP_SEC);
    p->spawn_rc[0] = tulip_group_spawn(g, kid_body, &p->k[1], NULL, NULL);
    p->rc = tulip_group_wait(g);
    p->when = tulip_now();
    p->after = tulip_check_cancel();
    return 0;
}

Test(group, group_cancel_from_body)
{
    struct par p = {.k = {{5000, 0, 0, 0}, {1, 0, 0, 0}}};

    fx_begin();
    cr_assert_eq(tulip_group_cancel(NULL), -EINVAL);
    tulip_task *t = fx_spawn(cancel_own_group, &p);
    fx_run();
    cr_assert_eq(p.body, -ECANCELED);
    cr_assert_eq(p.spawn_rc[0], -ECANCELED);
    cr_assert_eq(p.k[0].saw, -ECANCELED);
    cr_assert_eq(p.rc, 0);
    cr_assert_eq(p.when, TULIP_SEC);
    cr_assert_eq(p.after, 0);
    tulip_task_release(t);
    fx_end();
}

/* ---- many children ------------------------------------------------------- */

static int tiny_kid(void *arg)
{
    int *count = arg;
    tulip_sleep((*count % 7) * TULIP_MSEC);
    (*count)++;
    return 0;
}

struct many {
    int count;
    int rc;
    int spawn_fail;
};

static int many_parent(void *arg)
{
    struct many *m = arg;
    tulip_group *g;

    tulip_group_new(&g);
    for (int i = 0; i < 1000; i++)
        if (tulip_group_spawn(g, tiny_kid, &m->count, NULL, NULL))
            m->spawn_fail++;
    m->rc = tulip_group_wait(g);
    return 0;
}

Test(group, thousand_children)
{
    struct many m = {0};
    tulip_loop *l0;

    /* A first round grows the thread's stack pool (its lists of free
     * stacks live as long as the thread) before the count starts. */
    cr_assert_eq(tulip_loop_new(&l0, &(struct tulip_loop_opts){0}), 0);
    cr_assert_eq(tulip_spawn(NULL, l0, many_parent, &m), 0);
    cr_assert_eq(tulip_loop_run(l0), 0);
    cr_assert_eq(tulip_loop_close(l0), 0);
    cr_assert_eq(m.count, 1000);
    m.count = 0;
    fx_begin();
    tulip_task *t = fx_spawn(many_parent, &m);
    fx_run();
    cr_assert_eq(m.spawn_fail, 0);
    cr_assert_eq(m.rc, 0);
    cr_assert_eq(m.count, 1000);
    tulip_task_release(t);
    fx_end();
}

/* ---- misuse and errors --------------------------------------------------- */

struct mis {
    tulip_group *g;
    int r[16];
    tulip_task *out;
};

static int spawner_kid(void *arg)
{
    struct mis *m = arg;
    tulip_task *t = (tulip_task *)m;

    /* The parent is in group_wait by now: the group is closed. */
    tulip_sleep(TULIP_MSEC);
    m->r[10] = tulip_group_spawn(m->g, kid_body, NULL, NULL, &t);
    m->r[11] = t == NULL;
    m->r[12] = tulip_group_wait(m->g); /* not its group */
    return 0;
}

static int misuse_parent(void *arg)
{
    struct mis *m = arg;
    struct tulip_scope s;
    tulip_group *g;

    m->r[0] = tulip_group_new(NULL);
    m->r[1] = tulip_group_new(&g);
    m->g = g;
    m->r[2] = tulip_group_spawn(NULL, kid_body, NULL, NULL, NULL);
    m->r[3] = tulip_group_spawn(g, NULL, NULL, NULL, NULL);
    m->r[4] = tulip_group_wait(NULL);
    tulip_scope_enter(&s, TULIP_FOREVER, 0);
    m->r[5] = tulip_group_wait(g); /* s is innermost */
    tulip_scope_exit(&s);
    m->r[6] = tulip_group_spawn(g, spawner_kid, m, NULL, &m->out);
    m->r[7] = tulip_group_wait(g);
    return 0;
}

Test(group, misuse_and_errors)
{
    struct mis m = {0};
    tulip_group *g = (tulip_group *)&m;

    fx_begin();
    cr_assert_eq(tulip_group_new(&g), -EPERM);
    cr_assert_eq(tulip_group_new(NULL), -EINVAL);
    tulip_task *t = fx_spawn(misuse_parent, &m);
    fx_run();
    cr_assert_eq(m.r[0], -EINVAL);
    cr_assert_eq(m.r[1], 0);
    cr_assert_eq(m.r[2], -EINVAL);
    cr_assert_eq(m.r[3], -EINVAL);
    cr_assert_eq(m.r[4], -EINVAL);
    cr_assert_eq(m.r[5], -EPERM);
    cr_assert_eq(m.r[6], 0);
    cr_assert_eq(m.r[7], 0);
    cr_assert_eq(m.r[10], -EPIPE);
    cr_assert_eq(m.r[11], 1);
    cr_assert_eq(m.r[12], -EPERM);
    cr_assert_eq(fx_result(m.out), 0);
    tulip_task_release(m.out);
    tulip_task_release(t);
    fx_end();
}

static int enomem_parent(void *arg)
{
    struct mis *m = arg;
    tulip_group *g = (tulip_group *)m;
    struct kid k = {1, 0, 0, 0};
    /* A task lives on its stack: a spawn takes heap memory only when the
     * stack pool grows, here for a stack size not used before. */
    struct tulip_task_opts fresh = {.stack_size = 200 * 1024};

    test_alloc_fail_nth(&alloc_c, 1, false);
    m->r[0] = tulip_group_new(&g);
    m->r[1] = g == NULL;
    m->r[2] = tulip_group_new(&g);
    test_alloc_fail_nth(&alloc_c, 1, true);
    m->r[3] = tulip_group_spawn(g, kid_body, &k, &fresh, &m->out);
    test_alloc_fail_nth(&alloc_c, 0, false);
    m->r[4] = tulip_group_spawn(g, kid_body, &k, NULL, NULL);
    m->r[5] = tulip_group_wait(g);
    return 0;
}

Test(group, enomem)
{
    struct mis m = {0};

    fx_begin();
    tulip_task *t = fx_spawn(enomem_parent, &m);
    fx_run();
    cr_assert_eq(m.r[0], -ENOMEM);
    cr_assert_eq(m.r[1], 1);
    cr_assert_eq(m.r[2], 0);
    cr_assert_eq(m.r[3], -ENOMEM);
    cr_assert_null(m.out);
    cr_assert_eq(m.r[4], 0);
    cr_assert_eq(m.r[5], 0);
    tulip_task_release(t);
    fx_end();
}

/* An eager child runs inside tulip_group_spawn. */
static int eager_kid(void *arg)
{
    (void)arg;
    log_add("kid1");
    tulip_sleep(0);
    log_add("kid2");
    return -EIO;
}

static int eager_parent(void *arg)
{
    struct par *p = arg;
    struct tulip_task_opts o = {.eager = true};
    tulip_group *g;

    tulip_group_new(&g);
    log_add("p1");
    p->spawn_rc[0] = tulip_group_spawn(g, eager_kid, NULL, &o, NULL);
    log_add("p2");
    p->rc = tulip_group_wait(g);
    return 0;
}

Test(group, eager_child)
{
    struct par p = {0};

    fx_begin();
    tulip_task *t = fx_spawn(eager_parent, &p);
    fx_run();
    FX_LOG_IS("p1 kid1 p2 kid2");
    cr_assert_eq(p.spawn_rc[0], 0);
    cr_assert_eq(p.rc, -EIO);
    cr_assert_eq(fx_reports, 0);
    tulip_task_release(t);
    fx_end();
}

/* Returning with a group open is misuse: reported, and nothing leaks. */
static int forgets_wait(void *arg)
{
    struct kid *k = arg;
    tulip_group *g;

    tulip_group_new(&g);
    tulip_group_spawn(g, kid_body, k, NULL, NULL);
    return 0;
}

Test(group, returning_with_open_group_is_reported)
{
    struct kid k = {1000, 0, 0, 0};

    fx_begin();
    tulip_task *t = fx_spawn(forgets_wait, &k);
    fx_run();
    cr_assert_eq(fx_reports, 1);
    cr_assert(strstr(fx_report_msg, "group still open"), "%s", fx_report_msg);
    cr_assert_eq(k.saw, 0); /* the child ran on */
    tulip_task_release(t);
    fx_end();
}

/* Loop closed while a group waits: everything is freed. */
Test(group, loop_close_with_waiting_group)
{
    struct par p = {.n = 2, .k = {{5000, 0, 0, 0}, {7000, 0, 0, 0}}};

    fx_begin();
    tulip_task *t = fx_spawn(par_body, &p);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    tulip_task_release(t);
    fx_end();
    cr_assert_eq(fx_reports, 3);
}

/* A group opened inside a shield keeps its children when the parent is
 * cancelled; one opened outside the shield loses them at once. */
struct shg {
    struct kid in_k, out_k;
    int in_rc, out_rc, body, after;
    int64_t in_when;
};

static int shield_groups(void *arg)
{
    struct shg *s = arg;
    struct tulip_scope sh;
    tulip_group *outer, *inner;

    tulip_group_new(&outer);
    tulip_group_spawn(outer, kid_body, &s->out_k, NULL, NULL);
    tulip_scope_enter(&sh, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    tulip_group_new(&inner);
    tulip_group_spawn(inner, kid_body, &s->in_k, NULL, NULL);
    s->in_rc = tulip_group_wait(inner);
    s->in_when = tulip_now();
    tulip_scope_exit(&sh);
    s->out_rc = tulip_group_wait(outer);
    s->after = tulip_check_cancel();
    return 0;
}

Test(group, shield_keeps_inner_group_children)
{
    struct shg s = {.in_k = {2000, 0, 0, 0}, .out_k = {5000, 0, 0, 0}};

    fx_begin();
    tulip_task *t = fx_spawn(shield_groups, &s);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(s.in_k.saw, 0);
    cr_assert_eq(s.in_rc, 0);
    cr_assert_eq(s.in_when, 2 * TULIP_SEC);
    cr_assert_eq(s.out_k.saw, -ECANCELED);
    cr_assert_eq(s.out_k.when, TULIP_SEC);
    cr_assert_eq(s.out_rc, -ECANCELED);
    cr_assert_eq(s.after, -ECANCELED);
    tulip_task_release(t);
    fx_end();
}
