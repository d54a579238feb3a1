/* SPDX-License-Identifier: MIT */
/**
 * @file tulip.h
 * @brief tulip: Python's asyncio model in C.
 *
 * This header is the whole public API and its authoritative specification.
 * A function not declared here is not part of the API.
 *
 * Conventions that hold for every function (see docs/design.md):
 * - Functions that can fail return 0 (or a count) on success and a negative
 *   errno (`-EINVAL`, `-ENOMEM` ...) or a negative tulip code (`TULIP_EOF`
 *   ...) on failure. The library never reports through the global `errno`.
 * - Invalid arguments return `-EINVAL`; misuse (a call from the wrong
 *   context, resuming a running generator ...) returns a distinct code.
 * - Times are `int64_t` nanoseconds, with the unit in the name.
 * - Nothing is thread-safe unless its documentation says so; objects belong
 *   to the thread that created them.
 * - Destructors accept NULL.
 */
#ifndef TULIP_H
#define TULIP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tulip/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TULIP_BUILDING) && defined(__GNUC__)
#define TULIP_EXTERN __attribute__((visibility("default")))
#else
#define TULIP_EXTERN
#endif

/* ======================================================================== */
/** @defgroup errors Errors
 *  @{ */

/**
 * @brief The codes that are not errno values, far outside the errno range
 * (libuv's UV__EOF convention). XX(NAME, value, message).
 */
#define TULIP_ERRNO_MAP(XX)                                                    \
    XX(EOF, -4095, "end of file")                                              \
    XX(STOP, -4094, "generator is exhausted")                                  \
    XX(GENEXIT, -4093, "generator is being closed")                            \
    XX(EIGNORED, -4092, "generator ignored close")                             \
    XX(ERUNNING, -4091, "generator already executing")                         \
    XX(ENOTSTARTED, -4090, "cannot send a value to a just-started generator")  \
    XX(EBADSTOP, -4089, "generator body returned TULIP_STOP")                  \
    XX(ESHUTDOWN, -4088, "queue is shut down")                                 \
    XX(ECLOSED, -4087, "object or channel side is closed")                     \
    XX(EBROKEN, -4086, "barrier is broken")                                    \
    XX(EAI_NONAME, -4080, "name or service not known")                         \
    XX(EAI_AGAIN, -4079, "temporary failure in name resolution")               \
    XX(EAI_FAIL, -4078, "non-recoverable failure in name resolution")          \
    XX(EAI_SERVICE, -4077, "service not supported for socket type")            \
    XX(EINCOMPLETE, -4072, "end of file before the expected bytes")            \
    XX(ELIMIT, -4071, "separator not found within the limit")

/** The tulip codes, as enumerators `TULIP_EOF`, `TULIP_STOP` ... */
enum tulip_errno {
#define TULIP__ERRNO_ENUM(name, value, msg) TULIP_##name = (value),
    TULIP_ERRNO_MAP(TULIP__ERRNO_ENUM)
#undef TULIP__ERRNO_ENUM
};

/**
 * @brief Describe an error code: a negative errno or a tulip code.
 * @param err The code (0 gives "success").
 * @return A static string; "unknown error" for codes that are neither.
 */
TULIP_EXTERN const char *tulip_strerror(int err);

/**
 * @brief Name an error code: "ENOMEM", "TULIP_EOF" ...
 * @param err The code.
 * @return A static string; "UNKNOWN" for codes that are neither.
 */
TULIP_EXTERN const char *tulip_err_name(int err);

/** @} */

/* ======================================================================== */
/** @defgroup time Time
 *  Times and durations are int64_t nanoseconds.
 *  @{ */

#define TULIP_NSEC ((int64_t)1)            /**< one nanosecond */
#define TULIP_USEC ((int64_t)1000)         /**< one microsecond, in ns */
#define TULIP_MSEC ((int64_t)1000000)      /**< one millisecond, in ns */
#define TULIP_SEC ((int64_t)1000000000)    /**< one second, in ns */
#define TULIP_FOREVER ((int64_t)INT64_MAX) /**< a deadline never reached */

/** @} */

/* ======================================================================== */
/** @defgroup memory Memory
 *  @{ */

/**
 * @brief The allocation hook (Lua's lua_Alloc).
 *
 * Called as `fn(ud, NULL, 0, n)` to allocate n bytes, `fn(ud, p, old, n)` to
 * resize, and `fn(ud, p, old, 0)` to free (the return value is then
 * ignored). Returning NULL for a non-zero size is an allocation failure,
 * which the library reports as -ENOMEM with nothing leaked.
 */
typedef void *tulip_alloc_fn(void *ud, void *ptr, size_t old_size,
                             size_t new_size);

/**
 * @brief Install the allocator for all later allocations.
 *
 * Call it before creating any object: memory must be freed by the allocator
 * that allocated it. Passing NULL restores the default (realloc/free).
 * @param fn The hook, or NULL.
 * @param ud User data passed to every call.
 * @note Not thread-safe: install it before any thread uses the library.
 */
TULIP_EXTERN void tulip_set_allocator(tulip_alloc_fn *fn, void *ud);

/**
 * @brief Read the installed allocator.
 * @param[out] fn The hook (may be NULL to skip).
 * @param[out] ud Its user data (may be NULL to skip).
 */
TULIP_EXTERN void tulip_get_allocator(tulip_alloc_fn **fn, void **ud);

/** @} */

/* ======================================================================== */
/** @defgroup stacks Coroutine stacks
 *
 * Every generator (and, later, every task) runs on a stack of its own. Stacks
 * are reserved in slabs of address space (MAP_NORESERVE: the kernel commits a
 * page only when it is first touched), pooled per thread and size, and given
 * back to the kernel (MADV_DONTNEED) beyond a cached number. Under every
 * stack lies a guard region: MADV_GUARD_INSTALL on Linux 6.13 and later,
 * which costs no memory-map entry, mprotect(PROT_NONE) otherwise, which costs
 * two (so `vm.max_map_count`, 65530 by default, then limits a process to
 * about 32,700 live stacks). Running into the guard prints a message naming
 * the coroutine and its stack size, and aborts.
 *  @{ */

/** @brief Options for creating a coroutine (a generator, later a task). */
struct tulip_coro_opts {
    size_t stack_size; /**< usable stack bytes; 0: the global default */
    const char *name;  /**< copied (first 31 bytes); NULL: none */
};

/**
 * @brief Set the default stack size of coroutines created from now on.
 * @param bytes Rounded up to the page size.
 * @return 0 on success.
 * @return -EINVAL if bytes is below tulip_stack_size_min() or above 1 GiB.
 * @note Thread-safe (an atomic store).
 */
TULIP_EXTERN int tulip_set_stack_size(size_t bytes);

/**
 * @brief The current default stack size, in bytes. Thread-safe.
 * @return The current default stack size, in bytes. Thread-safe.
 */
TULIP_EXTERN size_t tulip_get_stack_size(void);

/**
 * @brief The smallest stack size accepted, in bytes.
 * @return The smallest stack size accepted, in bytes.
 */
TULIP_EXTERN size_t tulip_stack_size_min(void);

/** @brief Counters of the calling thread's stack pool. */
struct tulip_stack_stats {
    size_t in_use;   /**< stacks owned by live coroutines */
    size_t cached;   /**< free stacks kept committed for reuse */
    size_t released; /**< free stacks whose memory went back to the kernel */
    size_t reserved; /**< address space reserved in slabs, bytes */
    int guard_kind;  /**< 1: MADV_GUARD_INSTALL, 2: mprotect, 0: none yet */
};

/**
 * @brief Set how long free stacks beyond the warm ones stay committed before
 * their memory goes back to the kernel (all threads).
 *
 * After a burst of coroutines, the most recent free stacks of each size
 * (64) stay committed for reuse; the others are given back with
 * MADV_FREE once unused for between one and two decay times, or as soon as
 * the thread's loop has nothing to run and waits, whichever comes first.
 * Bursts that follow each other closely reuse the committed stacks without
 * page faults or TLB shootdowns. tulip_stack_trim() gives everything back
 * at once.
 * @param ns The decay time in ns; 0 gives stacks back at once, in batches of
 * 64. Default: 1 s.
 * @return 0 on success.
 * @return -EINVAL if ns is negative.
 */
TULIP_EXTERN int tulip_stack_set_decay(int64_t ns);

/**
 * @brief Read the calling thread's stack-pool counters.
 * @param[out] st Filled in.
 */
TULIP_EXTERN void tulip_stack_stats(struct tulip_stack_stats *st);

/**
 * @brief Give the memory of every cached stack of the calling thread back to
 * the kernel, and drop cached generator objects.
 */
TULIP_EXTERN void tulip_stack_trim(void);

/** @} */

/* ======================================================================== */
/** @defgroup gen Generators
 *
 * Python's generators (PEP 255, 342, 380) without an event loop: a body runs
 * on its own stack, yields values to whoever resumes it, receives values
 * (send), errors (throw) and a request to finish (close), returns a final
 * value (StopIteration.value), and can delegate to a sub-generator
 * (yield from).
 *
 * @code
 * static int jumping_range(void *arg, void **ret)
 * {
 *     intptr_t up_to = (intptr_t)arg, index = 0;
 *     while (index < up_to) {
 *         void *jump;
 *         int rc = tulip_yield((void *)index, &jump);
 *         if (rc < 0)
 *             return rc;        // thrown into, or closed
 *         index += jump ? (intptr_t)jump : 1;
 *     }
 *     return 0;                 // *ret (NULL here) is StopIteration.value
 * }
 *
 * tulip_gen *g;
 * void *v;
 * tulip_gen_new(&g, jumping_range, (void *)5);
 * tulip_gen_next(g, &v);                 // v = 0
 * tulip_gen_send(g, (void *)2, &v);      // v = 2
 * while (tulip_gen_next(g, &v) == 0)     // 3, 4
 *     ;
 * tulip_gen_free(g);
 * @endcode
 *
 * Return codes of tulip_gen_next(), tulip_gen_send() and tulip_gen_throw():
 * 0 when the body yielded (`*out` is the value), TULIP_STOP when it returned
 * 0 (`*out` is its `*ret`, Python's StopIteration.value), or the negative
 * code the body returned (an error propagating out of it, as an exception
 * propagates out of send()). A finished generator stays finished.
 *  @{ */

/** @brief A generator (opaque). */
typedef struct tulip_gen tulip_gen;

/**
 * @brief A generator body.
 * @param arg The argument given to tulip_gen_new().
 * @param[out] ret The return value (StopIteration.value); starts as NULL.
 * @return 0 to finish normally, or a negative code to finish with an error.
 */
typedef int tulip_gen_fn(void *arg, void **ret);

/** @brief Where a generator is in its life (inspect.getgeneratorstate). */
enum tulip_gen_state {
    TULIP_GEN_CREATED,   /**< not started */
    TULIP_GEN_RUNNING,   /**< executing (it, or a generator it resumed) */
    TULIP_GEN_SUSPENDED, /**< waiting at a yield */
    TULIP_GEN_CLOSED     /**< finished: returned, failed or closed */
};

/**
 * @brief Create a generator. Its body does not run until the first
 * tulip_gen_next().
 * @param[out] out The new generator; release it with tulip_gen_free().
 * @param fn The body.
 * @param arg Passed to the body.
 * @return 0 on success.
 * @return -EINVAL if out or fn is NULL.
 * @return -ENOMEM if memory or address space for the stack ran out.
 */
TULIP_EXTERN int tulip_gen_new(tulip_gen **out, tulip_gen_fn *fn, void *arg);

/**
 * @brief Create a generator with options (stack size, name).
 * @param[out] out The new generator; release it with tulip_gen_free().
 * @param fn The body.
 * @param arg Passed to the body.
 * @param opts Options, or NULL for the defaults.
 * @return 0 on success.
 * @return -EINVAL if out or fn is NULL, or opts->stack_size is non-zero and
 *         below tulip_stack_size_min() or above 1 GiB.
 * @return -ENOMEM if memory or address space for the stack ran out.
 */
TULIP_EXTERN int tulip_gen_new_ex(tulip_gen **out, tulip_gen_fn *fn, void *arg,
                                  const struct tulip_coro_opts *opts);

/**
 * @brief Destroy a generator, closing it first if it is suspended.
 *
 * If the body ignores the close (yields again), its stack is abandoned
 * without running it further: whatever the body holds is leaked, and the
 * fact is reported on stderr (Python's "generator ignored GeneratorExit").
 * @param g The generator, or NULL. It must not be running.
 */
TULIP_EXTERN void tulip_gen_free(tulip_gen *g);

/**
 * @brief Resume the generator (Python's next(), i.e. send(None)).
 * @param g The generator.
 * @param[out] out The yielded value, or the return value with TULIP_STOP
 *             (may be NULL).
 * @return 0 if the body yielded.
 * @return TULIP_STOP if the body returned 0, now or earlier (later calls give
 *         a NULL value, as a second StopIteration carries None).
 * @return TULIP_EBADSTOP if the body returned TULIP_STOP itself (PEP 479).
 * @return -EINVAL if g is NULL.
 * @return TULIP_ERUNNING if g is running (it resumed, directly or not, the
 *         code that now resumes it).
 * @return A negative code the body returned (it is then finished).
 */
TULIP_EXTERN int tulip_gen_next(tulip_gen *g, void **out);

/**
 * @brief Resume the generator, making its pending tulip_yield() return value.
 * @param g The generator.
 * @param value The value for the body; it must be NULL on the first resume.
 * @param[out] out As for tulip_gen_next().
 * @return 0 if the body yielded.
 * @return TULIP_STOP if the body returned 0, now or earlier.
 * @return TULIP_EBADSTOP if the body returned TULIP_STOP itself (PEP 479).
 * @return -EINVAL if g is NULL.
 * @return TULIP_ERUNNING if g is running.
 * @return TULIP_ENOTSTARTED if value is not NULL and g has not started.
 * @return A negative code the body returned (it is then finished).
 */
TULIP_EXTERN int tulip_gen_send(tulip_gen *g, void *value, void **out);

/**
 * @brief Resume the generator, making its pending tulip_yield() return err
 * (Python's throw()).
 *
 * A generator that has not started, or has finished, does not run: the error
 * is returned at once (and a not-started generator becomes finished).
 * @param g The generator.
 * @param err A negative code to deliver.
 * @param[out] out As for tulip_gen_next().
 * @return 0 if the body handled err and yielded again.
 * @return TULIP_STOP if the body handled err and returned 0.
 * @return TULIP_EBADSTOP if the body returned TULIP_STOP itself (PEP 479).
 * @return -EINVAL if g is NULL or err is not negative.
 * @return TULIP_ERUNNING if g is running.
 * @return A negative code the body returned, usually err itself.
 */
TULIP_EXTERN int tulip_gen_throw(tulip_gen *g, int err, void **out);

/**
 * @brief Finish the generator (Python's close()).
 *
 * A suspended body sees TULIP_GENEXIT from its pending tulip_yield() and is
 * expected to clean up and return. Closing a generator that has not started
 * or has finished does nothing.
 * @param g The generator.
 * @return 0 if the body returned (0, TULIP_GENEXIT or TULIP_STOP), or it was
 *         not running.
 * @return -EINVAL if g is NULL.
 * @return TULIP_ERUNNING if g is running.
 * @return TULIP_EIGNORED if the body yielded again; it stays suspended. Also
 *         when a sub-generator it delegates to (tulip_yield_from) ignored
 *         the close: the error then propagates out of the body, which
 *         finishes, as Python's RuntimeError propagates out of close().
 * @return Another negative code the body returned while closing.
 */
TULIP_EXTERN int tulip_gen_close(tulip_gen *g);

/**
 * @brief Yield a value from the running generator's body and wait.
 * @param value Handed to whoever resumed the generator.
 * @param[out] sent The value of the next tulip_gen_send() (NULL for
 *             tulip_gen_next()); may be NULL.
 * @return 0 when resumed by next or send.
 * @return The error given to tulip_gen_throw().
 * @return TULIP_GENEXIT when the generator is being closed: the body should
 *         return.
 * @return -EPERM if the caller is not a generator body.
 */
TULIP_EXTERN int tulip_yield(void *value, void **sent);

/**
 * @brief Delegate to a sub-generator until it finishes (PEP 380 yield from).
 *
 * Every value sub yields is yielded by the running generator; values sent
 * and errors thrown into the running generator reach sub; closing the
 * running generator closes sub first. If sub has already finished, this
 * returns at once.
 * @param sub The sub-generator; the caller still owns it.
 * @param[out] ret Sub's return value (may be NULL).
 * @return 0 when sub returned 0 (`*ret` is its return value).
 * @return TULIP_GENEXIT when the running generator is being closed (sub has
 *         been closed).
 * @return -EINVAL if sub is NULL.
 * @return -EPERM if the caller is not a generator body.
 * @return TULIP_ERUNNING if sub is running.
 * @return A negative code sub returned, or the error from closing it.
 */
TULIP_EXTERN int tulip_yield_from(tulip_gen *sub, void **ret);

/**
 * @brief Run fn as a sub-generator of the running generator and return what
 * it returns: `yield from fn(arg)` in one call.
 *
 * The body runs on the running generator's own stack, as a plain call: its
 * tulip_yield()s are the running generator's, so this costs nothing beyond
 * the call. Closing the running generator makes fn's pending yield return
 * TULIP_GENEXIT, and this returns TULIP_GENEXIT once fn has returned.
 * @param fn The sub-generator body.
 * @param arg Its argument.
 * @param[out] ret Its return value (may be NULL).
 * @return 0 when fn returned 0.
 * @return TULIP_GENEXIT when the running generator is being closed.
 * @return TULIP_EBADSTOP if fn returned TULIP_STOP (PEP 479).
 * @return -EINVAL if fn is NULL.
 * @return -EPERM if the caller is not a generator body.
 * @return A negative code fn returned.
 */
TULIP_EXTERN int tulip_yield_from_fn(tulip_gen_fn *fn, void *arg, void **ret);

/**
 * @brief The state of a generator.
 * @param g The generator (not NULL).
 * @return The state of a generator.
 */
TULIP_EXTERN enum tulip_gen_state tulip_gen_state(const tulip_gen *g);

/**
 * @brief The name given at creation, or "" if none.
 * @param g The generator (not NULL).
 * @return The name given at creation, or "" if none.
 */
TULIP_EXTERN const char *tulip_gen_name(const tulip_gen *g);

/**
 * @brief The generator whose body is running on this thread, or NULL.
 * @return The generator whose body is running on this thread, or NULL.
 */
TULIP_EXTERN tulip_gen *tulip_gen_current(void);

/** @} */

/* ======================================================================== */
/** @defgroup loop Event loop
 *
 * asyncio's event loop with pure callbacks, usable on its own like libuv: a
 * FIFO ready queue, timers ordered by (deadline, insertion order), and an
 * I/O poller (epoll, or poll) behind them. One pass of the loop does what
 * asyncio's `BaseEventLoop._run_once` does, in the same order: poll for I/O
 * (without waiting when callbacks are ready), move the timers that are due
 * to the end of the ready queue, then run exactly the callbacks that were
 * ready when the pass began; callbacks they schedule run in the next pass.
 *
 * One deliberate difference: with callbacks ready and file descriptors
 * watched, asyncio polls without waiting on every pass, which costs a
 * syscall (about 90 ns) per pass. tulip polls then only once 64 callbacks
 * have run since the last poll (and always when it would wait, or when
 * stopping), so I/O readiness is seen after at most 64 callbacks plus the
 * batch that is running.
 *
 * A loop can run on a virtual clock (trio's MockClock with autojump): time
 * starts at 0 and, whenever nothing is ready and no I/O is pending, jumps to
 * the next timer's deadline, so tests of timing run instantly.
 *
 * @code
 * static void hello(void *arg) { puts(arg); }
 *
 * tulip_loop *loop;
 * tulip_loop_new(&loop, NULL);
 * tulip_call_later(loop, 500 * TULIP_MSEC, hello, "world", NULL);
 * tulip_call_soon(loop, hello, "hello", NULL);
 * tulip_loop_run(loop);            // prints hello, then world 0.5 s later
 * tulip_loop_close(loop);
 * @endcode
 *
 * @note A loop belongs to the thread that runs it. Only
 * tulip_call_soon_threadsafe() may be called from another thread.
 *  @{ */

/** @brief An event loop (opaque). */
typedef struct tulip_loop tulip_loop;

/** @brief Options for tulip_loop_new(); all-zero (or NULL) means defaults. */
struct tulip_loop_opts {
    const char *backend; /**< "epoll" or "poll"; NULL: $TULIP_BACKEND, else
                              epoll */
    bool virtual_clock;  /**< run on a virtual clock that starts at 0 and
                              jumps to the next timer when idle */
    bool debug; /**< debug mode for this loop only (tulip_debug_enable()
                     turns it on for every loop): slow steps, spawn sites,
                     stack use, calls from another thread (docs/tracing.md) */
};

