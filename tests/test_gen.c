/* SPDX-License-Identifier: MIT */
/*
 * Generators without delegation: next, send, throw and close in every state
 * (created, suspended, running, closed), return values as
 * StopIteration.value, PEP 479, misuse (resuming a running generator,
 * yielding outside one, bad arguments), nesting, many live generators, and
 * allocation failure. Python's own behaviour (asyncio.md part A.0) is the
 * oracle for every expectation.
 *
 * Bodies run on coroutine stacks, where a fatal cr_assert would longjmp off
 * the stack: they only record what they see into a struct, which the test
 * asserts on from its main stack. Every test ends with no stack in use.
 */
/* ctest: labels=unit timeout=120 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc_hook.h"
#include "tools.h"
#include "tulip.h"

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((intptr_t)(p))
#define NOT_SET V(-1) /* an out value no call produces */

/* ---- a body that records what it sees ------------------------------------ */

/* What rec_body does when a tulip_yield() returns an error (throw, close). */
enum on_err {
    PROPAGATE,   /* return the error */
    CONTINUE,    /* handle it and yield the next value */
    RETURN_OK,   /* handle it and return 0 with r->ret */
    RETURN_CODE, /* return r->err_code */
};

struct rec {
    /* set by the test */
    int n;              /* values to yield: 100, 101 ... */
    enum on_err on_err; /* reaction to an error from a yield */
    int err_code;       /* RETURN_CODE's code */
    int code;           /* return code after the last yield */
    void *ret;          /* *ret on returning */
    /* recorded by the body */
    int started;                 /* body entries */
    int cleanup;                 /* error paths taken */
    int nops;                    /* yields that came back */
    int ops[16];                 /* what each returned */
    void *sent[16];              /* what each received */
    enum tulip_gen_state inside; /* own state while running */
};

static int rec_body(void *arg, void **ret)
{
    struct rec *r = arg;
    int i, op;

    r->started++;
    r->inside = tulip_gen_state(tulip_gen_current());
    for (i = 0; i < r->n; i++) {
        void *sent = NOT_SET;
        op = tulip_yield(V(100 + i), &sent);
        r->ops[r->nops] = op;
        r->sent[r->nops++] = sent;
        if (op >= 0 || r->on_err == CONTINUE)
            continue;
        r->cleanup++;
        if (r->on_err == PROPAGATE)
            return op;
        if (r->on_err == RETURN_CODE)
            return r->err_code;
        *ret = r->ret;
        return 0;
    }
    *ret = r->ret;
    return r->code;
}

static tulip_gen *rec_new(struct rec *r)
{
    tulip_gen *g = NULL;

    cr_assert_eq(tulip_gen_new(&g, rec_body, r), 0);
    cr_assert_not_null(g);
    return g;
}

static void assert_no_stacks(void)
{
    struct tulip_stack_stats st;

    tulip_stack_stats(&st);
    cr_assert_eq(st.in_use, 0, "%zu stacks still in use", st.in_use);
}

/* Free g and check that no stack is left in use. */
static void finish(tulip_gen *g)
{
    tulip_gen_free(g);
    assert_no_stacks();
}

/* ---- created ------------------------------------------------------------- */

Test(created, next_runs_body_to_first_yield)
{
    struct rec r = {.n = 2};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CREATED);
    cr_assert_eq(r.started, 0, "creating a generator runs no body code");
    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(I(v), 100);
    cr_assert_eq(r.started, 1);
    cr_assert_eq(r.inside, TULIP_GEN_RUNNING);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_SUSPENDED);
    finish(g);
}

Test(created, send_value_is_enotstarted)
{
    struct rec r = {.n = 1};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_send(g, V(5), &v), TULIP_ENOTSTARTED);
    cr_assert_null(v);
    cr_assert_eq(r.started, 0);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CREATED);
    cr_assert_eq(tulip_gen_send(g, NULL, &v), 0, "send(None) starts it");
    cr_assert_eq(I(v), 100);
    finish(g);
}

