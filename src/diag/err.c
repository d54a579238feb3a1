/* SPDX-License-Identifier: MIT */
/*
 * Error descriptions: tulip_strerror() and tulip_err_name() for negative
 * errno values and for the tulip codes of TULIP_ERRNO_MAP, which lie far
 * outside the errno range (libuv's scheme).
 */
#include "../prefix.h"
#include "../internal.h"

#include <string.h>

const char *tulip_strerror(int err)
{
    const char *s;

    switch (err) {
#define XX(name, value, msg)                                                   \
    case TULIP_##name:                                                         \
        return msg;
        TULIP_ERRNO_MAP(XX)
#undef XX
    case 0:
        return "success";
    default:
        break;
    }
    if (err < 0 && err > -4096) {
        s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}

const char *tulip_err_name(int err)
{
    const char *s;

    switch (err) {
#define XX(name, value, msg)                                                   \
    case TULIP_##name:                                                         \
        return "TULIP_" #name;
        TULIP_ERRNO_MAP(XX)
#undef XX
    case 0:
        return "OK";
    default:
        break;
    }
    if (err < 0 && err > -4096) {
        s = strerrorname_np(-err);
        if (s)
            return s;
    }
    return "UNKNOWN";
}
