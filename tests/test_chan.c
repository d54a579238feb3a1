/* SPDX-License-Identifier: MIT */
/*
 * tulip_chan: bad arguments, rendezvous, bounded and unbounded channels
 * (order, back-pressure, FIFO senders and receivers, no barging), several
 * senders and receivers (each message delivered exactly once), closing
 * either side (end of stream after draining, broken channel, closed-side
 * errors, clone counting), cancellation and deadlines of senders and
 * receivers while waiting and in the same pass as the hand-off, and select:
 * first ready wins, exactly one operation completes even when several
 * channels become ready in the same pass, stale nodes are skipped, closed
 * channels count as ready, deadlines, cancellation and allocation failure.
 * Every test closes its loop with 0 and checks that no byte and no stack
 * leaked.
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"
#include "tools.h"

#define I(n) ((void *)(uintptr_t)(n))
#define N(p) ((int)(uintptr_t)(p))

static tulip_chan *ch, *ch2;

struct op {
    const char *name;
    tulip_chan **chan;   /* NULL: &ch */
    int msg;             /* sender: the message */
    int count;           /* messages to send or receive; 0: 1 */
    int64_t delay_ns;    /* start after */
    int64_t deadline_ns; /* 0: TULIP_FOREVER */
    int rc;
    int got;
    int rc_after;
    int64_t at;
};

static tulip_chan *chan_of(const struct op *o)
{
    return o->chan ? *o->chan : ch;
}

static int64_t dl(const struct op *o)
{
    return o->deadline_ns ? o->deadline_ns : TULIP_FOREVER;
}

static int sender_body(void *arg)
{
    struct op *o = arg;

    tulip_sleep(o->delay_ns);
    for (int i = 0; i < (o->count ? o->count : 1); i++) {
        o->rc = tulip_chan_send_until(chan_of(o), I(o->msg + i), dl(o));
        o->at = tulip_now();
        if (o->rc) {
            log_add("%s:%s", o->name, tulip_err_name(o->rc));
            break;
        }
        log_add("%s:sent%d", o->name, o->msg + i);
    }
    o->rc_after = tulip_sleep(0);
    return 0;
}

static int receiver_body(void *arg)
{
    struct op *o = arg;
    void *m;

    tulip_sleep(o->delay_ns);
    for (int i = 0; i < (o->count ? o->count : 1); i++) {
        m = I(999);
        o->rc = tulip_chan_recv_until(chan_of(o), &m, dl(o));
        o->at = tulip_now();
        if (o->rc) {
            cr_expect_null(m);
            log_add("%s:%s", o->name, tulip_err_name(o->rc));
            break;
        }
        o->got += N(m);
        log_add("%s:%d", o->name, N(m));
    }
    o->rc_after = tulip_sleep(0);
    return 0;
}

static void ch_begin(size_t cap)
{
    fx_begin();
    cr_assert_eq(tulip_chan_new(&ch, cap), 0);
    cr_assert_eq(tulip_chan_new(&ch2, cap), 0);
}

static void ch_end(void)
{
    tulip_chan_free(ch);
    tulip_chan_free(ch2);
    ch = ch2 = NULL;
    fx_end();
}

static void run_and_release(tulip_task **t, int n)
{
    fx_run();
    for (int i = 0; i < n; i++) {
        cr_assert(tulip_task_done(t[i]), "task %d", i);
        tulip_task_release(t[i]);
    }
}

static void cancel_cb(void *arg)
{
    tulip_task_cancel(arg);
}

/* ---- bad input ----------------------------------------------------------- */