/**
 * @brief Create an event loop.
 *
 * The backend is `opts->backend` if set, else the environment variable
 * `TULIP_BACKEND` (`epoll` or `poll`; another value is ignored), else epoll.
 * @param[out] out The new loop.
 * @param opts Options, or NULL for the defaults.
 * @return 0 on success.
 * @return -EINVAL if out is NULL or opts->backend names no backend.
 * @return -ENOMEM if memory ran out (nothing is leaked).
 * @return -EMFILE or -ENFILE if no file descriptor was left for the poller.
 * @return Another negative errno from epoll_create1() or eventfd().
 */
TULIP_EXTERN int tulip_loop_new(tulip_loop **out,
                                const struct tulip_loop_opts *opts);

/**
 * @brief Close a loop and free everything it holds.
 *
 * Pending callbacks and armed timers are discarded without running, as
 * asyncio's `loop.close()` does.
 * @param loop The loop, or NULL (then nothing happens).
 * @return 0 on success: the loop is freed.
 * @return -EBUSY if the loop is running, or if handles returned through an
 *         `out` argument have not all been released (tulip_handle_release());
 *         the loop is then left intact.
 * @return A negative code from an upper layer that still has live objects
 *         (tasks ...); the loop is then left intact.
 * @note Threads that may call tulip_call_soon_threadsafe() on this loop must
 * have stopped doing so before it is closed.
 */
TULIP_EXTERN int tulip_loop_close(tulip_loop *loop);

/**
 * @brief Run the loop until no work is left, or until tulip_loop_stop().
 *
 * Work is: ready callbacks, armed timers, active I/O watchers and objects of
 * the layers above (tasks) that are still pending.
 * @param loop The loop.
 * @return 0 when no work is left or the loop was stopped.
 * @return -EINVAL if loop is NULL.
 * @return -EBUSY if this loop, or another loop, is already running on this
 *         thread.
 * @return A negative errno if the poller failed (also reported to the error
 *         handler).
 */
TULIP_EXTERN int tulip_loop_run(tulip_loop *loop);

/**
 * @brief Run the loop until tulip_loop_stop(), waiting when idle.
 * @param loop The loop.
 * @return 0 once stopped.
 * @return -EINVAL if loop is NULL.
 * @return -EBUSY if a loop is already running on this thread.
 * @return A negative errno if the poller failed.
 */
TULIP_EXTERN int tulip_loop_run_forever(tulip_loop *loop);

/**
 * @brief Run one pass of the loop (asyncio's `_run_once`).
 *
 * Waits for I/O or the next timer only if nothing is ready and some work
 * exists; with no work at all it returns at once.
 * @param loop The loop.
 * @return 1 if work is left after the pass, 0 if none.
 * @return -EINVAL if loop is NULL.
 * @return -EBUSY if a loop is already running on this thread.
 * @return A negative errno if the poller failed.
 */
TULIP_EXTERN int tulip_loop_run_once(tulip_loop *loop);

/**
 * @brief Stop the loop after the current pass (asyncio's `loop.stop()`).
 *
 * The callbacks of the running pass all run; callbacks they schedule run at
 * the next tulip_loop_run*(). Called while the loop is not running, the next
 * run makes one pass (polling I/O without waiting) and returns.
 * @param loop The loop.
 * @return 0 on success.
 * @return -EINVAL if loop is NULL.
 * @note Not thread-safe: from another thread, schedule a callback that calls
 * it with tulip_call_soon_threadsafe().
 */
TULIP_EXTERN int tulip_loop_stop(tulip_loop *loop);

/**
 * @brief Whether the loop is running (false for NULL).
 * @param loop The loop.
 * @return true if the loop is running (false for NULL).
 */
TULIP_EXTERN bool tulip_loop_is_running(const tulip_loop *loop);

/**
 * @brief The loop's time: CLOCK_MONOTONIC in nanoseconds, or the virtual
 * clock (starting at 0).
 * @param loop The loop.
 * @return The time in ns; 0 if loop is NULL.
 */
TULIP_EXTERN int64_t tulip_loop_time_ns(tulip_loop *loop);

/**
 * @brief The loop running on the calling thread, or NULL.
 * @return The loop running on the calling thread, or NULL.
 */
TULIP_EXTERN tulip_loop *tulip_loop_current(void);

/**
 * @brief The name of the loop's I/O backend: "epoll" or "poll".
 * @param loop The loop.
 * @return The name of the loop's I/O backend: "epoll" or "poll".
 */
TULIP_EXTERN const char *tulip_loop_backend(const tulip_loop *loop);

/** @brief A callback scheduled on a loop. */
typedef void tulip_callback_fn(void *arg);

/**
 * @brief A scheduled callback (asyncio's Handle / TimerHandle), opaque.
 *
 * The loop owns a handle while it is scheduled. A caller that asks for the
 * handle (the `out` argument) holds a reference of its own, which it gives
 * back with tulip_handle_release(); the handle stays readable until then.
 */
typedef struct tulip_handle tulip_handle;

/**
 * @brief Schedule fn(arg) to run on the next pass (asyncio's `call_soon`).
 *
 * Callbacks run in FIFO order, each exactly once.
 * @param loop The loop.
 * @param fn The callback.
 * @param arg Its argument.
 * @param[out] out The handle, referenced for the caller; NULL if not wanted.
 * @return 0 on success.
 * @return -EINVAL if loop or fn is NULL.
 * @return -ENOMEM if no handle could be allocated.
 */
TULIP_EXTERN int tulip_call_soon(tulip_loop *loop, tulip_callback_fn *fn,
                                 void *arg, tulip_handle **out);

/**
 * @brief Schedule fn(arg) to run delay_ns from now (asyncio's `call_later`).
 *
 * A negative delay behaves like 0; a deadline beyond INT64_MAX saturates to
 * TULIP_FOREVER. Timers with equal deadlines fire in the order they were
 * scheduled.
 * @param loop The loop.
 * @param delay_ns The delay, in ns.
 * @param fn The callback.
 * @param arg Its argument.
 * @param[out] out The handle, referenced for the caller; NULL if not wanted.
 * @return 0 on success.
 * @return -EINVAL if loop or fn is NULL.
 * @return -ENOMEM if no handle could be allocated or the timer heap could
 *         not grow.
 */
TULIP_EXTERN int tulip_call_later(tulip_loop *loop, int64_t delay_ns,
                                  tulip_callback_fn *fn, void *arg,
                                  tulip_handle **out);

/**
 * @brief Schedule fn(arg) to run at when_ns of the loop's clock (asyncio's
 * `call_at`). A time in the past means the next pass.
 * @param loop The loop.
 * @param when_ns The deadline, in the time of tulip_loop_time_ns().
 * @param fn The callback.
 * @param arg Its argument.
 * @param[out] out The handle, referenced for the caller; NULL if not wanted.
 * @return 0 on success.
 * @return -EINVAL if loop or fn is NULL.
 * @return -ENOMEM if no handle could be allocated or the timer heap could
 *         not grow.
 */
TULIP_EXTERN int tulip_call_at(tulip_loop *loop, int64_t when_ns,
                               tulip_callback_fn *fn, void *arg,
                               tulip_handle **out);

/**
 * @brief Schedule fn(arg) on the loop from any thread.
 *
 * The callback runs on the loop's thread in a coming pass; a loop waiting
 * for I/O is woken through an eventfd.
 * @param loop The loop.
 * @param fn The callback.
 * @param arg Its argument.
 * @return 0 on success.
 * @return -EINVAL if loop or fn is NULL.
 * @return -ENOMEM if memory ran out.
 * @note Thread-safe: the one loop function that is. Async-signal-safe (it
 * preserves errno) while fewer than 64 calls wait to run: each loop keeps 64
 * preallocated nodes; beyond those it allocates through the allocation hook,
 * which must then be thread-safe (the default is) and is not
 * async-signal-safe.
 */
TULIP_EXTERN int tulip_call_soon_threadsafe(tulip_loop *loop,
                                            tulip_callback_fn *fn, void *arg);

/**
 * @brief Cancel a scheduled callback; a no-op if it already ran or was
 * cancelled (asyncio's `Handle.cancel()`). A cancelled timer leaves the
 * timer heap at once.
 * @param h The handle, or NULL.
 */
TULIP_EXTERN void tulip_handle_cancel(tulip_handle *h);

/**
 * @brief Whether tulip_handle_cancel() was called on h (false for NULL).
 * @param h The handle.
 * @return true if tulip_handle_cancel() was called on h (false for NULL).
 */
TULIP_EXTERN bool tulip_handle_cancelled(const tulip_handle *h);

/**
 * @brief The deadline of a timer handle (asyncio's `TimerHandle.when()`).
 * @param h The handle.
 * @return The deadline in ns, or INT64_MIN if h is NULL or comes from
 *         tulip_call_soon().
 */
TULIP_EXTERN int64_t tulip_handle_when_ns(const tulip_handle *h);

/**
 * @brief Give back the caller's reference to a handle. This does not cancel
 * it: a scheduled callback still runs.
 * @param h The handle, or NULL.
 */
TULIP_EXTERN void tulip_handle_release(tulip_handle *h);

/**
 * @brief What went wrong, for the loop's error handler (asyncio's exception
 * handler context).
 */
struct tulip_error_context {
    const char *message; /**< what happened; never NULL */
    int err;             /**< the error code, or 0 */
    const char *source;  /**< who reports: "loop", "task" ...; may be NULL */
    void *object;        /**< the object concerned (task, handle ...), or
                              NULL */
};

/**
 * @brief A loop-wide error handler: receives the errors that nobody else can
 * report (a failed poll, a task that ended with an error nobody read ...).
 */
typedef void tulip_error_handler_fn(tulip_loop *loop,
                                    const struct tulip_error_context *ctx,
                                    void *ud);

/**
 * @brief Set the loop's error handler (asyncio's `set_exception_handler`).
 * @param loop The loop.
 * @param fn The handler; NULL restores the default, which prints one line
 *           to stderr.
 * @param ud User data passed to fn.
 * @return 0 on success.
 * @return -EINVAL if loop is NULL.
 */
TULIP_EXTERN int tulip_loop_set_error_handler(tulip_loop *loop,
                                              tulip_error_handler_fn *fn,
                                              void *ud);

/**
 * @brief Report an error to the loop's handler (asyncio's
 * `call_exception_handler`).
 * @param loop The loop.
 * @param ctx What happened.
 * @return 0 on success.
 * @return -EINVAL if loop or ctx is NULL.
 */
TULIP_EXTERN int tulip_loop_report_error(tulip_loop *loop,
                                         const struct tulip_error_context *ctx);

/** @} */

/* ======================================================================== */
/** @defgroup task Futures and tasks
 *
 * A **future** is a value that is not there yet: pending, then done with a
 * `void *` result or an error code, or cancelled. A **task** runs
 * `int fn(void *arg)` on a coroutine of its own, driven by a loop: it
 * suspends wherever it waits (tulip_sleep(), tulip_future_await(),
 * tulip_task_join() ... and later locks, queues and I/O) and the loop resumes
 * it when what it waits for happens. Scheduling follows asyncio: a new task
 * takes its first step on the loop's next pass; a woken task runs on the pass
 * after the wake-up; tulip_sleep(0) yields the turn.
 *
 * **Cancellation is level-triggered and scoped** (trio, libdill). Once a task
 * is cancelled, every suspending call it makes returns -ECANCELED, at once
 * and until the task returns; once the deadline of a scope it is in has
 * passed, every suspending call inside that scope returns -ETIMEDOUT. A
 * shielded scope hides the cancellation and deadlines of the scopes around
 * it, so that cleanup can still wait. When a cancel and a deadline both
 * apply, -ECANCELED wins. Every suspending call checks first, even when it
 * would not have to wait; the one exception is tulip_sleep(0), which always
 * yields its turn first and then reports what applies, so that a task
 * looping on it can never starve the loop. Nothing is lost: a task that drops
 * one -ECANCELED by mistake gets it again from its next call.
 *
 * **Ownership.** tulip_spawn() gives the caller a reference to the task when
 * `out` is not NULL; release it with tulip_task_release() once done with
 * it (before or after the task finishes). The loop holds its own reference
 * until the task has finished, so a task nobody holds ("fire and forget")
 * runs to its end and is then freed; it never vanishes and never leaks. The
 * task object lives at the top of the task's stack, so a finished task
 * that is still held keeps that stack page (4 KiB) until it is released. A
 * task that returns a negative code other than -ECANCELED, and whose result
 * nobody reads (tulip_task_join(), tulip_task_result()) before its last
 * reference goes, is reported to the loop's error handler as "Task exception
 * was never retrieved". Closing a loop whose tasks have not finished reports
 * each ("Task was destroyed but it is pending") and frees them without
 * running them further.
 *  @{ */

/** @brief A future (opaque, reference-counted). */
typedef struct tulip_future tulip_future;
/** @brief A task (opaque, reference-counted). */
typedef struct tulip_task tulip_task;
/** @brief A task body; its return value is the task's result. */
typedef int tulip_task_fn(void *arg);
/** @brief A done-callback of a future, run by the loop, exactly once. */
typedef void tulip_future_cb(tulip_future *f, void *arg);
/** @brief A done-callback of a task, run by the loop, exactly once. */
typedef void tulip_task_cb(tulip_task *t, void *arg);

/**
 * @brief Create a pending future bound to a loop.
 * @param[out] out The future; release it with tulip_future_release().
 * @param loop The loop that runs its callbacks and wakes its waiters.
 * @return 0 on success.
 * @return -EINVAL if out or loop is NULL.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_future_new(tulip_future **out, tulip_loop *loop);

/**
 * @brief Take another reference to f. @return f.
 * @param f The future.
 */
TULIP_EXTERN tulip_future *tulip_future_retain(tulip_future *f);

/**
 * @brief Drop a reference; the last one frees the future. A pending future
 * freed with waiters is cancelled first (they see -ECANCELED as its result).
 * A future whose error was never read is reported as "Future exception was
 * never retrieved".
 * @param f The future, or NULL.
 */
TULIP_EXTERN void tulip_future_release(tulip_future *f);

/**
 * @brief Complete the future with a value; waiters wake on the next pass and
 * done-callbacks are scheduled (never run inline).
 * @param f The future.
 * @param value The result.
 * @return 0 on success.
 * @return -EINVAL if f is NULL.
 * @return -EALREADY if f is already done or cancelled (InvalidStateError).
 */
TULIP_EXTERN int tulip_future_set_result(tulip_future *f, void *value);

/**
 * @brief Complete the future with an error.
 * @param f The future.
 * @param err A negative code.
 * @return 0 on success.
 * @return -EINVAL if f is NULL or err is not negative.
 * @return -EALREADY if f is already done or cancelled.
 */
TULIP_EXTERN int tulip_future_set_error(tulip_future *f, int err);

/**
 * @brief Cancel the future: it becomes done with -ECANCELED.
 * @param f The future.
 * @return 0 if it was pending and is now cancelled.
 * @return -EINVAL if f is NULL.
 * @return -EALREADY if it was already done (nothing changes).
 */
TULIP_EXTERN int tulip_future_cancel(tulip_future *f);

/**
 * @brief Whether f is done (with a result, an error, or cancelled).
 * @param f The future.
 * @return true if f is done (with a result, an error, or cancelled).
 */
TULIP_EXTERN bool tulip_future_done(const tulip_future *f);
/**
 * @brief Whether f was cancelled.
 * @param f The future.
 * @return true if f was cancelled.
 */
TULIP_EXTERN bool tulip_future_cancelled(const tulip_future *f);

/**
 * @brief Read the outcome of a done future without waiting.
 * @param f The future.
 * @param[out] value Its result (may be NULL).
 * @return 0 if it completed with a result.
 * @return -EINVAL if f is NULL.
 * @return -EAGAIN if it is not done yet (InvalidStateError).
 * @return -ECANCELED if it was cancelled.
 * @return The error it completed with.
 */
TULIP_EXTERN int tulip_future_result(tulip_future *f, void **value);

/**
 * @brief Wait, in a task, until f is done, then read its outcome.
 *
 * Cancelling the waiting task ends its wait, never the future, which other
 * tasks may be waiting for.
 * @param f The future.
 * @param[out] value Its result (may be NULL).
 * @return 0 if f completed with a result.
 * @return -EINVAL if f is NULL.
 * @return -EPERM if not called from a task of f's loop.
 * @return -ECANCELED if the calling task is cancelled, or f was cancelled.
 * @return -ETIMEDOUT if a deadline of the calling task's scopes passed.
 * @return The error f completed with.
 */
TULIP_EXTERN int tulip_future_await(tulip_future *f, void **value);

/**
 * @brief tulip_future_await() with a deadline of its own.
 * @param f The future.
 * @param deadline_ns An absolute time of the loop's clock; TULIP_FOREVER for
 *        none.
 * @param[out] value Its result (may be NULL).
 * @return As tulip_future_await(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_future_await_until(tulip_future *f, int64_t deadline_ns,
                                          void **value);

/**
 * @brief Run fn(f, arg) on the loop once f is done (at once-scheduled if it
 * is done already). Each added callback runs exactly once, in the order
 * added, unless removed first.
 * @param f The future.
 * @param fn The callback.
 * @param arg Its argument.
 * @return 0 on success.
 * @return -EINVAL if f or fn is NULL.
 * @return -ENOMEM if out of memory (fn will not be called).
 */
TULIP_EXTERN int tulip_future_add_done_callback(tulip_future *f,
                                                tulip_future_cb *fn, void *arg);

/**
 * @brief Remove every not-yet-scheduled callback equal to (fn, arg).
 * @param f The future.
 * @param fn The callback, as given to tulip_future_add_done_callback().
 * @param arg Its argument, as given there.
 * @return The number removed (0 or more), or -EINVAL if f or fn is NULL.
 */
TULIP_EXTERN int tulip_future_remove_done_callback(tulip_future *f,
                                                   tulip_future_cb *fn,
                                                   void *arg);

/** @brief Options for tulip_spawn_ex(). Zero-initialise, then set fields. */
struct tulip_task_opts {
    const char *name;  /**< copied; NULL: "Task-N" */
    size_t stack_size; /**< 0: the global default */
    bool eager;        /**< run the first step now, inside tulip_spawn_ex() */
};

/**
 * @brief Start a task: fn(arg) on a coroutine of its own, first step on the
 * loop's next pass (asyncio.create_task).
 * @param[out] out A reference to the task for the caller, or NULL if the
 *        caller does not want one (the loop then owns the task).
 * @param loop The loop that runs it; NULL for the loop of the calling task
 *        (or the loop running on this thread), as asyncio.create_task uses
 *        the running loop.
 * @param fn The body.
 * @param arg Its argument (borrowed: it must outlive the task).
 * @return 0 on success.
 * @return -EINVAL if fn is NULL, or loop is NULL outside a running loop.
 * @return -ENOMEM if out of memory or address space for the stack.
 */
TULIP_EXTERN int tulip_spawn(tulip_task **out, tulip_loop *loop,
                             tulip_task_fn *fn, void *arg);

/**
 * @brief tulip_spawn() with options: a name, a stack size, eager start.
 *
 * An eager task runs at once until it first suspends or returns; called from
 * a task, that task resumes afterwards (asyncio's eager_start).
 * @param[out] out A reference to the task for the caller, or NULL if the caller
 *        does not want one (the loop then owns the task).
 * @param loop The loop that runs it.
 * @param fn The body.
 * @param arg Its argument (borrowed: it must outlive the task).
 * @param opts Options, or NULL for the defaults.
 * @return As tulip_spawn(); also -EINVAL if opts->stack_size is non-zero and
 *         out of range.
 */
TULIP_EXTERN int tulip_spawn_ex(tulip_task **out, tulip_loop *loop,
                                tulip_task_fn *fn, void *arg,
                                const struct tulip_task_opts *opts);

/**
 * @brief Take another reference to t. @return t.
 * @param t The task.
 */
TULIP_EXTERN tulip_task *tulip_task_retain(tulip_task *t);

/**
 * @brief Drop a reference to t (NULL is a no-op).
 * @param t The task.
 */
TULIP_EXTERN void tulip_task_release(tulip_task *t);

/**
 * @brief Wait until t finishes and read its result (await task).
 *
 * Joining never cancels t: cancelling the joining task ends the join only
 * (use a task group, or tulip_task_cancel(), to cancel t). A task can be
 * joined any number of times, by any number of tasks.
 * @param t The task.
 * @param[out] result Its return value (may be NULL); -ECANCELED if it was
 *        cancelled before it started.
 * @return 0 when t has finished.
 * @return -EINVAL if t is NULL.
 * @return -EPERM if not called from a task of t's loop.
 * @return -EDEADLK if t is the calling task.
 * @return -ECANCELED if the calling task is cancelled.
 * @return -ETIMEDOUT if a deadline of the calling task's scopes passed.
 */
TULIP_EXTERN int tulip_task_join(tulip_task *t, int *result);

/**
 * @brief tulip_task_join() with a deadline of its own.
 * @param t The task.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @param[out] result Its return value (may be NULL); -ECANCELED if it was
 *        cancelled before it started.
 * @return As tulip_task_join(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_task_join_until(tulip_task *t, int64_t deadline_ns,
                                       int *result);

/**
 * @brief Read the result of a finished task without waiting.
 * @param t The task.
 * @param[out] result Its return value.
 * @return 0 if it has finished.
 * @return -EINVAL if t or result is NULL.
 * @return -EAGAIN if it has not finished.
 */
