#!/bin/sh
# SPDX-License-Identifier: MIT
# Drive examples/http_server with clients nobody here wrote (curl, wrk,
# socat from Debian), then with examples/fetch: keep-alive reuse, HTTP/1.0,
# pipelining, large streamed bodies, echoed request bodies, the header-size
# and idle limits, bad requests, a flood of 1,000 connections dropped at
# once (some mid-request, some mid-response), running out of descriptors,
# and the graceful stops (SIGTERM, SIGINT, --conns). Each check prints a
# line; any failure fails the test.
#   http_clients.sh HTTP_SERVER FETCH
set -eu
server=$1
fetch=$2
for tool in curl wrk socat python3; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "http_clients.sh: $tool is missing (scripts/deps.sh test)" >&2
        exit 77 # skipped
    fi
done
dir=$(mktemp -d)
spid=""
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
fail=0
ok() { echo "ok: $*"; }
bad() {
    echo "FAIL: $*" >&2
    fail=1
}

# start NAME ARGS...: run the server in the background; sets spid and port.
start() {
    name=$1
    shift
    # created first: sed below may run before the background job opens them
    : >"$dir/$name.out"
    : >"$dir/$name.err"
    "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
    spid=$!
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$dir/$name.out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        echo "http_clients.sh: the server did not start; its output:" >&2
        cat "$dir/$name.out" "$dir/$name.err" >&2
        exit 1
    fi
}
# finish NAME: wait for the server to exit 0.
finish() {
    if wait "$spid"; then ok "$1: exit status 0"; else bad "$1: exit status $?"; fi
    spid=""
}

start main "$server" --port 0 --idle 1500 --max-header 4096 --grace 1000
url="http://127.0.0.1:$port"

# --- keep-alive: two URLs on one curl command share the connection --------
curl -sv "$url/" "$url/stats" >"$dir/ka.body" 2>"$dir/ka.err"
if grep -q "Re-using existing connection" "$dir/ka.err" &&
    grep -q "^hello, world$" "$dir/ka.body" &&
    grep -q "^connections 1$" "$dir/ka.body"; then
    ok "keep-alive: curl reused the connection for its second URL"
else
    bad "keep-alive"
    cat "$dir/ka.err" "$dir/ka.body" >&2
fi

# --- HTTP/1.0: closed after the answer unless keep-alive is asked for ------
curl -sv --http1.0 "$url/" >/dev/null 2>"$dir/h10.err"
if grep -q "< Connection: close" "$dir/h10.err"; then
    ok "HTTP/1.0: Connection: close"
else
    bad "HTTP/1.0 close"
fi
printf 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /stats HTTP/1.0\r\n\r\n' |
    socat -t 5 - "TCP:127.0.0.1:$port" >"$dir/h10ka.out"
if [ "$(grep -c '^HTTP/1.1 200' "$dir/h10ka.out")" -eq 2 ] &&
    grep -q "^Connection: keep-alive" "$dir/h10ka.out" &&
    grep -q "^Connection: close" "$dir/h10ka.out"; then
    ok "HTTP/1.0 keep-alive: two answers, then close"
else
    bad "HTTP/1.0 keep-alive"
    cat "$dir/h10ka.out" >&2
fi

# --- pipelining: several requests in one write, answered in order ----------
printf 'GET /delay?ms=300 HTTP/1.1\r\nHost: x\r\n\r\nGET /delay?ms=0 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcdeGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /delay?ms=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
    >"$dir/pipe.in"
socat -t 5 -T 10 - "TCP:127.0.0.1:$port" <"$dir/pipe.in" >"$dir/pipe.out"
tr -d '\r' <"$dir/pipe.out" | grep -E '^(HTTP/1.1|slept|abcde)' >"$dir/pipe.got" || true
cat >"$dir/pipe.want" <<'EOF'
HTTP/1.1 200 OK
slept 300 ms
HTTP/1.1 200 OK
slept 0 ms
HTTP/1.1 200 OK
abcdeHTTP/1.1 404 Not Found
HTTP/1.1 200 OK
slept 100 ms
EOF
if cmp -s "$dir/pipe.got" "$dir/pipe.want"; then
    ok "pipelining: 5 requests in one write (one with a body), 5 answers in order"
else
    bad "pipelining"
    cat "$dir/pipe.out" >&2
fi

