/* SPDX-License-Identifier: MIT */
/*
 * The cost of one context switch, three ways in the same run:
 *
 *   switch.tulip        tulip__ctx_switch, the library's switch (which also
 *                       keeps MXCSR and the x87 control word per context)
 *   switch.coro         tulip__coro_switch, the same plus the bookkeeping a
 *                       coroutine switch does (the running coroutine in TLS)
 *   switch.raw          the floor: a minimal swap written here, saving only
 *                       the callee-saved general registers and the stack
 *                       pointer (libaco's acosw, perf.md §1)
 *   switch.swapcontext  glibc swapcontext, which makes a sigprocmask syscall
 *                       on every switch
 *   switch.ratio_vs_raw switch.tulip / switch.raw (the target is <= 1.3)
 *
 * Each variant ping-pongs between the main context and one context on its
 * own stack; a round trip is two switches. The variants run interleaved in
 * short batches (about 0.5 ms, well under a scheduler time slice), batch
 * after batch, and each figure is the median over 201 batches: a batch that
 * was preempted (by the host, or by other processes on a busy machine) is an
 * outlier the median ignores, and drifts hit every variant alike. The bodies
 * store a counter before every switch and the switches are opaque calls, so
 * nothing can be optimised away.
 */
#include "prefix.h"
#include "coro/coro.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "bench.h"

/* ---- the raw swap -------------------------------------------------------- */

struct raw_ctx {
    void *sp; /* saved stack pointer, registers above it */
};

void bench_raw_swap(struct raw_ctx *from, struct raw_ctx *to);
void bench_raw_entry(void);

#if defined(__x86_64__)
#define HAVE_RAW 1
/* Frame (lowest first): r15 r14 r13 r12 rbx rbp return-address. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl bench_raw_swap\n"
        ".type bench_raw_swap, @function\n"
        "bench_raw_swap:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq (%rsi), %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size bench_raw_swap, .-bench_raw_swap\n"
        ".globl bench_raw_entry\n"
        ".type bench_raw_entry, @function\n"
        "bench_raw_entry:\n"
        "    movq %r13, %rdi\n"
        "    callq *%r12\n"
        "    ud2\n"
        ".size bench_raw_entry, .-bench_raw_entry\n");

static void raw_make(struct raw_ctx *c, char *top, void (*fn)(void *),
                     void *arg)
{
    /* After the six pops and the ret, rsp is the 16-aligned top. */
    void **sp = (void **)(((uintptr_t)top & ~(uintptr_t)15) - 7 * 8);
    void (*entry)(void) = bench_raw_entry;

    sp[0] = sp[1] = sp[4] = sp[5] = NULL;
    sp[2] = arg;                     /* r13 */
    memcpy(&sp[3], &fn, sizeof(fn)); /* r12 */
    memcpy(&sp[6], &entry, sizeof(entry));
    c->sp = sp;
}
#elif defined(__aarch64__)
#define HAVE_RAW 1
/* Frame (lowest first): x19 ... x28, x29, x30 = where to resume; 96 bytes. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl bench_raw_swap\n"
        ".type bench_raw_swap, %function\n"
        "bench_raw_swap:\n"
        "    sub sp, sp, #96\n"
        "    stp x19, x20, [sp, #0]\n"
        "    stp x21, x22, [sp, #16]\n"
        "    stp x23, x24, [sp, #32]\n"
        "    stp x25, x26, [sp, #48]\n"
        "    stp x27, x28, [sp, #64]\n"
        "    stp x29, x30, [sp, #80]\n"
        "    mov x9, sp\n"
        "    str x9, [x0]\n"
        "    ldr x9, [x1]\n"
        "    mov sp, x9\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldp x21, x22, [sp, #16]\n"
        "    ldp x23, x24, [sp, #32]\n"
        "    ldp x25, x26, [sp, #48]\n"
        "    ldp x27, x28, [sp, #64]\n"
        "    ldp x29, x30, [sp, #80]\n"
        "    add sp, sp, #96\n"
        "    ret\n"
        ".size bench_raw_swap, .-bench_raw_swap\n"
        ".globl bench_raw_entry\n"
        ".type bench_raw_entry, %function\n"
        "bench_raw_entry:\n"
        "    mov x0, x20\n"
        "    blr x19\n"
        "    brk #0\n"
        ".size bench_raw_entry, .-bench_raw_entry\n");

static void raw_make(struct raw_ctx *c, char *top, void (*fn)(void *),
                     void *arg)
{
    void **sp = (void **)(((uintptr_t)top & ~(uintptr_t)15) - 96);
    void (*entry)(void) = bench_raw_entry;
    int i;

    for (i = 0; i < 12; i++)
        sp[i] = NULL;
    memcpy(&sp[0], &fn, sizeof(fn));        /* x19 */
    sp[1] = arg;                            /* x20 */
    memcpy(&sp[11], &entry, sizeof(entry)); /* x30 */
    c->sp = sp;
}
#else
#define HAVE_RAW 0
#endif

