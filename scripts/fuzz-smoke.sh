#!/bin/sh
# SPDX-License-Identifier: MIT
# fuzz-smoke.sh: build the libFuzzer harnesses (clang, ASan+UBSan, coverage)
# and run each for a short time, starting from its checked-in corpus
# (STYLE.md rule 40: a fuzz smoke run per harness in CI). New inputs go to a
# scratch corpus in the build directory, never into fuzz/corpus: a crash
# leaves its input as <build>/crash-* and fails the run. To keep what a run
# found, merge it by hand:
#   <build>/fuzz/<h> -merge=1 fuzz/corpus/<h> <build>/corpus/<h>
# Usage: scripts/fuzz-smoke.sh [seconds per harness (20)] [build dir]
set -eu
SECONDS_PER=${1:-${FUZZ_SECONDS:-20}}
BUILD=${2:-build-fuzz}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CC=${FUZZ_CC:-clang}

CC=$CC cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTULIP_SANITIZE=address,undefined -DTULIP_BUILD_FUZZ=ON \
    -DTULIP_BUILD_TESTS=OFF -DTULIP_BUILD_EXAMPLES=OFF >/dev/null
harnesses=$(ls fuzz/fuzz_*.c | sed 's|fuzz/||; s|\.c$||')
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$JOBS" --target $harnesses

# The library's guard-page handler takes stack overflows (see Makefile asan).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allow_user_segv_handler=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS
status=0
for h in $harnesses; do
    mkdir -p "$BUILD/corpus/$h"
    echo "fuzz: $h for ${SECONDS_PER}s"
    if ! (cd "$BUILD" && "./fuzz/$h" -max_total_time="$SECONDS_PER" \
            -timeout=30 -max_len=4096 -print_final_stats=1 \
            "corpus/$h" "$OLDPWD/fuzz/corpus/$h" >"$h.log" 2>&1); then
        echo "fuzz: $h FAILED; see $BUILD/$h.log and $BUILD/crash-*"
        tail -n 40 "$BUILD/$h.log"
        status=1
    else
        grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' \
            "$BUILD/$h.log" | sed "s|^|fuzz: $h: |"
    fi
done
exit $status