Test(created, throw_finishes_without_running_body)
{
    struct rec r = {.n = 1, .on_err = CONTINUE};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_throw(g, -EIO, &v), -EIO);
    cr_assert_null(v);
    cr_assert_eq(r.started, 0, "the body never runs");
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    assert_no_stacks(); /* a finished generator holds no stack */
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP);
    cr_assert_eq(r.started, 0);
    finish(g);
}

Test(created, close_finishes_without_running_body)
{
    struct rec r = {.n = 1};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_close(g), 0);
    cr_assert_eq(r.started, 0);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP);
    cr_assert_null(v);
    finish(g);
}

Test(created, free_without_running)
{
    struct rec r = {.n = 1};
    tulip_gen *g = rec_new(&r);

    finish(g);
    cr_assert_eq(r.started, 0);
}

/* ---- suspended: next and send -------------------------------------------- */

Test(suspended, send_delivers_value_to_pending_yield)
{
    struct rec r = {.n = 3};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_send(g, V(7), &v), 0);
    cr_assert_eq(I(v), 101);
    cr_assert_eq(tulip_gen_next(g, &v), 0, "next is send(None)");
    cr_assert_eq(I(v), 102);
    cr_assert_eq(r.nops, 2);
    cr_assert_eq(r.ops[0], 0);
    cr_assert_eq(I(r.sent[0]), 7);
    cr_assert_eq(r.ops[1], 0);
    cr_assert_null(r.sent[1]);
    finish(g);
}

Test(suspended, out_may_be_null)
{
    struct rec r = {.n = 2};
    tulip_gen *g = rec_new(&r);

    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(tulip_gen_send(g, V(3), NULL), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    finish(g);
}

Test(suspended, return_value_is_stop_value_once)
{
    struct rec r = {.n = 1, .ret = V(42)};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP);
    cr_assert_eq(I(v), 42, "StopIteration.value");
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    v = NOT_SET;
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP);
    cr_assert_null(v, "a second StopIteration carries None");
    v = NOT_SET;
    cr_assert_eq(tulip_gen_send(g, V(1), &v), TULIP_STOP);
    cr_assert_null(v);
    finish(g);
}

Test(suspended, body_error_finishes_generator)
{
    struct rec r = {.n = 1, .code = -EIO};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_next(g, &v), -EIO);
    cr_assert_null(v);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    assert_no_stacks();
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP, "then it is exhausted");
    cr_assert_null(v);
    finish(g);
}

Test(suspended, body_returning_stop_is_ebadstop)
{
    struct rec r = {.n = 1, .code = TULIP_STOP, .ret = V(5)};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_EBADSTOP, "PEP 479");
    cr_assert_null(v);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP);
    finish(g);
}

Test(suspended, body_returning_stop_at_once_is_ebadstop)
{
    struct rec r = {.n = 0, .code = TULIP_STOP};
    tulip_gen *g = rec_new(&r);

    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_EBADSTOP);
    finish(g);
}

Test(suspended, body_returning_positive_is_a_normal_return)
{
    struct rec r = {.n = 0, .code = 3, .ret = V(8)};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP);
    cr_assert_eq(I(v), 8);
    finish(g);
}

/* ---- suspended: throw ---------------------------------------------------- */

Test(suspended, throw_handled_then_yield_again)
{
    struct rec r = {.n = 3, .on_err = CONTINUE};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_throw(g, -EIO, &v), 0);
    cr_assert_eq(I(v), 101, "throw returns the next yielded value");
    cr_assert_eq(r.ops[0], -EIO);
    cr_assert_null(r.sent[0], "a thrown yield receives no value");
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_SUSPENDED);
    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(I(v), 102);
    finish(g);
}

Test(suspended, throw_handled_then_return)
{
    struct rec r = {.n = 3, .on_err = RETURN_OK, .ret = V(9)};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_throw(g, -EIO, &v), TULIP_STOP);
    cr_assert_eq(I(v), 9, "StopIteration(value) out of throw");
    cr_assert_eq(r.cleanup, 1);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    finish(g);
}

Test(suspended, throw_not_handled_propagates)
{
    struct rec r = {.n = 3, .on_err = PROPAGATE};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_throw(g, -EIO, &v), -EIO);
    cr_assert_null(v);
    cr_assert_eq(r.cleanup, 1);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    cr_assert_eq(tulip_gen_throw(g, -EPIPE, &v), -EPIPE,
                 "throw into a finished generator raises at once");
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP);
    cr_assert_eq(r.nops, 1, "the body never ran again");
    finish(g);
}