TULIP_EXTERN int tulip_task_result(tulip_task *t, int *result);

/**
 * @brief Cancel a task: from now on every suspending call it makes returns
 * -ECANCELED (outside shielded scopes). A task that has not started yet
 * never runs, and its result is -ECANCELED.
 * @param t The task.
 * @return 0 if the request was recorded (a repeated request is harmless).
 * @return -EINVAL if t is NULL.
 * @return -EALREADY if t has already finished.
 */
TULIP_EXTERN int tulip_task_cancel(tulip_task *t);

/**
 * @brief Whether t has finished.
 * @param t The task.
 * @return true if t has finished.
 */
TULIP_EXTERN bool tulip_task_done(const tulip_task *t);
/**
 * @brief Whether cancellation of t was requested.
 * @param t The task.
 * @return true if cancellation of t was requested.
 */
TULIP_EXTERN bool tulip_task_cancelling(const tulip_task *t);
/**
 * @brief The task's name (never NULL).
 * @param t The task.
 * @return The task's name (never NULL).
 */
TULIP_EXTERN const char *tulip_task_name(const tulip_task *t);
/**
 * @brief The task's loop.
 * @param t The task.
 * @return The task's loop.
 */
TULIP_EXTERN tulip_loop *tulip_task_loop(const tulip_task *t);

/**
 * @brief Run fn(t, arg) on the loop once t has finished (scheduled at once
 * if it has).
 * @param t The task.
 * @param fn Called with t and arg once t has finished.
 * @param arg Passed to fn.
 * @return 0 on success.
 * @return -EINVAL if t or fn is NULL.
 * @return -ENOMEM if out of memory (fn will not be called).
 */
TULIP_EXTERN int tulip_task_add_done_callback(tulip_task *t, tulip_task_cb *fn,
                                              void *arg);

/**
 * @brief The task running on this thread, or NULL outside tasks.
 * @return The task running on this thread, or NULL outside tasks.
 */
TULIP_EXTERN tulip_task *tulip_task_current(void);

/**
 * @brief List the unfinished tasks of a loop (asyncio.all_tasks).
 * @param loop The loop.
 * @param[out] tasks Filled with up to cap tasks (borrowed references).
 * @param cap Capacity of tasks (0 to only count).
 * @return The number of unfinished tasks (may exceed cap), or -EINVAL.
 */
TULIP_EXTERN int tulip_loop_tasks(tulip_loop *loop, tulip_task **tasks,
                                  size_t cap);

/**
 * @brief Suspend the calling task for delay_ns (asyncio.sleep).
 * tulip_sleep(0) yields the turn: the task runs again on the next pass;
 * it yields even when the task is cancelled, and then returns -ECANCELED
 * (or -ETIMEDOUT) as it finds the task on its return.
 * Negative delays count as 0.
 * @param delay_ns How long to sleep, in nanoseconds.
 * @return 0 when the time has passed.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED if the task is cancelled.
 * @return -ETIMEDOUT if a deadline of the task's scopes passed first.
 */
TULIP_EXTERN int tulip_sleep(int64_t delay_ns);

/**
 * @brief Suspend the calling task until the loop's clock reaches
 * deadline_ns.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_sleep().
 */
TULIP_EXTERN int tulip_sleep_until(int64_t deadline_ns);

/**
 * @brief The running loop's time in ns (the loop of the calling task), or
 * the monotonic clock outside tasks.
 * @return The running loop's time in ns (the loop of the calling task), or the
 *        monotonic clock outside tasks.
 */
TULIP_EXTERN int64_t tulip_now(void);

/**
 * @brief Run the loop until t has finished (run_until_complete).
 * @param loop The loop (not running).
 * @param t A task of that loop.
 * @param[out] result The task's result (may be NULL).
 * @return 0 when t has finished.
 * @return -EINVAL if loop or t is NULL, or t belongs to another loop.
 * @return -EBUSY if the loop is running.
 * @return -EDEADLK if the loop ran out of work before t finished (t waits
 *         for something nothing will ever do).
 */
TULIP_EXTERN int tulip_loop_run_until(tulip_loop *loop, tulip_task *t,
                                      int *result);

/**
 * @brief Close, in the calling task, every generator that a task of this
 * loop first resumed and that is still suspended, so that its cleanup runs
 * (asyncio's loop.shutdown_asyncgens()). tulip_run() calls it at exit.
 *
 * A generator resumed by a task is an async generator: its body may call
 * any suspending function (tulip_sleep(), tulip_future_await() ...), which
 * suspends the task driving it; asend/athrow/aclose are tulip_gen_send(),
 * tulip_gen_throw() and tulip_gen_close() called from that task. While its
 * body waits so, the generator is running: resuming it from elsewhere gives
 * TULIP_ERUNNING.
 * @return 0 on success (errors of the closes go to the error handler).
 * @return -EPERM if not called from a task.
 */
TULIP_EXTERN int tulip_shutdown_gens(void);

/** @brief Options for tulip_run(). Zero-initialise, then set fields. */
struct tulip_run_opts {
    struct tulip_loop_opts loop; /**< options of the new loop */
    struct tulip_task_opts task; /**< options of the main task */
};

/**
 * @brief asyncio.run: make a loop, run fn(arg) as its main task until it
 * returns, cancel the tasks still running and wait for them, close the loop.
 * @param fn The main task's body.
 * @param arg Its argument.
 * @param[out] result Its return value (may be NULL).
 * @param opts Options, or NULL.
 * @return 0 when the main task ran to its end.
 * @return -EINVAL if fn is NULL.
 * @return -EBUSY if a loop is already running on this thread, or, after a
 *         main task that ended well, if the loop could not close because the
 *         program still holds handles of it (tulip_handle_release()): that
 *         is reported to the error handler with the loop as its object, and
 *         the loop is left open for the program to release them and call
 *         tulip_loop_close().
 * @return -ENOMEM if out of memory.
 * @return -EDEADLK if the main task waits for something nothing will do.
 * @return -EINTR if a SIGINT cancelled the main task (asyncio's
 *         KeyboardInterrupt; *result is still set): see the Signals
 *         section for tulip_run()'s Ctrl-C handling.
 */
TULIP_EXTERN int tulip_run(tulip_task_fn *fn, void *arg, int *result,
                           const struct tulip_run_opts *opts);

/** @} */

/* ======================================================================== */
/** @defgroup ctxvar Task-local storage (contextvars)
 *
 * Python's contextvars: a variable (ContextVar) is a key, made once, with a
 * default value and an optional destructor for the values set; a context
 * (Context) maps variables to values. Code always runs in a current
 * context:
 * - a task in its own, a copy of its spawner's current context taken at
 *   spawn (asyncio's create_task): later sets in either one do not affect
 *   the other;
 * - a callback of tulip_call_soon(), tulip_call_later() or tulip_call_at()
 *   in a copy of the context it was scheduled from, taken when it was
 *   scheduled, and a done-callback of a future or task in a copy of the
 *   context it was added from; what the callback sets is gone when it
 *   returns;
 * - code outside tasks and callbacks (before and between loop runs) in the
 *   thread's root context;
 * - fn of tulip_context_run() in the context given.
 *
 * Copies are cheap: contexts share one immutable map until a set replaces
 * it, and nothing is copied at all while no variable was ever set in the
 * process (call_soon, spawn and task switches then cost what they cost
 * without contexts).
 *
 * A value's destructor runs exactly once, when no context (and no token)
 * holds that value any more: when it is overwritten or reset in the last
 * context that has it, when that task finishes (or is destroyed by
 * tulip_loop_close()), when that callback returns or is cancelled or
 * discarded. It runs on the thread of whoever dropped the value and must
 * not set or reset variables. Each set is a value of its own: setting the
 * same pointer twice runs the destructor twice. Defaults are never
 * destroyed.
 *
 * Differences from Python: callbacks of tulip_call_soon_threadsafe() start
 * in an empty context rather than in a copy of the calling thread's; and
 * contexts belong to one thread, like the loop.
 *
 * @code
 * static tulip_ctxvar *request_id;     // tulip_ctxvar_new(&request_id, ...)
 *
 * static void log_line(const char *msg)
 * {
 *     printf("[%s] %s\n", (char *)tulip_ctxvar_get(request_id), msg);
 * }
 *
 * static int handle(void *arg)          // a task per request
 * {
 *     tulip_ctxvar_set(request_id, arg, NULL);
 *     log_line("start");                // nested calls see it, no argument
 *     tulip_sleep(TULIP_MSEC);
 *     log_line("done");
 *     return 0;
 * }
 * @endcode
 * @{
 */

/** @brief A context variable (Python's ContextVar), opaque. */
typedef struct tulip_ctxvar tulip_ctxvar;

/** @brief A context (Python's contextvars.Context), opaque. */
typedef struct tulip_context tulip_context;

/** @brief Destructor of the values of a variable. */
typedef void tulip_ctxvar_dtor_fn(void *value);

/**
 * @brief What tulip_ctxvar_reset() needs to undo a set (Python's Token), in
 * caller storage. Its fields are private.
 *
 * A token holds the value the variable had before the set (so that a reset
 * can bring it back): one that is not reset must be given back with
 * tulip_ctxvar_token_drop().
 */
struct tulip_ctxvar_token {
    tulip_context *ctx; /**< private: the context of the set */
    tulip_ctxvar *var;  /**< private: the variable */
    void *old;          /**< private: the previous value's record */
    int state;          /**< private: 1 while it can be used */
};

/**
 * @brief Make a context variable (ContextVar(name, default=...)).
 *
 * Make variables once (at start-up, like Python's module-level ContextVar)
 * and keep them: every lookup costs a scan of the variables set in the
 * current context.
 * @param[out] out The variable.
 * @param default_value What tulip_ctxvar_get() returns where the variable
 *        is not set (never destroyed).
 * @param dtor Called once on each value set, when no context holds it any
 *        more; NULL for none.
 * @return 0 on success.
 * @return -EINVAL if out is NULL.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_ctxvar_new(tulip_ctxvar **out, void *default_value,
                                  tulip_ctxvar_dtor_fn *dtor);

/**
 * @brief Give back the caller's reference to var (NULL is a no-op).
 *
 * Values still set in some context keep it alive internally (and are
 * destroyed as usual); the caller must not use var any more.
 * @param var The variable.
 */
TULIP_EXTERN void tulip_ctxvar_free(tulip_ctxvar *var);

/**
 * @brief The value of var in the current context, or its default
 * (ContextVar.get()). Costs no allocation.
 * @param var The variable.
 * @return The value, the default if var is not set, NULL if var is NULL.
 */
TULIP_EXTERN void *tulip_ctxvar_get(const tulip_ctxvar *var);

/**
 * @brief Whether var is set in the current context, and to what
 * (`var in copy_context()`, ContextVar.get() raising LookupError).
 * @param var The variable.
 * @param[out] out The value, or the default if not set.
 * @return 0 if var is set.
 * @return -ENOENT if it is not (*out is the default).
 * @return -EINVAL if var or out is NULL.
 */
TULIP_EXTERN int tulip_ctxvar_lookup(const tulip_ctxvar *var, void **out);

/**
 * @brief Set var in the current context (ContextVar.set()).
 *
 * Only the current context changes: tasks spawned and callbacks scheduled
 * before keep what they copied, those spawned or scheduled after see value.
 * The value whose place it takes is destroyed if nothing else holds it.
 * @param var The variable.
 * @param value The new value; with a destructor, owned by the contexts from
 *        now on.
 * @param[out] tok Where to store a token for tulip_ctxvar_reset(), or NULL.
 * @return 0 on success.
 * @return -EINVAL if var is NULL.
 * @return -ENOMEM if out of memory: nothing changed, value is still the
 *         caller's (its destructor is not called).
 */
TULIP_EXTERN int tulip_ctxvar_set(tulip_ctxvar *var, void *value,
                                  struct tulip_ctxvar_token *tok);

/**
 * @brief Give var in the current context back the value (or the unset
 * state) it had before the set that made tok (ContextVar.reset()).
 *
 * The token is used up, whatever was set in between. A failed reset leaves
 * the token as it was.
 * @param var The variable.
 * @param tok The token of a set of var in this same context.
 * @return 0 on success.
 * @return -EINVAL if var or tok is NULL, or tok was made by a set of
 *         another variable (Python's ValueError).
 * @return -EALREADY if tok was used already, or dropped (RuntimeError).
 * @return -EXDEV if tok was made in another context (ValueError).
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_ctxvar_reset(tulip_ctxvar *var,
                                    struct tulip_ctxvar_token *tok);

/**
 * @brief Give back a token that will not be reset, with the old value it
 * holds (NULL or a used token: no-op).
 * @param tok The token.
 */
TULIP_EXTERN void tulip_ctxvar_token_drop(struct tulip_ctxvar_token *tok);

/**
 * @brief A copy of the current context (contextvars.copy_context()).
 * @param[out] out The copy, to be given back with tulip_context_free().
 * @return 0 on success.
 * @return -EINVAL if out is NULL.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_context_copy(tulip_context **out);

/**
 * @brief Give back a context from tulip_context_copy() (NULL is a no-op).
 *
 * Values only it holds are destroyed (once it is no longer entered and no
 * token made in it is left).
 * @param ctx The context.
 */
TULIP_EXTERN void tulip_context_free(tulip_context *ctx);

/**
 * @brief Run fn(arg) with ctx as the current context (Context.run()).
 *
 * What fn sets stays in ctx; the caller's context is the current one
 * again afterwards. In a task, fn may suspend: other tasks meanwhile run in
 * their own contexts.
 * @param ctx The context.
 * @param fn The function.
 * @param arg Its argument.
 * @return 0 on success (fn ran).
 * @return -EINVAL if ctx or fn is NULL.
 * @return -EBUSY if ctx is being run already, here or in another task
 *         (Python's RuntimeError "cannot enter context").
 * @return -ENOMEM if out of memory (fn did not run).
 */
TULIP_EXTERN int tulip_context_run(tulip_context *ctx, tulip_callback_fn *fn,
                                   void *arg);

/**
 * @brief The value of var in ctx (Context.get() / `ctx[var]`).
 * @param ctx The context.
 * @param var The variable.
 * @param[out] out The value, or the default if not set.
 * @return 0 if var is set in ctx.
 * @return -ENOENT if it is not (*out is the default).
 * @return -EINVAL if an argument is NULL.
 */
TULIP_EXTERN int tulip_context_lookup(const tulip_context *ctx,
                                      const tulip_ctxvar *var, void **out);

/** @} */

/* ======================================================================== */
/** @defgroup scope Cancellation scopes, deadlines and shields
 *
 * A scope is entered and exited by one task, in strict nesting order, on
 * storage the task provides (usually a local variable). Its deadline makes
 * every suspending call inside it return -ETIMEDOUT once passed; a shielded
 * scope hides outer cancellation and deadlines (but not its own deadline).
 * tulip_scope_exit() tells whether the scope's own deadline expired
 * (asyncio.timeout raising TimeoutError; trio's cancelled_caught).
 *
 * @code
 * struct tulip_scope s;
 * tulip_scope_enter(&s, tulip_now() + 2 * TULIP_SEC, 0);  // timeout(2)
 * rc = fetch(url);                      // -ETIMEDOUT if 2 s pass
 * if (tulip_scope_exit(&s) == -ETIMEDOUT)
 *     puts("timeout!");
 * @endcode
 *  @{ */

#define TULIP_SCOPE_SHIELD 1u /**< hide outer cancellation and deadlines */

/** @brief A scope, on the caller's storage; its fields are private. */
struct tulip_scope {
    struct tulip_scope *outer_; /* private */
    int64_t deadline_ns_;       /* private */
    tulip_task *task_;          /* private */
    unsigned flags_;            /* private */
    int depth_;                 /* private */
    int state_;                 /* private */
};

/**
 * @brief Enter a scope in the calling task.
 * @param s Storage for the scope, valid until tulip_scope_exit().
 * @param deadline_ns Absolute deadline on the loop's clock (TULIP_FOREVER
 *        for none).
 * @param flags 0 or TULIP_SCOPE_SHIELD.
 * @return 0 on success.
 * @return -EINVAL if s is NULL or flags has unknown bits.
 * @return -EPERM if not called from a task.
 */
TULIP_EXTERN int tulip_scope_enter(struct tulip_scope *s, int64_t deadline_ns,
                                   unsigned flags);

/**
 * @brief Exit the innermost scope.
 * @param s The scope entered last and not exited yet.
 * @return 0 if its deadline did not pass while inside.
 * @return -ETIMEDOUT if its deadline passed.
 * @return -EINVAL if s is NULL or is not the innermost scope of the task.
 * @return -EPERM if not called from the task that entered s.
 */
TULIP_EXTERN int tulip_scope_exit(struct tulip_scope *s);

/**
 * @brief Move the deadline of a scope of the calling task.
 * @param s The scope.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return 0, -EINVAL if s is NULL, -EPERM if s is not the calling task's.
 */
TULIP_EXTERN int tulip_scope_reschedule(struct tulip_scope *s,
                                        int64_t deadline_ns);

/**
 * @brief Whether the calling task is cancelled, or a deadline of its scopes
 * has passed, as its next suspending call would tell.
 * @return 0, -ECANCELED, -ETIMEDOUT, or -EPERM outside a task.
 */
TULIP_EXTERN int tulip_check_cancel(void);

/** @} */

/* ======================================================================== */
/** @defgroup combine Combinators and task groups
 *  @{ */

#define TULIP_RETURN_ERRORS 1u /**< gather: collect errors as results */

/**
 * @brief Wait for every task and collect their results in argument order
 * (asyncio.gather).
 *
 * Without TULIP_RETURN_ERRORS, the first task found finished with a
 * negative result (-ECANCELED included, as asyncio treats a cancelled child)
 * ends the wait with that code, and the other tasks keep running, as asyncio
 * does; with it, every task is waited for and results holds each one's code.
 * If the calling task is cancelled, or a deadline of its scopes passes, while
 * waiting, every unfinished task is cancelled (as cancelling a gather does)
 * and the call returns at once. On every return but -EINVAL, -EPERM and
 * -ENOMEM, results holds the result of each finished task and -EINPROGRESS
 * for the unfinished ones.
 * @param tasks The tasks (borrowed).
 * @param n Their number (0 returns at once).
 * @param[out] results n results in argument order (may be NULL).
 * @param flags 0 or TULIP_RETURN_ERRORS.
 * @return 0 when every task finished (without errors, unless collected).
 * @return -EINVAL if tasks is NULL with n > 0, a task is NULL, or flags has
 *         unknown bits.
 * @return -EPERM if not called from a task.
 * @return -ENOMEM if out of memory.
 * @return -ECANCELED if the calling task is cancelled.
 * @return -ETIMEDOUT if a deadline of the calling task's scopes passed.
 * @return The first negative result of a task (without TULIP_RETURN_ERRORS).
 */
TULIP_EXTERN int tulip_gather(tulip_task *const *tasks, size_t n, int *results,
                              unsigned flags);

/** @brief When tulip_wait() returns. */
enum tulip_wait_mode {
    TULIP_ALL_COMPLETED,   /**< when every task has finished */
    TULIP_FIRST_COMPLETED, /**< when any task has finished */
    TULIP_FIRST_EXCEPTION  /**< when one fails (negative), or all finished */
};

/**
 * @brief Wait for tasks without cancelling any (asyncio.wait).
 * @param tasks The tasks (borrowed; n > 0).
 * @param n Their number.
 * @param mode When to return.
 * @param timeout_ns How long to wait at most (TULIP_FOREVER: no limit); on
 *        timeout the call returns 0 with fewer tasks done, as asyncio.wait.
 * @param[out] done n flags, set for the tasks that have finished (may be
 *        NULL).
 * @return The number of finished tasks (>= 0).
 * @return -EINVAL if tasks is NULL, n is 0, a task is NULL, or mode is
 *         unknown.
 * @return -EPERM if not called from a task.
 * @return -ENOMEM if out of memory.
 * @return -ECANCELED if the calling task is cancelled.
 * @return -ETIMEDOUT if a deadline of the calling task's scopes passed.
 */
TULIP_EXTERN int tulip_wait(tulip_task *const *tasks, size_t n,
                            enum tulip_wait_mode mode, int64_t timeout_ns,
                            bool *done);

/**
 * @brief Wait for a task with a timeout (asyncio.wait_for); on timeout,
 * cancel it and wait until it has finished.
 * @param t The task.
 * @param timeout_ns The time allowed.
 * @param[out] result Its result if it finished in time (may be NULL).
 * @return 0 if t finished in time.
 * @return -ETIMEDOUT if it did not (it has been cancelled and has finished).
 * @return -EINVAL if t is NULL.
 * @return -EPERM if not called from a task.
 * @return -EDEADLK if t is the calling task.
 * @return -ECANCELED if the calling task is cancelled (t is cancelled too,
 *         as asyncio.wait_for does).
 */
TULIP_EXTERN int tulip_wait_for(tulip_task *t, int64_t timeout_ns, int *result);

