#!/bin/sh
# SPDX-License-Identifier: MIT
# Install, with apt-get, whatever a fresh Debian 12 machine lacks for a task:
#   scripts/deps.sh run     build and run the examples
#   scripts/deps.sh test    also the test suite (pkg-config: the install
#                           test), valgrind, and the aarch64 cross check
#                           (scripts/cross-aarch64.sh fetches Criterion for
#                           arm64 itself: it cannot be co-installed)
#   scripts/deps.sh lint    clang-tidy and cppcheck
#   scripts/deps.sh fuzz    clang and its runtimes (libFuzzer, sanitizers)
#   scripts/deps.sh bench   also the peers the benchmarks compare against,
#                           wrk (the HTTP load) and gnuplot (the chart)
#   scripts/deps.sh docs    Doxygen
# Only missing packages are installed; nothing happens when all are present.
set -eu
profile=${1:-test}

pkgs="build-essential cmake"
case "$profile" in
run) ;;
test) pkgs="$pkgs libcriterion-dev pkg-config clang-format valgrind socat netcat-openbsd curl wrk redis-tools \
gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user chromium python3" ;;
lint) pkgs="$pkgs clang-tidy cppcheck" ;;
fuzz) pkgs="$pkgs clang libclang-rt-dev" ;;
bench) pkgs="$pkgs libuv1-dev golang-go python3 python3-uvloop wrk nginx-light gnuplot-nox" ;;
docs) pkgs="$pkgs doxygen" ;;
*) echo "deps.sh: unknown profile $profile" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps.sh: not root and no sudo; install these yourself:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