Test(chan, bad_input)
{
    tulip_chan *c = (tulip_chan *)1;
    void *m = I(5);

    ch_begin(1);
    cr_assert_eq(tulip_chan_new(NULL, 0), -EINVAL);
    tulip_chan_free(NULL);
    cr_assert_eq(tulip_chan_send(NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_chan_try_send(NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_chan_recv(NULL, &m), -EINVAL);
    cr_assert_null(m);
    cr_assert_eq(tulip_chan_try_recv(NULL, &m), -EINVAL);
    cr_assert_eq(tulip_chan_open(NULL, TULIP_CHAN_SEND), -EINVAL);
    cr_assert_eq(tulip_chan_open(ch, 0), -EINVAL);
    cr_assert_eq(tulip_chan_close(NULL, TULIP_CHAN_RECV), -EINVAL);
    cr_assert_eq(tulip_chan_close(ch, 3), -EINVAL);
    cr_assert_eq(tulip_chan_size(NULL), -EINVAL);
    cr_assert_eq(tulip_chan_send(ch, I(1)), -EPERM);
    cr_assert_eq(tulip_chan_send_until(ch, I(1), 0), -EPERM);
    cr_assert_eq(tulip_chan_recv(ch, &m), -EPERM);
    cr_assert_eq(tulip_chan_recv_until(ch, NULL, 0), -EPERM);
    /* no-wait forms work outside tasks; msg may be NULL */
    cr_assert_eq(tulip_chan_try_recv(ch, &m), -EAGAIN);
    cr_assert_eq(tulip_chan_try_send(ch, I(1)), 0);
    cr_assert_eq(tulip_chan_try_send(ch, I(2)), -EAGAIN);
    cr_assert_eq(tulip_chan_size(ch), 1);
    cr_assert_eq(tulip_chan_try_recv(ch, NULL), 0);
    test_alloc_fail_nth(&alloc_c, 1, false);
    cr_assert_eq(tulip_chan_new(&c, 0), -ENOMEM);
    cr_assert_null(c);
    ch_end();
}

Test(chan, bad_input_of_deadline_twins)
{
    void *m = I(5);

    ch_begin(1);
    cr_assert_eq(tulip_chan_send_until(NULL, I(1), 0), -EINVAL);
    cr_assert_eq(tulip_chan_recv_until(NULL, &m, 0), -EINVAL);
    cr_assert_eq(tulip_chan_select_until(NULL, 1, 0, NULL), -EINVAL);
    ch_end();
}

/* The no-wait forms, open and close on closed sides, outside tasks. */
Test(chan, no_wait_forms_on_closed_sides)
{
    void *m = NULL;

    ch_begin(2);
    cr_assert_eq(tulip_chan_try_send(ch, I(1)), 0);
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_SEND), 0);
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_SEND), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_open(ch, TULIP_CHAN_SEND), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_try_send(ch, I(2)), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_try_recv(ch, &m), 0); /* drains */
    cr_assert_eq(N(m), 1);
    cr_assert_eq(tulip_chan_try_recv(ch, &m), TULIP_EOF);
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_RECV), 0);
    cr_assert_eq(tulip_chan_try_recv(ch, &m), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_RECV), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_open(ch, TULIP_CHAN_RECV), TULIP_ECLOSED);
    /* ch2: receivers gone first, a broken channel for senders */
    cr_assert_eq(tulip_chan_try_send(ch2, I(1)), 0);
    cr_assert_eq(tulip_chan_close(ch2, TULIP_CHAN_RECV), 0);
    cr_assert_eq(tulip_chan_size(ch2), 0); /* dropped */
    cr_assert_eq(tulip_chan_try_send(ch2, I(2)), -EPIPE);
    cr_assert_eq(tulip_chan_try_recv(ch2, &m), TULIP_ECLOSED);
    ch_end();
}

Test(chan, unbounded_grows_and_reports_oom)
{
    void *m;

    ch_begin(TULIP_CHAN_UNBOUNDED);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(tulip_chan_try_send(ch, I(i)), 0);
    for (int i = 0; i < 500; i++) {
        cr_assert_eq(tulip_chan_try_recv(ch, &m), 0);
        cr_assert_eq(N(m), i);
    }
    for (int i = 1000; i < 1524; i++)
        cr_assert_eq(tulip_chan_try_send(ch, I(i)), 0);
    cr_assert_eq(tulip_chan_size(ch), 1024);
    test_alloc_fail_nth(&alloc_c, 1, false);
    cr_assert_eq(tulip_chan_try_send(ch, I(7)), -ENOMEM);
    for (int i = 500; i < 1524; i++) {
        cr_assert_eq(tulip_chan_try_recv(ch, &m), 0);
        cr_assert_eq(N(m), i);
    }
    cr_assert_eq(tulip_chan_try_recv(ch, &m), -EAGAIN);
    ch_end();
}

/* ---- rendezvous and bounded ---------------------------------------------- */

