/* SPDX-License-Identifier: MIT */
/*
 * Private declarations shared by every layer: visibility and branch-hint
 * macros, defensive-check macros, the allocator that routes through the
 * user's hook, and thread-local storage. Layer-specific internals live in
 * each layer's own header (src/coro/coro.h, src/loop/loop.h ...).
 */
#ifndef TULIP_INTERNAL_H
#define TULIP_INTERNAL_H

#include "config.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "tulip.h"

/* Internal functions shared across files: hidden from the shared object. */
#define TULIP_PRIVATE __attribute__((visibility("hidden")))

/* Thread-locals are read on every switch: the initial-exec model keeps that
 * a single %fs-relative load even in the shared library. */
#define TULIP_TLS _Thread_local __attribute__((tls_model("initial-exec")))

#define tulip__likely(x) __builtin_expect(!!(x), 1)
#define tulip__unlikely(x) __builtin_expect(!!(x), 0)

#define tulip__container_of(ptr, type, member)                                 \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define TULIP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * SQLite's ALWAYS/NEVER: conditions the code believes always (never) hold,
 * but handles anyway. Debug builds assert them; release builds keep the
 * defensive branch.
 */
#ifdef NDEBUG
#define TULIP_ALWAYS(x) (x)
#define TULIP_NEVER(x) (x)
#else
#define TULIP_ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define TULIP_NEVER(x) ((x) ? (assert(0), 1) : 0)
#endif

/* Allocation through the user's hook (tulip_set_allocator). */
TULIP_PRIVATE void *tulip__alloc(size_t size);
TULIP_PRIVATE void *tulip__calloc(size_t size);
TULIP_PRIVATE void *tulip__realloc(void *ptr, size_t old_size, size_t new_size);
TULIP_PRIVATE void tulip__free(void *ptr, size_t size);

/* Fatal internal error: message to stderr, then abort(). */
TULIP_PRIVATE _Noreturn void tulip__panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Fault injection points (TULIP_SYS, TULIP_FAULT): the plain calls unless
 * TULIP_TESTING. */
#include "fault.h"

#endif /* TULIP_INTERNAL_H */
