/* SPDX-License-Identifier: MIT */
/*
 * White-box tests of the loop's internal interface (src/loop/loop.h): the
 * 4-ary timer heap checked against its invariant after random starts and
 * stops, firing order by (deadline, insertion sequence), stopping a timer
 * that is already due, re-arming from the callback, heap growth failure,
 * intrusive ready entries, the keep-alive count and the task layer's hooks.
 */
/* ctest: labels=unit;backends timeout=120 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_hook.h"
#include "loop/loop_int.h"

#define ROOT 3u

TestSuite(timer, .timeout = 20);

static tulip_loop *new_vloop(void)
{
    tulip_loop *loop;
    struct tulip_loop_opts o = {.virtual_clock = true};
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    return loop;
}

/* Every entry knows its index, mirrors its timer's deadline, and is not
 * smaller than its parent by (deadline, seq). */
static void check_heap(tulip_loop *loop)
{
    for (size_t i = ROOT; i < ROOT + loop->heap_size; i++) {
        struct tulip__heap_entry *e = &loop->heap[i];
        cr_assert_eq(e->t->heap_index, i);
        cr_assert_eq(e->deadline_ns, e->t->deadline_ns);
        if (i == ROOT)
            continue;
        struct tulip__heap_entry *p = &loop->heap[i / 4 + 2];
        cr_assert(p->deadline_ns < e->deadline_ns ||
                  (p->deadline_ns == e->deadline_ns && p->t->seq < e->t->seq));
    }
    cr_assert_eq((uintptr_t)&loop->heap[4] % 64, 0, "children share a line");
}

struct rec_timer {
    struct tulip__timer t;
    int id;
};

static int fired[20000];
static int64_t fired_at[20000];
static uint64_t fired_seq[20000];
static int nfired;
static tulip_loop *cur;

static void rec_fire(struct tulip__timer *t)
{
    struct rec_timer *r = tulip__container_of(t, struct rec_timer, t);
    cr_expect_not(tulip__timer_armed(t), "disarmed before fn runs");
    fired_at[nfired] = t->deadline_ns;
    fired_seq[nfired] = t->seq;
    fired[nfired++] = r->id;
}

Test(timer, random_heap_keeps_invariant_and_fires_in_order)
{
    enum { N = 10000 };
    static struct rec_timer ts[N];
    tulip_loop *loop = cur = new_vloop();
    srand(12345);
    nfired = 0;
    for (int i = 0; i < N; i++) {
        ts[i].id = i;
        tulip__timer_init(&ts[i].t, rec_fire);
        cr_assert_not(tulip__timer_armed(&ts[i].t));
        /* few distinct deadlines: many ties */
        cr_assert_eq(tulip__loop_timer_start(loop, &ts[i].t, rand() % 500), 0);
        if (i % 1000 == 0)
            check_heap(loop);
    }
    check_heap(loop);
    int armed = N;
    for (int k = 0; k < 20000; k++) {
        struct rec_timer *r = &ts[rand() % N];
        if (rand() % 2) {
            armed -= tulip__timer_armed(&r->t);
            tulip__loop_timer_stop(loop, &r->t);
            tulip__loop_timer_stop(loop, &r->t); /* no-op */
        } else {
            armed += !tulip__timer_armed(&r->t);
            tulip__loop_timer_start(loop, &r->t, rand() % 500);
        }
        if (k % 997 == 0)
            check_heap(loop);
    }
    check_heap(loop);
    cr_assert_eq(loop->heap_size, (size_t)armed);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nfired, armed);
    for (int i = 1; i < nfired; i++)
        cr_assert(fired_at[i - 1] < fired_at[i] ||
                  (fired_at[i - 1] == fired_at[i] &&
                   fired_seq[i - 1] < fired_seq[i]));
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static struct rec_timer a, b, c;

static void stop_b(struct tulip__timer *t)
{
    rec_fire(t);
    cr_expect(tulip__timer_armed(&b.t), "due, not yet run: still armed");
    tulip__loop_timer_stop(cur, &b.t);
    cr_expect_not(tulip__timer_armed(&b.t));
}

