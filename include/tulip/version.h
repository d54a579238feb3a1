/* SPDX-License-Identifier: MIT */
/* The library's version; kept in step with project() in CMakeLists.txt. */
#ifndef TULIP_VERSION_H
#define TULIP_VERSION_H

#define TULIP_VERSION_MAJOR 0
#define TULIP_VERSION_MINOR 1
#define TULIP_VERSION_PATCH 0
#define TULIP_VERSION_STRING "0.1.0"

#endif /* TULIP_VERSION_H */