/**
 * @brief Run fn(arg) in the calling task under a timeout: `async with
 * timeout(t): return await fn(arg)` (asyncio 3.12's wait_for).
 * @param fn The body of the task to run.
 * @param arg Passed to fn.
 * @param timeout_ns Time allowed, in nanoseconds.
 * @return fn's result if it returned in time.
 * @return -ETIMEDOUT if the timeout passed while fn ran (fn saw -ETIMEDOUT
 *         from its suspending calls and returned).
 * @return -ECANCELED if the timeout passed but the calling task is also
 *         cancelled: -ECANCELED wins, so that an outside cancel is never
 *         turned into a timeout.
 * @return -EINVAL if fn is NULL.
 * @return -EPERM if not called from a task.
 */
TULIP_EXTERN int tulip_wait_for_fn(tulip_task_fn *fn, void *arg,
                                   int64_t timeout_ns);

/** @brief Iteration state of tulip_as_completed_next(); fields private. */
struct tulip_as_completed {
    tulip_task *const *tasks_; /* private */
    size_t n_;                 /* private */
    void *mem_;                /* private */
    size_t left_;              /* private */
    int64_t deadline_ns_;      /* private */
};

/**
 * @brief Start iterating over tasks in the order they finish
 * (asyncio.as_completed).
 * @param it The iteration state.
 * @param tasks The tasks (borrowed; valid until the iteration ends).
 * @param n Their number.
 * @param timeout_ns Time allowed for the whole iteration (TULIP_FOREVER).
 * @return 0, -EINVAL, -ENOMEM, or -EPERM if not called from a task.
 */
TULIP_EXTERN int tulip_as_completed_init(struct tulip_as_completed *it,
                                         tulip_task *const *tasks, size_t n,
                                         int64_t timeout_ns);

/**
 * @brief The next task to finish.
 * @param it The iteration state.
 * @param[out] t The task.
 * @return 0 with the next finished task.
 * @return TULIP_STOP when every task has been returned.
 * @return -ETIMEDOUT if the iteration's timeout passed.
 * @return -ECANCELED if the calling task is cancelled.
 * @return -EINVAL if it or t is NULL.
 */
TULIP_EXTERN int tulip_as_completed_next(struct tulip_as_completed *it,
                                         tulip_task **t);

/**
 * @brief Release the iteration state (always call it).
 * @param it The iterator.
 */
TULIP_EXTERN void tulip_as_completed_done(struct tulip_as_completed *it);

/**
 * @brief A task group (asyncio.TaskGroup, trio's nursery), opaque.
 *
 * Made by a task, which spawns children into it and then waits for all of
 * them with tulip_group_wait(). The first child to fail (return a negative
 * code other than -ECANCELED) cancels the others and the body of the group:
 * the parent's suspending calls between tulip_group_new() and
 * tulip_group_wait() return -ECANCELED. Cancelling the parent cancels the
 * children at once. tulip_group_wait() always waits for every child and
 * returns the first error.
 *
 * Deadlines of scopes around the group reach the children through the
 * parent: when such a deadline passes, the parent's calls in the body return
 * -ETIMEDOUT, and tulip_group_wait() then cancels the children (trio
 * cancels them at the moment the deadline passes).
 */
typedef struct tulip_group tulip_group;

/**
 * @brief Open a group in the calling task. Groups and scopes nest: close
 * them in reverse order of opening.
 * @param[out] out The group.
 * @return 0 on success.
 * @return -EINVAL if out is NULL.
 * @return -EPERM if not called from a task.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_group_new(tulip_group **out);

/**
 * @brief Start a child task in the group.
 * @param g The group (open).
 * @param fn The child's body.
 * @param arg Its argument.
 * @param opts Options, or NULL.
 * @param[out] out A reference for the caller (release it), or NULL.
 * @return 0 on success.
 * @return -EINVAL if g or fn is NULL.
 * @return -EPIPE if tulip_group_wait() has begun (a child spawning a
 *         sibling while the parent waits): the group admits no more
 *         children then. After tulip_group_wait() returns, g is freed.
 * @return -ECANCELED if the group is cancelled (nothing is started).
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_group_spawn(tulip_group *g, tulip_task_fn *fn, void *arg,
                                   const struct tulip_task_opts *opts,
                                   tulip_task **out);

/** @brief Cancel every child of the group and its body (TaskGroup.cancel).
 * @param g The task group.
 * @return 0, or -EINVAL if g is NULL. */
TULIP_EXTERN int tulip_group_cancel(tulip_group *g);

/**
 * @brief Wait for every child, close the group and free it.
 *
 * If the parent is cancelled, or a deadline of its scopes passes, while
 * waiting, the children are cancelled and still waited for.
 * @param g The group.
 * @return 0 if every child returned 0 or more, and the group was not
 *         cancelled from outside.
 * @return The first error of a child.
 * @return -ECANCELED if the parent was cancelled.
 * @return -ETIMEDOUT if a deadline of the parent's scopes passed.
 * @return -ENOMEM if the timer of such a deadline could not be armed: the
 *         children are cancelled and waited for.
 * @return -EINVAL if g is NULL.
 * @return -EPERM if not called from the task that opened g, or g is not the
 *         innermost scope of that task.
 */
TULIP_EXTERN int tulip_group_wait(tulip_group *g);

/** @} */

/* ======================================================================== */
/** @defgroup sync Synchronization, queues and channels
 *
 * asyncio's Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier and
 * Queue (FIFO, LIFO, priority, 3.13 shutdown), and trio-style memory
 * channels with a Go-style select. Every object is an opaque heap object
 * (`_new`/`_free`; destructors accept NULL), bound to no loop: it may be
 * used by the tasks of any one loop at a time. Nothing here is thread-safe.
 *
 * **Waiting.** Every call that may wait must be made from a task (else
 * -EPERM), checks cancellation first (-ECANCELED / -ETIMEDOUT as every
 * suspending call, even when it would not wait), and has an `_until` twin
 * with a deadline of its own (absolute, on the loop's clock; -ETIMEDOUT when
 * it passes); locks, semaphores, queues and channels also have `try_` forms
 * that never wait (-EAGAIN instead) and, but for the lock's, work outside
 * tasks too.
 *
 * **Fairness and hand-off.** Waiters are served strictly first come, first
 * served: a release, a put or a send hands what it frees (the lock, a
 * permit, an item, a message) directly to the longest waiting task, so that
 * a newcomer can never overtake it (no barging). A waiting task that is
 * cancelled or whose deadline passes leaves the wait queue at that moment,
 * so nothing is ever handed to a task that is leaving, and the others are
 * served as if it had never waited.
 *
 * **The same-pass rule.** When a hand-off and a cancellation (or deadline)
 * of the waiter happen in the same loop pass, the hand-off wins: the call
 * returns 0 with the lock, permit, item or message, and the cancellation is
 * reported by the task's next suspending call (cancellation is
 * level-triggered, so it is never lost). Nothing handed over is ever lost.
 *
 * **Freeing.** Freeing an object that tasks still wait on wakes them with
 * TULIP_ECLOSED; they never touch the object again.
 *  @{ */

/** @brief A mutual-exclusion lock (asyncio.Lock), owned by a task. */
typedef struct tulip_lock tulip_lock;

/**
 * @brief Create an unlocked lock.
 * @param[out] out The lock; free it with tulip_lock_free().
 * @return 0 on success.
 * @return -EINVAL if out is NULL.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_lock_new(tulip_lock **out);

/**
 * @brief Free a lock (NULL is a no-op); waiters get TULIP_ECLOSED.
 * @param l The lock.
 */
TULIP_EXTERN void tulip_lock_free(tulip_lock *l);

/**
 * @brief Acquire the lock, waiting in FIFO order while another task holds
 * it. The lock is not re-entrant.
 * @param l The lock.
 * @return 0 when the calling task holds the lock.
 * @return -EINVAL if l is NULL.
 * @return -EPERM if not called from a task.
 * @return -EDEADLK if the calling task already holds l.
 * @return -ECANCELED if the task is cancelled (the lock is not held).
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @return TULIP_ECLOSED if l was freed while waiting.
 * @return -ENOMEM if out of memory to arm the wait's deadline timer.
 * @note The lock belongs to the task that acquired it. A task that returns
 *       while holding it leaves it locked for good (as asyncio's would be).
 */
TULIP_EXTERN int tulip_lock_acquire(tulip_lock *l);

/**
 * @brief tulip_lock_acquire() with a deadline of its own.
 * @param l The lock.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_lock_acquire(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_lock_acquire_until(tulip_lock *l, int64_t deadline_ns);

/**
 * @brief Acquire the lock if it is free and nobody waits for it.
 * @param l The lock.
 * @return 0 on success.
 * @return -EINVAL if l is NULL.
 * @return -EPERM if not called from a task (a lock is owned by a task).
 * @return -EDEADLK if the calling task already holds l.
 * @return -EAGAIN if it would have to wait.
 */
TULIP_EXTERN int tulip_lock_try_acquire(tulip_lock *l);

/**
 * @brief Release the lock; the longest waiting task, if any, owns it now.
 * @param l The lock.
 * @return 0 on success.
 * @return -EINVAL if l is NULL.
 * @return -EPERM if the calling task does not hold l (or no task calls).
 */
TULIP_EXTERN int tulip_lock_release(tulip_lock *l);

/**
 * @brief Whether some task holds l (false for NULL).
 * @param l The lock.
 * @return true if some task holds l (false for NULL).
 */
TULIP_EXTERN bool tulip_lock_locked(const tulip_lock *l);

/** @brief An event flag (asyncio.Event). */
typedef struct tulip_event tulip_event;

/**
 * @brief Create an event, initially clear.
 * @param[out] out The event; free it with tulip_event_free().
 * @return 0 on success.
 * @return -EINVAL if out is NULL.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_event_new(tulip_event **out);

/**
 * @brief Free an event (NULL is a no-op); waiters get TULIP_ECLOSED.
 * @param e The event.
 */
TULIP_EXTERN void tulip_event_free(tulip_event *e);

/**
 * @brief Set the flag and wake every waiting task (they all return 0, even
 * if the flag is cleared before they run). Callable outside tasks.
 * @param e The event.
 * @return 0 on success.
 * @return -EINVAL if e is NULL.
 */
TULIP_EXTERN int tulip_event_set(tulip_event *e);

/**
 * @brief Clear the flag.
 * @param e The event.
 * @return 0 on success.
 * @return -EINVAL if e is NULL.
 */
TULIP_EXTERN int tulip_event_clear(tulip_event *e);

/**
 * @brief Whether the flag is set (false for NULL).
 * @param e The event.
 * @return true if the flag is set (false for NULL).
 */
TULIP_EXTERN bool tulip_event_is_set(const tulip_event *e);

/**
 * @brief Wait until the flag is set (at once if it is).
 * @param e The event.
 * @return 0 when set.
 * @return -EINVAL if e is NULL.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED if the task is cancelled.
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @return TULIP_ECLOSED if e was freed while waiting.
 * @return -ENOMEM if out of memory to arm the wait's deadline timer.
 */
TULIP_EXTERN int tulip_event_wait(tulip_event *e);

/**
 * @brief tulip_event_wait() with a deadline of its own.
 * @param e The event.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_event_wait(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_event_wait_until(tulip_event *e, int64_t deadline_ns);

/** @brief A condition variable bound to a lock (asyncio.Condition). */
typedef struct tulip_cond tulip_cond;

/** @brief A predicate for tulip_cond_wait_for(). */
typedef bool tulip_cond_pred(void *arg);

/**
 * @brief Create a condition variable.
 * @param[out] out The condition; free it with tulip_cond_free().
 * @param lock The lock it is bound to (borrowed: it must outlive the
 *        condition), or NULL to make one that tulip_cond_lock() returns and
 *        tulip_cond_free() frees.
 * @return 0 on success.
 * @return -EINVAL if out is NULL.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_cond_new(tulip_cond **out, tulip_lock *lock);

/**
 * @brief Free a condition (NULL is a no-op); waiters get TULIP_ECLOSED.
 * @param c The condition.
 */
TULIP_EXTERN void tulip_cond_free(tulip_cond *c);

/**
 * @brief The lock of c (NULL for NULL).
 * @param c The condition.
 * @return The lock of c (NULL for NULL).
 */
TULIP_EXTERN tulip_lock *tulip_cond_lock(const tulip_cond *c);

/**
 * @brief Release the lock, wait for a notification, re-acquire the lock.
 *
 * The lock is held again when the call returns, whatever it returns (but
 * -EINVAL and -EPERM): the re-acquisition is shielded from cancellation,
 * and a cancellation or deadline is reported once the lock is back. A task
 * notified in the same pass as it is cancelled returns 0 (the notification
 * is consumed, not lost). Wake-ups may be spurious; use a loop or
 * tulip_cond_wait_for().
 * @param c The condition.
 * @return 0 when notified.
 * @return -EINVAL if c is NULL.
 * @return -EPERM if not called from a task that holds c's lock.
 * @return -ECANCELED if the task is cancelled (lock held).
 * @return -ETIMEDOUT if a deadline of the task's scopes passed (lock held).
 * @return TULIP_ECLOSED if c was freed while waiting (lock held).
 * @return -ENOMEM if out of memory to arm the wait's deadline timer (lock
 *         held).
 */
TULIP_EXTERN int tulip_cond_wait(tulip_cond *c);

/**
 * @brief tulip_cond_wait() with a deadline of its own.
 * @param c The condition.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_cond_wait(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_cond_wait_until(tulip_cond *c, int64_t deadline_ns);

/**
 * @brief Wait until pred(arg) is true (checked first, then after every
 * wake-up, always with the lock held).
 * @param c The condition.
 * @param pred Called with arg, the lock held; the wait ends once it is true.
 * @param arg Passed to pred.
 * @return 0 once pred(arg) returned true.
 * @return -EINVAL if c or pred is NULL.
 * @return Otherwise as tulip_cond_wait().
 */
TULIP_EXTERN int tulip_cond_wait_for(tulip_cond *c, tulip_cond_pred *pred,
                                     void *arg);

/**
 * @brief tulip_cond_wait_for() with a deadline of its own.
 * @param c The condition.
 * @param pred Called with arg, the lock held; the wait ends once it is true.
 * @param arg Passed to pred.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_cond_wait_for(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_cond_wait_for_until(tulip_cond *c, tulip_cond_pred *pred,
                                           void *arg, int64_t deadline_ns);

/**
 * @brief Wake up to n waiting tasks, longest waiting first.
 * @param c The condition.
 * @param n How many (0 wakes none).
 * @return 0 on success.
 * @return -EINVAL if c is NULL or n is negative.
 * @return -EPERM if the calling task does not hold c's lock.
 */
TULIP_EXTERN int tulip_cond_notify(tulip_cond *c, int n);

/**
 * @brief Wake every waiting task.
 * @param c The condition.
 * @return As tulip_cond_notify().
 */
TULIP_EXTERN int tulip_cond_notify_all(tulip_cond *c);

/** @brief A counting semaphore (asyncio.Semaphore / BoundedSemaphore). */
typedef struct tulip_sem tulip_sem;

/**
 * @brief Create a semaphore with value permits.
 * @param[out] out The semaphore; free it with tulip_sem_free().
 * @param value The initial number of permits.
 * @return 0 on success.
 * @return -EINVAL if out is NULL or value is negative.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_sem_new(tulip_sem **out, int value);

/**
 * @brief Create a bounded semaphore: releasing above the initial value is an
 * error (-EOVERFLOW), not a silent extra permit.
 * @param[out] out The semaphore; free it with tulip_sem_free().
 * @param value The initial number of permits.
 * @return As tulip_sem_new().
 */
TULIP_EXTERN int tulip_sem_new_bounded(tulip_sem **out, int value);

/**
 * @brief Free a semaphore (NULL is a no-op); waiters get TULIP_ECLOSED.
 * @param s The semaphore.
 */
TULIP_EXTERN void tulip_sem_free(tulip_sem *s);

/**
 * @brief Take a permit, waiting in FIFO order while none is free.
 * @param s The semaphore.
 * @return 0 when the task holds a permit.
 * @return -EINVAL if s is NULL.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED if the task is cancelled (no permit taken).
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @return TULIP_ECLOSED if s was freed while waiting.
 * @return -ENOMEM if out of memory to arm the wait's deadline timer.
 */
TULIP_EXTERN int tulip_sem_acquire(tulip_sem *s);

/**
 * @brief tulip_sem_acquire() with a deadline of its own.
 * @param s The semaphore.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_sem_acquire(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_sem_acquire_until(tulip_sem *s, int64_t deadline_ns);

/**
 * @brief Take a permit if one is free and nobody waits. Callable outside
 * tasks.
 * @param s The semaphore.
 * @return 0 on success.
 * @return -EINVAL if s is NULL.
 * @return -EAGAIN if it would have to wait.
 */
TULIP_EXTERN int tulip_sem_try_acquire(tulip_sem *s);

/**
 * @brief Give a permit back: to the longest waiting task if any. Callable
 * outside tasks.
 * @param s The semaphore.
 * @return 0 on success.
 * @return -EINVAL if s is NULL.
 * @return -EOVERFLOW if s is bounded and the value would exceed its initial
 *         value, or the count would exceed INT_MAX.
 */
TULIP_EXTERN int tulip_sem_release(tulip_sem *s);

/**
 * @brief The number of free permits (-EINVAL for NULL).
 * @param s The semaphore.
 * @return The number of free permits (-EINVAL for NULL).
 */
TULIP_EXTERN int tulip_sem_value(const tulip_sem *s);

/** @brief A barrier for a fixed number of tasks (asyncio.Barrier). */
typedef struct tulip_barrier tulip_barrier;

/**
 * @brief Create a barrier for parties tasks.
 * @param[out] out The barrier; free it with tulip_barrier_free().
 * @param parties How many tasks must call tulip_barrier_wait() to pass.
 * @return 0 on success.
 * @return -EINVAL if out is NULL or parties is 0 or negative.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_barrier_new(tulip_barrier **out, int parties);

/**
 * @brief Free a barrier (NULL is a no-op); waiters get TULIP_ECLOSED.
 * @param b The barrier.
 */
TULIP_EXTERN void tulip_barrier_free(tulip_barrier *b);

/**
 * @brief Wait until parties tasks wait, then all pass together.
 *
 * The arrival that completes the set passes at once; the others wake on
 * the next pass, and a new round begins immediately. A waiter cancelled or
 * timed out before the set is complete withdraws (the barrier is not
 * broken, as in asyncio); one released in the same pass passes (returns 0).
 * @param b The barrier.
 * @param[out] index The arrival index, 0 to parties-1, the last arrival
 *        being parties-1 (may be NULL).
 * @return 0 when the barrier passed.
 * @return -EINVAL if b is NULL.
 * @return -EPERM if not called from a task.
 * @return TULIP_EBROKEN if the barrier is broken (aborted) or was aborted or
 *         reset while waiting.
 * @return -ECANCELED if the task is cancelled.
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @return TULIP_ECLOSED if b was freed while waiting.
 * @return -ENOMEM if out of memory to arm the wait's deadline timer.
 */
TULIP_EXTERN int tulip_barrier_wait(tulip_barrier *b, int *index);

/**
 * @brief tulip_barrier_wait() with a deadline of its own.
 * @param b The barrier.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @param[out] index The arrival index, 0 to parties-1, the last arrival being
 *        parties-1 (may be NULL).
 * @return As tulip_barrier_wait(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_barrier_wait_until(tulip_barrier *b, int64_t deadline_ns,
                                          int *index);

/**
 * @brief Break the barrier: waiters and later callers get TULIP_EBROKEN
 * until tulip_barrier_reset().
 * @param b The barrier.
 * @return 0, or -EINVAL if b is NULL.
 */
TULIP_EXTERN int tulip_barrier_abort(tulip_barrier *b);

/**
 * @brief Return to the empty, unbroken state; current waiters get
 * TULIP_EBROKEN.
 * @param b The barrier.
 * @return 0, or -EINVAL if b is NULL.
 */
TULIP_EXTERN int tulip_barrier_reset(tulip_barrier *b);

/**
 * @brief How many tasks wait now (-EINVAL for NULL).
 * @param b The barrier.
 * @return How many tasks wait now (-EINVAL for NULL).
 */
TULIP_EXTERN int tulip_barrier_n_waiting(const tulip_barrier *b);
/**
 * @brief The number of parties (-EINVAL for NULL).
 * @param b The barrier.
 * @return The number of parties (-EINVAL for NULL).
 */
TULIP_EXTERN int tulip_barrier_parties(const tulip_barrier *b);
/**
 * @brief Whether the barrier is broken (false for NULL).
 * @param b The barrier.
 * @return true if the barrier is broken (false for NULL).
 */
TULIP_EXTERN bool tulip_barrier_broken(const tulip_barrier *b);

/** @brief A queue of `void *` items (asyncio.Queue, LifoQueue,
 * PriorityQueue). */
typedef struct tulip_queue tulip_queue;

/** @brief Item order of a queue. */
enum tulip_queue_kind {
    TULIP_QUEUE_FIFO,    /**< first in, first out (asyncio.Queue) */
    TULIP_QUEUE_LIFO,    /**< last in, first out (LifoQueue) */
    TULIP_QUEUE_PRIORITY /**< lowest by cmp first, FIFO among equals */
};

