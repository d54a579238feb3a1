// SPDX-License-Identifier: MIT
/*
 * fuzz_gen: the generator protocol (PEP 342/380) under fuzzed sequences of
 * next/send/throw/close over a few generators whose bodies are programs read
 * from the input: yield (catching or propagating a thrown error; returning
 * 0, TULIP_GENEXIT or -EIO, or ignoring the close, when closed), return a
 * value, fail, return TULIP_STOP (PEP 479), delegate with tulip_yield_from()
 * to a later generator or with tulip_yield_from_fn() to a sub-body on the
 * same stack, resume another generator from inside a body, loop. No loop,
 * no time: generators are plain C iteration.
 *
 * The bodies report what they do (started, yielded what, returned what) and
 * the harness checks every call against a simple model of the protocol, and
 * abort()s on a violation: a call returns 0 exactly when a body yielded
 * (with that value as *out) and the generator is then SUSPENDED; otherwise
 * it is CLOSED and the code is the body's (TULIP_STOP with its *ret,
 * TULIP_EBADSTOP for a body that returned TULIP_STOP); a finished generator
 * gives TULIP_STOP with NULL, a throw gives back its error, a close gives
 * 0; a value sent before the start gives TULIP_ENOTSTARTED; a body receives
 * exactly the value sent or the error thrown; close follows its doc (0,
 * TULIP_EIGNORED, or the body's error); TULIP_ERUNNING happens exactly when
 * the target is running, so never from outside; the state is never RUNNING
 * from outside. Finally every generator is run to its end and freed, and
 * every coroutine stack must be back (tulip_stack_stats().in_use).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tulip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_GENS 6
#define MAX_PROG 16
#define MAX_CALLS 256

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_gen: invariant failed at line %d: %s\n",     \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

enum call_kind { C_NEXT, C_SEND, C_THROW, C_CLOSE };

struct model {
    tulip_gen *g;
    const uint8_t *prog; /* the body's program */
    int len;             /* its length */
    bool started;        /* the body began */
    bool finished;       /* the body returned (or never will run) */
    bool active;         /* its body's code is executing right now */
    int deleg;           /* generator it delegates to, or -1 */
    int calls;           /* calls resuming it that have not returned */
    int rc;              /* what the body returned */
    void *ret;           /* its *ret when it returned 0 */
    unsigned count;      /* values yielded */
};

static struct {
    struct model m[MAX_GENS];
    int n;
    void *last_yield; /* the last value a body yielded */
    void *sent;       /* what the next resumed tulip_yield must receive */
    int yield_rc;     /* the code it must return (0, error, GENEXIT) */
    bool draining;    /* at the end: every body returns at its next resume */
} G;

/* Whether gen i's frame is on the chain of execution (its state must be
 * RUNNING): its body's code runs, a call resumed it and has not returned,
 * or it delegates to the generator on that chain that was reached through
 * it. A suspended generator that delegates to a running one is not running
 * itself (Python's getgeneratorstate says SUSPENDED), but resuming it
 * forwards into the running one: see refuses(). */
static bool running(int i)
{
    if (G.m[i].active || G.m[i].calls > 0)
        return true;
    for (int k = 0; k < i; k++) /* delegators come earlier: no cycles */
        if (G.m[k].deleg == i && running(k))
            return true;
    return false;
}

/* Whether resuming gen i must give TULIP_ERUNNING: it runs, or its chain
 * of delegation reaches a generator that runs. */
static bool refuses(int i)
{
    for (int guard = 0; i >= 0 && guard <= MAX_GENS; guard++) {
        if (running(i))
            return true;
        i = G.m[i].deleg;
    }
    return false;
}

static void *retval(int i)
{
    return (void *)(intptr_t)(((i + 1) << 16) | 0xffff);
}

static int resume(int i, enum call_kind kind, intptr_t arg, bool from_body);

/* Yield v from gen i's body and check what comes back. */
static int body_yield(int i, void **sent)
{
    struct model *m = &G.m[i];
    void *v = (void *)(intptr_t)(((i + 1) << 16) | (int)(++m->count & 0xfff));
    G.last_yield = v;
    m->active = false;
    int rc = tulip_yield(v, sent);
    m->active = true;
    CHECK(tulip_gen_current() == m->g);
    CHECK(rc == G.yield_rc);
    if (rc == 0)
        CHECK(*sent == G.sent);
    return rc;
}

