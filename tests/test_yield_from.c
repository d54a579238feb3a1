/* SPDX-License-Identifier: MIT */
/*
 * Delegation with PEP 380 semantics, through tulip_yield_from() (a
 * sub-generator object on its own stack) and tulip_yield_from_fn() (a
 * sub-generator body called on the delegator's stack): values sent and
 * errors thrown reach the innermost generator, its return value becomes
 * the result of the yield-from, closing the outer generator closes the
 * inner one first, and an exhausted sub-generator returns at once. The
 * delegation transcript of jmoldow's tutorial, chapter 3 (asyncio.md D.3),
 * is reproduced byte for byte into a buffer, both ways.
 *
 * Bodies never use cr_assert (it would longjmp off a coroutine stack); they
 * log into a buffer or a struct that the test checks from its main stack.
 */
/* ctest: labels=unit timeout=120 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tulip.h"

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((intptr_t)(p))
#define NOT_SET V(-1)

/* ---- a log of what the bodies did ---------------------------------------- */

static char log_buf[4096];
static size_t log_len;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append one line to the log. */
static void say(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(log_buf) - log_len - 1) {
        log_len += (size_t)n;
        log_buf[log_len++] = '\n';
        log_buf[log_len] = '\0';
    }
}

/* Python's print() of a small int that may be None. */
static void say_value(const char *prefix, void *v)
{
    if (v)
        say("%s%s%ld", prefix, *prefix ? " " : "", (long)I(v));
    else
        say("%s%sNone", prefix, *prefix ? " " : "");
}

static void assert_no_stacks(void)
{
    struct tulip_stack_stats st;

    tulip_stack_stats(&st);
    cr_assert_eq(st.in_use, 0, "%zu stacks still in use", st.in_use);
}

/* ---- bottom, middle, top: values down, return values up ------------------ */

struct leaf {
    int nops;      /* yields that came back */
    int ops[8];    /* what each returned */
    void *sent[8]; /* what each received */
    int handle;    /* yield again after a thrown error */
    int closed;    /* saw TULIP_GENEXIT */
    int ran;       /* body entries */
};

/* Yields 42, 43 ... and returns the last value sent; see struct leaf. */
static int leaf_body(void *arg, void **ret)
{
    struct leaf *l = arg;
    void *sent = NULL;
    int i, op;

    l->ran++;
    for (i = 0; i < 3; i++) {
        op = tulip_yield(V(42 + i), &sent);
        l->ops[l->nops] = op;
        l->sent[l->nops++] = sent;
        if (op == TULIP_GENEXIT) {
            l->closed++;
            say("leaf closed");
            return op;
        }
        if (op < 0 && !l->handle)
            return op;
        if (sent)
            break;
    }
    *ret = sent;
    return 0;
}

struct mid {
    struct leaf *leaf;
    int rc;      /* what the yield-from returned */
    void *ret;   /* its result */
    int by_fn;   /* delegate with tulip_yield_from_fn */
    int ran;     /* the body went on after the yield-from */
    int current; /* tulip_gen_current() was this generator after it */
};

/* middle(): return (yield from leaf) */
static int mid_body(void *arg, void **ret)
{
    struct mid *m = arg;
    tulip_gen *me = tulip_gen_current(), *sub;

    m->ret = NOT_SET;
    if (m->by_fn) {
        m->rc = tulip_yield_from_fn(leaf_body, m->leaf, &m->ret);
    } else {
        if (tulip_gen_new(&sub, leaf_body, m->leaf) != 0)
            return -ENOMEM;
        m->rc = tulip_yield_from(sub, &m->ret);
        tulip_gen_free(sub);
    }
    m->ran = 1;
    m->current = tulip_gen_current() == me;
    if (m->rc == TULIP_GENEXIT)
        say("mid closed");
    *ret = m->ret;
    return m->rc;
}

static tulip_gen *mid_new(struct mid *m)
{
    tulip_gen *g;

    cr_assert_eq(tulip_gen_new(&g, mid_body, m), 0);
    return g;
}

