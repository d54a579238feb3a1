#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/peer_smoke.sh DRIVER PEER: the CTest smoke run of one server peer
# (bench/peers/<topic>_<peer>.*, marked "bench-server"): build it as
# bench/run.sh does, then run `DRIVER --smoke --server PROG`. Exits 77 (the
# test is skipped) when what the peer needs is not installed: a C compiler,
# libuv's headers, Go, Debian's /usr/bin/python3 or uvloop, and, reported
# by the driver or the peer, wrk or nginx. Anything else that goes wrong
# fails.
set -u
driver=$1
src=$2
py=${BENCH_PYTHON:-/usr/bin/python3}
export BENCH_PYTHON=$py

skip() {
    echo "peer_smoke: skipped: $*"
    exit 77
}

work=$(mktemp -d "${TMPDIR:-/tmp}/tulip-peer-smoke.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
prog=$src
case $src in
*.c)
    command -v cc >/dev/null 2>&1 || skip "no C compiler"
    libs=
    if grep -q '<uv\.h>' "$src"; then
        printf '#include <uv.h>\nint main(void){return 0;}\n' >"$work/t.c"
        cc "$work/t.c" -o "$work/t" -luv 2>/dev/null || skip "libuv1-dev"
        libs=-luv
    fi
    prog=$work/peer
    # shellcheck disable=SC2086 # libs is a word list
    cc -O2 "$src" -o "$prog" $libs -lm -lpthread || exit 1
    ;;
*.go)
    command -v go >/dev/null 2>&1 || skip "golang-go"
    cache=${GOCACHE:-}
    [ -n "$cache" ] || [ -z "${HOME:-}" ] || cache=$(go env GOCACHE 2>/dev/null)
    [ -n "$cache" ] || cache=$work/gocache
    prog=$work/peer
    (cd "$work" && GOCACHE=$cache GO111MODULE=off go build -o "$prog" "$src") ||
        exit 1
    ;;
*.py)
    [ -x "$py" ] || skip "$py"
    if grep -q '^import uvloop' "$src"; then
        "$py" -c 'import uvloop' 2>/dev/null || skip "python3-uvloop"
    fi
    ;;
*.sh) ;;
*)
    echo "peer_smoke: what is $src?" >&2
    exit 2
    ;;
esac
"$driver" --smoke --server "$prog"