/* A sub-body run with tulip_yield_from_fn(): yields twice, then returns. */
static int sub_body(void *arg, void **ret)
{
    int i = (int)(intptr_t)arg;
    void *sent;
    for (int k = 0; k < 2; k++) {
        int rc = body_yield(i, &sent);
        if (rc < 0)
            return rc;
        if (G.draining)
            break;
    }
    *ret = retval(i);
    return 0;
}

static int finish(struct model *m, int rc, void **ret, void *r)
{
    m->finished = true;
    m->active = false;
    m->rc = rc;
    m->ret = r;
    *ret = r;
    return rc;
}

static int body(void *arg, void **ret)
{
    int i = (int)(intptr_t)arg;
    struct model *m = &G.m[i];
    void *sent;
    m->started = true;
    m->active = true;
    CHECK(tulip_gen_current() == m->g);
    for (int pc = 0; pc < m->len;) {
        int b = m->prog[pc++], rc;
        switch (b & 7) {
        case 0:
        case 7:
            rc = body_yield(i, &sent);
            if (rc == TULIP_GENEXIT) {
                switch ((b >> 4) & 3) {
                case 0:
                    return finish(m, 0, ret, retval(i));
                case 1:
                    return finish(m, TULIP_GENEXIT, ret, NULL);
                case 2:
                    return finish(m, -EIO, ret, NULL);
                default: /* ignore the close: yield again */
                    G.yield_rc = 0;
                    G.sent = NULL;
                    rc = body_yield(i, &sent);
                    if (rc < 0)
                        return finish(m, rc, ret, NULL);
                    break;
                }
            } else if (rc < 0 && !(b & 8)) {
                return finish(m, rc, ret, NULL); /* propagate the throw */
            }
            if (G.draining)
                return finish(m, 0, ret, retval(i));
            if ((b & 7) == 7)
                pc = 0; /* loop forever (each round yields) */
            break;
        case 1:
            return finish(m, 0, ret, retval(i));
        case 2:
            return finish(m, -EIO, ret, NULL);
        case 3:
            return finish(m, TULIP_STOP, ret, NULL);
        case 4: {
            if (i + 1 >= G.n)
                break;
            int j = i + 1 + (b >> 3) % (G.n - i - 1);
            bool busy = refuses(j);
            void *r = (void *)1;
            m->deleg = j;
            m->active = false;
            G.sent = NULL; /* the sub-generator is resumed by a next() */
            G.yield_rc = 0;
            rc = tulip_yield_from(G.m[j].g, &r);
            m->active = true;
            m->deleg = -1;
            CHECK(tulip_gen_current() == m->g);
            if (busy) {
                CHECK(rc == TULIP_ERUNNING);
                break; /* it resumed us: delegating to it is refused */
            }
            if (rc == 0)
                CHECK(r == NULL || r == retval(j));
            if (rc < 0)
                return finish(m, rc, ret, NULL);
            if (G.draining)
                return finish(m, 0, ret, retval(i));
            break;
        }
        case 5: {
            void *r = NULL;
            rc = tulip_yield_from_fn(sub_body, (void *)(intptr_t)i, &r);
            CHECK(tulip_gen_current() == m->g);
            if (rc == 0)
                CHECK(r == retval(i));
            if (rc < 0)
                return finish(m, rc, ret, NULL);
            if (G.draining)
                return finish(m, 0, ret, retval(i));
            break;
        }
        default: /* 6: resume another generator from inside this body */
            if (!G.draining)
                resume((b >> 3) % G.n, C_NEXT, 0, true);
            break;
        }
    }
    return finish(m, 0, ret, retval(i));
}