static void sent_values_reach_innermost(int by_fn)
{
    struct leaf l = {0};
    struct mid m = {&l, 0, NULL, by_fn, 0, 0};
    tulip_gen *g = mid_new(&m);
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(I(v), 42, "the leaf's value comes out");
    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(I(v), 43);
    cr_assert_eq(tulip_gen_send(g, V(84), &v), TULIP_STOP);
    cr_assert_eq(I(v), 84, "return (yield from ...) passes 84 up");
    cr_assert_eq(l.nops, 2);
    cr_assert_null(l.sent[0], "next reaches the leaf as None");
    cr_assert_eq(I(l.sent[1]), 84, "send reaches the leaf");
    cr_assert_eq(m.rc, 0);
    cr_assert_eq(I(m.ret), 84, "the leaf's return is the yield-from's");
    cr_assert(m.current);
    tulip_gen_free(g);
    assert_no_stacks();
}

Test(yield_from, sent_values_reach_innermost)
{
    sent_values_reach_innermost(0);
}

Test(yield_from_fn, sent_values_reach_innermost)
{
    sent_values_reach_innermost(1);
}

static void thrown_errors_reach_innermost(int by_fn, int handle)
{
    struct leaf l = {0};
    struct mid m = {&l, 0, NULL, by_fn, 0, 0};
    tulip_gen *g = mid_new(&m);
    void *v = NOT_SET;

    l.handle = handle;
    cr_assert_eq(tulip_gen_next(g, &v), 0);
    if (handle) {
        cr_assert_eq(tulip_gen_throw(g, -EIO, &v), 0);
        cr_assert_eq(I(v), 43, "the leaf handled it and yielded again");
        cr_assert_eq(m.ran, 0, "the middle is still delegating");
    } else {
        cr_assert_eq(tulip_gen_throw(g, -EIO, &v), -EIO);
        cr_assert_eq(m.ran, 1);
        cr_assert_eq(m.rc, -EIO, "yield-from raises the leaf's error");
        cr_assert_null(m.ret);
        cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    }
    cr_assert_eq(l.ops[0], -EIO, "the throw reached the leaf");
    tulip_gen_free(g);
    assert_no_stacks();
}

Test(yield_from, thrown_error_handled_by_innermost)
{
    thrown_errors_reach_innermost(0, 1);
}

Test(yield_from, thrown_error_propagates_from_innermost)
{
    thrown_errors_reach_innermost(0, 0);
}

Test(yield_from_fn, thrown_error_handled_by_innermost)
{
    thrown_errors_reach_innermost(1, 1);
}

Test(yield_from_fn, thrown_error_propagates_from_innermost)
{
    thrown_errors_reach_innermost(1, 0);
}

static void close_closes_inner_first(int by_fn)
{
    struct leaf l = {0};
    struct mid m = {&l, 0, NULL, by_fn, 0, 0};
    tulip_gen *g = mid_new(&m);

    log_len = 0;
    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(tulip_gen_close(g), 0);
    cr_assert_str_eq(log_buf, "leaf closed\nmid closed\n");
    cr_assert_eq(m.rc, TULIP_GENEXIT);
    cr_assert_eq(l.closed, 1);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    tulip_gen_free(g);
    assert_no_stacks();
}

Test(yield_from, close_closes_inner_first)
{
    close_closes_inner_first(0);
}

Test(yield_from_fn, close_closes_inner_first)
{
    close_closes_inner_first(1);
}

/* PEP 380: GeneratorExit thrown in (not only close()) closes the inner. */
Test(yield_from, thrown_genexit_closes_inner)
{
    struct leaf l = {0};
    struct mid m = {&l, 0, NULL, 0, 0, 0};
    tulip_gen *g = mid_new(&m);

    log_len = 0;
    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(tulip_gen_throw(g, TULIP_GENEXIT, NULL), TULIP_GENEXIT);
    cr_assert_str_eq(log_buf, "leaf closed\nmid closed\n");
    tulip_gen_free(g);
    assert_no_stacks();
}

/* A leaf that ignores close: the delegator's close fails with an error,
 * the delegator is finished and the leaf is still suspended. */
static int stubborn_body(void *arg, void **ret)
{
    int *yields = arg;

    (void)ret;
    while (*yields < 100) {
        ++*yields;
        tulip_yield(NULL, NULL);
    }
    return 0;
}

static int stubborn_mid(void *arg, void **ret)
{
    tulip_gen *sub = arg;

    (void)ret;
    return tulip_yield_from(sub, NULL);
}