/* A due timer stopped by an earlier callback of the same pass never runs. */
Test(timer, stop_due_timer_in_same_pass)
{
    tulip_loop *loop = cur = new_vloop();
    nfired = 0;
    a.id = 1, b.id = 2, c.id = 3;
    tulip__timer_init(&a.t, stop_b);
    tulip__timer_init(&b.t, rec_fire);
    tulip__timer_init(&c.t, rec_fire);
    tulip__loop_timer_start(loop, &a.t, 10);
    tulip__loop_timer_start(loop, &b.t, 10);
    tulip__loop_timer_start(loop, &c.t, 10);
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_eq(nfired, 2);
    cr_assert_eq(fired[0], 1);
    cr_assert_eq(fired[1], 3);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static void restart_b(struct tulip__timer *t)
{
    rec_fire(t);
    /* stop and re-arm a due timer: it runs later, not in this pass */
    tulip__loop_timer_start(cur, &b.t, 50);
}

Test(timer, rearm_due_timer_moves_it)
{
    tulip_loop *loop = cur = new_vloop();
    nfired = 0;
    a.id = 1, b.id = 2;
    tulip__timer_init(&a.t, restart_b);
    tulip__timer_init(&b.t, rec_fire);
    tulip__loop_timer_start(loop, &a.t, 10);
    tulip__loop_timer_start(loop, &b.t, 10);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_eq(nfired, 1);
    cr_assert(tulip__timer_armed(&b.t));
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nfired, 2);
    cr_assert_eq(fired_at[1], 50);
    cr_assert_eq(tulip_loop_time_ns(loop), 50);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static int periodic_left;

static void periodic(struct tulip__timer *t)
{
    rec_fire(t);
    if (--periodic_left > 0)
        cr_expect_eq(tulip__loop_timer_start(cur, t, t->deadline_ns + 100), 0);
}

Test(timer, rearm_from_callback)
{
    tulip_loop *loop = cur = new_vloop();
    nfired = 0;
    periodic_left = 5;
    tulip__timer_init(&a.t, periodic);
    tulip__loop_timer_start(loop, &a.t, 100);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nfired, 5);
    cr_assert_eq(fired_at[4], 500);
    cr_assert_eq(tulip__loop_now(loop), 500);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

Test(timer, heap_growth_failure)
{
    enum { N = 200 };
    static struct rec_timer ts[N];
    struct test_alloc al;
    test_alloc_install(&al);
    tulip_loop *loop = cur = new_vloop();
    nfired = 0;
    int ok = 0, rc = 0;
    test_alloc_fail_nth(&al, 1, true);
    for (int i = 0; i < N; i++) {
        tulip__timer_init(&ts[i].t, rec_fire);
        rc = tulip__loop_timer_start(loop, &ts[i].t, i);
        if (rc < 0) {
            cr_assert_eq(rc, -ENOMEM);
            cr_assert_not(tulip__timer_armed(&ts[i].t));
            break;
        }
        ok++;
    }
    test_alloc_fail_nth(&al, 0, false);
    cr_assert_eq(rc, -ENOMEM);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nfired, ok);
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(al.live_bytes, 0);
    test_alloc_remove();
}

/* ---- intrusive ready entries ----------------------------------------------
 */

struct rec_cb {
    struct tulip__cb cb;
    int id;
    int again;
};

static void cb_fire(struct tulip__cb *cb)
{
    struct rec_cb *r = tulip__container_of(cb, struct rec_cb, cb);
    fired[nfired++] = r->id;
    if (r->again-- > 0)
        tulip__loop_ready_push(cur, cb); /* runs in the next pass */
}

Test(timer, ready_entries_fifo_and_requeue)
{
    tulip_loop *loop = cur = new_vloop();
    struct rec_cb x = {.cb.fn = cb_fire, .id = 1, .again = 2};
    struct rec_cb y = {.cb.fn = cb_fire, .id = 2, .again = 0};
    nfired = 0;
    tulip__loop_ready_push(loop, &x.cb);
    tulip__loop_ready_push(loop, &y.cb);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_eq(nfired, 2);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nfired, 4);
    int expect[] = {1, 2, 1, 1};
    cr_assert_arr_eq(fired, expect, sizeof(expect));
    cr_assert_eq(tulip_loop_close(loop), 0);
}

Test(timer, ready_take_detaches_queue)
{
    tulip_loop *loop = cur = new_vloop();
    struct rec_cb x = {.cb.fn = cb_fire, .id = 1};
    struct rec_cb y = {.cb.fn = cb_fire, .id = 2};
    tulip__loop_ready_push(loop, &x.cb);
    tulip__loop_ready_push(loop, &y.cb);
    struct tulip__cb *head = tulip__loop_ready_take(loop);
    cr_assert_eq(head, &x.cb);
    cr_assert_eq(head->next, &y.cb);
    nfired = 0;
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nfired, 0);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

/* ---- keep-alive count, hooks ----------------------------------------------
 */

static void unref_cb(void *arg)
{
    tulip__loop_unref(arg);
}