/* Resume gen i with one call of the protocol and check the outcome. */
static int resume(int i, enum call_kind kind, intptr_t arg, bool from_body)
{
    struct model *m = &G.m[i];
    enum tulip_gen_state st = tulip_gen_state(m->g);
    bool was_finished = m->finished, busy = refuses(i);
    void *out = (void *)2;
    int rc, err = (int)arg;

    if (!from_body)
        CHECK(st != TULIP_GEN_RUNNING && !busy);
    CHECK((st == TULIP_GEN_RUNNING) == running(i));
    G.sent = kind == C_SEND ? (void *)arg : NULL;
    G.yield_rc = kind == C_THROW ? err : kind == C_CLOSE ? TULIP_GENEXIT : 0;
    m->calls++;
    switch (kind) {
    case C_NEXT:
        rc = tulip_gen_next(m->g, &out);
        break;
    case C_SEND:
        rc = tulip_gen_send(m->g, (void *)arg, &out);
        break;
    case C_THROW:
        rc = tulip_gen_throw(m->g, err, &out);
        break;
    default:
        rc = tulip_gen_close(m->g);
        break;
    }
    m->calls--;
    st = tulip_gen_state(m->g);
    if (busy) {
        CHECK(rc == TULIP_ERUNNING);
        return rc;
    }
    CHECK(rc != TULIP_ERUNNING);
    if (kind == C_SEND && arg && !m->started && !was_finished) {
        CHECK(rc == TULIP_ENOTSTARTED && st == TULIP_GEN_CREATED);
        return rc;
    }
    if (was_finished) {
        CHECK(st == TULIP_GEN_CLOSED);
        if (kind == C_THROW)
            CHECK(rc == err);
        else if (kind == C_CLOSE)
            CHECK(rc == 0);
        else
            CHECK(rc == TULIP_STOP && out == NULL);
        return rc;
    }
    if (!m->started && (kind == C_THROW || kind == C_CLOSE)) {
        /* never runs: a throw comes back, a close does nothing */
        CHECK(st == TULIP_GEN_CLOSED && !m->started);
        CHECK(rc == (kind == C_THROW ? err : 0));
        m->finished = true;
        return rc;
    }
    if (kind == C_CLOSE) {
        if (rc == TULIP_EIGNORED && !m->finished) {
            CHECK(st == TULIP_GEN_SUSPENDED);
        } else {
            CHECK(m->finished && st == TULIP_GEN_CLOSED);
            if (rc == 0)
                CHECK(m->rc == 0 || m->rc == TULIP_GENEXIT ||
                      m->rc == TULIP_STOP);
            else
                CHECK(rc == m->rc);
        }
        return rc;
    }
    if (rc == 0) {
        CHECK(!m->finished && st == TULIP_GEN_SUSPENDED);
        CHECK(out == G.last_yield);
        return rc;
    }
    CHECK(m->finished && st == TULIP_GEN_CLOSED);
    if (rc == TULIP_STOP)
        CHECK(m->rc == 0 && out == m->ret);
    else if (rc == TULIP_EBADSTOP)
        CHECK(m->rc == TULIP_STOP || m->rc == TULIP_EBADSTOP);
    else
        CHECK(rc == m->rc);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int errs[] = {-EIO, -EPIPE, -ECONNRESET, -EINVAL};
    struct tulip_stack_stats st;
    size_t off = 0;
    if (size < 1 || size > 4096)
        return 0;
    memset(&G, 0, sizeof(G));
    G.n = 2 + data[off++] % (MAX_GENS - 1);
    for (int i = 0; i < G.n; i++) {
        struct model *m = &G.m[i];
        int len = off < size ? data[off++] % (MAX_PROG + 1) : 0;
        if (len > (int)(size - off))
            len = (int)(size - off);
        m->prog = data + off;
        m->len = len;
        m->deleg = -1;
        off += (size_t)len;
        CHECK(tulip_gen_new(&m->g, body, (void *)(intptr_t)i) == 0);
        CHECK(tulip_gen_state(m->g) == TULIP_GEN_CREATED);
    }
    for (int calls = 0; off < size && calls < MAX_CALLS; calls++) {
        int b = data[off++];
        int i = (b >> 2) % G.n;
        enum call_kind kind = (enum call_kind)(b & 3);
        intptr_t arg = 0;
        if (kind == C_SEND)
            arg = (b & 0x80) ? 0 : 0x1000 + calls;
        else if (kind == C_THROW)
            arg = errs[(b >> 5) % 4];
        resume(i, kind, arg, false);
    }
    /* Run every generator to its end, then free it. */
    G.draining = true;
    for (int i = 0; i < G.n; i++) {
        for (int k = 0; !G.m[i].finished; k++) {
            CHECK(k < 2 * MAX_GENS + 4);
            resume(i, C_NEXT, 0, false);
        }
        CHECK(tulip_gen_state(G.m[i].g) == TULIP_GEN_CLOSED);
    }
    for (int i = 0; i < G.n; i++)
        tulip_gen_free(G.m[i].g);
    tulip_stack_stats(&st);
    CHECK(st.in_use == 0);
    return 0;
}
