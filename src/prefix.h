/* SPDX-License-Identifier: MIT */
/*
 * Feature-test macros, set in one place. Every .c file of the library
 * includes this header first, before any system header, so that every file
 * sees the same libc interface (Lua's lprefix.h, musl's single
 * -D_XOPEN_SOURCE).
 */
#ifndef TULIP_PREFIX_H
#define TULIP_PREFIX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#endif /* TULIP_PREFIX_H */
