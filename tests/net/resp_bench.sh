#!/bin/sh
# SPDX-License-Identifier: MIT
# Load examples/resp_server with redis-benchmark (Debian's redis-tools),
# bounded in count: PING (inline and array), SET, GET, INCR and a 10-key
# MGET from 50 connections, one request at a time and pipelined 16 deep.
# redis-benchmark exits non-zero on the first error reply or lost
# connection; afterwards redis-cli checks what the requests did: the INCR
# counters hold exactly the number of INCRs sent (also spread over 100
# keys with -r), and the SET value (3 bytes) reads back.
#   resp_bench.sh RESP_SERVER [REQUESTS]
set -eu
. "$(dirname "$0")/common.sh"
need_tools redis-cli redis-benchmark
n=${2:-20000}
start_server "$1"

bench() {
    if ! timeout $((60 * mult)) redis-benchmark -p "$port" -c 50 -q "$@" \
        >"$dir/bench.out" 2>&1; then
        fail "redis-benchmark $*:"
        tail -c 600 "$dir/bench.out" >&2
    fi
    # Keep the final line of each test (the others are progress reports).
    tr '\r' '\n' <"$dir/bench.out" | grep 'requests per second' |
        sed "s/^/$name: $* :/" || true
}

cli() {
    timeout $((10 * mult)) redis-cli -p "$port" --raw "$@" 2>&1
}

bench -n "$n" -t ping,set,get,incr
bench -n "$n" -t ping,set,get,incr -P 16
bench -n "$n" MGET key:__rand_int__ a b c d e f g h i
bench -n "$n" -P 16 MGET key:__rand_int__ a b c d e f g h i
bench -n "$n" -r 100 -t incr -P 16

# Pipelined, redis-benchmark sends whole batches of 16: up to 15 more.
np=$(((n + 15) / 16 * 16))
[ "$(cli GET counter:__rand_int__)" = $((n + np)) ] ||
    fail "INCR counter: $(cli GET counter:__rand_int__), expected $((n + np))"
# redis-benchmark's SET value: 3 random bytes (-d 3).
[ "$(cli STRLEN key:__rand_int__)" = 3 ] ||
    fail "SET value: $(cli GET key:__rand_int__ | od -c | head -2)"
keys=""
i=0
while [ $i -lt 100 ]; do
    keys="$keys $(printf 'counter:%012d' $i)"
    i=$((i + 1))
done
# shellcheck disable=SC2086
sum=$(cli MGET $keys | awk '{ s += $1 } END { print s }')
[ "$sum" = "$np" ] || fail "INCR over 100 keys: the counters add up to $sum, not $np"

stop_server
sed -n 's/^shutdown/server: shutdown/p' "$dir/server.out"
finish