# --- a large streamed body, with Content-Length and chunked ----------------
want=$(yes abcdefghijklmnopqrstuvwxy | head -c 50000000 | cksum)
got=$(curl -s "$url/stream?bytes=50000000" | cksum)
[ "$got" = "$want" ] && ok "stream: 50 MB body, cksum $got" || bad "stream: $got != $want"
want=$(yes abcdefghijklmnopqrstuvwxy | head -c 20000001 | cksum)
got=$(curl -s "$url/stream?bytes=20000001&chunked=1" | cksum)
[ "$got" = "$want" ] && ok "stream: 20 MB chunked body, cksum $got" || bad "chunked stream: $got != $want"
# A slow reader holds a large response back (drain waits) without holding
# back another client.
curl -s --limit-rate 2M -o "$dir/slow.out" "$url/stream?bytes=4000000" &
slowpid=$!
sleep 0.3
t0=$(date +%s%N)
curl -s --max-time 2 "$url/" >/dev/null || bad "a request during a slow download"
t1=$(date +%s%N)
wait $slowpid || bad "the slow download"
[ "$(wc -c <"$dir/slow.out")" -eq 4000000 ] &&
    ok "back-pressure: a 2 MB/s reader got its 4 MB; another request meanwhile took $(((t1 - t0) / 1000000)) ms" ||
    bad "slow download: $(wc -c <"$dir/slow.out") bytes"

# --- request bodies echoed: Content-Length (Expect: 100-continue) and chunked
head -c 3000000 /dev/urandom >"$dir/body"
curl -s --data-binary @"$dir/body" "$url/echo" | cmp -s - "$dir/body" &&
    ok "echo: a 3 MB Content-Length body (Expect: 100-continue)" || bad "echo"
curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$dir/body" "$url/echo" |
    cmp -s - "$dir/body" && ok "echo: a 3 MB chunked body" || bad "chunked echo"

# --- status codes -----------------------------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
big=$(head -c 6000 /dev/zero | tr '\0' a)
[ "$(code "$url/nope")" = 404 ] && ok "404 for an unknown path" || bad 404
[ "$(code -X DELETE "$url/")" = 405 ] && ok "405 for DELETE /" || bad 405
[ "$(code -H "X-Big: $big" "$url/")" = 431 ] &&
    ok "431 for a 6 KB header (--max-header 4096)" || bad 431