Test(yield_from, inner_ignoring_close_fails_the_close)
{
    tulip_gen *sub, *g;
    int yields = 0, rc;

    cr_assert_eq(tulip_gen_new(&sub, stubborn_body, &yields), 0);
    cr_assert_eq(tulip_gen_new(&g, stubborn_mid, sub), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    rc = tulip_gen_close(g);
    cr_assert_eq(rc, TULIP_EIGNORED, "close gave %s", tulip_err_name(rc));
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED,
                 "the delegator finished with the error");
    cr_assert_eq(tulip_gen_state(sub), TULIP_GEN_SUSPENDED);
    cr_assert_eq(yields, 2);
    tulip_gen_free(g);
    tulip_gen_free(sub); /* abandoned, with a message */
    assert_no_stacks();
}

/* ---- exhausted and misused sub-generators -------------------------------- */

struct ex {
    tulip_gen *sub;
    int rc;
    void *ret;
};

static int returns_5(void *arg, void **ret)
{
    (void)arg;
    *ret = V(5);
    return 0;
}

static int delegate_once(void *arg, void **ret)
{
    struct ex *e = arg;

    (void)ret;
    e->ret = NOT_SET;
    e->rc = tulip_yield_from(e->sub, &e->ret);
    return 0;
}

Test(yield_from, exhausted_sub_returns_at_once_with_null)
{
    struct ex e = {NULL, -1, NULL};
    tulip_gen *g;
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_new(&e.sub, returns_5, NULL), 0);
    cr_assert_eq(tulip_gen_next(e.sub, &v), TULIP_STOP);
    cr_assert_eq(I(v), 5);
    cr_assert_eq(tulip_gen_new(&g, delegate_once, &e), 0);
    cr_assert_eq(tulip_gen_next(g, &v), TULIP_STOP, "nothing was yielded");
    cr_assert_eq(e.rc, 0);
    cr_assert_null(e.ret, "a second StopIteration carries None");
    tulip_gen_free(g);
    tulip_gen_free(e.sub);
    assert_no_stacks();
}