Test(chan, rendezvous_send_waits_for_a_receiver)
{
    struct op s = {.name = "S", .msg = 1};
    struct op r = {.name = "R", .delay_ns = TULIP_SEC};

    ch_begin(0);
    tulip_task *t[2] = {fx_spawn(sender_body, &s), fx_spawn(receiver_body, &r)};
    tulip_loop_run_once(loop);
    tulip_loop_run_once(loop);
    cr_assert_eq(tulip_chan_size(ch), 0, "nothing buffered");
    run_and_release(t, 2);
    FX_LOG_IS("R:1 S:sent1");
    cr_assert_eq(s.at, TULIP_SEC);
    /* and without a receiver, a try fails */
    cr_assert_eq(tulip_chan_try_send(ch, I(3)), -EAGAIN);
    ch_end();
}

Test(chan, bounded_back_pressure_fifo_senders_in_order)
{
    struct op s[3] = {{.name = "A", .msg = 10, .count = 3},
                      {.name = "B", .msg = 20, .count = 3},
                      {.name = "C", .msg = 30, .count = 3}};
    struct op r = {.name = "R", .delay_ns = TULIP_SEC, .count = 9};

    ch_begin(2);
    tulip_task *t[4] = {
        fx_spawn(sender_body, &s[0]), fx_spawn(sender_body, &s[1]),
        fx_spawn(sender_body, &s[2]), fx_spawn(receiver_body, &r)};
    run_and_release(t, 4);
    cr_assert_eq(r.got, 10 + 11 + 12 + 20 + 21 + 22 + 30 + 31 + 32);
    /* A fills the buffer and waits with 12, then B with 20 and C with 30;
     * each slot the receiver frees goes to the longest waiting sender, so
     * every sender's messages arrive in order, senders in FIFO order
     * (under the forced yield the senders take turns at each send) */
    if (!test_forced_yield())
        FX_LOG_IS(
            "A:sent10 A:sent11 R:10 R:11 R:12 R:20 R:30 A:sent12 B:sent20 "
            "B:sent21 B:sent22 C:sent30 C:sent31 R:21 R:22 R:31 R:32 "
            "C:sent32");
    ch_end();
}

Test(chan, several_senders_and_receivers_each_message_once)
{
    enum { S = 4, R = 3, PER = 50 };
    struct op s[S], r[R];
    tulip_task *t[S + R];
    int total = 0, expect = 0;

    ch_begin(3);
    for (int i = 0; i < S; i++) {
        s[i] = (struct op){.name = "s", .msg = i * 1000, .count = PER};
        t[i] = fx_spawn(sender_body, &s[i]);
        for (int k = 0; k < PER; k++)
            expect += i * 1000 + k;
    }
    for (int i = 0; i < R; i++) {
        r[i] = (struct op){.name = "r", .count = S * PER};
        t[S + i] = fx_spawn(receiver_body, &r[i]);
    }
    /* every sender done: close the send side, receivers see EOF */
    for (int i = 0; i < S; i++)
        fx_run_until(t[i]);
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_SEND), 0);
    run_and_release(t, S + R);
    for (int i = 0; i < R; i++) {
        cr_assert_eq(r[i].rc, TULIP_EOF);
        total += r[i].got;
    }
    cr_assert_eq(total, expect);
    ch_end();
}

/* ---- closing ------------------------------------------------------------- */

Test(chan, close_send_side_drains_then_eof)
{
    struct op r = {.name = "R", .count = 5};
    struct op w = {.name = "W", .chan = &ch2};
    void *m;

    ch_begin(4);
    tulip_chan_try_send(ch, I(1));
    tulip_chan_try_send(ch, I(2));
    cr_assert_eq(tulip_chan_open(ch, TULIP_CHAN_SEND), 0); /* a clone */
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_SEND), 0);
    cr_assert_eq(tulip_chan_try_send(ch, I(3)), 0, "one clone still open");
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_SEND), 0);
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_SEND), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_open(ch, TULIP_CHAN_SEND), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_try_send(ch, I(4)), TULIP_ECLOSED);
    tulip_task *t[2] = {fx_spawn(receiver_body, &r),
                        fx_spawn(receiver_body, &w)};
    tulip_loop_run_once(loop);
    cr_assert_eq(tulip_chan_close(ch2, TULIP_CHAN_SEND), 0); /* wakes W */
    run_and_release(t, 2);
    if (!test_forced_yield()) /* R yields at each receive: W ends earlier */
        FX_LOG_IS("R:1 R:2 R:3 R:TULIP_EOF W:TULIP_EOF");
    cr_assert_eq(tulip_chan_try_recv(ch, &m), TULIP_EOF);
    ch_end();
}