/** @brief Order of a priority queue: negative if a comes before b. */
typedef int tulip_queue_cmp(const void *a, const void *b);

/** @brief Options for tulip_queue_new(); all-zero means unbounded FIFO. */
struct tulip_queue_opts {
    enum tulip_queue_kind kind; /**< item order */
    size_t maxsize;             /**< 0: unbounded; else puts wait when full */
    tulip_queue_cmp *cmp;       /**< required for TULIP_QUEUE_PRIORITY */
};

/**
 * @brief Create a queue.
 * @param[out] out The queue; free it with tulip_queue_free().
 * @param opts Options, or NULL for an unbounded FIFO queue.
 * @return 0 on success.
 * @return -EINVAL if out is NULL, the kind is unknown, or a priority queue
 *         has no cmp.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_queue_new(tulip_queue **out,
                                 const struct tulip_queue_opts *opts);

/**
 * @brief Free a queue (NULL is a no-op); waiters get TULIP_ECLOSED. Items
 * still queued are dropped (they are the caller's).
 * @param q The queue.
 */
TULIP_EXTERN void tulip_queue_free(tulip_queue *q);

/**
 * @brief Put an item, waiting while a bounded queue is full. An item put
 * while tasks wait in tulip_queue_get() goes straight to the longest
 * waiting one.
 * @param q The queue.
 * @param item The item to put.
 * @return 0 when the item is in the queue (or handed to a getter).
 * @return -EINVAL if q is NULL.
 * @return -EPERM if not called from a task.
 * @return TULIP_ESHUTDOWN if the queue is shut down, or is shut down while
 *         waiting (the item was not put).
 * @return -ENOMEM if an unbounded queue could not grow, or out of memory to
 *         arm the wait's deadline timer (the item was not put).
 * @return -ECANCELED if the task is cancelled (the item was not put).
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @return TULIP_ECLOSED if q was freed while waiting.
 */
TULIP_EXTERN int tulip_queue_put(tulip_queue *q, void *item);

/**
 * @brief tulip_queue_put() with a deadline of its own.
 * @param q The queue.
 * @param item The item to put.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_queue_put(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_queue_put_until(tulip_queue *q, void *item,
                                       int64_t deadline_ns);

/**
 * @brief Put without waiting (put_nowait). Callable outside tasks.
 * @param q The queue.
 * @param item The item to put.
 * @return 0 on success.
 * @return -EINVAL if q is NULL.
 * @return -EAGAIN if the queue is full (QueueFull).
 * @return TULIP_ESHUTDOWN if the queue is shut down.
 * @return -ENOMEM if an unbounded queue could not grow.
 */
TULIP_EXTERN int tulip_queue_try_put(tulip_queue *q, void *item);

/**
 * @brief Take an item, waiting while the queue is empty. A bounded queue
 * that was full takes the item of the longest waiting putter in its place.
 * @param q The queue.
 * @param[out] item The item (set to NULL on failure).
 * @return 0 on success.
 * @return -EINVAL if q or item is NULL.
 * @return -EPERM if not called from a task.
 * @return TULIP_ESHUTDOWN if the queue is shut down and empty (or was shut
 *         down while waiting).
 * @return -ECANCELED if the task is cancelled (no item taken).
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @return TULIP_ECLOSED if q was freed while waiting.
 * @return -ENOMEM if out of memory to arm the wait's deadline timer.
 */
TULIP_EXTERN int tulip_queue_get(tulip_queue *q, void **item);

/**
 * @brief tulip_queue_get() with a deadline of its own.
 * @param q The queue.
 * @param[out] item The item (set to NULL on failure).
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_queue_get(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_queue_get_until(tulip_queue *q, void **item,
                                       int64_t deadline_ns);

/**
 * @brief Take an item without waiting (get_nowait). Callable outside tasks.
 * @param q The queue.
 * @param[out] item The item (set to NULL on failure).
 * @return 0 on success.
 * @return -EINVAL if q or item is NULL.
 * @return -EAGAIN if the queue is empty (QueueEmpty).
 * @return TULIP_ESHUTDOWN if the queue is shut down and empty.
 */
TULIP_EXTERN int tulip_queue_try_get(tulip_queue *q, void **item);

/**
 * @brief Mark one item taken earlier as processed; join() returns once
 * every item put has been marked.
 * @param q The queue.
 * @return 0 on success.
 * @return -EINVAL if q is NULL.
 * @return -EOVERFLOW if called more times than items were put.
 */
TULIP_EXTERN int tulip_queue_task_done(tulip_queue *q);

/**
 * @brief Wait until every item put has been marked with task_done().
 * @param q The queue.
 * @return 0 when there is no unfinished item.
 * @return -EINVAL if q is NULL.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED if the task is cancelled.
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @return TULIP_ECLOSED if q was freed while waiting.
 * @return -ENOMEM if out of memory to arm the wait's deadline timer.
 */
TULIP_EXTERN int tulip_queue_join(tulip_queue *q);

/**
 * @brief tulip_queue_join() with a deadline of its own.
 * @param q The queue.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_queue_join(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_queue_join_until(tulip_queue *q, int64_t deadline_ns);

/**
 * @brief Shut the queue down (Python 3.13 Queue.shutdown).
 *
 * From now on puts fail with TULIP_ESHUTDOWN, and waiting putters are woken
 * with it. Graceful (immediate false): gets drain the remaining items, then
 * fail with TULIP_ESHUTDOWN; waiting getters (the queue is empty) are woken
 * with it. Immediate: the remaining items are dropped and counted as done
 * (join() waiters are released when that reaches 0), and waiting getters
 * are woken with TULIP_ESHUTDOWN. Repeating it is harmless; an immediate
 * shutdown after a graceful one drops what is left. Callable outside tasks.
 * @param q The queue.
 * @param immediate Drop the remaining items.
 * @return 0 on success.
 * @return -EINVAL if q is NULL.
 */
TULIP_EXTERN int tulip_queue_shutdown(tulip_queue *q, bool immediate);

/**
 * @brief The number of items queued (-EINVAL for NULL).
 * @param q The queue.
 * @return The number of items queued (-EINVAL for NULL).
 */
TULIP_EXTERN long tulip_queue_size(const tulip_queue *q);
/**
 * @brief Whether q has no item (true for NULL).
 * @param q The queue.
 * @return true if q has no item (true for NULL).
 */
TULIP_EXTERN bool tulip_queue_empty(const tulip_queue *q);
/**
 * @brief Whether a bounded q is full (never for unbounded or NULL).
 * @param q The queue.
 * @return true if a bounded q is full (never for unbounded or NULL).
 */
TULIP_EXTERN bool tulip_queue_full(const tulip_queue *q);

/** @brief A memory channel of `void *` messages (trio memory channels, Go
 * channels), with any number of senders and receivers. */
typedef struct tulip_chan tulip_chan;

/** @brief Capacity of an unbounded channel (math.inf in trio). */
#define TULIP_CHAN_UNBOUNDED ((size_t)-1)
#define TULIP_CHAN_SEND 1 /**< the sending side (or a send operation) */
#define TULIP_CHAN_RECV 2 /**< the receiving side (or a receive operation) */

/**
 * @brief Create a channel with one open sending and one open receiving side.
 *
 * Each side counts its users like trio's clones: tulip_chan_open() adds
 * one, tulip_chan_close() removes one, and the side closes when its count
 * reaches 0. Once the sending side is closed, receivers drain the buffer
 * and then get TULIP_EOF (end of stream); sends get TULIP_ECLOSED. Once the
 * receiving side is closed, the buffered messages are dropped, and sends
 * (waiting or new) get -EPIPE (broken channel); receives get TULIP_ECLOSED.
 * @param[out] out The channel; free it with tulip_chan_free().
 * @param capacity Messages buffered: 0 is a rendezvous (a send completes
 *        when a receiver takes the message), TULIP_CHAN_UNBOUNDED never
 *        makes senders wait.
 * @return 0 on success.
 * @return -EINVAL if out is NULL.
 * @return -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_chan_new(tulip_chan **out, size_t capacity);

/**
 * @brief Free a channel (NULL is a no-op); waiters get TULIP_ECLOSED.
 * Buffered messages are dropped (they are the caller's).
 * @param ch The channel.
 */
TULIP_EXTERN void tulip_chan_free(tulip_chan *ch);

/**
 * @brief Add a user to a side (trio's clone()).
 * @param ch The channel.
 * @param side TULIP_CHAN_SEND or TULIP_CHAN_RECV.
 * @return 0 on success.
 * @return -EINVAL if ch is NULL or side is neither.
 * @return TULIP_ECLOSED if that side is closed already.
 */
TULIP_EXTERN int tulip_chan_open(tulip_chan *ch, int side);

/**
 * @brief Remove a user of a side; the last one closes it (see
 * tulip_chan_new() for what closing does to the waiters).
 * @param ch The channel.
 * @param side TULIP_CHAN_SEND or TULIP_CHAN_RECV.
 * @return 0 on success.
 * @return -EINVAL if ch is NULL or side is neither.
 * @return TULIP_ECLOSED if that side is closed already.
 */
TULIP_EXTERN int tulip_chan_close(tulip_chan *ch, int side);

/**
 * @brief Send a message, waiting while the buffer is full (or, for a
 * rendezvous, until a receiver takes it).
 * @param ch The channel.
 * @param msg The message to send.
 * @return 0 when the message is buffered or taken by a receiver.
 * @return -EINVAL if ch is NULL.
 * @return -EPERM if not called from a task.
 * @return TULIP_ECLOSED if the sending side is closed.
 * @return -EPIPE if the receiving side is closed (broken channel), also
 *         while waiting (the message was not delivered).
 * @return -ENOMEM if an unbounded channel could not grow, or out of memory
 *         to arm the wait's deadline timer.
 * @return -ECANCELED if the task is cancelled (the message was not sent).
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 */
TULIP_EXTERN int tulip_chan_send(tulip_chan *ch, void *msg);

/**
 * @brief tulip_chan_send() with a deadline of its own.
 * @param ch The channel.
 * @param msg The message to send.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_chan_send(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_chan_send_until(tulip_chan *ch, void *msg,
                                       int64_t deadline_ns);

/**
 * @brief Send without waiting. Callable outside tasks.
 * @param ch The channel.
 * @param msg The message to send.
 * @return As tulip_chan_send(), with -EAGAIN where it would wait.
 */
TULIP_EXTERN int tulip_chan_try_send(tulip_chan *ch, void *msg);

/**
 * @brief Receive a message, waiting while none is available.
 * @param ch The channel.
 * @param[out] msg The message (NULL on failure; may be NULL to drop it).
 * @return 0 on success.
 * @return -EINVAL if ch is NULL.
 * @return -EPERM if not called from a task.
 * @return TULIP_EOF if the sending side is closed and nothing is buffered.
 * @return TULIP_ECLOSED if the receiving side is closed.
 * @return -ECANCELED if the task is cancelled (nothing taken).
 * @return -ENOMEM if out of memory to arm the wait's deadline timer.
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 */
TULIP_EXTERN int tulip_chan_recv(tulip_chan *ch, void **msg);

/**
 * @brief tulip_chan_recv() with a deadline of its own.
 * @param ch The channel.
 * @param[out] msg The message (NULL on failure; may be NULL to drop it).
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_chan_recv(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_chan_recv_until(tulip_chan *ch, void **msg,
                                       int64_t deadline_ns);

/**
 * @brief Receive without waiting. Callable outside tasks.
 * @param ch The channel.
 * @param[out] msg The message (NULL on failure; may be NULL to drop it).
 * @return As tulip_chan_recv(), with -EAGAIN where it would wait.
 */
TULIP_EXTERN int tulip_chan_try_recv(tulip_chan *ch, void **msg);

/**
 * @brief How many messages are buffered (-EINVAL for NULL).
 * @param ch The channel.
 * @return How many messages are buffered (-EINVAL for NULL).
 */
TULIP_EXTERN long tulip_chan_size(const tulip_chan *ch);

/** @brief One operation of tulip_chan_select(). */
struct tulip_chan_op {
    tulip_chan *chan; /**< the channel; NULL: the operation is skipped */
    int dir;          /**< TULIP_CHAN_SEND or TULIP_CHAN_RECV */
    void *msg;        /**< in: the message to send; out: the one received */
};

/**
 * @brief Wait until the first of several channel operations can complete,
 * and complete exactly that one (Go's select).
 *
 * Ready operations are taken in array order (the first ready one wins;
 * rotate the array for fairness). An operation that fails at once (a
 * closed or broken channel) counts as ready and its error is returned. While
 * waiting, exactly one operation completes: a message is never both sent on
 * one channel and received from another.
 * @param ops The operations.
 * @param n How many.
 * @param[out] index The index of the operation that completed or failed
 *        (may be NULL; unchanged on -EINVAL, -EPERM and timeouts).
 * @return 0 when that operation completed (a received message is in its
 *         msg).
 * @return The error of that operation: TULIP_EOF, TULIP_ECLOSED, -EPIPE,
 *         -ENOMEM.
 * @return -EINVAL if ops is NULL, n is 0, an operation has a bad dir, or no
 *         operation has a channel.
 * @return -EPERM if not called from a task.
 * @return -ENOMEM if the wait could not be registered (its record or its
 *         deadline timer).
 * @return -ECANCELED if the task is cancelled (no operation done).
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @note A select records its wait on the heap (one node per operation) and
 *       frees the record when it returns. A task that never returns from it
 *       because tulip_loop_close() destroyed it leaves its record allocated;
 *       the channels skip its nodes safely.
 */
TULIP_EXTERN int tulip_chan_select(struct tulip_chan_op *ops, size_t n,
                                   size_t *index);

/**
 * @brief tulip_chan_select() with a deadline of its own.
 * @param ops The operations.
 * @param n How many.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @param[out] index The index of the operation that completed or failed (may be
 *        NULL; unchanged on -EINVAL, -EPERM and timeouts).
 * @return As tulip_chan_select(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_chan_select_until(struct tulip_chan_op *ops, size_t n,
                                         int64_t deadline_ns, size_t *index);

/**
 * @brief tulip_chan_select() without waiting. Callable outside tasks.
 * @param ops The operations.
 * @param n How many.
 * @param[out] index The index of the operation that completed or failed (may be
 *        NULL; unchanged on -EINVAL, -EPERM and timeouts).
 * @return As tulip_chan_select(), with -EAGAIN if no operation is ready.
 */
TULIP_EXTERN int tulip_chan_try_select(struct tulip_chan_op *ops, size_t n,
                                       size_t *index);

/** @} */

/* ======================================================================== */
/** @defgroup io File descriptors
 *
 * Non-blocking I/O in tasks: a call that cannot complete at once suspends
 * the calling task until its fd is ready, then retries. The fd must be in
 * non-blocking mode (O_NONBLOCK). Deadlines and cancellation apply as to
 * every suspending call. Writes to sockets never raise SIGPIPE: a closed
 * peer is -EPIPE on that connection only.
 *
 * A loop keeps a record per fd it has waited on; close such fds with
 * tulip_fd_close() (or call tulip_fd_forget() before close()), so that a
 * new fd with the same number does not inherit the old registration.
 *  @{ */

#define TULIP_READ 1u  /**< wait until readable (or end of file, or error) */
#define TULIP_WRITE 2u /**< wait until writable (or error) */

/**
 * @brief Wait until fd is ready for one event.
 * @param fd A non-blocking fd.
 * @param event TULIP_READ or TULIP_WRITE.
 * @return 0 when it is ready (readiness can be spurious: retry the
 *         operation, and wait again if it would block).
 * @return -EINVAL if fd is negative or event is not exactly one of the two.
 * @return -EPERM if not called from a task.
 * @return -EBADF if tulip_fd_close() closed fd while waiting.
 * @return -ECANCELED if the task is cancelled.
 * @return -ETIMEDOUT if a deadline of the task's scopes passed.
 * @return -ENOMEM if out of memory.
 * @return Another negative errno from the poller (-EPERM for a regular
 *         file with epoll, -EBADF for a closed fd).
 */
TULIP_EXTERN int tulip_fd_wait(int fd, unsigned event);

/**
 * @brief tulip_fd_wait() with a deadline of its own.
 * @param fd A non-blocking fd.
 * @param event TULIP_READ or TULIP_WRITE.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_fd_wait(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_fd_wait_until(int fd, unsigned event,
                                     int64_t deadline_ns);

/**
 * @brief Read up to n bytes, waiting until at least one is there.
 * @param fd A non-blocking fd.
 * @param buf Where to put the bytes.
 * @param n The most to read.
 * @return The number of bytes read, 0 at end of file.
 * @return -EINVAL if fd is negative or buf is NULL with n > 0.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return -EBADF if tulip_fd_close() closed fd while waiting.
 * @return Another negative errno of read(2) (-ECONNRESET ...).
 */
TULIP_EXTERN ssize_t tulip_read(int fd, void *buf, size_t n);

/**
 * @brief tulip_read() with a deadline of its own (-ETIMEDOUT).
 * @param fd A non-blocking fd.
 * @param buf Where to put the bytes.
 * @param n The most to read.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_read(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_read_until(int fd, void *buf, size_t n,
                                      int64_t deadline_ns);

/**
 * @brief Write all n bytes, waiting whenever the fd is full.
 * @param fd A non-blocking fd.
 * @param buf The bytes.
 * @param n How many.
 * @return n once everything is written.
 * @return -EINVAL if fd is negative or buf is NULL with n > 0.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call (some bytes
 *         may have been written already).
 * @return -EPIPE if the peer has closed (no SIGPIPE for sockets).
 * @return Another negative errno of write(2) (-ECONNRESET ...).
 */
TULIP_EXTERN ssize_t tulip_write(int fd, const void *buf, size_t n);

/**
 * @brief tulip_write() with a deadline of its own (-ETIMEDOUT).
 * @param fd A non-blocking fd.
 * @param buf The bytes.
 * @param n How many.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_write(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_write_until(int fd, const void *buf, size_t n,
                                       int64_t deadline_ns);

/**
 * @brief Close fd: tasks waiting on it wake with -EBADF, its callbacks are
 * removed, then close(2).
 * @param fd A non-blocking fd.
 * @return 0, or -EBADF / another negative errno from close(2).
 */
TULIP_EXTERN int tulip_fd_close(int fd);

/**
 * @brief Drop the running loop's record of fd (waking its waiters with
 * -EBADF and removing its callbacks) without closing it.
 * @param fd The fd; nothing happens if the loop has no record of it.
 */
TULIP_EXTERN void tulip_fd_forget(int fd);

/**
 * @brief Call fn(arg) on every pass in which fd is readable (asyncio's
 * add_reader); adding again replaces the callback.
 * @param loop The loop.
 * @param fd A non-blocking fd.
 * @param fn Called with arg on every pass in which fd is readable.
 * @param arg Passed to fn.
 * @return 0 on success.
 * @return -EINVAL if loop or fn is NULL or fd is negative.
 * @return -ENOMEM if out of memory.
 * @return Another negative errno from the poller (-EBADF, -EPERM ...).
 */
TULIP_EXTERN int tulip_add_reader(tulip_loop *loop, int fd,
                                  tulip_callback_fn *fn, void *arg);

/**
 * @brief As tulip_add_reader(), for writability.
 * @param loop The loop.
 * @param fd A non-blocking fd.
 * @param fn Called with arg on every pass in which fd is writable.
 * @param arg Passed to fn.
 * @return As tulip_add_reader().
 */
TULIP_EXTERN int tulip_add_writer(tulip_loop *loop, int fd,
                                  tulip_callback_fn *fn, void *arg);

/**
 * @brief Remove the reader callback of fd.
 * @param loop The loop.
 * @param fd A non-blocking fd.
 * @return 1 if one was removed, 0 if there was none, -EINVAL for bad
 *         arguments.
 */
TULIP_EXTERN int tulip_remove_reader(tulip_loop *loop, int fd);

/**
 * @brief As tulip_remove_reader(), for the writer callback.
 * @param loop The loop.
 * @param fd A non-blocking fd.
 * @return As tulip_remove_reader().
 */
TULIP_EXTERN int tulip_remove_writer(tulip_loop *loop, int fd);

/** @} */

/* ======================================================================== */
/** @defgroup sock Sockets, thread pools and DNS
 *
 * Sockets made here are always non-blocking and close-on-exec, their writes
 * never raise SIGPIPE (a closed peer is -EPIPE or -ECONNRESET on that
 * connection only), and every call that may wait suspends the calling task
 * only, with a deadline twin (`_until`) and the usual -ECANCELED and
 * -ETIMEDOUT. Close sockets with tulip_fd_close() (tulip_unix_close() for a
 * bound Unix socket whose path should go too). Streams and servers are built
 * on these calls.
 *
 * Names are resolved with getaddrinfo(3) on a thread pool reserved for DNS,
 * so that blocking jobs of tulip_to_thread() cannot delay lookups (libuv
 * issue 28). Numeric hosts and ports ("127.0.0.1", "::1", "8080") are
 * resolved at once, on the calling thread. Resolution errors are
 * TULIP_EAI_NONAME (no such host or service name), TULIP_EAI_AGAIN
 * (temporary failure: retry later), TULIP_EAI_FAIL (permanent failure),
 * TULIP_EAI_SERVICE (port not valid for the socket type), -EAFNOSUPPORT (bad
 * family), -EINVAL (bad flags) and -ENOMEM.
 *
 * @code
 * int lfd, fd, conn;
 * tulip_tcp_listen(&lfd, "127.0.0.1", "0", NULL);     // an ephemeral port
 * char port[8];
 * snprintf(port, sizeof(port), "%d", tulip_sock_port(lfd));
 * tulip_tcp_connect(&fd, "localhost", port, NULL);    // in a task
 * conn = tulip_accept(lfd, NULL, NULL);               // in another task
 * tulip_send(fd, "hi", 2, 0);
 * @endcode
 *  @{ */

