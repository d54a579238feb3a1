# SPDX-License-Identifier: MIT
# CMake toolchain for cross-compiling tulip to aarch64 Linux with Debian's
# gcc-aarch64-linux-gnu (its glibc lives in /usr/aarch64-linux-gnu).
# CMAKE_SYSTEM_PROCESSOR aarch64 selects src/arch/aarch64/switch.S.
#
# TULIP_AARCH64_SYSROOT (optional) is a directory holding extra arm64
# libraries unpacked from Debian packages (Criterion and what it links to,
# see scripts/cross-aarch64.sh); it is searched after the cross glibc, and
# the linker follows the libraries' own dependencies into it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# try_compile projects re-read this file: hand them the variable too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TULIP_AARCH64_SYSROOT)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
if(TULIP_AARCH64_SYSROOT)
  list(APPEND CMAKE_FIND_ROOT_PATH ${TULIP_AARCH64_SYSROOT})
  set(_libs ${TULIP_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu
            ${TULIP_AARCH64_SYSROOT}/lib/aarch64-linux-gnu)
  string(REPLACE ";" ":" _libs "${_libs}")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_libs}")
  set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_libs}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