Test(chan, close_recv_side_breaks_senders)
{
    struct op a = {.name = "A", .msg = 1}, b = {.name = "B", .msg = 2};
    struct op r = {.name = "R", .chan = &ch2};
    void *m;

    SKIP_UNDER_FORCED_YIELD("one pass does not bring the tasks to their wait");
    ch_begin(1);
    tulip_task *t[3] = {fx_spawn(sender_body, &a), fx_spawn(sender_body, &b),
                        fx_spawn(receiver_body, &r)};
    tulip_loop_run_once(loop);
    tulip_loop_run_once(loop);
    cr_assert_eq(tulip_chan_size(ch), 1);
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_RECV), 0);
    cr_assert_eq(tulip_chan_size(ch), 0, "buffered messages dropped");
    cr_assert_eq(tulip_chan_try_send(ch, I(3)), -EPIPE);
    cr_assert_eq(tulip_chan_try_recv(ch, &m), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_close(ch, TULIP_CHAN_RECV), TULIP_ECLOSED);
    cr_assert_eq(tulip_chan_close(ch2, TULIP_CHAN_RECV), 0); /* wakes R */
    run_and_release(t, 3);
    FX_LOG_IS("A:sent1 B:EPIPE R:TULIP_ECLOSED");
    ch_end();
}

/* ---- cancellation and deadlines ------------------------------------------ */

static void recv_then_cancel_cb(void *arg)
{
    void *m = NULL;
    tulip_chan_try_recv(ch, &m);
    log_add("took%d", N(m));
    tulip_task_cancel(arg);
}

static void cancel_then_recv_cb(void *arg)
{
    void *m = NULL;
    tulip_task_cancel(arg);
    tulip_chan_try_recv(ch, &m);
    log_add("took%d", N(m));
}

Test(chan, sender_cancelled_while_waiting_and_in_the_same_pass)
{
    struct op a = {.name = "A", .msg = 1}, b = {.name = "B", .msg = 2};
    struct op c = {.name = "C", .msg = 3};

    ch_begin(0);
    tulip_task *t[3] = {fx_spawn(sender_body, &a), fx_spawn(sender_body, &b),
                        fx_spawn(sender_body, &c)};
    /* A's message is taken, then A is cancelled: A sent it. */
    tulip_call_later(loop, TULIP_SEC, recv_then_cancel_cb, t[0], NULL);
    /* B is cancelled first: its message is never taken; C's is. */
    tulip_call_later(loop, 2 * TULIP_SEC, cancel_then_recv_cb, t[1], NULL);
    tulip_call_later(loop, 3 * TULIP_SEC, recv_then_cancel_cb, NULL, NULL);
    run_and_release(t, 3);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(a.rc_after, -ECANCELED);
    cr_assert_eq(b.rc, -ECANCELED);
    if (!test_forced_yield()) /* B and C resume in the other order */
        FX_LOG_IS("took1 A:sent1 took3 B:ECANCELED C:sent3 took0");
    ch_end();
}

static void send_then_cancel_cb(void *arg)
{
    tulip_chan_try_send(ch, I(7));
    tulip_task_cancel(arg);
}

static void cancel_then_send_cb(void *arg)
{
    tulip_task_cancel(arg);
    log_add("try%d", tulip_chan_try_send(ch, I(8)));
}

Test(chan, receiver_cancelled_while_waiting_and_in_the_same_pass)
{
    struct op a = {.name = "A"}, b = {.name = "B"};

    ch_begin(0);
    tulip_task *t[2] = {fx_spawn(receiver_body, &a),
                        fx_spawn(receiver_body, &b)};
    tulip_call_later(loop, TULIP_SEC, send_then_cancel_cb, t[0], NULL);
    tulip_call_later(loop, 2 * TULIP_SEC, cancel_then_send_cb, t[1], NULL);
    run_and_release(t, 2);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(a.got, 7);
    cr_assert_eq(a.rc_after, -ECANCELED);
    cr_assert_eq(b.rc, -ECANCELED);
    /* rendezvous: with B gone nobody takes 8 */
    FX_LOG_IS("A:7 try-11 B:ECANCELED");
    ch_end();
}

