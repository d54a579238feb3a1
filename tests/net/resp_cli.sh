#!/bin/sh
# SPDX-License-Identifier: MIT
# Drive examples/resp_server with redis-cli (Debian's redis-tools): every
# command's reply checked exactly, errors included; expiry in real time
# (lazy and by the sweep task); binary-safe keys and values; pipelining
# with redis-cli --pipe and with raw bytes through nc, replies in order;
# SIGINT shuts it down gracefully.
#   resp_cli.sh RESP_SERVER
set -eu
. "$(dirname "$0")/common.sh"
need_tools redis-cli nc python3
sigint=1 start_server "$1" --sweep-ms 50

cli() {
    timeout $((10 * mult)) redis-cli -p "$port" --no-raw "$@" 2>&1
}

# check EXPECTED ARGS...: the reply to one command, as redis-cli shows it.
check() {
    want=$1
    shift
    got=$(cli "$@") || true
    [ "$got" = "$want" ] || fail "$*: expected [$want], got [$got]"
}

wrong() {
    echo "(error) ERR wrong number of arguments for '$1' command"
}
notint="(error) ERR value is not an integer or out of range"

check PONG PING
check '"hello"' PING hello
check "$(wrong ping)" PING a b
check '"hi there"' ECHO "hi there"
check "$(wrong echo)" ECHO
check "$(wrong echo)" ECHO a b
check OK SET foo bar
check '"bar"' GET foo
check '"bar"' gEt foo
check '(nil)' GET missing
check "$(wrong get)" GET
check OK SET foo baz XX
check '(nil)' SET foo x NX
check '(nil)' SET new v XX
check OK SET new v NX
check '"baz"' SET foo v2 GET
check '(nil)' SET fresh v GET
check "(error) ERR invalid expire time in 'set' command" SET k v EX 0
check "(error) ERR invalid expire time in 'set' command" SET k v PX -5
check "(error) ERR invalid expire time in 'set' command" SET k v EX 9223372036854775807
check "$notint" SET k v EX abc
check "$notint" SET k v PX 1.5
check "(error) ERR syntax error" SET k v NX XX
check "(error) ERR syntax error" SET k v EX 10 PX 100
check "(error) ERR syntax error" SET k v EX
check "(error) ERR syntax error" SET k v BOGUS
check "$(wrong set)" SET k
check '(integer) 2' DEL foo new missing
check '(integer) 0' DEL foo
check "$(wrong del)" DEL
check '(integer) 1' INCR ctr
check '(integer) 2' INCR ctr
check '(integer) 12' INCRBY ctr 10
check '(integer) 11' DECR ctr
check '(integer) -9' DECRBY ctr 20
check "$notint" INCRBY ctr x
check "$(wrong incr)" INCR
check "$(wrong incr)" INCR a b
check OK SET s abc
check "$notint" INCR s
check OK SET s " 1"
check "$notint" INCR s
check OK SET s 01
check "$notint" INCR s
check OK SET s ""
check "$notint" INCR s
check OK SET s 9223372036854775807
check "(error) ERR increment or decrement would overflow" INCR s
check OK SET s -9223372036854775808
check "(error) ERR increment or decrement would overflow" DECR s
check "(error) ERR decrement would overflow" DECRBY ctr -9223372036854775808
check '"-9223372036854775808"' GET s
check "1) \"-9\"
2) (nil)
3) \"-9223372036854775808\"" MGET ctr missing s
check "$(wrong mget)" MGET
check '(integer) 0' EXPIRE missing 10
check OK SET e v
check '(integer) -1' TTL e
check '(integer) 1' EXPIRE e 100
check '(integer) 100' TTL e
check '(integer) 0' EXPIRE e 50 GT
check '(integer) 1' EXPIRE e 200 GT
check '(integer) 0' EXPIRE e 10 NX
check '(integer) 1' EXPIRE e 10 XX LT
check '(integer) 10' TTL e
check "(error) ERR NX and XX, GT or LT options at the same time are not compatible" EXPIRE e 10 NX XX
check "(error) ERR GT and LT options at the same time are not compatible" EXPIRE e 10 GT LT
check "(error) ERR Unsupported option FOO" EXPIRE e 10 FOO
check "$notint" EXPIRE e abc
check "(error) ERR invalid expire time in 'expire' command" EXPIRE e 9223372036854775807
check "$(wrong expire)" EXPIRE e
check '(integer) 1' PERSIST e
check '(integer) -1' TTL e
check '(integer) -2' TTL missing
check '(integer) 1' EXPIRE e -1
check '(integer) 0' EXISTS e
check '(integer) 2' EXISTS ctr ctr
check "(error) ERR unknown command 'FOO', with args beginning with: 'a' 'b' " FOO a b
check "(error) ERR unknown command 'x', with args beginning with: " x