Test(suspended, throw_translated_error)
{
    struct rec r = {.n = 3, .on_err = RETURN_CODE, .err_code = -ENOENT};
    tulip_gen *g = rec_new(&r);

    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(tulip_gen_throw(g, -EIO, NULL), -ENOENT);
    finish(g);
}

Test(suspended, throw_rejects_non_errors)
{
    struct rec r = {.n = 2};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_throw(g, 0, &v), -EINVAL);
    cr_assert_null(v);
    cr_assert_eq(tulip_gen_throw(g, 5, NULL), -EINVAL);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_SUSPENDED);
    cr_assert_eq(r.nops, 0, "the body was not resumed");
    finish(g);
}

/* ---- suspended: close ---------------------------------------------------- */

static void close_case(enum on_err on_err, int err_code, int want)
{
    struct rec r = {.n = 3, .on_err = on_err, .err_code = err_code};
    tulip_gen *g = rec_new(&r);

    int rc;

    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    rc = tulip_gen_close(g);
    cr_assert_eq(rc, want, "close gave %s", tulip_err_name(rc));
    cr_assert_eq(r.ops[0], TULIP_GENEXIT, "the yield sees GeneratorExit");
    cr_assert_eq(r.cleanup, 1);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    cr_assert_eq(tulip_gen_close(g), 0, "closing again does nothing");
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    finish(g);
}

Test(suspended, close_body_returns_0)
{
    close_case(RETURN_OK, 0, 0);
}

Test(suspended, close_body_returns_genexit)
{
    close_case(PROPAGATE, 0, 0);
}

Test(suspended, close_body_returns_other_error)
{
    close_case(RETURN_CODE, -EIO, -EIO);
}

Test(suspended, close_body_returns_stop)
{
    /* tulip.h: close returns 0 if the body returned 0, TULIP_GENEXIT or
     * TULIP_STOP. */
    close_case(RETURN_CODE, TULIP_STOP, 0);
}

Test(suspended, close_ignored_then_free_abandons)
{
    struct rec r = {.n = 3, .on_err = CONTINUE};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_close(g), TULIP_EIGNORED);
    cr_assert_eq(r.ops[0], TULIP_GENEXIT);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_SUSPENDED,
                 "a generator that ignored close stays suspended");
    /* tulip_gen_free closes again; the body yields a third time and is
     * abandoned (reported on stderr), its stack back in the pool. */
    finish(g);
    cr_assert_eq(r.nops, 2);
    cr_assert_eq(r.ops[1], TULIP_GENEXIT);
    cr_assert_eq(r.cleanup, 0);
}

Test(suspended, close_ignored_then_resumed)
{
    struct rec r = {.n = 3, .on_err = CONTINUE};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(tulip_gen_close(g), TULIP_EIGNORED);
    cr_assert_eq(tulip_gen_next(g, &v), 0, "it can still be resumed");
    cr_assert_eq(I(v), 102);
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP);
    finish(g);
}

Test(suspended, free_closes_and_runs_cleanup)
{
    struct rec r = {.n = 3, .on_err = PROPAGATE};
    tulip_gen *g = rec_new(&r);

    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    finish(g);
    cr_assert_eq(r.cleanup, 1);
    cr_assert_eq(r.ops[0], TULIP_GENEXIT);
}

/* ---- running ------------------------------------------------------------- */

struct self_rec {
    int rc[8]; /* next, send, throw, close, yield_from, 3x state */
    int after; /* the body went on after the misuse */
};

/* A body that tries to resume itself in every way. */
static int self_body(void *arg, void **ret)
{
    struct self_rec *s = arg;
    tulip_gen *me = tulip_gen_current();
    void *v = NOT_SET;

    (void)ret;
    s->rc[0] = tulip_gen_next(me, &v);
    s->rc[1] = tulip_gen_send(me, V(1), &v);
    s->rc[2] = tulip_gen_throw(me, -EIO, &v);
    s->rc[3] = tulip_gen_close(me);
    s->rc[4] = tulip_yield_from(me, &v);
    tulip_gen_free(me); /* ignored, with a message */
    s->rc[5] = (int)tulip_gen_state(me);
    s->after = v == NULL;
    return 0;
}