struct addrinfo; /* <netdb.h> */

/** @brief The listen backlog used when none is given (asyncio's 100). */
#define TULIP_BACKLOG 100

/** @brief The Happy Eyeballs delay recommended by RFC 8305: 250 ms. */
#define TULIP_HAPPY_EYEBALLS_DELAY (250 * TULIP_MSEC)

/** @brief Options of tulip_tcp_connect(); zero-initialise, then set. */
struct tulip_connect_opts {
    int family; /**< AF_UNSPEC (0: any), AF_INET or AF_INET6 */
    int64_t happy_eyeballs_delay_ns; /**< 0: try the addresses one after
        another; > 0: Happy Eyeballs, starting the next attempt after this
        delay (or as soon as the previous one fails), alternating address
        families; TULIP_HAPPY_EYEBALLS_DELAY is RFC 8305's value */
    bool nagle; /**< keep Nagle's algorithm (no TCP_NODELAY) */
};

/** @brief Options of tulip_tcp_listen(), tulip_udp_bind() and
 * tulip_unix_listen(); zero-initialise, then set. */
struct tulip_listen_opts {
    int family;         /**< AF_UNSPEC (0: any), AF_INET or AF_INET6 */
    int backlog;        /**< 0: TULIP_BACKLOG */
    bool reuse_port;    /**< set SO_REUSEPORT (one listener per loop) */
    bool no_reuse_addr; /**< do not set SO_REUSEADDR (set by default) */
};

/**
 * @brief Create a socket, non-blocking and close-on-exec. Never waits.
 * @param[out] fd The socket (-1 on failure).
 * @param domain AF_INET, AF_INET6, AF_UNIX ...
 * @param type SOCK_STREAM, SOCK_DGRAM ... (flags are added).
 * @param protocol Usually 0.
 * @return 0 on success.
 * @return -EINVAL if fd is NULL.
 * @return -EMFILE / -ENFILE if no fd is left, or another errno of socket(2).
 */
TULIP_EXTERN int tulip_socket(int *fd, int domain, int type, int protocol);

/**
 * @brief Connect a non-blocking socket (asyncio's sock_connect).
 * @param fd The socket.
 * @param addr The address.
 * @param len Its length.
 * @return 0 once connected.
 * @return -EINVAL for a negative fd or a NULL or empty address.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call (the socket's
 *         state is then undefined: close it).
 * @return -ECONNREFUSED, -ENETUNREACH, -EHOSTUNREACH ... from connect(2) or
 *         SO_ERROR.
 */
TULIP_EXTERN int tulip_connect(int fd, const struct sockaddr *addr,
                               socklen_t len);

/**
 * @brief tulip_connect() with a deadline of its own (-ETIMEDOUT).
 * @param fd The socket.
 * @param addr The address.
 * @param len Its length.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_connect(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_connect_until(int fd, const struct sockaddr *addr,
                                     socklen_t len, int64_t deadline_ns);

/**
 * @brief Accept a connection (asyncio's sock_accept): the new socket is
 * non-blocking and close-on-exec, with TCP_NODELAY for TCP.
 *
 * A connection reset before it was accepted (ECONNABORTED) is skipped.
 * @param lfd A listening socket.
 * @param[out] addr The peer's address (may be NULL).
 * @param[in,out] addrlen Size of addr, then the address's length (NULL
 *        only with addr NULL).
 * @return The new socket (>= 0).
 * @return -EINVAL for a negative lfd, or addr without addrlen.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return -EMFILE / -ENFILE when out of fds (the connection stays queued),
 *         or another errno of accept4(2) (-EINVAL if lfd does not listen).
 */
TULIP_EXTERN int tulip_accept(int lfd, struct sockaddr *addr,
                              socklen_t *addrlen);

/**
 * @brief tulip_accept() with a deadline of its own (-ETIMEDOUT).
 * @param lfd A listening socket.
 * @param[out] addr The peer's address (may be NULL).
 * @param[in,out] addrlen Size of addr, then the address's length (NULL only
 *        with addr NULL).
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_accept(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_accept_until(int lfd, struct sockaddr *addr,
                                    socklen_t *addrlen, int64_t deadline_ns);

/**
 * @brief Receive up to n bytes, waiting until some are there.
 * @param fd A socket.
 * @param buf Where to put them.
 * @param n The most to receive.
 * @param flags recv(2) flags (MSG_PEEK ...); MSG_DONTWAIT is added.
 * @return The number of bytes received; 0 at end of stream (or for an
 *         empty datagram).
 * @return -EINVAL for a negative fd, or buf NULL with n > 0.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return -EBADF if tulip_fd_close() closed fd while waiting.
 * @return -ECONNRESET ... from recv(2).
 */
TULIP_EXTERN ssize_t tulip_recv(int fd, void *buf, size_t n, int flags);

/**
 * @brief tulip_recv() with a deadline of its own (-ETIMEDOUT).
 * @param fd A socket.
 * @param buf Where to put them.
 * @param n The most to receive.
 * @param flags recv(2) flags (MSG_PEEK ...); MSG_DONTWAIT is added.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_recv(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_recv_until(int fd, void *buf, size_t n, int flags,
                                      int64_t deadline_ns);

/**
 * @brief Send all n bytes (asyncio's sock_sendall), waiting whenever the
 * socket buffer is full. Never raises SIGPIPE.
 * @param fd A connected socket.
 * @param buf The bytes.
 * @param n How many.
 * @param flags send(2) flags; MSG_NOSIGNAL and MSG_DONTWAIT are added.
 * @return n once all is sent.
 * @return -EINVAL for a negative fd, or buf NULL with n > 0.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call (part of the
 *         bytes may have been sent).
 * @return -EPIPE, -ECONNRESET if the peer went away.
 */
TULIP_EXTERN ssize_t tulip_send(int fd, const void *buf, size_t n, int flags);

/**
 * @brief tulip_send() with a deadline of its own (-ETIMEDOUT).
 * @param fd A connected socket.
 * @param buf The bytes.
 * @param n How many.
 * @param flags send(2) flags; MSG_NOSIGNAL and MSG_DONTWAIT are added.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_send(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_send_until(int fd, const void *buf, size_t n,
                                      int flags, int64_t deadline_ns);

/**
 * @brief Receive a datagram and its sender's address.
 * @param fd A socket.
 * @param buf Where to put the datagram (the excess is dropped unless
 *        flags has MSG_PEEK; MSG_TRUNC makes it return the full length).
 * @param n Size of buf.
 * @param flags recvfrom(2) flags; MSG_DONTWAIT is added.
 * @param[out] addr The sender (may be NULL).
 * @param[in,out] addrlen Size of addr, then the address's length.
 * @return The datagram's length, or as tulip_recv().
 */
TULIP_EXTERN ssize_t tulip_recvfrom(int fd, void *buf, size_t n, int flags,
                                    struct sockaddr *addr, socklen_t *addrlen);

/**
 * @brief tulip_recvfrom() with a deadline of its own (-ETIMEDOUT).
 * @param fd A socket.
 * @param buf Where to put the datagram (the excess is dropped unless flags has
 *        MSG_PEEK; MSG_TRUNC makes it return the full length).
 * @param n Size of buf.
 * @param flags recvfrom(2) flags; MSG_DONTWAIT is added.
 * @param[out] addr The sender (may be NULL).
 * @param[in,out] addrlen Size of addr, then the address's length.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_recvfrom(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_recvfrom_until(int fd, void *buf, size_t n,
                                          int flags, struct sockaddr *addr,
                                          socklen_t *addrlen,
                                          int64_t deadline_ns);

/**
 * @brief Send one datagram to addr, waiting while the socket buffer is
 * full.
 * @param fd A datagram socket.
 * @param buf The datagram.
 * @param n Its length.
 * @param flags sendto(2) flags; MSG_NOSIGNAL and MSG_DONTWAIT are added.
 * @param addr The destination.
 * @param addrlen Its length.
 * @return n once sent.
 * @return -EINVAL for a negative fd, a NULL addr, or buf NULL with n > 0.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return -EMSGSIZE if too large, or another errno of sendto(2).
 */
TULIP_EXTERN ssize_t tulip_sendto(int fd, const void *buf, size_t n, int flags,
                                  const struct sockaddr *addr,
                                  socklen_t addrlen);

/**
 * @brief tulip_sendto() with a deadline of its own (-ETIMEDOUT).
 * @param fd A datagram socket.
 * @param buf The datagram.
 * @param n Its length.
 * @param flags sendto(2) flags; MSG_NOSIGNAL and MSG_DONTWAIT are added.
 * @param addr The destination.
 * @param addrlen Its length.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_sendto(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_sendto_until(int fd, const void *buf, size_t n,
                                        int flags, const struct sockaddr *addr,
                                        socklen_t addrlen, int64_t deadline_ns);

/**
 * @brief Open a TCP connection to host:port (asyncio's open_connection
 * without the stream).
 *
 * The name is resolved (numeric names at once, others on the DNS pool),
 * and the addresses are tried in getaddrinfo's order, each until it fails,
 * or, with opts->happy_eyeballs_delay_ns, raced as RFC 8305 describes: the
 * first attempt to connect wins, the others are cancelled and closed. The
 * connection has TCP_NODELAY unless opts->nagle.
 * @param[out] fd The connected socket (-1 on failure).
 * @param host A name or a numeric address.
 * @param port A port number or service name.
 * @param opts Options, or NULL.
 * @return 0 once connected.
 * @return -EINVAL if fd, host or port is NULL, or the delay is negative.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call, also while
 *         resolving (no socket is left open).
 * @return TULIP_EAI_NONAME, TULIP_EAI_AGAIN ... if the name did not resolve.
 * @return The error of the last attempt (-ECONNREFUSED ...) if none
 *         connected; -EMFILE or -ENFILE at once when out of fds.
 */
TULIP_EXTERN int tulip_tcp_connect(int *fd, const char *host, const char *port,
                                   const struct tulip_connect_opts *opts);

/**
 * @brief tulip_tcp_connect() with a deadline for the whole connect.
 * @param[out] fd The connected socket (-1 on failure).
 * @param host A name or a numeric address.
 * @param port A port number or service name.
 * @param opts Options, or NULL.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_tcp_connect(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_tcp_connect_until(int *fd, const char *host,
                                         const char *port,
                                         const struct tulip_connect_opts *opts,
                                         int64_t deadline_ns);

/**
 * @brief tulip_tcp_connect() to addresses resolved already: the list is
 * tried in order, or raced with Happy Eyeballs (only its SOCK_STREAM
 * entries should be given).
 * @param[out] fd The connected socket (-1 on failure).
 * @param ai The addresses (a getaddrinfo list, or one built by hand).
 * @param opts Options (family is ignored), or NULL.
 * @param deadline_ns Absolute deadline on the loop's clock (TULIP_FOREVER).
 * @return As tulip_tcp_connect(), without the resolution errors.
 */
TULIP_EXTERN int tulip_tcp_connect_ai(int *fd, const struct addrinfo *ai,
                                      const struct tulip_connect_opts *opts,
                                      int64_t deadline_ns);

/**
 * @brief A listening TCP socket bound to host:port.
 *
 * SO_REUSEADDR is set unless opts->no_reuse_addr. The first address that
 * binds is used (host NULL: the wildcard address). Port "0" picks a free
 * port: read it back with tulip_sock_port(). Callable outside tasks when
 * host and port are numeric (or host is NULL).
 * @param[out] fd The listening socket (-1 on failure).
 * @param host A name, a numeric address, or NULL for every interface.
 * @param port A port number or service name ("0": ephemeral).
 * @param opts Options, or NULL.
 * @return 0 on success.
 * @return -EINVAL if fd or port is NULL.
 * @return -EPERM if a name must be looked up outside a task.
 * @return TULIP_EAI_NONAME ... if the name did not resolve.
 * @return -EADDRINUSE, -EACCES, -EMFILE ... of socket/bind/listen for the
 *         last address tried.
 */
TULIP_EXTERN int tulip_tcp_listen(int *fd, const char *host, const char *port,
                                  const struct tulip_listen_opts *opts);

/**
 * @brief A UDP socket bound to host:port (port "0": ephemeral); send with
 * tulip_sendto(), receive with tulip_recvfrom(), or tulip_connect() it to
 * one peer. opts->backlog is ignored.
 * @param[out] fd The socket (-1 on failure).
 * @param host A name, a numeric address, or NULL for every interface.
 * @param port A port number or service name.
 * @param opts Options, or NULL.
 * @return As tulip_tcp_listen().
 */
TULIP_EXTERN int tulip_udp_bind(int *fd, const char *host, const char *port,
                                const struct tulip_listen_opts *opts);

/**
 * @brief The local port of an AF_INET or AF_INET6 socket (getsockname).
 * @param fd The socket.
 * @return The port, in host byte order.
 * @return -EINVAL for a negative fd; -EAFNOSUPPORT for other families; or
 *         the errno of getsockname(2).
 */
TULIP_EXTERN int tulip_sock_port(int fd);

/**
 * @brief A listening Unix stream socket at path. A stale socket file at
 * path is removed first (never a file of another kind); remove it on close
 * with tulip_unix_close() (asyncio's cleanup_socket). Never waits.
 * @param[out] fd The socket (-1 on failure).
 * @param path The file system path.
 * @param opts Options (backlog only), or NULL.
 * @return 0 on success.
 * @return -EINVAL if fd or path is NULL or path is empty.
 * @return -ENAMETOOLONG if path does not fit a sockaddr_un.
 * @return -EADDRINUSE, -EACCES, -ENOENT ... of bind(2) and listen(2).
 */
TULIP_EXTERN int tulip_unix_listen(int *fd, const char *path,
                                   const struct tulip_listen_opts *opts);

/**
 * @brief Connect to a Unix stream socket at path.
 * @param[out] fd The socket (-1 on failure).
 * @param path The listener's path.
 * @return 0 once connected.
 * @return -EINVAL, -ENAMETOOLONG for a bad path.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return -ENOENT (no such socket), -ECONNREFUSED (nobody listens) ...
 */
TULIP_EXTERN int tulip_unix_connect(int *fd, const char *path);

/**
 * @brief tulip_unix_connect() with a deadline of its own (-ETIMEDOUT).
 * @param[out] fd The socket (-1 on failure).
 * @param path The listener's path.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_unix_connect(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_unix_connect_until(int *fd, const char *path,
                                          int64_t deadline_ns);

/**
 * @brief A Unix datagram socket, bound to path unless path is NULL (a
 * stale socket file there is removed first). Never waits.
 * @param[out] fd The socket (-1 on failure).
 * @param path The path to bind, or NULL.
 * @return As tulip_unix_listen().
 */
TULIP_EXTERN int tulip_unix_dgram(int *fd, const char *path);

/**
 * @brief Close a socket made by tulip_unix_listen() or tulip_unix_dgram(),
 * removing the file it is bound to. Use it on those sockets only: an
 * accepted connection reports its listener's path.
 * @param fd The socket.
 * @return As tulip_fd_close().
 */
TULIP_EXTERN int tulip_unix_close(int fd);

/** @brief The pool of tulip_to_thread() (asyncio's default executor). */
#define TULIP_POOL_BLOCKING 0
/** @brief The pool of name lookups, separate so that blocking jobs never
 * delay them. */
#define TULIP_POOL_DNS 1

/** @brief A function run on a pool thread; its return value is the job's
 * result. */
typedef int tulip_thread_fn(void *arg);

/** @brief Called on the loop's thread once an abandoned job is over, with
 * its argument and result (-ECANCELED if it never ran), to free what the
 * argument owns. */
typedef void tulip_thread_abandon_fn(void *arg, int result);

/**
 * @brief Run fn(arg) on a thread of the blocking pool and wait for it in
 * the calling task (asyncio.to_thread, run_in_executor).
 *
 * Pools are shared by the whole process and start lazily. The blocking
 * pool has min(32, CPUs + 4) threads by default (asyncio's
 * ThreadPoolExecutor), the DNS pool 4: see tulip_pool_set_size(). Jobs
 * beyond the threads queue in order.
 *
 * If the task is cancelled, or the deadline passes, it returns at once and
 * the job is abandoned: a job not started yet never runs; a running one
 * runs to its end in its thread, and its result is dropped. So `arg` must
 * stay valid until fn returns, whatever happens to the task: do not point
 * it into the task's stack unless the task cannot be cancelled, or use
 * tulip_to_thread_ex() with an abandon callback that frees a heap argument.
 * A loop keeps running while jobs it started, abandoned ones included, are
 * unfinished; closing it waits for them.
 * @param fn The function (it must not call tulip functions other than
 *        tulip_call_soon_threadsafe()).
 * @param arg Its argument.
 * @param[out] result fn's return value (may be NULL).
 * @return 0 when fn has returned.
 * @return -EINVAL if fn is NULL.
 * @return -EPERM if not called from a task.
 * @return -ENOMEM if out of memory.
 * @return -EAGAIN if the pool has no thread and none could be started.
 * @return -EMFILE or -ENFILE if the loop's first job found no fd left for
 *         its completion channel (an eventfd).
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call (the job is
 *         abandoned).
 */
TULIP_EXTERN int tulip_to_thread(tulip_thread_fn *fn, void *arg, int *result);

/**
 * @brief tulip_to_thread() with a deadline of its own (-ETIMEDOUT).
 * @param fn The function (it must not call tulip functions other than
 *        tulip_call_soon_threadsafe()).
 * @param arg Its argument.
 * @param[out] result fn's return value (may be NULL).
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_to_thread(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_to_thread_until(tulip_thread_fn *fn, void *arg,
                                       int *result, int64_t deadline_ns);

/**
 * @brief tulip_to_thread() with an abandon callback and a deadline.
 * @param fn The function.
 * @param arg Its argument.
 * @param[out] result fn's return value (may be NULL).
 * @param abandon If the job is abandoned, called on the loop's thread with
 *        (arg, fn's result) once fn has returned, or (arg, -ECANCELED) at
 *        once if it never started; NULL for none. It is called exactly
 *        once when this returns -ECANCELED or -ETIMEDOUT (arg then belongs
 *        to it), and never otherwise (on -ENOMEM, arg is still the
 *        caller's).
 * @param deadline_ns Absolute deadline on the loop's clock (TULIP_FOREVER).
 * @return As tulip_to_thread().
 */
TULIP_EXTERN int tulip_to_thread_ex(tulip_thread_fn *fn, void *arg, int *result,
                                    tulip_thread_abandon_fn *abandon,
                                    int64_t deadline_ns);

/**
 * @brief Set the most threads a pool may run. Workers already started
 * beyond a lowered size stay until tulip_pool_shutdown(). Thread-safe.
 * @param pool TULIP_POOL_BLOCKING or TULIP_POOL_DNS.
 * @param threads 1 to 1024.
 * @return 0, or -EINVAL.
 */
TULIP_EXTERN int tulip_pool_set_size(int pool, unsigned threads);

/**
 * @brief The most threads a pool may run. Thread-safe.
 * @param pool TULIP_POOL_BLOCKING or TULIP_POOL_DNS.
 * @return The size, or -EINVAL.
 */
TULIP_EXTERN int tulip_pool_size(int pool);

/**
 * @brief The threads a pool has started. Thread-safe.
 * @param pool TULIP_POOL_BLOCKING or TULIP_POOL_DNS.
 * @return The count, or -EINVAL.
 */
TULIP_EXTERN int tulip_pool_threads(int pool);

/**
 * @brief Stop both pools: the workers finish the queued jobs, exit and are
 * joined (asyncio's shutdown_default_executor). The next job starts a pool
 * again. Call it when no loop waits for jobs (after closing the loops, say)
 * so that nothing of the pools is left, for leak checkers; process exit
 * does not need it. Thread-safe; it blocks until running jobs return.
 */
TULIP_EXTERN void tulip_pool_shutdown(void);

/**
 * @brief getaddrinfo(3) on the DNS pool, waiting in the calling task
 * (asyncio's loop.getaddrinfo). Numeric hosts and ports resolve at once.
 * @param host A name, a numeric address, or NULL (with AI_PASSIVE: the
 *        wildcard address).
 * @param port A port number, a service name, or NULL.
 * @param hints As for getaddrinfo(3), or NULL.
 * @param[out] res The list; free it with tulip_freeaddrinfo().
 * @return 0 on success.
 * @return -EINVAL if res is NULL, both host and port are NULL, or the
 *         hints' flags are bad.
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call (the lookup
 *         is abandoned and its result freed when it ends).
 * @return TULIP_EAI_NONAME, TULIP_EAI_AGAIN, TULIP_EAI_FAIL,
 *         TULIP_EAI_SERVICE, -EAFNOSUPPORT, -ESOCKTNOSUPPORT, -ENOMEM, or the
 *         errno of a failed system call.
 */
