/* SPDX-License-Identifier: MIT */
/*
 * jmoldow's adder semi-coroutine, from "jmoldow-python3-async-tutorial",
 * chapter 2 ("Generators revisited"): a generator that keeps a running total
 * of the integers sent into it, and returns the total when an exception is
 * thrown into it or it is closed.
 *
 *   class StopAdder(Exception): pass
 *
 *   def adder_function():
 *       total = 0
 *       while True:
 *           print('At start of adder loop, current total is', total)
 *           try:
 *               integers = (yield total)
 *           except (Exception, GeneratorExit) as exc:
 *               print('Adder received exception', repr(exc),
 *                     'and is returning with final total', total)
 *               return total
 *           if not isinstance(integers, (list, tuple)):
 *               integers = [integers]
 *           if integers and isinstance(integers[0], collections.Iterable):
 *               integers = integers[0]
 *           print('Adder received', integers)
 *           total += sum(integers)
 *
 *   def send_values_into_adder(adder, *integers):
 *       print('Sending', integers, 'into adder')
 *       current_total = adder.send(integers)
 *       print('Current total in adder is', current_total)
 *       return current_total
 *
 *   adder = adder_function()
 *   next(adder)
 *
 *   send_values_into_adder(adder)
 *   print()
 *   send_values_into_adder(adder, 10)
 *   print()
 *   send_values_into_adder(adder, 1, 2, 3)
 *   print()
 *   send_values_into_adder(adder, range(8))
 *   print()
 *   print('Sending StopAdder into adder')
 *   try:
 *       adder.throw(StopAdder)
 *   except StopIteration as exc:
 *       print('Final total from adder is', exc.value)
 *
 * The output up to "Final total from adder is 44" is the notebook's, line
 * for line: a Python tuple becomes a C array with a printer for Python's
 * tuple repr, and the one tuple that holds an iterable holds a range,
 * modelled as such. No line differs. The notebook does not close an adder;
 * the program then shows close() too, after a blank line, with this
 * driver, printing what Python 3.11 prints for it:
 *
 *   print()
 *   adder = adder_function()
 *   next(adder)
 *   send_values_into_adder(adder, 5)
 *   adder.close()
 */
#include <stdint.h>
#include <stdio.h>

#include "tulip.h"

#define STOP_ADDER (-7201) /* class StopAdder(Exception) */

/* A tuple sent into the adder: integers, or one range(0, range_stop). */
struct values {
    size_t n;         /* number of integers */
    const long *ints; /* the integers */
    long range_stop;  /* > 0: the tuple is (range(0, range_stop),) */
};

/* repr() of the tuple, as Python prints it. */
static void print_tuple(const struct values *v)
{
    size_t i;

    if (v->range_stop > 0) {
        printf("(range(0, %ld),)", v->range_stop);
        return;
    }
    putchar('(');
    for (i = 0; i < v->n; i++)
        printf("%s%ld", i ? ", " : "", v->ints[i]);
    printf(v->n == 1 ? ",)" : ")");
}

/* print('Adder received', integers) and sum(integers) */
static long receive(const struct values *v)
{
    long sum = 0;
    size_t i;

    printf("Adder received ");
    if (v->range_stop > 0) {
        printf("range(0, %ld)\n", v->range_stop);
        return v->range_stop * (v->range_stop - 1) / 2;
    }
    print_tuple(v);
    putchar('\n');
    for (i = 0; i < v->n; i++)
        sum += v->ints[i];
    return sum;
}

static const char *exc_repr(int err)
{
    if (err == STOP_ADDER)
        return "StopAdder()";
    if (err == TULIP_GENEXIT)
        return "GeneratorExit()";
    return tulip_err_name(err);
}

static int adder_function(void *arg, void **ret)
{
    intptr_t total = 0;
    void *sent;
    int rc;

    (void)arg;
    for (;;) {
        printf("At start of adder loop, current total is %ld\n", (long)total);
        rc = tulip_yield((void *)total, &sent);
        if (rc < 0) {
            printf("Adder received exception %s and is returning with "
                   "final total %ld\n",
                   exc_repr(rc), (long)total);
            *ret = (void *)total;
            return 0;
        }
        total += receive(sent);
    }
}

static long send_values_into_adder(tulip_gen *adder, const struct values *v)
{
    void *current_total = NULL;

    printf("Sending ");
    print_tuple(v);
    printf(" into adder\n");
    tulip_gen_send(adder, (void *)v, &current_total);
    printf("Current total in adder is %ld\n", (long)(intptr_t)current_total);
    return (long)(intptr_t)current_total;
}

static tulip_gen *new_adder(void)
{
    tulip_gen *adder;
    int rc = tulip_gen_new(&adder, adder_function, NULL);

    if (rc < 0) {
        fprintf(stderr, "tulip_gen_new: %s\n", tulip_strerror(rc));
        return NULL;
    }
    tulip_gen_next(adder, NULL);
    return adder;
}

int main(void)
{
    static const long ten[] = {10}, one_two_three[] = {1, 2, 3}, five[] = {5};
    const struct values none = {0, NULL, 0}, v10 = {1, ten, 0},
                        v123 = {3, one_two_three, 0}, range8 = {0, NULL, 8},
                        v5 = {1, five, 0};
    tulip_gen *adder = new_adder();
    void *final_total;

    if (!adder)
        return 1;
    send_values_into_adder(adder, &none);
    printf("\n");
    send_values_into_adder(adder, &v10);
    printf("\n");
    send_values_into_adder(adder, &v123);
    printf("\n");
    send_values_into_adder(adder, &range8);
    printf("\n");
    printf("Sending StopAdder into adder\n");
    if (tulip_gen_throw(adder, STOP_ADDER, &final_total) == TULIP_STOP)
        printf("Final total from adder is %ld\n", (long)(intptr_t)final_total);
    tulip_gen_free(adder);

    printf("\n");
    adder = new_adder();
    if (!adder)
        return 1;
    send_values_into_adder(adder, &v5);
    if (tulip_gen_close(adder) != 0)
        return 1;
    tulip_gen_free(adder);
    return 0;
}