Test(chan, deadlines_of_send_and_recv)
{
    struct op s = {.name = "S", .msg = 1, .deadline_ns = TULIP_SEC};
    struct op r = {.name = "R", .chan = &ch2, .deadline_ns = 2 * TULIP_SEC};

    ch_begin(0);
    tulip_task *t[2] = {fx_spawn(sender_body, &s), fx_spawn(receiver_body, &r)};
    run_and_release(t, 2);
    FX_LOG_IS("S:ETIMEDOUT R:ETIMEDOUT");
    cr_assert_eq(s.at, TULIP_SEC);
    cr_assert_eq(r.at, 2 * TULIP_SEC);
    cr_assert_eq(tulip_chan_try_recv(ch, NULL), -EAGAIN, "S left no message");
    ch_end();
}

/* ---- select -------------------------------------------------------------- */

struct sel {
    struct tulip_chan_op ops[3];
    size_t n;
    int64_t deadline_ns;
    int rc;
    size_t index;
    int64_t at;
};

static int select_body(void *arg)
{
    struct sel *s = arg;

    s->index = 99;
    s->rc = tulip_chan_select_until(
        s->ops, s->n, s->deadline_ns ? s->deadline_ns : TULIP_FOREVER,
        &s->index);
    s->at = tulip_now();
    log_add("sel:%s:%zu", s->rc ? tulip_err_name(s->rc) : "ok", s->index);
    return 0;
}

Test(chan, select_bad_input)
{
    struct tulip_chan_op ops[2] = {{NULL, TULIP_CHAN_RECV, NULL},
                                   {NULL, TULIP_CHAN_SEND, NULL}};
    size_t index = 77;

    ch_begin(1);
    cr_assert_eq(tulip_chan_select(NULL, 1, &index), -EINVAL);
    cr_assert_eq(tulip_chan_select(ops, 0, &index), -EINVAL);
    cr_assert_eq(tulip_chan_select(ops, 2, &index), -EINVAL, "no channel");
    ops[0].chan = ch;
    ops[0].dir = 5;
    cr_assert_eq(tulip_chan_try_select(ops, 2, &index), -EINVAL);
    ops[0].dir = TULIP_CHAN_RECV;
    cr_assert_eq(tulip_chan_select(ops, 2, &index), -EPERM);
    cr_assert_eq(tulip_chan_try_select(ops, 2, &index), -EAGAIN);
    cr_assert_eq(index, 77);
    /* the second op (skipped: NULL chan) is not considered */
    tulip_chan_try_send(ch, I(4));
    cr_assert_eq(tulip_chan_try_select(ops, 2, &index), 0);
    cr_assert_eq(index, 0);
    cr_assert_eq(N(ops[0].msg), 4);
    ch_end();
}

Test(chan, select_first_ready_in_array_order)
{
    struct sel s = {
        .ops = {{NULL, TULIP_CHAN_RECV, NULL}, {NULL, TULIP_CHAN_RECV, NULL}},
        .n = 2};

    ch_begin(2);
    s.ops[0].chan = ch;
    s.ops[1].chan = ch2;
    tulip_chan_try_send(ch, I(1));
    tulip_chan_try_send(ch2, I(2));
    tulip_task *t = fx_spawn(select_body, &s);
    run_and_release(&t, 1);
    cr_assert_eq(s.rc, 0);
    cr_assert_eq(s.index, 0);
    cr_assert_eq(N(s.ops[0].msg), 1);
    cr_assert_eq(tulip_chan_size(ch2), 1, "the other is untouched");
    ch_end();
}

static void send_both_cb(void *arg)
{
    (void)arg;
    /* the first completes the select, the second finds only a stale node */
    log_add("b%d", tulip_chan_try_send(ch2, I(20)));
    log_add("a%d", tulip_chan_try_send(ch, I(10)));
}

Test(chan, select_waits_and_completes_exactly_one)
{
    struct sel s = {
        .ops = {{NULL, TULIP_CHAN_RECV, NULL}, {NULL, TULIP_CHAN_RECV, NULL}},
        .n = 2};

    ch_begin(0);
    s.ops[0].chan = ch;
    s.ops[1].chan = ch2;
    tulip_task *t = fx_spawn(select_body, &s);
    tulip_call_later(loop, TULIP_SEC, send_both_cb, NULL, NULL);
    run_and_release(&t, 1);
    FX_LOG_IS("b0 a-11 sel:ok:1");
    cr_assert_eq(N(s.ops[1].msg), 20);
    cr_assert_null(s.ops[0].msg);
    cr_assert_eq(s.at, TULIP_SEC);
    ch_end();
}