Test(running, resuming_itself_is_erunning)
{
    struct self_rec s = {{0}, 0};
    tulip_gen *g;
    int i;

    cr_assert_eq(tulip_gen_new(&g, self_body, &s), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    for (i = 0; i < 5; i++)
        cr_assert_eq(s.rc[i], TULIP_ERUNNING, "call %d gave %s", i,
                     tulip_err_name(s.rc[i]));
    cr_assert_eq(s.rc[5], TULIP_GEN_RUNNING);
    cr_assert(s.after, "out values are NULL after a refused resume");
    finish(g);
}

struct cycle {
    tulip_gen *a, *b;
    int rc[4];  /* B's attempts to resume A */
    int a_rc;   /* A's resume of B */
    int b_seen; /* A's state seen from B */
};

static int cycle_b(void *arg, void **ret)
{
    struct cycle *c = arg;

    (void)ret;
    c->b_seen = (int)tulip_gen_state(c->a);
    c->rc[0] = tulip_gen_next(c->a, NULL);
    c->rc[1] = tulip_gen_send(c->a, V(1), NULL);
    c->rc[2] = tulip_gen_throw(c->a, -EIO, NULL);
    c->rc[3] = tulip_gen_close(c->a);
    return tulip_yield(V(1), NULL);
}

static int cycle_a(void *arg, void **ret)
{
    struct cycle *c = arg;

    (void)ret;
    c->a_rc = tulip_gen_next(c->b, NULL);
    return 0;
}

Test(running, cycle_a_b_a_is_erunning)
{
    struct cycle c;
    int i;

    memset(&c, 0, sizeof(c));
    cr_assert_eq(tulip_gen_new(&c.a, cycle_a, &c), 0);
    cr_assert_eq(tulip_gen_new(&c.b, cycle_b, &c), 0);
    cr_assert_eq(tulip_gen_next(c.a, NULL), TULIP_STOP);
    cr_assert_eq(c.a_rc, 0, "B yielded to A");
    cr_assert_eq(c.b_seen, TULIP_GEN_RUNNING);
    for (i = 0; i < 4; i++)
        cr_assert_eq(c.rc[i], TULIP_ERUNNING, "call %d gave %s", i,
                     tulip_err_name(c.rc[i]));
    cr_assert_eq(tulip_gen_state(c.b), TULIP_GEN_SUSPENDED);
    tulip_gen_free(c.a);
    finish(c.b);
}

/* ---- misuse outside a generator, bad arguments --------------------------- */

static int empty_body(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    return 0;
}

Test(misuse, yield_outside_generator_is_eperm)
{
    struct rec r = {.n = 1};
    tulip_gen *g = rec_new(&r);
    void *v = NOT_SET;

    cr_assert_eq(tulip_yield(V(1), &v), -EPERM);
    cr_assert_null(v);
    cr_assert_eq(tulip_yield(V(1), NULL), -EPERM);
    v = NOT_SET;
    cr_assert_eq(tulip_yield_from(g, &v), -EPERM);
    cr_assert_null(v);
    cr_assert_eq(tulip_yield_from(NULL, NULL), -EPERM);
    v = NOT_SET;
    cr_assert_eq(tulip_yield_from_fn(empty_body, NULL, &v), -EPERM);
    cr_assert_null(v);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CREATED);
    cr_assert_null(tulip_gen_current());
    finish(g);
}

/* Also -EPERM from a suspended generator's point of view: after it yields,
 * main is not its body. */
Test(misuse, yield_after_generator_suspends_is_eperm)
{
    struct rec r = {.n = 2};
    tulip_gen *g = rec_new(&r);

    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(tulip_yield(V(1), NULL), -EPERM);
    cr_assert_null(tulip_gen_current());
    finish(g);
}

