# SPDX-License-Identifier: MIT
# Shared by the tests/net/*.sh scripts (sourced, POSIX sh): tool checks, a
# scratch directory, and starting an example server on a free port.
#   need_tools TOOL...        exit 77 (skipped) if one is missing
#   start_server EXE ARGS...  run it in the background (pid in $spid,
#                             output in $dir/server.out), set $port from
#                             its "listening on port N" line; with
#                             sigint=1, SIGINT's default disposition is
#                             restored for it first (python3), since sh
#                             makes background jobs ignore SIGINT
#   stop_server [SIGNAL]      TERM (the default) or INT; the server must
#                             exit 0 within 10 s and write no stderr
#   fail MESSAGE              report a failure (the script goes on)
#   finish                    exit 1 if anything failed, else 0
# Times scale with TULIP_TEST_TIMEOUT_MULTIPLIER (as the C tests' do): $mult.
set -eu
name=$(basename "$0")
mult=${TULIP_TEST_TIMEOUT_MULTIPLIER:-1}
failed=0
spid=""
dir=$(mktemp -d)
trap 'if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; fi; [ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"' EXIT

need_tools() {
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$name: $tool is missing (scripts/deps.sh test)" >&2
            exit 77 # skipped
        fi
    done
}

fail() {
    echo "$name: FAIL: $*" >&2
    failed=1
}

start_server() {
    # Made here: the background job may not have opened them yet when the
    # loop below first reads.
    : >"$dir/server.out"
    : >"$dir/server.err"
    if [ "${sigint:-0}" = 1 ]; then
        python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$@" --port 0 \
            >"$dir/server.out" 2>"$dir/server.err" &
    else
        "$@" --port 0 >"$dir/server.out" 2>"$dir/server.err" &
    fi
    spid=$!
    port=""
    for _ in $(seq 200); do
        port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$dir/server.out")
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "$name: the server did not start; its output:" >&2
    cat "$dir/server.out" "$dir/server.err" >&2
    exit 1
}

stop_server() {
    kill -"${1:-TERM}" "$spid"
    i=0
    while kill -0 "$spid" 2>/dev/null && [ $i -lt $((100 * mult)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$spid" 2>/dev/null; then
        fail "the server did not exit within 10 s of SIG${1:-TERM}"
        kill -KILL "$spid"
    fi
    st=0
    wait "$spid" || st=$?
    spid=""
    [ $st -eq 0 ] || fail "server exit status $st after SIG${1:-TERM}"
    if [ -s "$dir/server.err" ]; then
        fail "the server wrote to stderr:"
        head -20 "$dir/server.err" >&2
    fi
}

finish() {
    [ $failed -eq 0 ] && echo "$name: ok"
    exit $failed
}