TULIP_EXTERN int tulip_getaddrinfo(const char *host, const char *port,
                                   const struct addrinfo *hints,
                                   struct addrinfo **res);

/**
 * @brief tulip_getaddrinfo() with a deadline of its own (-ETIMEDOUT).
 * @param host A name, a numeric address, or NULL (with AI_PASSIVE: the wildcard
 *        address).
 * @param port A port number, a service name, or NULL.
 * @param hints As for getaddrinfo(3), or NULL.
 * @param[out] res The list; free it with tulip_freeaddrinfo().
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_getaddrinfo(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_getaddrinfo_until(const char *host, const char *port,
                                         const struct addrinfo *hints,
                                         struct addrinfo **res,
                                         int64_t deadline_ns);

/**
 * @brief Free a list of tulip_getaddrinfo().
 * @param res The list, or NULL.
 */
TULIP_EXTERN void tulip_freeaddrinfo(struct addrinfo *res);

/**
 * @brief getnameinfo(3) on the DNS pool, waiting in the calling task.
 * @param addr The address.
 * @param addrlen Its length.
 * @param[out] host Buffer for the host name (may be NULL).
 * @param hostlen Its size.
 * @param[out] serv Buffer for the service name (may be NULL).
 * @param servlen Its size.
 * @param flags NI_NUMERICHOST, NI_NAMEREQD ...
 * @return 0 on success.
 * @return -EINVAL if addr is NULL or both buffers are missing.
 * @return -EPERM if not called from a task.
 * @return -ENOSPC if a name does not fit its buffer.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return TULIP_EAI_NONAME, TULIP_EAI_AGAIN ... as tulip_getaddrinfo().
 */
TULIP_EXTERN int tulip_getnameinfo(const struct sockaddr *addr,
                                   socklen_t addrlen, char *host,
                                   size_t hostlen, char *serv, size_t servlen,
                                   int flags);

/**
 * @brief tulip_getnameinfo() with a deadline of its own (-ETIMEDOUT).
 * @param addr The address.
 * @param addrlen Its length.
 * @param[out] host Buffer for the host name (may be NULL).
 * @param hostlen Its size.
 * @param[out] serv Buffer for the service name (may be NULL).
 * @param servlen Its size.
 * @param flags NI_NUMERICHOST, NI_NAMEREQD ...
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_getnameinfo(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN int tulip_getnameinfo_until(const struct sockaddr *addr,
                                         socklen_t addrlen, char *host,
                                         size_t hostlen, char *serv,
                                         size_t servlen, int flags,
                                         int64_t deadline_ns);

/** @} */

/* ======================================================================== */
/** @defgroup stream Streams
 *
 * asyncio's StreamReader and StreamWriter in one object over a stream fd (a
 * socket or a pipe; for a pipe, write_eof is not available). Reads return
 * what is buffered, else read from the fd in the calling task; writes send
 * at once when nothing is pending and buffer the rest, which the loop
 * flushes in the background; tulip_stream_drain() applies backpressure with
 * a high- and a low-water mark, in any number of tasks at once.
 *
 * Every read call that can wait has a deadline twin (`_until`) and the
 * usual -ECANCELED / -ETIMEDOUT; an interrupted read consumes nothing (the
 * stream is as it was before the call). One task reads at a time (-EBUSY);
 * any task may write or drain. A stream belongs to its loop's thread.
 * @code
 * tulip_stream *s;
 * tulip_stream_new(&s, fd, NULL);          // s owns fd now
 * char line[256];
 * ssize_t n = tulip_stream_read_line(s, line, sizeof(line));
 * tulip_stream_write(s, line, (size_t)n);
 * tulip_stream_drain(s);
 * tulip_stream_wait_closed(s);             // flush, close the fd
 * tulip_stream_free(s);
 * @endcode
 *  @{ */

/** @brief The default read limit (asyncio's 64 KiB). */
#define TULIP_STREAM_LIMIT ((size_t)64 * 1024)
/** @brief The default high-water mark of the write buffer (64 KiB; the
 * low-water mark defaults to a quarter of the high one, as in asyncio). */
#define TULIP_STREAM_HIGH_WATER ((size_t)64 * 1024)

/** @brief A buffered stream over an fd (opaque). */
typedef struct tulip_stream tulip_stream;

struct iovec; /* <sys/uio.h> */

/** @brief Options of tulip_stream_new(); zero-initialise, then set. */
struct tulip_stream_opts {
    size_t limit;      /**< most bytes before a separator; 0: 64 KiB */
    size_t high_water; /**< drain() waits above it; 0: 64 KiB */
    size_t low_water;  /**< ... until at or below it; 0: high_water / 4 */
    bool borrow_fd;    /**< do not close the fd when the stream closes */
    tulip_loop *loop;  /**< NULL: the calling task's (or running) loop */
};

/**
 * @brief Make a stream over fd, which is set non-blocking. Never waits.
 * @param[out] out The stream.
 * @param fd A stream fd; the stream owns it (closes it) unless
 *        opts->borrow_fd.
 * @param opts Options, or NULL.
 * @return 0 on success.
 * @return -EINVAL if out is NULL, fd is negative, or low_water > high_water.
 * @return -EPERM if no loop is given, running, or running the caller.
 * @return -ENOMEM if out of memory.
 * @return A negative errno of fcntl(2) (-EBADF ...).
 */
TULIP_EXTERN int tulip_stream_new(tulip_stream **out, int fd,
                                  const struct tulip_stream_opts *opts);

/**
 * @brief Abort the stream if it is not closed (pending bytes are dropped,
 * an owned fd is closed) and free it.
 * @param s The stream, or NULL. No task may be waiting on it.
 * @note Call it while the loop runs (in a task or callback), so that the
 * loop forgets the fd.
 */
TULIP_EXTERN void tulip_stream_free(tulip_stream *s);

/**
 * @brief The stream's fd.
 * @param s The stream.
 * @return The fd; TULIP_ECLOSED once closed; -EINVAL if s is NULL.
 */
TULIP_EXTERN int tulip_stream_fd(const tulip_stream *s);

/**
 * @brief Read up to n bytes, waiting until at least one is there
 * (asyncio's read(n)).
 * @param s The stream.
 * @param buf Where to put them.
 * @param n The most to read (0 returns 0 at once).
 * @return The bytes read (> 0); 0 at end of file.
 * @return -EINVAL if s is NULL or buf is NULL with n > 0.
 * @return -EPERM if not called from a task.
 * @return -EBUSY if another task is reading the stream.
 * @return TULIP_ECLOSED if the stream is closed, or closing with nothing
 *         buffered (while it is closing, buffered bytes still come first).
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return A negative errno of read(2) (-ECONNRESET ...), which sticks.
 */
TULIP_EXTERN ssize_t tulip_stream_read(tulip_stream *s, void *buf, size_t n);

/**
 * @brief tulip_stream_read() with a deadline of its own.
 * @param s The stream.
 * @param buf Where to put the bytes.
 * @param n The most to read.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_stream_read(); -ETIMEDOUT also when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_stream_read_until(tulip_stream *s, void *buf,
                                             size_t n, int64_t deadline_ns);

/**
 * @brief Read exactly n bytes (asyncio's readexactly).
 *
 * Nothing is consumed unless the call returns n or TULIP_EINCOMPLETE: an
 * error, a cancel or a deadline leaves the bytes in the stream. (Exception:
 * for n above the read limit, bytes are read straight into buf and pushed
 * back on failure; if memory for that runs out, *partial says how many of
 * them buf holds, consumed.)
 * @param s The stream.
 * @param buf Where to put them.
 * @param n How many.
 * @param[out] partial At TULIP_EINCOMPLETE, the bytes that came before end
 *        of file (in buf, consumed: asyncio's IncompleteReadError.partial);
 *        0 otherwise. Required.
 * @return n.
 * @return TULIP_EINCOMPLETE if end of file came first.
 * @return -EINVAL if s or partial is NULL, or buf is NULL with n > 0.
 * @return -EPERM, -EBUSY, TULIP_ECLOSED, -ECANCELED, -ETIMEDOUT, or a read
 *         error, as tulip_stream_read().
 * @return -ENOMEM if the buffer could not grow to n bytes.
 */
TULIP_EXTERN ssize_t tulip_stream_read_exactly(tulip_stream *s, void *buf,
                                               size_t n, size_t *partial);

/**
 * @brief tulip_stream_read_exactly() with a deadline of its own.
 * @param s The stream.
 * @param buf Where to put the bytes.
 * @param n How many.
 * @param[out] partial As tulip_stream_read_exactly().
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_stream_read_exactly(); -ETIMEDOUT when deadline_ns
 *         passes (nothing consumed).
 */
TULIP_EXTERN ssize_t tulip_stream_read_exactly_until(tulip_stream *s, void *buf,
                                                     size_t n, size_t *partial,
                                                     int64_t deadline_ns);

/**
 * @brief Read up to and including a separator (asyncio's readuntil).
 *
 * The chunk may hold at most limit bytes before the separator (asyncio's
 * rule) and must fit in cap; a longer one is TULIP_ELIMIT (asyncio's
 * LimitOverrunError) and stays buffered, so a later read still gets it.
 * @param s The stream.
 * @param sep The separator.
 * @param seplen Its length (> 0).
 * @param buf Where to put the chunk.
 * @param cap The size of buf.
 * @param[out] partial At TULIP_EINCOMPLETE, the bytes before end of file
 *        (in buf, consumed); 0 otherwise. Required.
 * @return The chunk's length, separator included.
 * @return TULIP_ELIMIT if no separator is found within the limit or cap.
 * @return TULIP_EINCOMPLETE at end of file before a separator (possibly
 *         with *partial 0).
 * @return -EINVAL if s, sep or partial is NULL, seplen is 0, or buf is NULL
 *         with cap > 0.
 * @return -EPERM, -EBUSY, TULIP_ECLOSED, -ECANCELED, -ETIMEDOUT, -ENOMEM or
 *         a read error, as tulip_stream_read() (nothing consumed).
 */
TULIP_EXTERN ssize_t tulip_stream_read_sep(tulip_stream *s, const void *sep,
                                           size_t seplen, void *buf, size_t cap,
                                           size_t *partial);

/**
 * @brief tulip_stream_read_sep() with a deadline of its own.
 * @param s The stream.
 * @param sep The separator.
 * @param seplen Its length (> 0).
 * @param buf Where to put the chunk.
 * @param cap The size of buf.
 * @param[out] partial As tulip_stream_read_sep().
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_stream_read_sep(); -ETIMEDOUT when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_stream_read_sep_until(tulip_stream *s,
                                                 const void *sep, size_t seplen,
                                                 void *buf, size_t cap,
                                                 size_t *partial,
                                                 int64_t deadline_ns);

/**
 * @brief Read a line, '\n' included (asyncio's readline): as
 * tulip_stream_read_sep() with "\n", except that at end of file the last,
 * unterminated line is returned as a plain count, and 0 means end of file.
 * @param s The stream.
 * @param buf Where to put the line.
 * @param cap The size of buf.
 * @return The line's length; 0 at end of file.
 * @return TULIP_ELIMIT if the line is too long (it stays buffered).
 * @return The other errors of tulip_stream_read_sep().
 */
TULIP_EXTERN ssize_t tulip_stream_read_line(tulip_stream *s, void *buf,
                                            size_t cap);

/**
 * @brief tulip_stream_read_line() with a deadline of its own.
 * @param s The stream.
 * @param buf Where to put the line.
 * @param cap The size of buf.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_stream_read_line(); -ETIMEDOUT when deadline_ns passes.
 */
TULIP_EXTERN ssize_t tulip_stream_read_line_until(tulip_stream *s, void *buf,
                                                  size_t cap,
                                                  int64_t deadline_ns);

/**
 * @brief Whether end of file was seen and nothing is buffered (at_eof).
 * @param s The stream.
 * @return true at end of file; false otherwise or for NULL.
 */
TULIP_EXTERN bool tulip_stream_at_eof(const tulip_stream *s);

/**
 * @brief The bytes buffered for reading.
 * @param s The stream.
 * @return Their number (0 for NULL).
 */
TULIP_EXTERN size_t tulip_stream_read_buffer_size(const tulip_stream *s);

/**
 * @brief Queue n bytes (asyncio's write): sent at once if nothing is
 * pending, else buffered and flushed by the loop. Never waits; pair it with
 * tulip_stream_drain().
 * @param s The stream.
 * @param buf The bytes (copied if they cannot all be sent at once).
 * @param n How many.
 * @return 0 on success.
 * @return -EINVAL if s is NULL or buf is NULL with n > 0.
 * @return TULIP_ECLOSED after close, abort or write_eof.
 * @return -ENOMEM if the buffer could not grow (nothing of buf beyond what
 *         was sent at once is queued).
 * @return -EPIPE, -ECONNRESET ... once the connection is lost (sticky).
 */
TULIP_EXTERN int tulip_stream_write(tulip_stream *s, const void *buf, size_t n);

/**
 * @brief tulip_stream_write() of several buffers, sent with one writev
 * (asyncio's writelines).
 * @param s The stream.
 * @param iov The buffers.
 * @param iovcnt Their number (0 to IOV_MAX).
 * @return As tulip_stream_write().
 */
TULIP_EXTERN int tulip_stream_writev(tulip_stream *s, const struct iovec *iov,
                                     int iovcnt);

/**
 * @brief The bytes waiting to be written.
 * @param s The stream.
 * @return Their number (0 for NULL).
 */
TULIP_EXTERN size_t tulip_stream_write_buffer_size(const tulip_stream *s);

/**
 * @brief Wait for the write buffer (asyncio's drain): returns at once
 * unless the buffer went above the high-water mark, and then waits until it
 * is at or below the low-water mark. Any number of tasks may drain at once;
 * all of them wake together.
 * @param s The stream.
 * @return 0 when writing may go on.
 * @return -EPIPE, -ECONNRESET ... if the connection was lost (also for
 *         drainers waiting when it happens).
 * @return TULIP_ECLOSED if the stream was aborted (or closed) with nothing
 *         lost otherwise.
 * @return -EINVAL if s is NULL; -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 */
TULIP_EXTERN int tulip_stream_drain(tulip_stream *s);

/**
 * @brief tulip_stream_drain() with a deadline of its own.
 * @param s The stream.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_stream_drain(); -ETIMEDOUT when deadline_ns passes.
 */
TULIP_EXTERN int tulip_stream_drain_until(tulip_stream *s, int64_t deadline_ns);

/**
 * @brief Half-close (asyncio's write_eof): shutdown(SHUT_WR) once the
 * pending bytes are written; reading goes on. Never waits.
 * @param s The stream.
 * @return 0 (also when called again).
 * @return TULIP_ECLOSED if the stream is closing.
 * @return -ENOTSOCK for a pipe, or another errno of shutdown(2).
 * @return -EINVAL if s is NULL.
 */
TULIP_EXTERN int tulip_stream_write_eof(tulip_stream *s);

/**
 * @brief Start closing (asyncio's close): no more reads or writes (reads in
 * other tasks return TULIP_ECLOSED); pending bytes are flushed in the
 * background, then the fd is closed (if owned). Never waits.
 * @param s The stream.
 * @return 0, or -EINVAL if s is NULL.
 */
TULIP_EXTERN int tulip_stream_close(tulip_stream *s);

/**
 * @brief Whether close or abort was called.
 * @param s The stream.
 * @return true if closing or closed.
 */
TULIP_EXTERN bool tulip_stream_is_closing(const tulip_stream *s);

/**
 * @brief Close (if not yet) and wait until the fd is closed.
 *
 * Never hangs for good: a peer that is gone makes the flush fail, which
 * closes the fd; and if the wait is cancelled or its deadline passes, the
 * stream is aborted, so the fd is closed whenever this returns.
 * @param s The stream.
 * @return 0 once closed.
 * @return -ECANCELED, -ETIMEDOUT (the stream has been aborted).
 * @return -EPERM if not called from a task (the stream has been aborted).
 * @return -EINVAL if s is NULL.
 */
TULIP_EXTERN int tulip_stream_wait_closed(tulip_stream *s);

/**
 * @brief tulip_stream_wait_closed() with a deadline of its own.
 * @param s The stream.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_stream_wait_closed().
 */
TULIP_EXTERN int tulip_stream_wait_closed_until(tulip_stream *s,
                                                int64_t deadline_ns);

/**
 * @brief Close at once (asyncio's abort): pending bytes are dropped,
 * drainers wake with TULIP_ECLOSED, readers with TULIP_ECLOSED, waiters of
 * wait_closed with 0.
 * @param s The stream, or NULL.
 */
TULIP_EXTERN void tulip_stream_abort(tulip_stream *s);

/** @} */

/* ======================================================================== */
/** @defgroup server Servers
 *
 * asyncio's start_server: accept connections on one or more listening
 * sockets (SO_REUSEPORT listeners give one loop per core) and run a task
 * per connection, with a stream over it, inside a task group owned by the
 * server's own task.
 *
 * A server is not a fail-fast task group: a handler that returns an error
 * has it reported to the loop's error handler, its connection is closed,
 * and the server and the other connections carry on (DESIGN.md decision
 * 11). Accept errors that mean "out of resources" (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM) are reported once per episode and retried after a back-off that
 * doubles from backoff_min_ns to backoff_max_ns, never spinning; ECONNABORTED
 * and EAGAIN are skipped silently. When not even the back-off's timer can be
 * had (no memory), the acceptor yields the turn instead and tries again.
 *
 * asyncio's Server, mapped: close() is tulip_server_stop(); wait_closed()
 * is tulip_server_wait(); close_clients() / abort_clients() are
 * tulip_server_close_clients() / tulip_server_abort_clients();
 * serve_forever() is tulip_server_serve_forever(); and
 * tulip_server_close() does all of it with a grace period for handlers.
 * @code
 * static int echo(tulip_stream *s, void *arg) {
 *     char buf[65536];
 *     ssize_t n;
 *     while ((n = tulip_stream_read(s, buf, sizeof(buf))) > 0) {
 *         tulip_stream_write(s, buf, (size_t)n);
 *         if (tulip_stream_drain(s) < 0)
 *             break;
 *     }
 *     return n < 0 ? (int)n : 0;
 * }
 * struct tulip_server_opts o = {.host = "127.0.0.1", .port = "0"};
 * tulip_server *srv;
 * tulip_server_start(&srv, echo, NULL, &o);
 * printf("port %d\n", tulip_server_port(srv));
 * tulip_server_serve_forever(srv);    // in a task
 * @endcode
 *  @{ */

/** @brief A server (opaque). */
typedef struct tulip_server tulip_server;

/**
 * @brief A connection handler: runs in a task of its own with the
 * connection's stream, which the server flushes, closes and frees after it
 * returns. A negative result other than -ECANCELED is reported to the
 * loop's error handler and affects only this connection.
 */
typedef int tulip_server_fn(tulip_stream *s, void *arg);

/** @brief Options of tulip_server_start(); zero-initialise, then set. */
struct tulip_server_opts {
    const int *fds;   /**< listening sockets, owned by the server from
                           the call on (even when it fails); or NULL */
    size_t nfds;      /**< their number */
    const char *host; /**< without fds: listen on host:port (numeric
                           outside tasks), with listen options: */
    const char *port; /**< "0" for an ephemeral port */
    struct tulip_listen_opts listen; /**< family, backlog, reuse_port */
    struct tulip_stream_opts stream; /**< of each connection (borrow_fd and
                                          loop are ignored) */
    size_t stack_size;               /**< of handler tasks; 0: the default */
    int64_t linger_ns;               /**< time to flush after a handler returns,
                                          then abort; 0: 30 s */
    int64_t backoff_min_ns;          /**< first accept back-off; 0: 100 ms */
    int64_t backoff_max_ns;          /**< largest back-off; 0: 3.2 s */
    tulip_loop *loop; /**< NULL: the caller's (or running) loop */
};

/**
 * @brief Start serving: the listeners are made (or taken), and the server's
 * task starts accepting on the loop's next pass.
 * @param[out] out The server.
 * @param fn The connection handler.
 * @param arg Passed to fn.
 * @param opts The listeners (fds, or host and port) and options.
 * @return 0 on success.
 * @return -EINVAL if out, fn or opts is NULL, or neither fds nor port is
 *         given.
 * @return -EPERM if no loop is given or running.
 * @return -ENOMEM if out of memory.
 * @return An error of tulip_tcp_listen().
 */
TULIP_EXTERN int tulip_server_start(tulip_server **out, tulip_server_fn *fn,
                                    void *arg,
                                    const struct tulip_server_opts *opts);

/**
 * @brief The local port of the server's first listener.
 * @param srv The server.
 * @return The port; -EINVAL if srv is NULL or it has stopped, or an error
 *         of tulip_sock_port().
 */
TULIP_EXTERN int tulip_server_port(const tulip_server *srv);

