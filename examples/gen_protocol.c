/* SPDX-License-Identifier: MIT */
/*
 * The full generator protocol, from jmoldow's "jmoldow-python3-async-
 * tutorial", chapter 2 ("Generators revisited"): send(), throw() and
 * close(), and the value a generator returns. The cells, one after another:
 *
 *   # Generator.send
 *   def generator_function():
 *       print((yield 0))
 *       print((yield 1))
 *
 *   generator = generator_function()
 *   print(next(generator))  # the notebook leaves next(generator) unprinted
 *   item = generator.send('print this')
 *   print('yielded', item)
 *   try:
 *       next(generator)  # Same as `generator.send(None)`
 *   except StopIteration:
 *       pass
 *   print()
 *
 *   # Generator.throw, run 1 and run 2
 *   class ExpectedError(Exception): pass
 *
 *   def generator_function():
 *       for i in range(2):
 *           try:
 *               yield i
 *           except ExpectedError as exc:
 *               print('Caught exception', repr(exc))
 *               continue
 *           except Exception as exc:
 *               print('Did not catch exception', repr(exc))
 *               raise
 *       return i
 *
 *   generator = generator_function()
 *   next(generator)
 *   item = generator.throw(ExpectedError)
 *   print('yielded', item)
 *   try:
 *       generator.throw(KeyError('key'))
 *   except KeyError:
 *       traceback.print_exc()
 *   print()
 *   generator = generator_function()
 *   next(generator)
 *   item = generator.throw(ExpectedError)
 *   print('yielded', item)
 *   try:
 *       generator.throw(ExpectedError)
 *   except StopIteration as exc:
 *       traceback.print_exc()
 *       print(repr(exc))
 *   print()
 *
 *   # Generator.close: (a) GeneratorExit passes through, (b) a new
 *   # exception raised while closing comes out of close()
 *   def generator_function():
 *       try:
 *           yield
 *       except:
 *           traceback.print_exc()
 *           raise
 *       print('About to yield 1')
 *       yield 1
 *
 *   generator = generator_function()
 *   next(generator)
 *   generator.close()
 *
 *   def generator_function():
 *       try:
 *           yield 0
 *       except:
 *           raise KeyError('key')
 *
 *   generator = generator_function()
 *   next(generator)
 *   try:
 *       generator.close()
 *   except KeyError:
 *       traceback.print_exc()
 *   print()
 *
 *   # Generators that return values
 *   def generator_function_that_returns_a_value():
 *       yield 0
 *       return 'return_value'
 *
 *   generator = generator_function_that_returns_a_value()
 *   next(generator)
 *   for _ in range(2):  # the notebook writes the try out twice
 *       try:
 *           next(generator)
 *       except StopIteration as exc:
 *           traceback.print_exc()
 *           print(repr(exc))
 *           print(repr(exc.value))
 *
 * Standard output is Python 3.11's, byte for byte (3.7 and later print
 * KeyError('key') where the 3.6 notebook shows KeyError('key',)). Where
 * Python prints a traceback on standard error, this program prints only its
 * last line there ("KeyError: 'key'"), as C has no traceback to show; that
 * is also why the close cells leave no line on standard output. Exceptions
 * are negative codes; GeneratorExit is TULIP_GENEXIT and StopIteration is
 * TULIP_STOP.
 */
#include <stdint.h>
#include <stdio.h>

#include "tulip.h"

#define EXPECTED_ERROR (-7301) /* class ExpectedError(Exception) */
#define KEY_ERROR (-7302)      /* KeyError('key') */

#define V(x) ((void *)(intptr_t)(x))
#define L(p) ((long)(intptr_t)(p))

static const char *exc_repr(int err)
{
    switch (err) {
    case EXPECTED_ERROR:
        return "ExpectedError()";
    case KEY_ERROR:
        return "KeyError('key')";
    default:
        return tulip_err_name(err);
    }
}

/* The last line of the traceback Python would print. */
static void print_exc(const char *line)
{
    fprintf(stderr, "%s\n", line);
}

static tulip_gen *start(tulip_gen_fn *fn, void **first)
{
    tulip_gen *g;

    if (tulip_gen_new(&g, fn, NULL) < 0)
        return NULL;
    tulip_gen_next(g, first);
    return g;
}

/* ---- Generator.send ------------------------------------------------------ */

/* print() of a value received from send: a string, or None. */
static void print_sent(const char *s)
{
    printf("%s\n", s ? s : "None");
}