/* ---- the ping-pong bodies ------------------------------------------------ */

#define STACK_BYTES (64 * 1024)
#define BATCHES 201

static uint64_t body_count; /* stored before every switch back */

#if HAVE_RAW
static struct raw_ctx raw_main, raw_co;

static void raw_body(void *arg)
{
    uint64_t k;

    (void)arg;
    for (k = 1;; k++) {
        body_count = k;
        bench_raw_swap(&raw_co, &raw_main);
    }
}
#endif

static struct tulip__ctx ctx_main, ctx_co;

static void ctx_body(void *arg)
{
    uint64_t k;

    (void)arg;
    for (k = 1;; k++) {
        body_count = k;
        tulip__ctx_switch(&ctx_co, &ctx_main);
    }
}

static struct tulip__coro coro_co;
static struct tulip__coro *coro_main;

static void coro_body(void *arg)
{
    uint64_t k;

    (void)arg;
    for (k = 1;; k++) {
        body_count = k;
        tulip__coro_switch(coro_main);
    }
}

static ucontext_t uc_main, uc_co;

static void uc_body(void)
{
    uint64_t k;

    for (k = 1;; k++) {
        body_count = k;
        swapcontext(&uc_co, &uc_main);
    }
}

/* ---- the measurement ----------------------------------------------------- */

enum { V_TULIP, V_CORO, V_RAW, V_UC, NVAR };

static const char *const var_name[NVAR] = {"switch.tulip", "switch.coro",
                                           "switch.raw", "switch.swapcontext"};

/* n round trips of variant v; returns ns per switch. */
static double run_batch(int v, long n)
{
    int64_t t0 = bench_now_ns();
    long i;

    switch (v) {
    case V_TULIP:
        for (i = 0; i < n; i++)
            tulip__ctx_switch(&ctx_main, &ctx_co);
        break;
    case V_CORO:
        for (i = 0; i < n; i++)
            tulip__coro_switch(&coro_co);
        break;
#if HAVE_RAW
    case V_RAW:
        for (i = 0; i < n; i++)
            bench_raw_swap(&raw_main, &raw_co);
        break;
#endif
    case V_UC:
        for (i = 0; i < n; i++)
            swapcontext(&uc_main, &uc_co);
        break;
    default:
        return 0;
    }
    bench_escape(&body_count);
    return (double)(bench_now_ns() - t0) / (2.0 * (double)n);
}

static char *stack_new(void)
{
    char *p = malloc(STACK_BYTES);

    if (!p) {
        perror("malloc");
        exit(1);
    }
    return p;
}

/* Give every variant its context, ready to be switched to. */
static void setup(void)
{
    char *uc_stack = stack_new();

    tulip__ctx_make(&ctx_co, stack_new(), STACK_BYTES, ctx_body, NULL);
#if HAVE_RAW
    raw_make(&raw_co, stack_new() + STACK_BYTES, raw_body, NULL);
#endif
    coro_main = tulip__coro_current();
    if (tulip__coro_init(&coro_co, tulip__stack_round(0), coro_body, NULL)) {
        fprintf(stderr, "bench_switch: tulip__coro_init failed\n");
        exit(1);
    }
    getcontext(&uc_co);
    uc_co.uc_stack.ss_sp = uc_stack;
    uc_co.uc_stack.ss_size = STACK_BYTES;
    uc_co.uc_link = NULL;
    makecontext(&uc_co, uc_body, 0);
}

int main(int argc, char **argv)
{
    int smoke = bench_is_smoke(argc, argv);
    long n = 20000; /* round trips per batch: about 0.5 ms */
    int batches = smoke ? 3 : BATCHES;
    double t[NVAR][BATCHES], med[NVAR];
    int b, v;

    setup();
    /* Warm-up: first touches of the stacks, branch predictors. */
    for (v = 0; v < NVAR; v++)
        run_batch(v, n / 20);
    for (b = 0; b < batches; b++)
        for (v = 0; v < NVAR; v++)
            t[v][b] = run_batch(v, v == V_UC ? n / 16 : n);
    for (v = 0; v < NVAR; v++) {
        med[v] = bench_median(t[v], batches);
        if (v == V_RAW && !HAVE_RAW)
            continue;
        bench_report(var_name[v], med[v], "ns/op");
    }
    if (HAVE_RAW)
        bench_report("switch.ratio_vs_raw", med[V_TULIP] / med[V_RAW], "x");
    tulip__coro_release(&coro_co);
    return 0;
}