/**
 * @brief The connections whose handlers are running.
 * @param srv The server.
 * @return Their number (0 for NULL).
 */
TULIP_EXTERN size_t tulip_server_connections(const tulip_server *srv);

/**
 * @brief Whether the server accepts connections (asyncio's is_serving).
 * @param srv The server.
 * @return true until stopped.
 */
TULIP_EXTERN bool tulip_server_is_serving(const tulip_server *srv);

/**
 * @brief Stop accepting and close the listeners (asyncio's Server.close);
 * running handlers go on. Never waits.
 * @param srv The server, or NULL.
 */
TULIP_EXTERN void tulip_server_stop(tulip_server *srv);

/**
 * @brief Close every connection's stream (asyncio's close_clients): their
 * handlers' reads return TULIP_ECLOSED; pending bytes are still flushed.
 * @param srv The server, or NULL.
 */
TULIP_EXTERN void tulip_server_close_clients(tulip_server *srv);

/**
 * @brief Abort every connection's stream (asyncio's abort_clients).
 * @param srv The server, or NULL.
 */
TULIP_EXTERN void tulip_server_abort_clients(tulip_server *srv);

/**
 * @brief Wait until the server is stopped and every handler has finished
 * (asyncio's wait_closed).
 * @param srv The server.
 * @return 0 then.
 * @return -EINVAL if srv is NULL; -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 */
TULIP_EXTERN int tulip_server_wait(tulip_server *srv);

/**
 * @brief Serve until cancelled (asyncio's serve_forever): waits as
 * tulip_server_wait(); if the calling task is cancelled, the server is
 * stopped and its handlers are cancelled.
 * @param srv The server.
 * @return As tulip_server_wait().
 */
TULIP_EXTERN int tulip_server_serve_forever(tulip_server *srv);

/**
 * @brief Shut down gracefully: stop accepting, give the handlers grace_ns
 * to finish, then cancel the rest and wait for them.
 * @param srv The server.
 * @param grace_ns How long handlers may keep running (0: cancel at once).
 * @return The number of handlers that had to be cancelled (>= 0).
 * @return -EINVAL if srv is NULL; -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT if the calling task is cancelled or a
 *         deadline of its scopes passes: the handlers are cancelled then,
 *         and finish on their own.
 */
TULIP_EXTERN int tulip_server_close(tulip_server *srv, int64_t grace_ns);

/**
 * @brief Free the server. If it still runs, it is stopped, its handlers
 * are cancelled, and its memory goes when its task has finished.
 * @param srv The server, or NULL.
 */
TULIP_EXTERN void tulip_server_free(tulip_server *srv);

/** @} */

/* ======================================================================== */
/** @defgroup signal Signals
 *
 * Waiting for signals in tasks, and callback handlers on a loop (asyncio's
 * add_signal_handler). A loop reads its signals from a signalfd: a signal
 * it watches is blocked in the loop's thread so that the kernel keeps it
 * until the loop reads it. **Other threads must block it too**
 * (pthread_sigmask), or the kernel may deliver it to one of them with its
 * usual disposition; the threads of tulip's pools block every signal. One
 * loop per signal: two loops watching one signal share its deliveries.
 *
 * Once a task of a loop has waited for a signal, the loop keeps it blocked
 * and queued until the loop closes: a signal arriving while nobody waits
 * (and no handler is set) is counted, and the next wait returns at once.
 * A handler keeps its signal only while it is set: removing it restores
 * the signal's disposition. When a loop closes, the signals still pending
 * for it are dropped and those it blocked are unblocked.
 *
 * tulip_run() handles Ctrl-C as asyncio.Runner does: when it runs on the
 * main thread and SIGINT has its default disposition, the first SIGINT
 * cancels the main task (whose cleanup runs), and a second one, or one
 * after the main task has finished, kills the process as SIGINT's default
 * action would. Child processes get an empty signal mask.
 *  @{ */

/** @brief A signal handler: called on the loop's thread, as a loop
 * callback, with its argument and the signal's number. */
typedef void tulip_signal_fn(void *arg, int signo);

/**
 * @brief Wait until signo arrives (or has arrived since the loop's last
 * wait for it).
 * @param signo The signal (not SIGKILL or SIGSTOP).
 * @return signo.
 * @return -EINVAL if signo cannot be caught (SIGKILL, SIGSTOP, out of
 *         range, reserved by the C library).
 * @return -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return -ENOMEM if out of memory; another negative errno of signalfd(2).
 */
TULIP_EXTERN int tulip_signal_wait(int signo);

/**
 * @brief tulip_signal_wait() with a deadline of its own (-ETIMEDOUT).
 * @param signo The signal.
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_signal_wait().
 */
TULIP_EXTERN int tulip_signal_wait_until(int signo, int64_t deadline_ns);

/**
 * @brief Wait until one signal of several arrives.
 * @param signos The signals (each must be catchable).
 * @param n How many (at least 1).
 * @param deadline_ns Absolute deadline on the loop's clock (TULIP_FOREVER).
 * @return The number of the signal that arrived.
 * @return -EINVAL if signos is NULL, n is 0, or a signal is uncatchable.
 * @return Otherwise as tulip_signal_wait().
 */
TULIP_EXTERN int tulip_signal_wait_any(const int *signos, size_t n,
                                       int64_t deadline_ns);

/**
 * @brief Call fn(arg, signo) on the loop's thread whenever signo arrives
 * (asyncio's add_signal_handler); setting it again replaces the handler.
 * A handler does not keep tulip_loop_run() going. Tasks waiting for signo
 * are woken as well.
 * @param loop The loop.
 * @param signo The signal.
 * @param fn The handler.
 * @param arg Its argument.
 * @return 0 on success.
 * @return -EINVAL if loop or fn is NULL or signo cannot be caught.
 * @return -ENOMEM if out of memory; another negative errno of signalfd(2).
 */
TULIP_EXTERN int tulip_add_signal_handler(tulip_loop *loop, int signo,
                                          tulip_signal_fn *fn, void *arg);

/**
 * @brief Remove the handler of signo (asyncio's remove_signal_handler).
 * @param loop The loop.
 * @param signo The signal.
 * @return 1 if one was removed, 0 if there was none.
 * @return -EINVAL if loop is NULL or signo cannot be caught.
 */
TULIP_EXTERN int tulip_remove_signal_handler(tulip_loop *loop, int signo);

/** @} */

/* ======================================================================== */
/** @defgroup process Processes
 *
 * Child processes (asyncio's create_subprocess_exec/_shell): spawned with
 * posix_spawn, their standard streams each inherited, a pipe, /dev/null,
 * or (stderr) the same as stdout. Pipe ends are non-blocking and
 * close-on-exec; use them with tulip_read()/tulip_write(), or hand them to
 * a stream. Writing to a child that closed its stdin gives -EPIPE, never
 * SIGPIPE. Waiting for the exit uses a pidfd (Linux 5.3+), else SIGCHLD
 * through the loop's signals; the process must not be reaped by anyone
 * else (SIGCHLD must not be ignored).
 *
 * **No zombies.** A process is reaped by the wait that sees it exit.
 * tulip_process_free() of a process still running kills it (SIGKILL) and
 * reaps it, blocking for the moment the kernel takes to end it: detach
 * nothing you want to keep running.
 *  @{ */

/** @brief A child process. */
typedef struct tulip_process tulip_process;

#define TULIP_STDIO_INHERIT 0 /**< the parent's fd (the default) */
#define TULIP_STDIO_PIPE 1    /**< a pipe to the parent */
#define TULIP_STDIO_DEVNULL 2 /**< /dev/null */
#define TULIP_STDIO_STDOUT 3  /**< stderr only: where stdout goes */

/** @brief Options of tulip_process_spawn(); zero-initialise, then set. */
struct tulip_process_opts {
    int stdin_mode;          /**< TULIP_STDIO_* of the child's stdin */
    int stdout_mode;         /**< TULIP_STDIO_* of the child's stdout */
    int stderr_mode;         /**< TULIP_STDIO_* of the child's stderr */
    const char *cwd;         /**< working directory, or NULL (glibc 2.29+) */
    const char *const *envp; /**< environment, or NULL for the parent's */
};

/** @brief Bytes allocated by tulip (NUL-terminated for convenience);
 * free with tulip_bytes_free(). */
struct tulip_bytes {
    char *data; /**< the bytes, or NULL when len is 0 */
    size_t len; /**< how many */
};

/**
 * @brief Free bytes that tulip allocated, and zero the struct.
 * @param b The bytes, or NULL.
 */
TULIP_EXTERN void tulip_bytes_free(struct tulip_bytes *b);

/**
 * @brief Start argv[0] with arguments argv, searched in PATH if it has no
 * slash (asyncio's create_subprocess_exec). Callable outside tasks.
 * @param[out] out The process; free it with tulip_process_free().
 * @param loop The loop whose tasks will wait for it.
 * @param argv The program and its arguments, NULL-terminated.
 * @param opts Options, or NULL.
 * @return 0 on success.
 * @return -EINVAL if an argument is NULL or a mode is unknown.
 * @return -ENOMEM if out of memory.
 * @return Another negative errno of pipe2(2), open(2) or posix_spawn(3)
 *         (-ENOENT if the program is not found).
 */
TULIP_EXTERN int tulip_process_spawn(tulip_process **out, tulip_loop *loop,
                                     const char *const argv[],
                                     const struct tulip_process_opts *opts);

/**
 * @brief Start `/bin/sh -c cmd` (asyncio's create_subprocess_shell).
 * @param[out] out The process.
 * @param loop The loop.
 * @param cmd The shell command.
 * @param opts Options, or NULL.
 * @return As tulip_process_spawn().
 */
TULIP_EXTERN int tulip_process_shell(tulip_process **out, tulip_loop *loop,
                                     const char *cmd,
                                     const struct tulip_process_opts *opts);

/**
 * @brief The child's pid.
 * @param p The process.
 * @return The pid, or -EINVAL if p is NULL.
 */
TULIP_EXTERN int tulip_process_pid(const tulip_process *p);

/**
 * @brief The parent's end of a pipe to the child: fd 0 (stdin, write
 * end), 1 (stdout) or 2 (stderr). The process owns it.
 * @param p The process.
 * @param which 0, 1 or 2.
 * @return The fd, or -1 if that stream is not a pipe (or is closed).
 */
TULIP_EXTERN int tulip_process_fd(const tulip_process *p, int which);

/**
 * @brief Close the parent's end of a pipe (stdin: the child sees end of
 * file).
 * @param p The process.
 * @param which 0, 1 or 2.
 * @return 0, or -EINVAL.
 */
TULIP_EXTERN int tulip_process_close_fd(tulip_process *p, int which);

/**
 * @brief Wait for the child to exit, and reap it.
 * @param p The process.
 * @param[out] status Its return code as asyncio's returncode: the exit
 *        code (>= 0), or minus the signal that killed it (may be NULL).
 * @return 0 once it has exited (at once if it already had).
 * @return -EINVAL if p is NULL; -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call: the child
 *         keeps running and can be waited for again.
 */
TULIP_EXTERN int tulip_process_wait(tulip_process *p, int *status);

/**
 * @brief tulip_process_wait() with a deadline of its own (-ETIMEDOUT).
 * @param p The process.
 * @param[out] status As tulip_process_wait().
 * @param deadline_ns Absolute deadline on the loop's clock, in ns.
 * @return As tulip_process_wait().
 */
TULIP_EXTERN int tulip_process_wait_until(tulip_process *p, int *status,
                                          int64_t deadline_ns);

/**
 * @brief The return code if the child has been reaped.
 * @param p The process.
 * @param[out] status As tulip_process_wait().
 * @return true if it has been reaped (*status set), false otherwise.
 */
TULIP_EXTERN bool tulip_process_returncode(const tulip_process *p, int *status);

/**
 * @brief asyncio's communicate(): write input to the child's stdin and
 * close it, read its stdout and stderr to their ends, all at once (never
 * stuck on a full pipe), then wait for it to exit.
 * @param p The process (streams that are not pipes are skipped; input
 *        needs stdin to be a pipe).
 * @param input Bytes for stdin (may be NULL with input_len 0).
 * @param input_len How many.
 * @param[out] out Its stdout (may be NULL: read and dropped);
 *        tulip_bytes_free() it, also after an error.
 * @param[out] err Its stderr, likewise.
 * @param[out] status Its return code, as tulip_process_wait().
 * @param deadline_ns Absolute deadline on the loop's clock (TULIP_FOREVER).
 * @return 0 when it has exited and both outputs are read.
 * @return -EINVAL for bad arguments; -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call: the child
 *         keeps running and can be waited for or killed; what was read so
 *         far is in *out and *err.
 * @return -ENOMEM, or a negative errno of read(2) or write(2) (a child
 *         that closed its stdin early is not an error).
 */
TULIP_EXTERN int tulip_process_communicate(tulip_process *p, const void *input,
                                           size_t input_len,
                                           struct tulip_bytes *out,
                                           struct tulip_bytes *err, int *status,
                                           int64_t deadline_ns);

/**
 * @brief Send a signal to the child (nothing once it has been reaped).
 * @param p The process.
 * @param signo The signal.
 * @return 0, -EINVAL, or a negative errno of kill(2).
 */
TULIP_EXTERN int tulip_process_send_signal(tulip_process *p, int signo);

/**
 * @brief Send SIGTERM.
 * @param p The process.
 * @return As tulip_process_send_signal().
 */
TULIP_EXTERN int tulip_process_terminate(tulip_process *p);

/**
 * @brief Send SIGKILL.
 * @param p The process.
 * @return As tulip_process_send_signal().
 */
TULIP_EXTERN int tulip_process_kill(tulip_process *p);

/**
 * @brief Free the process: close its pipes and, if it has not been reaped,
 * kill it with SIGKILL and reap it (blocking briefly). No task may be
 * waiting for it.
 * @param p The process, or NULL.
 */
TULIP_EXTERN void tulip_process_free(tulip_process *p);

/** @} */

/* ======================================================================== */
/** @defgroup file Files
 *
 * Regular files without blocking the loop: every call runs its system call
 * on the blocking pool (tulip_to_thread), as aiofiles and trio.Path do;
 * readiness polling does not work on regular files. Buffers must stay
 * valid until the call returns. If the task is cancelled, the call returns
 * -ECANCELED at once and the operation is abandoned as the pool abandons
 * jobs: one that started completes in its thread (a write may then have
 * happened), its result is dropped, and buffers are the library's own
 * copies, so the caller's may be reused at once. tulip_file_open() that is
 * abandoned closes the fd it opened.
 *  @{ */

/**
 * @brief open(2) on the pool (O_CLOEXEC is always added).
 * @param path The path.
 * @param flags O_RDONLY, O_WRONLY|O_CREAT|O_TRUNC ...
 * @param mode The mode for O_CREAT.
 * @return The fd (blocking mode; close it with tulip_file_close()).
 * @return -EINVAL if path is NULL; -EPERM if not called from a task.
 * @return -ECANCELED, -ETIMEDOUT as for every suspending call.
 * @return Another negative errno of open(2) (-ENOENT, -EISDIR ...).
 */
TULIP_EXTERN int tulip_file_open(const char *path, int flags, mode_t mode);

/**
 * @brief read(2) on the pool.
 * @param fd The file.
 * @param buf Where to put the bytes.
 * @param n The most to read.
 * @return The bytes read, 0 at end of file.
 * @return -EINVAL for bad arguments; -EPERM if not called from a task;
 *         -ENOMEM; -ECANCELED, -ETIMEDOUT; another errno of read(2).
 */
TULIP_EXTERN ssize_t tulip_file_read(int fd, void *buf, size_t n);

/**
 * @brief write(2) on the pool (until all n bytes are written).
 * @param fd The file.
 * @param buf The bytes.
 * @param n How many.
 * @return n.
 * @return As tulip_file_read(); another errno of write(2).
 */
TULIP_EXTERN ssize_t tulip_file_write(int fd, const void *buf, size_t n);

/**
 * @brief pread(2) on the pool.
 * @param fd The file.
 * @param buf Where to put the bytes.
 * @param n The most to read.
 * @param offset Where in the file.
 * @return As tulip_file_read().
 */
TULIP_EXTERN ssize_t tulip_file_pread(int fd, void *buf, size_t n,
                                      off_t offset);

/**
 * @brief pwrite(2) on the pool (until all n bytes are written).
 * @param fd The file.
 * @param buf The bytes.
 * @param n How many.
 * @param offset Where in the file.
 * @return As tulip_file_write().
 */
TULIP_EXTERN ssize_t tulip_file_pwrite(int fd, const void *buf, size_t n,
                                       off_t offset);

/**
 * @brief fsync(2) on the pool.
 * @param fd The file.
 * @return 0, or as tulip_file_read().
 */
TULIP_EXTERN int tulip_file_fsync(int fd);

/**
 * @brief close(2) on the pool (a close can block on NFS).
 * @param fd The file.
 * @return 0, -EBADF, or as tulip_file_read().
 */
TULIP_EXTERN int tulip_file_close(int fd);

/**
 * @brief Read a whole file.
 * @param path The path.
 * @param[out] out Its bytes (NUL-terminated); tulip_bytes_free() them.
 * @return 0 on success (*out empty on an error).
 * @return As tulip_file_open() and tulip_file_read().
 */
TULIP_EXTERN int tulip_file_read_all(const char *path, struct tulip_bytes *out);

/** @} */

/* ======================================================================== */
/** @defgroup diag Diagnostics
 *
 * Tracing, debug mode and the task dump (docs/tracing.md). All are off by
 * default and cost one predicted branch per hook point when off.
 * Environment: TULIP_TRACE=path starts tracing when the program starts and
 * closes the file at exit; TULIP_DEBUG=1 turns on debug mode;
 * TULIP_DEBUG_SLOW_MS sets its slow-step threshold.
 * @{
 */

/**
 * @brief Start tracing into a Chrome trace-event JSON file (Perfetto,
 *        chrome://tracing, tools/tulip-trace): a slice per task step, a
 *        flow arrow per wait, what woke each task, ready fds, cancels.
 * @param path The file to create (truncated). While tracing it holds
 *        binary records, converted to JSON by tulip_trace_stop(); a program
 *        that dies first leaves them there (`tulip-trace` renders them,
 *        `tulip-trace --json` converts them). A device or a pipe gets the
 *        JSON at the stop.
 * @return 0 on success.
 * @return -EINVAL if path is NULL.
 * @return -EBUSY if tracing is already on.
 * @return A negative errno from open(2) (-EACCES, -ENOENT, -EISDIR...).
 * @note Process-wide. Events are recorded per thread and written by a
 *       writer thread; a write error stops tracing with a message on stderr
 *       and the program goes on.
 */
TULIP_EXTERN int tulip_trace_start(const char *path);

/**
 * @brief Stop tracing: flush, then convert the records into the JSON file.
 * @return 0 on success.
 * @return -EALREADY if tracing was off.
 * @return -EIO if writing failed at some point (a message said which; the
 *         binary records written so far are left at the path).
 * @note Call it with other threads' loops idle: their buffered events are
 *       only flushed by themselves. The conversion takes about 0.2 us an
 *       event.
 */
TULIP_EXTERN int tulip_trace_stop(void);

/**
 * @brief Turn debug mode on or off (asyncio's loop.set_debug): slow task
 *        steps, spawn sites of tasks that end with an unread error or are
 *        destroyed while pending, stacks more than 75% used, calls from a
 *        thread that is not the loop's; also the SIGQUIT task dump.
 * @param on Whether debug mode is on.
 * @return 0.
 * @note Process-wide, for every loop (tulip_loop_opts.debug: one loop).
 *       Tasks spawned while it is off have no spawn site and no stack
 *       measurement.
 */
TULIP_EXTERN int tulip_debug_enable(bool on);

/**
 * @brief Set debug mode's slow-step threshold (default 100 ms).
 * @param threshold_ns Steps this long or longer are reported.
 */
TULIP_EXTERN void tulip_debug_set_slow(int64_t threshold_ns);

/**
 * @brief Print every live task of the running loop (else of the loop debug
 *        mode last saw) to f: name, state, what it waits on, the tasks that
 *        await it, where it was spawned (debug mode), and the backtrace of
 *        its suspended stack.
 * @param f Where to print.
 * @return 0 on success.
 * @return -EINVAL if there is no loop to dump, or f is NULL.
 */
TULIP_EXTERN int tulip_dump_tasks(FILE *f);

/**
 * @brief tulip_dump_tasks() for a given loop.
 * @param loop The loop (call from its thread).
 * @param f Where to print.
 * @return 0, or -EINVAL if loop or f is NULL, -ENOMEM if out of memory.
 */
TULIP_EXTERN int tulip_dump_tasks_of(tulip_loop *loop, FILE *f);

/**
 * @brief Dump the tasks to stderr on SIGQUIT (Ctrl-\), or stop doing so.
 * @param on Install (true) or restore the default disposition (false).
 * @return 0, or a negative errno from sigaction(2).
 * @note A debugging aid, like Python's faulthandler: not async-signal-safe.
 */
TULIP_EXTERN int tulip_dump_on_sigquit(bool on);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* TULIP_H */
