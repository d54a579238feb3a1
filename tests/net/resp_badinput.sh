#!/bin/sh
# SPDX-License-Identifier: MIT
# Bad input against examples/resp_server, while redis-benchmark keeps a
# well-behaved load going: requests over each limit (bulk length, array
# size, inline line, whole request), malformed requests (each answered with
# Redis's exact protocol error, then the connection is closed), peers that
# reset mid-request and mid-write, garbage, and 1,000 connections opened
# and dropped at once. The server must stay small, keep answering, lose
# none of the benchmark's requests, and shut down cleanly.
#   resp_badinput.sh RESP_SERVER
set -eu
. "$(dirname "$0")/common.sh"
need_tools redis-cli redis-benchmark nc python3
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null || true
start_server "$1" --max-bulk 1000 --max-args 8 --max-query 4096

cli() {
    timeout $((10 * mult)) redis-cli -p "$port" --raw "$@" 2>&1
}

# A well-behaved client all along: every INCR must land.
timeout $((60 * mult)) redis-benchmark -p "$port" -c 5 -n 20000 -t incr -q \
    >"$dir/bench.out" 2>&1 &
bpid=$!

# expect_error REPLY: send stdin, expect "-ERR REPLY\r\n" and a close.
expect_error() {
    printf -- '-ERR %s\r\n' "$1" >"$dir/want"
    timeout $((10 * mult)) nc -N 127.0.0.1 "$port" >"$dir/got" || true
    cmp -s "$dir/want" "$dir/got" ||
        fail "expected [$1], got [$(head -c 200 "$dir/got")]"
}
printf '*2\r\n$3\r\nGET\r\n$1001\r\n' |
    expect_error "Protocol error: invalid bulk length"
printf '*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n' |
    expect_error "Protocol error: invalid bulk length"
printf '*1\r\n$-1\r\n' | expect_error "Protocol error: invalid bulk length"
printf '*9\r\n' | expect_error "Protocol error: invalid multibulk length"
printf '*2147483648\r\n' |
    expect_error "Protocol error: invalid multibulk length"
printf '*x\r\n' | expect_error "Protocol error: invalid multibulk length"
printf '*1\r\nGET\r\n' | expect_error "Protocol error: expected '\$'"
printf '*1\r\n$4\r\nPINGxx' |
    expect_error "Protocol error: expected CRLF after bulk"
printf '*1\r\n$%0100d\r\n' 1 |
    expect_error "Protocol error: too big bulk count string"
head -c 70000 /dev/zero | tr '\0' a |
    expect_error "Protocol error: too big inline request"
printf 'SET "a b\r\n' |
    expect_error "Protocol error: unbalanced quotes in request"
{
    printf '*8\r\n'
    for _ in 1 2 3 4 5 6 7 8; do
        printf '$1000\r\n%01000d\r\n' 0
    done
} | expect_error "Protocol error: request over 4096 bytes"
# What came before an error is answered first.
printf 'PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$1001\r\n' >"$dir/in"
printf '+PONG\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n' >"$dir/want"
timeout $((10 * mult)) nc -N 127.0.0.1 "$port" <"$dir/in" >"$dir/got" || true
cmp -s "$dir/want" "$dir/got" || fail "replies before an error: $(od -c "$dir/got" | head -3)"

[ "$(cli SET big "$(printf '%01000d' 7)")" = OK ] || fail "SET big"

# Resets mid-request and mid-write, garbage, half-closes, and 1000
# connections at once (python3 for SO_LINGER 0, which makes close send
# RST; the server's side sees ECONNRESET).
python3 - "$port" "$mult" <<'PY' || fail "the python3 client failed"
import os, resource, socket, struct, sys, time
port, mult = int(sys.argv[1]), int(sys.argv[2])
addr = ("127.0.0.1", port)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))

def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

def connect():
    s = socket.create_connection(addr, timeout=10 * mult)
    return s

# Reset in the middle of a request (the server waits for the bulk).
for i in range(50):
    s = connect()
    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$900\r\nabc")
    rst(s)
# Reset while the server writes: 3.5 MB of pipelined replies unread.
for i in range(20):
    s = connect()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"MGET big big big big big big big\r\n" * 500)
    time.sleep(0.01)
    rst(s)
# Half-closed peers get their replies, then the server closes.
for i in range(20):
    s = connect()
    s.sendall(b"PING\r\nECHO hello\r\n")
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    assert data == b"+PONG\r\n$5\r\nhello\r\n", data
    s.close()
# Garbage: the server answers or closes, and never hangs.
for i in range(20):
    s = connect()
    try:
        s.sendall(os.urandom(65536))
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    s.close()
# 1000 connections opened at once, then dropped at once: half reset,
# half closed, half of each with a request the server answers to no one.
socks = []
for i in range(1000):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(addr)
    socks.append(s)
time.sleep(0.5 * mult)
for i, s in enumerate(socks):
    if i % 4 < 2:
        try:
            s.send(b"PING\r\n")
        except OSError:
            pass
for i, s in enumerate(socks):
    if i % 2:
        rst(s)
    else:
        s.close()
PY

# Still answering, and nothing leaked into memory.
[ "$(cli PING)" = PONG ] || fail "PING after the abuse: $(cli PING)"
[ "$(cli STRLEN big)" = 1000 ] || fail "the big key after the abuse"
st=0
wait "$bpid" || st=$?
[ $st -eq 0 ] || { fail "redis-benchmark alongside: status $st"; cat "$dir/bench.out" >&2; }
[ "$(cli GET counter:__rand_int__)" = 20000 ] ||
    fail "INCRs alongside: $(cli GET counter:__rand_int__) of 20000"
rss=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\) kB/\1/p' "/proc/$spid/status" 2>/dev/null || echo 0)
echo "$name: the server's peak RSS: ${rss} kB"
[ "${rss:-0}" -lt 131072 ] || fail "the server's peak RSS is $rss kB"
stop_server
grep -q '^shutdown (SIGTERM): ' "$dir/server.out" || fail "no shutdown line"
sed -n 's/^shutdown/server: shutdown/p' "$dir/server.out"
finish