[ "$(code "$url/stream?bytes=x")" = 400 ] && ok "400 for a bad query" || bad "400 query"
raw() { printf "$1" | socat -t 3 - "TCP:127.0.0.1:$port" 2>/dev/null | head -1 | tr -d '\r'; }
for c in 'GET / HTTP/1.1\r\nBad Header: x\r\n\r\n|HTTP/1.1 400 Bad Request' \
    'GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n|HTTP/1.1 400 Bad Request' \
    'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n|HTTP/1.1 400 Bad Request' \
    'GET / HTTP/1.1\r\n\r\n|HTTP/1.1 400 Bad Request' \
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n|HTTP/1.1 400 Bad Request' \
    'GET / HTTP/2.0\r\n\r\n|HTTP/1.1 505 HTTP Version Not Supported' \
    'POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n|HTTP/1.1 501 Not Implemented' \
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n|HTTP/1.1 400 Bad Request' \
    'GET /\r\n\r\n|HTTP/1.1 400 Bad Request'; do
    req=${c%|*}
    want=${c#*|}
    got=$(raw "$req")
    [ "$got" = "$want" ] && ok "raw request: $want" || bad "raw $req: got '$got'"
done

# --- wrk: 2 s, 4 connections, no socket errors, no non-2xx -----------------
wrk -t 1 -c 4 -d 2s "$url/" >"$dir/wrk.out" 2>&1 || bad "wrk exit status"
reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$dir/wrk.out")
if [ -n "$reqs" ] && [ "$reqs" -gt 100 ] &&
    ! grep -qE "Socket errors|Non-2xx" "$dir/wrk.out"; then
    ok "wrk: $reqs requests in 2 s, no socket errors, all 2xx ($(sed -n 's/^Requests\/sec: *//p' "$dir/wrk.out") req/s)"
else
    bad "wrk"
    cat "$dir/wrk.out" >&2
fi

# --- a client that sends one byte per second is closed by the idle limit ---
t0=$(date +%s)
(for _ in 1 2 3 4 5 6 7 8 9 10; do
    printf 'G'
    sleep 1
done) 2>/dev/null | socat -t 0.2 - "TCP:127.0.0.1:$port" >"$dir/slow1.out" 2>/dev/null || true
t1=$(date +%s)
if grep -q "^HTTP/1.1 408" "$dir/slow1.out" && [ $((t1 - t0)) -le 5 ]; then
    ok "idle: a one-byte-a-second client got 408 and was closed after $((t1 - t0)) s (idle 1.5 s)"
else
    bad "idle: $((t1 - t0)) s, answer: $(head -1 "$dir/slow1.out")"
fi

# --- 1,000 connections opened, then dropped at once -------------------------
# A third send nothing, a third half a request head, a third ask for 10 MB
# and do not read it; then all are reset (SO_LINGER 0) together. On a
# server of its own whose idle limit (30 s) no reset can lose a race
# with, however far behind a loaded machine or the stress build (one
# event per poll: due timers go first) leaves it: none of its requests
# may count as timed out.
mspid=$spid
mport=$port
start flood "$server" --port 0 --idle 30000 --grace 1000
python3 - "$port" <<'EOF' || bad "the flood client"
import socket, struct, sys, time
port = int(sys.argv[1])
socks = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if i % 3 == 1:
        s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nX-Half: ")
    elif i % 3 == 2:
        s.sendall(b"GET /stream?bytes=10000000 HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
time.sleep(0.5)
for s in socks:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
EOF
conns=""
for _ in $(seq 100); do
    conns=$(curl -s --max-time 2 "http://127.0.0.1:$port/stats" | sed -n 's/^connections //p')
    [ "$conns" = 1 ] && break
    sleep 0.1
done
[ "$conns" = 1 ] &&
    ok "flood: 1,000 connections reset at once; the server still answers, with 1 connection open" ||
    bad "flood: the server has '$conns' connections open"
kill -TERM "$spid"
finish "flood server SIGTERM"
grep -q "(0 timed out, 0 heads too large, 0 bad)" "$dir/flood.out" ||
    bad "the flood server's counts: $(tail -1 "$dir/flood.out")"
spid=$mspid
port=$mport

# --- examples/fetch: concurrent fetches, per-request timeouts ---------------
# The CRC-32s are zlib's of the bodies the server sends (the stream pattern,
# "hello, world\n" ...): python3 -c 'import zlib; print(hex(zlib.crc32(b)))'.
"$fetch" --concurrency 8 --timeout 1500 \
    "$url/" "$url/stream?bytes=1000000" "$url/stream?bytes=300000&chunked=1" \
    "$url/delay?ms=50" "$url/delay?ms=4000" "$url/nope" "$url/delay?ms=5000" \
    "$url/stream?bytes=26" "$url/echo" "http://127.0.0.1:1/" "ftp://x" \
    >"$dir/fetch.out" 2>&1 || bad "fetch exit status $?"
cat >"$dir/fetch.want" <<'EOF'
GET /                                  200       13 bytes  crc f4247453
GET /stream?bytes=1000000              200  1000000 bytes  crc dc1eefff
GET /stream?bytes=300000&chunked=1     200   300000 bytes  crc 5287500b
GET /delay?ms=50                       200       12 bytes  crc a369217d
GET /delay?ms=4000                     timeout after 1500 ms
GET /nope                              404       10 bytes  crc 72fa49d4
GET /delay?ms=5000                     timeout after 1500 ms
GET /stream?bytes=26                   200       26 bytes  crc 1c222181
GET /echo                              405        4 bytes  crc 38827ed2
GET /                                  Connection refused
GET ftp://x                            not an http:// URL
11 URLs: 7 answered (5 of them 200), 2 timed out, 2 failed
EOF
if cmp -s "$dir/fetch.out" "$dir/fetch.want"; then
    ok "fetch: 11 URLs, 8 at a time, 1.5 s each: the expected report"
else
    bad "fetch output:"
    diff "$dir/fetch.want" "$dir/fetch.out" >&2 || true
fi
# 300 URLs, 16 at a time.
urls=$(seq 300 | sed "s|.*|$url/stream?bytes=&000|")
# shellcheck disable=SC2086
"$fetch" --concurrency 16 --timeout 60000 $urls >"$dir/fetch300.out" 2>&1 ||
    bad "fetch (300) exit status"
summary=$(tail -1 "$dir/fetch300.out")
[ "$summary" = "300 URLs: 300 answered (300 of them 200), 0 timed out, 0 failed" ] &&
    ok "fetch: 300 URLs, 16 at a time: $summary" || bad "fetch (300): $summary"
# The bound holds: 4 fetches of 300 ms each take >= 600 ms 2 at a time.
t0=$(date +%s%N)
"$fetch" --concurrency 2 "$url/delay?ms=300" "$url/delay?ms=300" \
    "$url/delay?ms=300" "$url/delay?ms=300" >/dev/null
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -ge 600 ] &&
    ok "fetch: 4 x 300 ms, 2 at a time, took $(((t1 - t0) / 1000000)) ms" ||
    bad "fetch: --concurrency 2 took $(((t1 - t0) / 1000000)) ms"

kill -TERM "$spid"
finish "SIGTERM"
grep -q "^SIGTERM: stopping$" "$dir/main.out" || bad "no SIGTERM line"
sed -n 's/^served/ok: served/p' "$dir/main.out"
grep -q "(1 timed out, 1 heads too large" "$dir/main.out" ||
    bad "the server's counts: $(tail -1 "$dir/main.out")"

# --- out of descriptors: accept fails with EMFILE, is backed off, survived --
(
    ulimit -n 40
    exec "$server" --port 0 --idle 2000 --grace 0
) >"$dir/fd.out" 2>"$dir/fd.err" &
spid=$!
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$dir/fd.out")
    [ -n "$port" ] && break
    sleep 0.05
done
python3 - "$port" <<'EOF' || bad "the descriptor-exhausting client"
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(80)]
time.sleep(0.5)
for s in socks:
    s.close()