Test(misuse, null_arguments_are_einval)
{
    tulip_gen *g = NOT_SET;
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_new(NULL, empty_body, NULL), -EINVAL);
    cr_assert_eq(tulip_gen_new(&g, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_gen_new_ex(NULL, empty_body, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_gen_next(NULL, &v), -EINVAL);
    cr_assert_null(v);
    v = NOT_SET;
    cr_assert_eq(tulip_gen_send(NULL, V(1), &v), -EINVAL);
    cr_assert_null(v);
    v = NOT_SET;
    cr_assert_eq(tulip_gen_throw(NULL, -EIO, &v), -EINVAL);
    cr_assert_null(v);
    cr_assert_eq(tulip_gen_close(NULL), -EINVAL);
    tulip_gen_free(NULL);
    assert_no_stacks();
}

struct null_rec {
    int from_rc, fn_rc;
    void *from_ret, *fn_ret;
};

static int null_sub_body(void *arg, void **ret)
{
    struct null_rec *n = arg;

    (void)ret;
    n->from_ret = NOT_SET;
    n->fn_ret = NOT_SET;
    n->from_rc = tulip_yield_from(NULL, &n->from_ret);
    n->fn_rc = tulip_yield_from_fn(NULL, NULL, &n->fn_ret);
    return 0;
}

Test(misuse, null_sub_generator_is_einval)
{
    struct null_rec n;
    tulip_gen *g;

    cr_assert_eq(tulip_gen_new(&g, null_sub_body, &n), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    cr_assert_eq(n.from_rc, -EINVAL);
    cr_assert_null(n.from_ret);
    cr_assert_eq(n.fn_rc, -EINVAL);
    cr_assert_null(n.fn_ret);
    finish(g);
}

Test(misuse, stack_size_out_of_range_is_einval)
{
    struct tulip_coro_opts o = {0, NULL};
    size_t min = tulip_stack_size_min();
    tulip_gen *g = NULL;

    cr_assert_geq(min, 4096);
    o.stack_size = min - 1;
    cr_assert_eq(tulip_gen_new_ex(&g, empty_body, NULL, &o), -EINVAL);
    o.stack_size = 1;
    cr_assert_eq(tulip_gen_new_ex(&g, empty_body, NULL, &o), -EINVAL);
    o.stack_size = ((size_t)1 << 30) + 1;
    cr_assert_eq(tulip_gen_new_ex(&g, empty_body, NULL, &o), -EINVAL);
    o.stack_size = SIZE_MAX;
    cr_assert_eq(tulip_gen_new_ex(&g, empty_body, NULL, &o), -EINVAL);
    cr_assert_null(g);
    assert_no_stacks();
    o.stack_size = min;
    cr_assert_eq(tulip_gen_new_ex(&g, empty_body, NULL, &o), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    finish(g);
}

/* ---- names, nesting, tulip_gen_current() --------------------------------- */

Test(names, name_is_copied_and_truncated)
{
    struct tulip_coro_opts o = {0, "deep"};
    char longname[64];
    tulip_gen *a, *b, *c;

    cr_assert_eq(tulip_gen_new_ex(&a, empty_body, NULL, &o), 0);
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    o.name = longname;
    cr_assert_eq(tulip_gen_new_ex(&b, empty_body, NULL, &o), 0);
    longname[0] = 'y'; /* the generator keeps its own copy */
    cr_assert_eq(tulip_gen_new(&c, empty_body, NULL), 0);
    cr_assert_str_eq(tulip_gen_name(a), "deep");
    cr_assert_eq(strlen(tulip_gen_name(b)), 31);
    cr_assert_eq(tulip_gen_name(b)[0], 'x');
    cr_assert_str_eq(tulip_gen_name(c), "");
    tulip_gen_free(a);
    tulip_gen_free(b);
    finish(c);
}

#define NEST_DEPTH 8

struct nest {
    tulip_gen *gens[NEST_DEPTH];
    int ok[NEST_DEPTH];       /* current() was right at every check */
    int child_rc[NEST_DEPTH]; /* how each resume of the child went */
    intptr_t got[NEST_DEPTH]; /* value the child yielded */
};

struct level {
    struct nest *n;
    int depth;
};

/* Each level checks tulip_gen_current(), runs a generator one level deeper
 * to its first yield, checks again, yields its depth, then finishes the
 * child. */
static int nest_body(void *arg, void **ret)
{
    struct level *l = arg;
    struct nest *n = l->n;
    struct level child = {n, l->depth + 1};
    tulip_gen *me = n->gens[l->depth];
    void *v = NULL;

    (void)ret;
    n->ok[l->depth] = tulip_gen_current() == me;
    if (child.depth < NEST_DEPTH) {
        if (tulip_gen_new(&n->gens[child.depth], nest_body, &child) != 0)
            return -ENOMEM;
        n->child_rc[l->depth] = tulip_gen_next(n->gens[child.depth], &v);
        n->got[l->depth] = I(v);
        n->ok[l->depth] &= tulip_gen_current() == me;
    }
    tulip_yield(V(l->depth), NULL);
    n->ok[l->depth] &= tulip_gen_current() == me;
    if (child.depth < NEST_DEPTH) {
        n->child_rc[l->depth] |=
            tulip_gen_next(n->gens[child.depth], NULL) != TULIP_STOP;
        tulip_gen_free(n->gens[child.depth]);
    }
    n->ok[l->depth] &= tulip_gen_current() == me;
    return 0;
}

Test(nesting, current_is_right_at_every_level)
{
    struct nest n;
    struct level top = {&n, 0};
    void *v = NOT_SET;
    int i;

    memset(&n, 0, sizeof(n));
    cr_assert_eq(tulip_gen_new(&n.gens[0], nest_body, &top), 0);
    cr_assert_null(tulip_gen_current());
    cr_assert_eq(tulip_gen_next(n.gens[0], &v), 0);
    cr_assert_eq(I(v), 0);
    cr_assert_null(tulip_gen_current());
    cr_assert_eq(tulip_gen_next(n.gens[0], &v), TULIP_STOP);
    cr_assert_null(tulip_gen_current());
    for (i = 0; i < NEST_DEPTH; i++)
        cr_assert(n.ok[i], "tulip_gen_current() wrong at depth %d", i);
    for (i = 0; i + 1 < NEST_DEPTH; i++) {
        cr_assert_eq(n.child_rc[i], 0, "depth %d", i);
        cr_assert_eq(n.got[i], i + 1);
    }
    finish(n.gens[0]);
}

/* ---- many generators ----------------------------------------------------- */

#define MANY 10000
#define ROUNDS 3

static int many_body(void *arg, void **ret)
{
    intptr_t id = I(arg);
    int k;

    for (k = 0; k < ROUNDS; k++) {
        int rc = tulip_yield(V(id * ROUNDS + k), NULL);
        if (rc < 0)
            return rc;
    }
    *ret = V(-id);
    return 0;
}

Test(many, ten_thousand_interleaved)
{
    struct tulip_coro_opts o = {tulip_stack_size_min(), NULL};
    int many = test_scaled(MANY, 20); /* 500 under valgrind */
    tulip_gen **g = calloc((size_t)many, sizeof(*g));
    struct tulip_stack_stats st;
    void *v;
    int i, k;

    cr_assert_not_null(g);
    for (i = 0; i < many; i++)
        cr_assert_eq(tulip_gen_new_ex(&g[i], many_body, V(i), &o), 0);
    tulip_stack_stats(&st);
    cr_assert_eq(st.in_use, (size_t)many);
    for (k = 0; k < ROUNDS; k++) {
        for (i = 0; i < many; i++) {
            cr_assert_eq(tulip_gen_next(g[i], &v), 0);
            cr_assert_eq(I(v), (intptr_t)i * ROUNDS + k);
        }
    }
    /* Finish the even ones; free the odd ones while suspended. */
    for (i = 0; i < many; i += 2) {
        cr_assert_eq(tulip_gen_next(g[i], &v), TULIP_STOP);
        cr_assert_eq(I(v), -(intptr_t)i);
    }
    tulip_stack_stats(&st);
    cr_assert_eq(st.in_use, (size_t)many / 2);
    for (i = 0; i < many; i++)
        tulip_gen_free(g[i]);
    free(g);
    assert_no_stacks();
}

/* ---- allocation failure -------------------------------------------------- */

/*
 * One attempt in a fresh process (so that every pool structure is still to
 * be allocated): fail the nth allocation, then run a whole generator life
 * and trim. Exit codes: 0 the attempt succeeded, 1 it failed with -ENOMEM
 * and the counters then matched a clean run, 2+ something was wrong.
 */
static int alloc_attempt(unsigned long n, long long clean_bytes)
{
    struct test_alloc a;
    struct rec r = {.n = 1};
    tulip_gen *g = NULL;
    int rc;

    test_alloc_install(&a);
    test_alloc_fail_nth(&a, n, false);
    rc = tulip_gen_new(&g, rec_body, &r);
    test_alloc_fail_nth(&a, 0, false);
    if (rc != 0 && rc != -ENOMEM)
        return 2;
    if (rc == 0 && a.failures != 0)
        return 3; /* a failure was swallowed */
    if (rc == 0) {
        tulip_gen_next(g, NULL);
        tulip_gen_next(g, NULL);
        tulip_gen_free(g);
    }
    tulip_stack_trim();
    if (clean_bytes >= 0 && a.live_bytes > clean_bytes)
        return 4; /* the failed attempt leaked */
    /* A clean life after the failure leaves what a clean run leaves. */
    if (tulip_gen_new(&g, rec_body, &r) != 0)
        return 5;
    tulip_gen_free(g);
    tulip_stack_trim();
    if (clean_bytes >= 0 && a.live_bytes != clean_bytes)
        return 6;
    return rc == 0 ? 0 : 1;
}

/* Run alloc_attempt in a child; returns its exit code. */
static int in_child(unsigned long n, long long clean_bytes)
{
    int status;
    pid_t pid = fork();

    cr_assert_neq(pid, -1);
    if (pid == 0)
        _exit(alloc_attempt(n, clean_bytes));
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child died (status %d)", status);
    return WEXITSTATUS(status);
}

/* What a clean run leaves allocated after trimming: the pool's own
 * bookkeeping, which lives as long as the thread. */
static long long clean_run_bytes(void)
{
    int fd[2];
    long long bytes = -1;
    pid_t pid;
    int status;

    cr_assert_eq(pipe(fd), 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct test_alloc a;
        struct rec r = {.n = 1};
        tulip_gen *g;

        test_alloc_install(&a);
        if (tulip_gen_new(&g, rec_body, &r) != 0)
            _exit(1);
        tulip_gen_free(g);
        tulip_stack_trim();
        _exit(write(fd[1], &a.live_bytes, sizeof(a.live_bytes)) ==
                      sizeof(a.live_bytes)
                  ? 0
                  : 1);
    }
    close(fd[1]);
    cr_assert_eq(read(fd[0], &bytes, sizeof(bytes)), sizeof(bytes));
    close(fd[0]);
    waitpid(pid, &status, 0);
    return bytes;
}

Test(alloc, every_failure_is_enomem_without_leak)
{
    long long clean = clean_run_bytes();
    unsigned long n;
    int rc = 1;

    cr_assert_geq(clean, 0);
    for (n = 1; n < 100 && rc == 1; n++) {
        rc = in_child(n, clean);
        cr_assert(rc <= 1, "failing allocation %lu: child check %d", n, rc);
    }
    cr_assert_eq(rc, 0, "still failing after %lu allocations", n);
    cr_assert_gt(n, 2, "creation should allocate more than once");
}

Test(alloc, failure_with_warm_pool)
{
    struct test_alloc a;
    struct rec r = {.n = 1};
    tulip_gen *g;
    long long before;

    test_alloc_install(&a);
    cr_assert_eq(tulip_gen_new(&g, rec_body, &r), 0);
    tulip_gen_free(g);
    tulip_stack_trim(); /* drops the cached generator object */
    before = a.live_bytes;
    test_alloc_fail_nth(&a, 1, true);
    cr_assert_eq(tulip_gen_new(&g, rec_body, &r), -ENOMEM);
    test_alloc_fail_nth(&a, 0, false);
    cr_assert_eq(a.live_bytes, before);
    assert_no_stacks();
    cr_assert_eq(tulip_gen_new(&g, rec_body, &r), 0);
    tulip_gen_free(g);
    tulip_stack_trim();
    cr_assert_eq(a.live_bytes, before);
    test_alloc_remove();
}