# Expiry in real time: a short PX is gone after a pause, a long one stays.
check OK SET short v PX 200
check OK SET long v PX $((20000 * mult))
check OK SET plain v
sleep $((1 * mult))
check '(nil)' GET short
check '"v"' GET long
pttl=$(cli PTTL long | sed 's/(integer) //')
[ "$pttl" -gt 0 ] && [ "$pttl" -le $((20000 * mult)) ] ||
    fail "PTTL long: $pttl"
check '(integer) 1' PEXPIRE long 100
sleep $((1 * mult))
check '(integer) 0' EXISTS long

# The sweep task deletes expired keys nobody touches: DBSIZE falls back.
base=$(cli DBSIZE | sed 's/(integer) //')
i=0
while [ $i -lt 500 ]; do
    printf 'SET sweep:%d v PX 100\r\n' $i
    i=$((i + 1))
done >"$dir/sweep.txt"
cli --pipe <"$dir/sweep.txt" | grep -q 'errors: 0, replies: 500' ||
    fail "--pipe of 500 SET PX"
i=0
while [ $i -lt $((50 * mult)) ]; do
    n=$(cli DBSIZE | sed 's/(integer) //')
    [ "$n" -eq "$base" ] && break
    sleep 0.1
    i=$((i + 1))
done
[ "$n" -eq "$base" ] || fail "the sweep left $((n - base)) expired keys"

# Binary-safe values (NUL, CR, LF, every byte) through -x and --raw.
head -c 100000 /dev/urandom >"$dir/bin"
printf 'a\0b\r\nc' >>"$dir/bin"
check OK -x SET binval <"$dir/bin"
timeout $((10 * mult)) redis-cli -p "$port" --raw GET binval >"$dir/bin.out"
head -c "$(wc -c <"$dir/bin")" "$dir/bin.out" | cmp -s - "$dir/bin" ||
    fail "the binary value came back different"
check "(integer) $(wc -c <"$dir/bin")" STRLEN binval

# Pipelining with --pipe: 10000 SETs and 10000 INCRs, all answered.
i=0
while [ $i -lt 10000 ]; do
    printf '*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\n%d\r\n' \
        $((4 + ${#i})) $i ${#i} $i
    printf 'INCR pipectr\r\n'
    i=$((i + 1))
done >"$dir/pipe.txt"
cli --pipe <"$dir/pipe.txt" >"$dir/pipe.out"
grep -q 'errors: 0, replies: 20000' "$dir/pipe.out" ||
    fail "--pipe: $(tail -1 "$dir/pipe.out")"
check '"10000"' GET pipectr
check '"9999"' GET key:9999

# Raw bytes through nc: arrays and inline commands in one write, a binary
# key, quoting; the replies must be exactly these bytes, in this order.
printf '*3\r\n$3\r\nSET\r\n$4\r\nk\0\r\n\r\n$3\r\nx\ny\r\nPING\r\n' >"$dir/raw"
printf 'set "q k" "a\\x41\\n\\"b"\r\nGET "q k"\r\n*2\r\n$3\r\nGET\r\n' >>"$dir/raw"
printf '$4\r\nk\0\r\n\r\n*0\r\n\r\nINCR "q k"\r\nmget "q k" nokey\r\n' >>"$dir/raw"
printf "echo 'it\\\\'s'\r\nQUIT\r\nPING\r\n" >>"$dir/raw"
printf '+OK\r\n+PONG\r\n+OK\r\n$5\r\naA\n"b\r\n$3\r\nx\ny\r\n' >"$dir/want"
printf -- '-ERR value is not an integer or out of range\r\n' >>"$dir/want"
printf '*2\r\n$5\r\naA\n"b\r\n$-1\r\n$4\r\nit'"'"'s\r\n+OK\r\n' >>"$dir/want"
timeout $((10 * mult)) nc -N 127.0.0.1 "$port" <"$dir/raw" >"$dir/got" || true
cmp -s "$dir/want" "$dir/got" || {
    fail "raw pipelined replies differ:"
    od -c "$dir/got" | head -20 >&2
}

# Ctrl-C: a graceful shutdown too.
stop_server INT
grep -q '^shutdown (SIGINT): ' "$dir/server.out" || fail "no shutdown line"
finish
