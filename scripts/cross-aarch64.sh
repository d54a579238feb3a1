#!/bin/sh
# SPDX-License-Identifier: MIT
# The aarch64 check of `make test`: cross-compile the library, its tests and
# its examples with Debian's gcc-aarch64-linux-gnu (cmake/aarch64-linux-
# gnu.cmake, so src/arch/aarch64/switch.S is the switch under test) and run
# the coroutine and generator tests and the examples under qemu-aarch64.
#
#   scripts/cross-aarch64.sh [BUILD_DIR]     (default build-aarch64)
#   TULIP_AARCH64_TESTS=REGEX                which CTest tests to run
#
# Criterion for arm64: Debian's libcriterion-dev:arm64 cannot be installed
# next to the native one (libnanomsg5/-dev and libhttp-parser-dev are not
# Multi-Arch: same, and their amd64 and arm64 versions differ), so multiarch
# would remove the native Criterion. Instead the arm64 packages are fetched
# with `apt-get download` (this needs the arm64 architecture in dpkg's list,
# which installs nothing) and unpacked into BUILD_DIR/sysroot. The same test
# sources then build unchanged. Criterion starts each test by re-executing
# the program (BoxFort); without binfmt_misc the host kernel cannot run an
# aarch64 program, so cmake/qemu_exec_shim.c (LD_PRELOAD in the guest)
# routes such an execve through qemu.
#
# qemu-user answers madvise(MADV_GUARD_INSTALL) with success and does
# nothing (qemu 7.2 treats madvise as a hint it may ignore), so the stack
# guards would silently be missing; the tests therefore run with
# TULIP_GUARD=mprotect, which qemu emulates faithfully (guard faults reach
# the library's SIGSEGV handler on its alternate stack).
#
# Skips with a message and exit 0 when the cross compiler or qemu is
# missing; any build or test failure fails the script.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build-aarch64}
TESTS=${TULIP_AARCH64_TESTS:-'^(test_(gen|yield_from|stack|overflow)|example_)'}
# example_subprocess runs host programs (/bin/echo, cat, sh) as children:
# they inherit the LD_PRELOAD of the qemu exec shim (an aarch64 object), and
# the host loader's warning about it lands in the output the test compares.
EXCLUDE=${TULIP_AARCH64_EXCLUDE:-'^example_subprocess$'}
CROSS=/usr/aarch64-linux-gnu
JOBS=$(nproc 2>/dev/null || echo 2)

QEMU=$(command -v qemu-aarch64 || true)
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || [ -z "$QEMU" ] ||
    [ ! -e "$CROSS/lib/ld-linux-aarch64.so.1" ]; then
    echo "cross-aarch64: skipped: needs gcc-aarch64-linux-gnu," \
        "libc6-dev-arm64-cross and qemu-user (scripts/deps.sh test)"
    exit 0
fi
mkdir -p "$B"
B=$(cd "$B" && pwd)
SYSROOT=$B/sysroot

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

# Unpack Criterion for arm64 and the libraries it links to into $SYSROOT;
# glibc and libgcc come from the cross toolchain.
fetch_criterion() {
    [ -f "$SYSROOT/.complete" ] && return 0
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        as_root dpkg --add-architecture arm64 || return 1
        as_root apt-get update -qq || return 1
    fi
    pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances \
        libcriterion3:arm64 2>/dev/null | grep '^[a-z0-9]' |
        grep -vE '^(libc6|libgcc-s1|gcc-12-base):' | sort -u) || return 1
    rm -rf "$B/debs" "$SYSROOT"
    mkdir -p "$B/debs" "$SYSROOT"
    # shellcheck disable=SC2086
    (cd "$B/debs" && apt-get download -qq libcriterion-dev:arm64 $pkgs \
        2>&1 | grep -v 'unsandboxed' >&2) || true
    ls "$B"/debs/libcriterion3_*.deb >/dev/null 2>&1 || return 1
    for deb in "$B"/debs/*.deb; do
        dpkg-deb -x "$deb" "$SYSROOT" || return 1
    done
    touch "$SYSROOT/.complete"
}

have_tests=ON
if ! fetch_criterion; then
    have_tests=OFF
    echo "cross-aarch64: WARNING: could not fetch Criterion for arm64" \
        "(needs apt-get and root or sudo); running the examples only" >&2
fi

ulimit -c 0 # qemu writes a core file for every expected crash otherwise
libs=$SYSROOT/usr/lib/aarch64-linux-gnu:$SYSROOT/lib/aarch64-linux-gnu
aarch64-linux-gnu-gcc -shared -fPIC -O2 -o "$B/qemu_exec_shim.so" \
    cmake/qemu_exec_shim.c -ldl
emu="$QEMU;-L;$CROSS;-E;LD_LIBRARY_PATH=$libs;-E;LD_PRELOAD=$B/qemu_exec_shim.so"
emu="$emu;-E;QEMU_LD_PREFIX=$CROSS;-E;TULIP_QEMU=$QEMU;-E;TULIP_GUARD=mprotect"

cmake -S . -B "$B" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
    -DTULIP_AARCH64_SYSROOT="$SYSROOT" -DCMAKE_CROSSCOMPILING_EMULATOR="$emu" \
    -DTULIP_WERROR=ON -DTULIP_BUILD_TESTS=$have_tests >/dev/null
# Only what runs under qemu: the coroutine tests and the examples.
targets=$(for f in tests/test_gen*.c tests/test_yield_from*.c \
    tests/test_stack*.c tests/test_overflow*.c examples/*.c; do
    [ -f "$f" ] || continue
    case $f in tests/*) [ "$have_tests" = ON ] || continue ;; esac
    basename "$f" .c
done)
# shellcheck disable=SC2086
cmake --build "$B" -j"$JOBS" --target tulip_static $targets
[ -n "$(find "$B" -path '*arch/aarch64/switch.S.o' -print -quit)" ] || {
    echo "cross-aarch64: the build did not select the aarch64 switch" >&2
    exit 1
}
echo "cross-aarch64: running under $QEMU: $TESTS"
cd "$B"
ctest --output-on-failure -j"$JOBS" -R "$TESTS" -E "$EXCLUDE" --no-tests=error
