/* SPDX-License-Identifier: MIT */
/*
 * Every compile-time knob of the library, documented in one block (neco's
 * "Compilation options", luaconf.h). Run-time settings (stack size, backend,
 * debug mode) have their own API in tulip.h; these are the defaults and the
 * constants that the stress build shrinks "to give some bugs a chance".
 *
 *   TULIP_STACK_SIZE_DEFAULT  default coroutine stack, bytes (256 KiB)
 *   TULIP_STACK_SIZE_MIN      smallest stack accepted, bytes (16 KiB)
 *   TULIP_STACK_GUARD         guard below every stack, bytes (16 KiB; with
 *                             MADV_GUARD_INSTALL it costs neither memory nor
 *                             a memory-map entry, so it is wider than the
 *                             customary single page to catch big frames)
 *   TULIP_STACK_CACHE         free stacks kept committed per size class
 *                             before the rest go back to the kernel (64)
 *   TULIP_STACK_DECAY_DEFAULT how long the rest stay committed, unused,
 *                             before they go back (1 s; 0: at once)
 *   TULIP_OBJ_CACHE           finished generator objects kept, with their
 *                             stacks, for reuse per thread (64)
 *   TULIP_STRESS              stress build ("make stress"): the minimum
 *                             stack by default, one stack cached, no
 *                             generator objects cached, one event per poll
 *                             (loop_int.h, backend_epoll.c), a poll after
 *                             every ready callback (loop_int.h), two
 *                             preallocated threadsafe nodes (async.c), two
 *                             callbacks per chunk (handle.c), cold stacks
 *                             back at once, task steps prefetching ahead
 *                             from 2 live tasks (task.c); with
 *                             TULIP_STRESS_YIELD=1 in the environment, a
 *                             yield at every suspension point too (task.c)
 *   TULIP_TESTING             testing build: fault injection points
 *   TULIP_HAVE_ASAN/TSAN/VALGRIND  tool annotations of coroutine switches
 */
#ifndef TULIP_CONFIG_H
#define TULIP_CONFIG_H

#ifndef TULIP_STRESS
#define TULIP_STRESS 0
#endif
#ifndef TULIP_TESTING
#define TULIP_TESTING 0
#endif

#define TULIP_STACK_SIZE_MIN ((size_t)16 * 1024)
#define TULIP_STACK_GUARD ((size_t)16 * 1024)

#if TULIP_STRESS
#define TULIP_STACK_SIZE_DEFAULT TULIP_STACK_SIZE_MIN
#define TULIP_STACK_CACHE 1u
#define TULIP_STACK_DECAY_DEFAULT 0
#define TULIP_OBJ_CACHE 0u
#else
#define TULIP_STACK_SIZE_DEFAULT ((size_t)256 * 1024)
#define TULIP_STACK_CACHE 64u
#define TULIP_STACK_DECAY_DEFAULT ((int64_t)1000000000)
#define TULIP_OBJ_CACHE 64u
#endif

/* Tool annotations: detected from the compiler's own predefined macros. */
#if defined(__SANITIZE_ADDRESS__)
#define TULIP_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TULIP_HAVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TULIP_HAVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TULIP_HAVE_TSAN 1
#endif
#endif
#ifndef TULIP_HAVE_ASAN
#define TULIP_HAVE_ASAN 0
#endif
#ifndef TULIP_HAVE_TSAN
#define TULIP_HAVE_TSAN 0
#endif
#if !defined(TULIP_HAVE_VALGRIND) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#define TULIP_HAVE_VALGRIND 1
#endif
#endif
#ifndef TULIP_HAVE_VALGRIND
#define TULIP_HAVE_VALGRIND 0
#endif

#endif /* TULIP_CONFIG_H */