Test(chan, select_send_and_recv_mixed)
{
    struct sel s = {
        .ops = {{NULL, TULIP_CHAN_RECV, NULL}, {NULL, TULIP_CHAN_SEND, I(5)}},
        .n = 2};
    struct op r = {.name = "R", .chan = &ch2, .delay_ns = TULIP_SEC};

    ch_begin(0);
    s.ops[0].chan = ch;
    s.ops[1].chan = ch2;
    tulip_task *t[2] = {fx_spawn(select_body, &s), fx_spawn(receiver_body, &r)};
    run_and_release(t, 2);
    FX_LOG_IS("R:5 sel:ok:1");
    cr_assert_eq(tulip_chan_try_send(ch, I(1)), -EAGAIN, "recv op is gone");
    ch_end();
}

Test(chan, select_two_selects_rendezvous_with_each_other)
{
    struct sel a = {
        .ops = {{NULL, TULIP_CHAN_SEND, I(1)}, {NULL, TULIP_CHAN_RECV, NULL}},
        .n = 2};
    struct sel b = {.ops = {{NULL, TULIP_CHAN_RECV, NULL}}, .n = 1};

    ch_begin(0);
    a.ops[0].chan = ch;
    a.ops[1].chan = ch2;
    b.ops[0].chan = ch;
    tulip_task *t[2] = {fx_spawn(select_body, &a), fx_spawn(select_body, &b)};
    run_and_release(t, 2);
    FX_LOG_IS("sel:ok:0 sel:ok:0");
    cr_assert_eq(N(b.ops[0].msg), 1);
    ch_end();
}

Test(chan, select_closed_channel_counts_as_ready)
{
    struct sel s = {
        .ops = {{NULL, TULIP_CHAN_RECV, NULL}, {NULL, TULIP_CHAN_SEND, I(1)}},
        .n = 2};

    ch_begin(0);
    s.ops[0].chan = ch;
    s.ops[1].chan = ch2;
    tulip_task *t = fx_spawn(select_body, &s);
    tulip_loop_run_once(loop);
    tulip_chan_close(ch2, TULIP_CHAN_RECV); /* wakes the send op: -EPIPE */
    run_and_release(&t, 1);
    FX_LOG_IS("sel:EPIPE:1");
    tulip_chan_close(ch, TULIP_CHAN_SEND);
    t = fx_spawn(select_body, &s);
    run_and_release(&t, 1);
    FX_LOG_IS("sel:EPIPE:1 sel:TULIP_EOF:0");
    ch_end();
}

Test(chan, select_deadline_and_cancel_leave_no_stale_taker)
{
    struct sel a = {
        .ops = {{NULL, TULIP_CHAN_RECV, NULL}, {NULL, TULIP_CHAN_RECV, NULL}},
        .n = 2,
        .deadline_ns = TULIP_SEC};
    struct sel b = a;

    ch_begin(0);
    a.ops[0].chan = b.ops[0].chan = ch;
    a.ops[1].chan = b.ops[1].chan = ch2;
    b.deadline_ns = 0;
    tulip_task *t[2] = {fx_spawn(select_body, &a), fx_spawn(select_body, &b)};
    tulip_call_later(loop, 2 * TULIP_SEC, cancel_cb, t[1], NULL);
    run_and_release(t, 2);
    FX_LOG_IS("sel:ETIMEDOUT:99 sel:ECANCELED:99");
    cr_assert_eq(a.at, TULIP_SEC);
    cr_assert_eq(tulip_chan_try_send(ch, I(1)), -EAGAIN);
    cr_assert_eq(tulip_chan_try_send(ch2, I(1)), -EAGAIN);
    ch_end();
}

static void cancel_then_send_both_cb(void *arg)
{
    tulip_task_cancel(arg);
    /* the select left at the cancel: both of its nodes are stale now */
    log_add("a%d", tulip_chan_try_send(ch, I(10)));
}

Test(chan, select_cancel_in_the_same_pass)
{
    struct sel s = {
        .ops = {{NULL, TULIP_CHAN_RECV, NULL}, {NULL, TULIP_CHAN_RECV, NULL}},
        .n = 2};
    struct sel u = s;

    ch_begin(0);
    s.ops[0].chan = u.ops[0].chan = ch;
    s.ops[1].chan = u.ops[1].chan = ch2;
    tulip_task *t = fx_spawn(select_body, &s);
    tulip_call_later(loop, TULIP_SEC, cancel_then_send_both_cb, t, NULL);
    run_and_release(&t, 1);
    FX_LOG_IS("a-11 sel:ECANCELED:99");
    /* and the other way round: the message first, then the cancel */
    t = fx_spawn(select_body, &u);
    tulip_call_later(loop, TULIP_SEC, send_both_cb, NULL, NULL);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_log[0] = '\0';
    run_and_release(&t, 1);
    FX_LOG_IS("b0 a-11 sel:ok:1");
    ch_end();
}