EOF
got=""
for _ in $(seq 50); do
    got=$(curl -s --max-time 2 "http://127.0.0.1:$port/" || true)
    [ "$got" = "hello, world" ] && break
    sleep 0.1
done
[ "$got" = "hello, world" ] &&
    ok "out of descriptors (ulimit -n 40, 80 clients): the server recovered and answers" ||
    bad "out of descriptors: no answer after the clients left"
grep -qi "too many open files" "$dir/fd.err" && ok "EMFILE was reported" ||
    bad "EMFILE was not reported: $(cat "$dir/fd.err")"
kill -TERM "$spid"
finish "SIGTERM with few descriptors"

# --- invalid addresses and ports: errors, not crashes ----------------------
for a in "--port 70000" "--port abc" "--port -5" "--idle 0"; do
    # shellcheck disable=SC2086
    if "$server" $a >/dev/null 2>"$dir/inv.err"; then
        bad "http_server $a started"
    else
        st=$?
        [ $st -le 2 ] && ok "http_server $a: exit status $st, $(head -1 "$dir/inv.err")" ||
            bad "http_server $a: exit status $st"
    fi
done
"$fetch" --timeout 2000 http://127.0.0.1:99999/ http://127.0.0.1:-1/x \
    "http://127.0.0.1:/x" "http://" "http://127.0.0.1:0/" >"$dir/inv.out" 2>&1 ||
    bad "fetch of invalid URLs: exit status $?"
[ "$(tail -1 "$dir/inv.out")" = "5 URLs: 0 answered (0 of them 200), 0 timed out, 5 failed" ] &&
    ok "fetch: 5 invalid URLs or ports, each an error" ||
    bad "fetch of invalid URLs: $(cat "$dir/inv.out")"

# --- SIGINT (tulip_run's Ctrl-C) and --conns stop gracefully too ------------
# A background job starts with SIGINT ignored, which tulip_run respects:
# env (coreutils 9) gives it back its default disposition.
if env --default-signal=INT true 2>/dev/null; then
    start sigint env --default-signal=INT "$server" --port 0
    curl -s "http://127.0.0.1:$port/" >/dev/null
    kill -INT "$spid"
    finish "SIGINT"
    grep -q "^SIGINT: stopping$" "$dir/sigint.out" || bad "no SIGINT line"
else
    echo "skipped: SIGINT (env has no --default-signal)"
fi
start conns "$server" --port 0 --conns 3
for _ in 1 2 3; do curl -s "http://127.0.0.1:$port/" >/dev/null; done
finish "--conns 3"
grep -q "^served 3 connections, 3 requests" "$dir/conns.out" || bad "--conns: $(cat "$dir/conns.out")"

[ $fail -eq 0 ] && echo "http_clients.sh: every check passed"
exit $fail