Test(yield_from, fresh_sub_that_returns_at_once)
{
    struct ex e = {NULL, -1, NULL};
    tulip_gen *g;

    cr_assert_eq(tulip_gen_new(&e.sub, returns_5, NULL), 0);
    cr_assert_eq(tulip_gen_new(&g, delegate_once, &e), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    cr_assert_eq(e.rc, 0);
    cr_assert_eq(I(e.ret), 5);
    tulip_gen_free(g);
    tulip_gen_free(e.sub);
    assert_no_stacks();
}

static int returns_stop(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    return TULIP_STOP;
}

static int returns_eio(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    return -EIO;
}

struct fn_case {
    tulip_gen_fn *fn;
    int rc;
    void *ret;
};

static int delegate_fn(void *arg, void **ret)
{
    struct fn_case *c = arg;

    (void)ret;
    c->ret = NOT_SET;
    c->rc = tulip_yield_from_fn(c->fn, NULL, &c->ret);
    return 0;
}

static void fn_case(tulip_gen_fn *fn, int want_rc, void *want_ret)
{
    struct fn_case c = {fn, 1, NULL};
    tulip_gen *g;

    cr_assert_eq(tulip_gen_new(&g, delegate_fn, &c), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    cr_assert_eq(c.rc, want_rc, "got %s", tulip_err_name(c.rc));
    cr_assert_eq(c.ret, want_ret);
    tulip_gen_free(g);
    assert_no_stacks();
}

Test(yield_from_fn, return_value)
{
    fn_case(returns_5, 0, V(5));
}

Test(yield_from_fn, stop_is_ebadstop)
{
    fn_case(returns_stop, TULIP_EBADSTOP, NULL);
}

Test(yield_from_fn, error_propagates)
{
    fn_case(returns_eio, -EIO, NULL);
}

/* A sub-generator body that fails its own close. */
static int fails_close(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    if (tulip_yield(NULL, NULL) == TULIP_GENEXIT)
        return -EIO;
    return 0;
}

Test(yield_from_fn, close_error_propagates)
{
    struct fn_case c = {fails_close, 1, NULL};
    tulip_gen *g;

    cr_assert_eq(tulip_gen_new(&g, delegate_fn, &c), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    cr_assert_eq(tulip_gen_close(g), 0, "delegate_fn returns 0 anyway");
    cr_assert_eq(c.rc, -EIO, "yield_from_fn gave %s", tulip_err_name(c.rc));
    tulip_gen_free(g);
    assert_no_stacks();
}

/* ---- jmoldow, chapter 3: delegation of send, throw and close ------------- */

#define IGNORABLE_ERROR (-7001)
#define STOP_SUB_GENERATOR (-7002)

static const char *exc_repr(int err)
{
    switch (err) {
    case IGNORABLE_ERROR:
        return "IgnorableError()";
    case STOP_SUB_GENERATOR:
        return "StopSubGenerator()";
    default:
        return tulip_err_name(err);
    }
}

static int yield_sent_values(void *arg, void **ret)
{
    void *value = NULL;
    int rc;

    (void)arg;
    (void)ret;
    for (;;) {
        say_value("yielding", value);
        rc = tulip_yield(value, &value);
        if (rc == TULIP_GENEXIT) {
            say("Received GeneratorExit, returning");
            return 0;
        }
        if (rc == STOP_SUB_GENERATOR) {
            say("Received StopSubGenerator, returning");
            return 0;
        }
        if (rc < 0) {
            say("Received %s and will re-raise", exc_repr(rc));
            return rc;
        }
        say_value("received", value);
    }
}

/* yield from yield_sent_values(), as an object or a function. */
static int delegate_sub(int by_fn)
{
    tulip_gen *sub;
    int rc;

    if (by_fn)
        return tulip_yield_from_fn(yield_sent_values, NULL, NULL);
    rc = tulip_gen_new(&sub, yield_sent_values, NULL);
    if (rc < 0)
        return rc;
    rc = tulip_yield_from(sub, NULL);
    tulip_gen_free(sub);
    return rc;
}

static int delegator_function(void *arg, void **ret)
{
    int by_fn = *(int *)arg, rc;

    (void)ret;
    for (;;) {
        rc = delegate_sub(by_fn);
        if (rc == IGNORABLE_ERROR) {
            say("Caught IgnorableError from subgenerator, restarting "
                "subgenerator");
        } else if (rc == TULIP_GENEXIT) {
            say("Received GeneratorExit from subgenerator, returning");
            return 0;
        } else if (rc < 0) {
            say("Received %s from subgenerator, re-raising", exc_repr(rc));
            return rc;
        } else {
            say("Subgenerator stopped cleanly, restarting subgenerator");
        }
    }
}

static const char transcript[] =
    "yielding None\n"
    "received 3\n"
    "yielding 3\n"
    "3\n"
    "received 4\n"
    "yielding 4\n"
    "4\n"
    "Received IgnorableError() and will re-raise\n"
    "Caught IgnorableError from subgenerator, restarting subgenerator\n"
    "yielding None\n"
    "None\n"
    "Received StopSubGenerator, returning\n"
    "Subgenerator stopped cleanly, restarting subgenerator\n"
    "yielding None\n"
    "None\n"
    "Received GeneratorExit, returning\n"
    "Received GeneratorExit from subgenerator, returning\n";

static void delegation_transcript(int by_fn)
{
    tulip_gen *d;
    void *v;

    log_len = 0;
    cr_assert_eq(tulip_gen_new(&d, delegator_function, &by_fn), 0);
    cr_assert_eq(tulip_gen_next(d, &v), 0);
    cr_assert_eq(tulip_gen_send(d, V(3), &v), 0);
    say_value("", v);
    cr_assert_eq(tulip_gen_send(d, V(4), &v), 0);
    say_value("", v);
    cr_assert_eq(tulip_gen_throw(d, IGNORABLE_ERROR, &v), 0);
    say_value("", v);
    cr_assert_eq(tulip_gen_throw(d, STOP_SUB_GENERATOR, &v), 0);
    say_value("", v);
    cr_assert_eq(tulip_gen_close(d), 0);
    cr_assert_str_eq(log_buf, transcript);
    tulip_gen_free(d);
    assert_no_stacks();
}

Test(transcript, delegation_with_yield_from)
{
    delegation_transcript(0);
}

Test(transcript, delegation_with_yield_from_fn)
{
    delegation_transcript(1);
}

/* ---- deep delegation chains ---------------------------------------------- */

#define CHAIN 100

struct chain {
    int by_fn;       /* link with tulip_yield_from_fn */
    int closed;      /* levels that saw the close */
    int ok;          /* levels where tulip_gen_current() was right */
    tulip_gen *leaf; /* the innermost generator (objects only) */
    int leaf_current;
};

struct link {
    struct chain *c;
    int depth;
};

/* bottom(): return (yield 42), recording what it sees. */
static int chain_bottom(struct chain *c, void **ret)
{
    void *sent = NULL;
    int rc;

    c->leaf_current = c->by_fn || tulip_gen_current() == c->leaf;
    rc = tulip_yield(V(42), &sent);
    if (rc == TULIP_GENEXIT)
        c->closed++;
    *ret = sent;
    return rc;
}

/* Every level: return (yield from the level below). */
static int chain_body(void *arg, void **ret)
{
    struct link *l = arg, below = {l->c, l->depth + 1};
    tulip_gen *me = tulip_gen_current(), *sub;
    struct tulip_coro_opts o = {tulip_stack_size_min(), NULL};
    int rc;

    if (l->depth == CHAIN - 1)
        return chain_bottom(l->c, ret);
    if (l->c->by_fn) {
        rc = tulip_yield_from_fn(chain_body, &below, ret);
    } else {
        if (tulip_gen_new_ex(&sub, chain_body, &below, &o) != 0)
            return -ENOMEM;
        if (below.depth == CHAIN - 1)
            l->c->leaf = sub;
        rc = tulip_yield_from(sub, ret);
        tulip_gen_free(sub);
    }
    l->c->ok += tulip_gen_current() == me;
    if (rc == TULIP_GENEXIT)
        l->c->closed++;
    return rc;
}

/* The top of a chain: with functions, all levels share its stack (the
 * default size); with objects, each has the smallest stack. */
static tulip_gen *chain_new(struct chain *c, struct link *top, int by_fn)
{
    struct tulip_coro_opts o = {by_fn ? 0 : tulip_stack_size_min(), "top"};
    tulip_gen *g;

    memset(c, 0, sizeof(*c));
    c->by_fn = by_fn;
    top->c = c;
    top->depth = 0;
    cr_assert_eq(tulip_gen_new_ex(&g, chain_body, top, &o), 0);
    return g;
}

static void chain_send(int by_fn)
{
    struct chain c;
    struct link top;
    tulip_gen *g = chain_new(&c, &top, by_fn);
    struct tulip_stack_stats st;
    void *v = NOT_SET;

    cr_assert_eq(tulip_gen_next(g, &v), 0);
    cr_assert_eq(I(v), 42);
    tulip_stack_stats(&st);
    cr_assert_eq(st.in_use, by_fn ? 1 : CHAIN, "one stack per level");
    cr_assert(c.leaf_current, "tulip_gen_current() is the leaf");
    cr_assert_eq(tulip_gen_send(g, V(84), &v), TULIP_STOP);
    cr_assert_eq(I(v), 84, "84 went down %d levels and back up", CHAIN);
    cr_assert_eq(c.ok, CHAIN - 1);
    tulip_gen_free(g);
    assert_no_stacks();
}

static void chain_throw_and_close(int by_fn, int close)
{
    struct chain c;
    struct link top;
    tulip_gen *g = chain_new(&c, &top, by_fn);

    cr_assert_eq(tulip_gen_next(g, NULL), 0);
    if (close) {
        cr_assert_eq(tulip_gen_close(g), 0);
        cr_assert_eq(c.closed, CHAIN, "every level saw the close");
    } else {
        cr_assert_eq(tulip_gen_throw(g, -EIO, NULL), -EIO);
        cr_assert_eq(c.closed, 0);
    }
    cr_assert_eq(c.ok, CHAIN - 1);
    cr_assert_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    tulip_gen_free(g);
    assert_no_stacks();
}

Test(chain, send_through_100_generators)
{
    chain_send(0);
}

Test(chain, send_through_100_functions)
{
    chain_send(1);
}

Test(chain, throw_through_100_generators)
{
    chain_throw_and_close(0, 0);
}

Test(chain, close_through_100_generators)
{
    chain_throw_and_close(0, 1);
}

Test(chain, throw_through_100_functions)
{
    chain_throw_and_close(1, 0);
}

Test(chain, close_through_100_functions)
{
    chain_throw_and_close(1, 1);
}