Test(chan, select_out_of_memory)
{
    struct sel s = {.ops = {{NULL, TULIP_CHAN_RECV, NULL}}, .n = 1};

    ch_begin(0);
    s.ops[0].chan = ch;
    tulip_task *t = fx_spawn(select_body, &s);
    tulip_loop_run_once(loop); /* the step ran before the allocation */
    tulip_task_release(t);
    t = fx_spawn(select_body, &s);
    test_alloc_fail_nth(&alloc_c, 1, true);
    tulip_loop_run_once(loop);
    test_alloc_fail_nth(&alloc_c, 0, false);
    cr_assert_eq(s.rc, -ENOMEM);
    tulip_chan_close(ch, TULIP_CHAN_SEND); /* ends the first one */
    fx_run();
    tulip_task_release(t);
    ch_end();
}

Test(chan, free_with_waiters)
{
    struct op r = {.name = "R"};
    struct sel s = {
        .ops = {{NULL, TULIP_CHAN_RECV, NULL}, {NULL, TULIP_CHAN_RECV, NULL}},
        .n = 2};

    SKIP_UNDER_FORCED_YIELD("one pass does not bring the tasks to their wait");
    ch_begin(0);
    s.ops[0].chan = ch;
    s.ops[1].chan = ch2;
    tulip_task *t[2] = {fx_spawn(receiver_body, &r), fx_spawn(select_body, &s)};
    tulip_loop_run_once(loop);
    tulip_loop_run_once(loop);
    tulip_chan_free(ch);
    ch = NULL;
    run_and_release(t, 2);
    /* R yielded once (its sleep(0)) before waiting: the select waits first */
    FX_LOG_IS("sel:TULIP_ECLOSED:0 R:TULIP_ECLOSED");
    ch_end();
}

/* Leak-checker hooks, present only in sanitizer builds. */
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

/* A task destroyed by tulip_loop_close() while in select never resumes to
 * free its wait record: the channels must then skip its nodes without
 * touching the freed task, and stay usable (the record itself is leaked,
 * a documented limitation: the task layer has no hook for it). */
Test(chan, select_of_a_task_destroyed_at_loop_close_is_skipped)
{
    struct sel s = {
        .ops = {{NULL, TULIP_CHAN_RECV, NULL}, {NULL, TULIP_CHAN_SEND, I(3)}},
        .n = 2};
    struct op r = {.name = "R"};
    void *m;

    SKIP_UNDER_FORCED_YIELD("one pass does not bring the tasks to their wait");
    ch_begin(0);
    s.ops[0].chan = ch;
    s.ops[1].chan = ch2;
    tulip_task *t = fx_spawn(select_body, &s);
    if (__lsan_disable)
        __lsan_disable();
    tulip_loop_run_once(loop);
    if (__lsan_enable)
        __lsan_enable();
    tulip_task_release(t);
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(fx_reports, 1, "Task was destroyed but it is pending");
    /* the stale nodes are skipped, on a new loop too */
    cr_assert_eq(tulip_chan_try_send(ch, I(1)), -EAGAIN);
    cr_assert_eq(tulip_chan_try_recv(ch2, &m), -EAGAIN);
    struct tulip_loop_opts o = {.virtual_clock = true};
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    t = fx_spawn(receiver_body, &r);
    tulip_loop_run_once(loop);
    tulip_loop_run_once(loop);
    cr_assert_eq(tulip_chan_try_send(ch, I(9)), 0);
    fx_run();
    cr_assert_eq(r.got, 9);
    tulip_task_release(t);
    tulip_chan_free(ch);
    tulip_chan_free(ch2);
    ch = ch2 = NULL;
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(fx_stacks_in_use(), fx_stacks0);
    test_alloc_remove();
}

/* ---- a storm: select, deadlines and cancels; every message exactly once -- */

enum { ST_PROD = 6, ST_CONS = 4, ST_MSGS = 60 };
static unsigned char st_sent[ST_PROD * ST_MSGS];
static unsigned char st_got[ST_PROD * ST_MSGS];
static int st_errors;
static tulip_task *st_tasks[ST_PROD + ST_CONS];

