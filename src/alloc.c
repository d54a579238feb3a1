/* SPDX-License-Identifier: MIT */
/*
 * The one allocation hook (Lua's lua_Alloc): every byte the library takes
 * from the heap goes through tulip__alloc/realloc/free, which call the
 * function installed with tulip_set_allocator(). Tests install a hook that
 * fails on demand to prove that allocation failure returns -ENOMEM with
 * nothing leaked.
 */
#include "prefix.h"
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *default_alloc(void *ud, void *ptr, size_t old_size,
                           size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

static tulip_alloc_fn *alloc_fn = default_alloc;
static void *alloc_ud;

void tulip_set_allocator(tulip_alloc_fn *fn, void *ud)
{
    alloc_fn = fn ? fn : default_alloc;
    alloc_ud = fn ? ud : NULL;
}

void tulip_get_allocator(tulip_alloc_fn **fn, void **ud)
{
    if (fn)
        *fn = alloc_fn;
    if (ud)
        *ud = alloc_ud;
}

void *tulip__alloc(size_t size)
{
    if (TULIP_FAULT(alloc))
        return NULL;
    return alloc_fn(alloc_ud, NULL, 0, size ? size : 1);
}

void *tulip__calloc(size_t size)
{
    void *p = tulip__alloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void *tulip__realloc(void *ptr, size_t old_size, size_t new_size)
{
    if (new_size > old_size && TULIP_FAULT(alloc))
        return NULL;
    return alloc_fn(alloc_ud, ptr, old_size, new_size ? new_size : 1);
}

void tulip__free(void *ptr, size_t size)
{
    if (ptr)
        alloc_fn(alloc_ud, ptr, size, 0);
}

void tulip__panic(const char *fmt, ...)
{
    va_list ap;
    (void)fputs("tulip: fatal: ", stderr);
    va_start(ap, fmt);
    /* clang-tidy 14's analyzer loses va_start's effect on the va_list
     * here (a false positive of valist.Uninitialized). */
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fputc('\n', stderr);
    (void)fflush(stderr);
    abort();
}