Test(timer, ref_keeps_run_going)
{
    tulip_loop *loop = new_vloop();
    tulip__loop_ref(loop);
    /* the ref is dropped by a timer far away; run must wait for it */
    tulip_call_later(loop, 42, unref_cb, loop, NULL);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(tulip_loop_time_ns(loop), 42);
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static int hook_rc, hook_calls;

static int close_hook(tulip_loop *loop)
{
    hook_calls++;
    cr_expect_eq(*tulip__loop_upper(loop), (void *)&hook_rc);
    return hook_rc;
}

Test(timer, close_hook_and_upper_slot)
{
    tulip_loop *loop = new_vloop();
    cr_assert_null(*tulip__loop_upper(loop));
    *tulip__loop_upper(loop) = &hook_rc;
    tulip__loop_set_close_hook(loop, close_hook);
    hook_rc = -EBUSY;
    cr_assert_eq(tulip_loop_close(loop), -EBUSY);
    cr_assert_eq(hook_calls, 1);
    hook_rc = 0;
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(hook_calls, 2);
}

static void report_cb(struct tulip__cb *cb)
{
    (void)cb;
    struct tulip_error_context ctx = {.message = "internal", .err = -EIO};
    tulip__loop_report(cur, &ctx);
}

static int reports;

static void count_reports(tulip_loop *loop,
                          const struct tulip_error_context *ctx, void *ud)
{
    (void)loop;
    (void)ud;
    cr_expect_eq(ctx->err, -EIO);
    reports++;
}

Test(timer, internal_report_reaches_handler)
{
    tulip_loop *loop = cur = new_vloop();
    struct tulip__cb cb = {.fn = report_cb};
    tulip_loop_set_error_handler(loop, count_reports, NULL);
    tulip__loop_ready_push(loop, &cb);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(reports, 1);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

/* ---- mass expiry (timer_bulk_move) ----------------------------------------
 */

static struct rec_timer *bulk_victim;

static void bulk_first(struct tulip__timer *t)
{
    rec_fire(t);
    if (bulk_victim) {
        cr_expect(tulip__timer_armed(&bulk_victim->t));
        tulip__loop_timer_stop(cur, &bulk_victim->t);
        bulk_victim = NULL;
    }
}

static void check_fire_order(int from, int to)
{
    for (int i = from + 1; i < to; i++)
        cr_assert(fired_at[i - 1] < fired_at[i] ||
                      (fired_at[i - 1] == fired_at[i] &&
                       fired_seq[i - 1] < fired_seq[i]),
                  "fire order at %d", i);
}

/* Two thirds of 20k timers are past due (with many equal deadlines), the
 * rest in the future: one pass fires exactly the due ones in (deadline,
 * seq) order, a due timer stopped by the first callback does not fire, and
 * the heap left behind is valid. */
Test(timer, bulk_expiry)
{
    enum { N = 20000 };
    static struct rec_timer ts[N];
    tulip_loop *loop = cur = new_vloop();
    srand(777);
    nfired = 0;
    int past = 0;
    for (int i = 0; i < N; i++) {
        ts[i].id = i;
        tulip__timer_init(&ts[i].t, i == 0 ? bulk_first : rec_fire);
        int64_t d =
            i == 0 ? -1000 : (i % 3 ? -(rand() % 300) : 1 + rand() % 500);
        past += d <= 0;
        cr_assert_eq(tulip__loop_timer_start(loop, &ts[i].t, d), 0);
    }
    bulk_victim = &ts[1]; /* past due: i % 3 != 0 */
    check_heap(loop);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_eq(nfired, past - 1);
    cr_assert_eq(fired[0], 0);
    for (int i = 0; i < nfired; i++)
        cr_assert_neq(fired[i], 1, "the stopped timer fired");
    check_fire_order(0, nfired);
    cr_assert_leq(fired_at[nfired - 1], 0);
    check_heap(loop);
    cr_assert_eq(loop->heap_size, (size_t)(N - past));
    /* stop some of the rest, then let them all fire */
    int stopped = 0;
    for (int i = 0; i < N; i += 9)
        if (tulip__timer_armed(&ts[i].t)) {
            tulip__loop_timer_stop(loop, &ts[i].t);
            stopped++;
        }
    check_heap(loop);
    int before = nfired;
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nfired - before, N - past - stopped);
    check_fire_order(before, nfired);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

/* All due at once, the public way: the heap's latest deadline has passed. */
Test(timer, bulk_expiry_all_due)
{
    enum { N = 5000 };
    static struct rec_timer ts[N];
    tulip_loop *loop = cur = new_vloop();
    srand(99);
    nfired = 0;
    for (int i = 0; i < N; i++) {
        tulip__timer_init(&ts[i].t, rec_fire);
        tulip__loop_timer_start(loop, &ts[i].t, rand() % 100);
    }
    loop->virtual_now = 100; /* white-box: jump past every deadline */
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_eq(nfired, N);
    check_fire_order(0, N);
    cr_assert_eq(loop->heap_size, 0);
    cr_assert_eq(tulip_loop_close(loop), 0);
}
