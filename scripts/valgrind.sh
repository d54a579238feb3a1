#!/bin/sh
# SPDX-License-Identifier: MIT
# `make valgrind`: Valgrind memcheck over the unit tests and the examples of
# a build without sanitizers (BUILD_DIR, default build-vg). Any invalid
# access, use of uninitialised memory, or definitely/indirectly lost block
# fails the run; "possibly lost" and "still reachable" are not errors
# (stacks and caches that live for the process).
#
#   scripts/valgrind.sh [BUILD_DIR]
#   TULIP_VALGRIND_TESTS=REGEX   which tests/test_* programs (default: all)
#   TULIP_VALGRIND_SKIP=REGEX    which to leave out (default: test_overflow)
#
# Criterion runs each test in a worker process that it starts by
# re-executing itself, so valgrind follows children (--trace-children=yes);
# the runner uses one worker at a time (--jobs=1) and the test programs run
# one per core. cmake/valgrind.supp hides the leaks of Criterion's own
# runner. Timing tolerances are widened with TULIP_TEST_TIMEOUT_MULTIPLIER
# (STYLE.md rule 32), but a test's own Criterion .timeout is not: a test
# that runs past it under valgrind makes the runner abort with "The test has
# already ended, invalid state 'timeout'".
#
# Skipped by default (TULIP_VALGRIND_SKIP=REGEX to change): test_overflow,
# whose tests make invalid accesses on purpose (guard faults, a write to
# address 0x40 that must reach a chained handler), which memcheck reports,
# as it should. Logs go to BUILD_DIR/valgrind/<name>.log.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build-vg}
FILTER=${TULIP_VALGRIND_TESTS:-.}
SKIP=${TULIP_VALGRIND_SKIP:-'^test_overflow$'}
JOBS=$(nproc 2>/dev/null || echo 2)
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind.sh: valgrind is not installed (scripts/deps.sh test)" >&2
    exit 1
fi
export TULIP_TEST_TIMEOUT_MULTIPLIER=${TULIP_TEST_TIMEOUT_MULTIPLIER:-20}
VG="valgrind -q --error-exitcode=1 --leak-check=full"
VG="$VG --show-leak-kinds=definite,indirect"
VG="$VG --errors-for-leak-kinds=definite,indirect --trace-children=yes"
VG="$VG --suppressions=$(pwd)/cmake/valgrind.supp"
LOGS=$(pwd)/$B/valgrind
case $B in /*) LOGS=$B/valgrind ;; esac
rm -rf "$LOGS"
mkdir -p "$LOGS"
printf '#!/bin/sh\nexec %s "$@"\n' "$VG" >"$LOGS/vg"
chmod +x "$LOGS/vg"

# One line per program: NAME COMMAND...
{
    for t in "$B"/tests/test_*; do
        [ -x "$t" ] && [ -f "$t" ] || continue
        n=$(basename "$t")
        echo "$n" | grep -Eq "$FILTER" || continue
        if echo "$n" | grep -Eq "$SKIP"; then
            echo "valgrind: skip  $n (TULIP_VALGRIND_SKIP)" >&2
            continue
        fi
        echo "$n $VG $t --jobs=1"
    done
    for e in examples/expected/*.out; do
        [ -f "$e" ] || continue
        n=$(basename "$e" .out)
        [ -x "$B/examples/$n" ] || continue
        # The emulator is one word: a CMake list of valgrind's arguments
        # would carry ';' into the shell that runs the plan.
        echo "example_$n cmake -DEXE=$B/examples/$n -DEMULATOR=$LOGS/vg" \
            "-DEXPECTED=$e -P cmake/check_output.cmake"
    done
} >"$LOGS/plan"
if [ ! -s "$LOGS/plan" ]; then
    echo "valgrind.sh: nothing to run in $B" >&2
    exit 1
fi

# shellcheck disable=SC2016
xargs -P "$JOBS" -I{} sh -c '
    set -- {}
    name=$1
    shift
    if "$@" >"$0/$name.log" 2>&1; then
        echo "valgrind: ok    $name"
    else
        echo "valgrind: FAIL  $name (see $0/$name.log)"
        touch "$0/$name.failed"
    fi' "$LOGS" <"$LOGS/plan"

failed=$(cd "$LOGS" && ls -- *.failed 2>/dev/null | sed 's/\.failed$//')
if [ -n "$failed" ]; then
    for n in $failed; do
        echo "==== $n"
        grep -v '^\[----\]' "$LOGS/$n.log" | tail -40
    done
    echo "valgrind: failed:" $failed >&2
    exit 1
fi
echo "valgrind: all clean"
