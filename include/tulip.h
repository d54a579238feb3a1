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
    XX(EBADSTOP, -4089, "generator body returned TULIP_STOP")

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

/** @brief The current default stack size, in bytes. Thread-safe. */
TULIP_EXTERN size_t tulip_get_stack_size(void);

/** @brief The smallest stack size accepted, in bytes. */
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
 * @return TULIP_EIGNORED if the body yielded again; it stays suspended.
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
 */
TULIP_EXTERN enum tulip_gen_state tulip_gen_state(const tulip_gen *g);

/**
 * @brief The name given at creation, or "" if none.
 * @param g The generator (not NULL).
 */
TULIP_EXTERN const char *tulip_gen_name(const tulip_gen *g);

/** @brief The generator whose body is running on this thread, or NULL. */
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

/** @brief Whether the loop is running (false for NULL). */
TULIP_EXTERN bool tulip_loop_is_running(const tulip_loop *loop);

/**
 * @brief The loop's time: CLOCK_MONOTONIC in nanoseconds, or the virtual
 * clock (starting at 0).
 * @param loop The loop.
 * @return The time in ns; 0 if loop is NULL.
 */
TULIP_EXTERN int64_t tulip_loop_time_ns(tulip_loop *loop);

/** @brief The loop running on the calling thread, or NULL. */
TULIP_EXTERN tulip_loop *tulip_loop_current(void);

/** @brief The name of the loop's I/O backend: "epoll" or "poll". */
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
 * @note Thread-safe: the one loop function that is. It allocates through
 * the allocation hook, which must then be thread-safe (the default is), and
 * so it is not async-signal-safe.
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

/** @brief Whether tulip_handle_cancel() was called on h (false for NULL). */
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

#ifdef __cplusplus
}
#endif

#endif /* TULIP_H */
