/* SPDX-License-Identifier: MIT */
/*
 * The typist of expLog's "AsyncIO In Depth" (Kunal Bhalla): print
 * "Hello, world!" one character at a time, like a reasonably proficient
 * typist, waiting a random time before each key.
 *
 *   import asyncio
 *   import random
 *
 *   async def hello_world():
 *       for ch in "Hello, world!":
 *           x = max(0, random.gauss(.08, .03))
 *           await asyncio.sleep(x)
 *           print(ch, end="", flush=True)
 *
 *   asyncio.run(hello_world())
 *
 * Prints "Hello, world!" with no newline after it, over about 13 x 80 ms.
 *
 * What differs: random.gauss() is replaced by a small generator of our own,
 * seeded with a constant so that every run waits the same times (the test
 * checks the text, and a fixed seed keeps the timing reproducible too).
 * Uniform numbers come from splitmix64 (Steele, Lea and Flood, "Fast
 * splittable pseudorandom number generators", 2014), whose top 53 bits make
 * a double in [0, 1) as Python's random() does; Gaussian numbers come from
 * the Box-Muller transform exactly as random.gauss() computes it, keeping
 * the second value of each pair for the next call. The numbers are not
 * Python's (which come from the Mersenne Twister), only their distribution
 * is. The loop runs on the virtual clock, so the program finishes at once;
 * `--real` runs it on the real clock, to watch the typing. The total time
 * spent is reported on stderr.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tulip.h"

#define TYPIST_SEED UINT64_C(20160211) /* any constant will do */

/* A seeded source of uniform and Gaussian numbers. */
struct rng {
    uint64_t state;    /* splitmix64's counter */
    double gauss_next; /* the second value of the last Box-Muller pair */
    int has_next;      /* whether gauss_next is waiting to be used */
};

static uint64_t rng_next64(struct rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* random.random(): a double in [0, 1) with 53 random bits. */
static double rng_random(struct rng *r)
{
    return (double)(rng_next64(r) >> 11) * 0x1.0p-53;
}

/* random.gauss(mu, sigma), by Box-Muller as CPython's random.py does it. */
static double rng_gauss(struct rng *r, double mu, double sigma)
{
    const double two_pi = 6.283185307179586;
    double z;

    if (r->has_next) {
        z = r->gauss_next;
        r->has_next = 0;
    } else {
        double x2pi = rng_random(r) * two_pi;
        double g2rad = sqrt(-2.0 * log(1.0 - rng_random(r)));

        z = cos(x2pi) * g2rad;
        r->gauss_next = sin(x2pi) * g2rad;
        r->has_next = 1;
    }
    return mu + z * sigma;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

/* What the typist needs: its random numbers, and a note of the time. */
struct typist {
    struct rng rng;     /* the seeded generator */
    int64_t elapsed_ns; /* OUT: the time the typing took */
};

static int hello_world(void *arg)
{
    struct typist *typist = arg;
    const char *text = "Hello, world!";
    int64_t start_ns = tulip_now();

    for (const char *ch = text; *ch; ch++) {
        double x = fmax(0.0, rng_gauss(&typist->rng, .08, .03));
        int rc = tulip_sleep((int64_t)(x * 1e9));

        if (rc < 0)
            return fail("tulip_sleep", rc);
        putchar(*ch);
        fflush(stdout);
    }
    typist->elapsed_ns = tulip_now() - start_ns;
    return 0;
}

int main(int argc, char **argv)
{
    struct typist typist = {{TYPIST_SEED, 0.0, 0}, 0};
    struct tulip_run_opts opts = {0};
    int result;
    int rc;

    opts.loop.virtual_clock = !(argc > 1 && strcmp(argv[1], "--real") == 0);
    rc = tulip_run(hello_world, &typist, &result, &opts);
    if (rc < 0) {
        fail("tulip_run", rc);
        return 1;
    }
    if (result < 0)
        return 1;
    fprintf(stderr, "\n(typed in %.3f s of %s time)\n",
            (double)typist.elapsed_ns / 1e9,
            opts.loop.virtual_clock ? "virtual" : "real");
    return 0;
}