static unsigned st_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

static int storm_producer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    int p = (int)(uintptr_t)arg - 1;

    for (int k = 0; k < ST_MSGS;) {
        int id = p * ST_MSGS + k;
        tulip_chan *c = k % 2 ? ch2 : ch;
        int64_t d = tulip_now() + (st_rand(&seed) % 4) * TULIP_MSEC;
        int rc = tulip_chan_send_until(c, I(id + 1), d);
        if (rc == 0) {
            st_sent[id] = 1;
            k++;
            rc = tulip_sleep((st_rand(&seed) % 2) * TULIP_MSEC);
        }
        if (rc == -ECANCELED) {
            return 0;
        } else if (rc != 0 && rc != -ETIMEDOUT) {
            st_errors++;
            return rc;
        }
    }
    return 0;
}

static int storm_consumer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;

    for (;;) {
        struct tulip_chan_op ops[2] = {{ch, TULIP_CHAN_RECV, NULL},
                                       {ch2, TULIP_CHAN_RECV, NULL}};
        size_t i = 9;
        int64_t d = tulip_now() + (st_rand(&seed) % 5) * TULIP_MSEC;
        int rc;

        if (st_rand(&seed) % 2) { /* rotate for fairness */
            ops[0].chan = ch2;
            ops[1].chan = ch;
        }
        rc = tulip_chan_select_until(ops, 2, d, &i);
        if (rc == 0) {
            int id = N(ops[i].msg) - 1;
            if (id < 0 || id >= ST_PROD * ST_MSGS || st_got[id]++)
                st_errors++;
        } else if (rc == -ECANCELED || rc == TULIP_EOF) {
            return 0;
        } else if (rc != -ETIMEDOUT) {
            st_errors++;
            return rc;
        }
    }
}

static void storm_cancel_cb(void *arg)
{
    tulip_task_cancel(st_tasks[(uintptr_t)arg]);
}

Test(chan, storm_every_message_exactly_once)
{
    unsigned seed = 99;
    void *m;
    int sent = 0;

    fx_begin();
    cr_assert_eq(tulip_chan_new(&ch, 0), 0);
    cr_assert_eq(tulip_chan_new(&ch2, 2), 0);
    for (int i = 0; i < ST_PROD; i++)
        st_tasks[i] = fx_spawn(storm_producer, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < ST_CONS; i++)
        st_tasks[ST_PROD + i] =
            fx_spawn(storm_consumer, (void *)(uintptr_t)(100 + i));
    /* cancel two producers and two consumers at random moments (one
     * consumer stays, so the producers always finish) */
    for (int i = 0; i < 2; i++) {
        tulip_call_later(loop, (st_rand(&seed) % 30) * TULIP_MSEC + i,
                         storm_cancel_cb, (void *)(uintptr_t)(i * 3), NULL);
        tulip_call_later(loop, (st_rand(&seed) % 30) * TULIP_MSEC + 1,
                         storm_cancel_cb, (void *)(uintptr_t)(ST_PROD + 1 + i),
                         NULL);
    }
    for (int i = 0; i < ST_PROD; i++)
        fx_run_until(st_tasks[i]);
    tulip_chan_close(ch, TULIP_CHAN_SEND);
    tulip_chan_close(ch2, TULIP_CHAN_SEND);
    fx_run();
    while (tulip_chan_try_recv(ch2, &m) == 0)
        st_got[N(m) - 1]++;
    cr_assert_eq(tulip_chan_try_recv(ch, &m), TULIP_EOF);
    cr_assert_eq(tulip_chan_try_recv(ch2, &m), TULIP_EOF);
    cr_assert_eq(st_errors, 0);
    for (int id = 0; id < ST_PROD * ST_MSGS; id++) {
        cr_assert_eq(st_got[id], st_sent[id], "message %d: sent %d, got %d", id,
                     st_sent[id], st_got[id]);
        sent += st_sent[id];
    }
    cr_assert_gt(sent, ST_MSGS * 3, "the storm moved messages: %d", sent);
    cr_assert_lt(sent, ST_PROD * ST_MSGS, "cancels stopped some: %d", sent);
    for (int i = 0; i < ST_PROD + ST_CONS; i++)
        tulip_task_release(st_tasks[i]);
    ch_end();
}