static int send_demo_fn(void *arg, void **ret)
{
    void *sent;
    int rc;

    (void)arg;
    (void)ret;
    rc = tulip_yield(V(0), &sent);
    if (rc < 0)
        return rc;
    print_sent(sent);
    rc = tulip_yield(V(1), &sent);
    if (rc < 0)
        return rc;
    print_sent(sent);
    return 0;
}

static void send_demo(void)
{
    static char print_this[] = "print this";
    void *first = NULL, *item = NULL;
    tulip_gen *g = start(send_demo_fn, &first);

    if (!g)
        return;
    printf("%ld\n", L(first));
    tulip_gen_send(g, print_this, &item);
    printf("yielded %ld\n", L(item));
    tulip_gen_next(g, NULL); /* TULIP_STOP: pass */
    tulip_gen_free(g);
    printf("\n");
}

/* ---- Generator.throw ----------------------------------------------------- */

static int throw_demo_fn(void *arg, void **ret)
{
    intptr_t i;
    int rc;

    (void)arg;
    for (i = 0; i < 2; i++) {
        rc = tulip_yield(V(i), NULL);
        if (rc == EXPECTED_ERROR) {
            printf("Caught exception %s\n", exc_repr(rc));
            continue;
        }
        if (rc == TULIP_GENEXIT) /* not an Exception: not caught */
            return rc;
        if (rc < 0) {
            printf("Did not catch exception %s\n", exc_repr(rc));
            return rc;
        }
    }
    *ret = V(i - 1); /* Python's loop variable keeps its last value */
    return 0;
}

static void throw_demo(int second_error)
{
    void *item = NULL;
    tulip_gen *g = start(throw_demo_fn, NULL);
    int rc;

    if (!g)
        return;
    tulip_gen_throw(g, EXPECTED_ERROR, &item);
    printf("yielded %ld\n", L(item));
    rc = tulip_gen_throw(g, second_error, &item);
    if (rc == KEY_ERROR) {
        print_exc("KeyError: 'key'");
    } else if (rc == TULIP_STOP) {
        fprintf(stderr, "StopIteration: %ld\n", L(item));
        printf("StopIteration(%ld)\n", L(item));
    }
    tulip_gen_free(g);
    printf("\n");
}

/* ---- Generator.close ----------------------------------------------------- */

static int close_passes_fn(void *arg, void **ret)
{
    int rc;

    (void)arg;
    (void)ret;
    rc = tulip_yield(NULL, NULL);
    if (rc < 0) {
        print_exc("GeneratorExit");
        return rc;
    }
    printf("About to yield 1\n");
    return tulip_yield(V(1), NULL);
}

static int close_raises_fn(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    if (tulip_yield(V(0), NULL) < 0)
        return KEY_ERROR;
    return 0;
}

static void close_demo(void)
{
    tulip_gen *g = start(close_passes_fn, NULL);

    if (!g)
        return;
    tulip_gen_close(g); /* returns 0: None */
    tulip_gen_free(g);
    g = start(close_raises_fn, NULL);
    if (!g)
        return;
    if (tulip_gen_close(g) == KEY_ERROR)
        print_exc("KeyError: 'key'");
    tulip_gen_free(g);
    printf("\n");
}

/* ---- generators that return values --------------------------------------- */

static int returns_a_value_fn(void *arg, void **ret)
{
    static char return_value[] = "return_value";
    int rc;

    (void)arg;
    rc = tulip_yield(V(0), NULL);
    if (rc < 0)
        return rc;
    *ret = return_value;
    return 0;
}

static void return_demo(void)
{
    tulip_gen *g = start(returns_a_value_fn, NULL);
    const char *value;
    void *v;
    int i;

    if (!g)
        return;
    for (i = 0; i < 2; i++) {
        if (tulip_gen_next(g, &v) != TULIP_STOP)
            break;
        value = v;
        if (value) {
            fprintf(stderr, "StopIteration: %s\n", value);
            printf("StopIteration('%s')\n'%s'\n", value, value);
        } else {
            print_exc("StopIteration");
            printf("StopIteration()\nNone\n");
        }
    }
    tulip_gen_free(g);
}

int main(void)
{
    send_demo();
    throw_demo(KEY_ERROR);
    throw_demo(EXPECTED_ERROR);
    close_demo();
    return_demo();
    return 0;
}
