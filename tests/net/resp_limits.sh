#!/bin/sh
# SPDX-License-Identifier: MIT
# The remaining bad-input targets against examples/resp_server: a client
# that trickles a request one byte a second is closed by --idle-ms while
# another is served; running out of file descriptors (ulimit -n 40) is
# reported, survived, and the server accepts again once fds are free, the
# connections it holds answering all along; invalid addresses and ports
# make it exit 1 with a message, not crash.
#   resp_limits.sh RESP_SERVER
set -eu
. "$(dirname "$0")/common.sh"
need_tools redis-cli python3

# Invalid addresses and ports: a clean error exit each time.
for args in "--port 99999" "--port -1" "--port abc" "--host 256.1.1.1" \
    "--host ::1::2" "--max-bulk 0" "--bogus"; do
    st=0
    # shellcheck disable=SC2086
    timeout $((10 * mult)) "$1" $args >"$dir/bad.out" 2>&1 || st=$?
    case $st in
    1 | 2) ;;
    *) fail "resp_server $args: exit status $st: $(head -c 200 "$dir/bad.out")" ;;
    esac
done

start_server sh -c 'ulimit -n 40 && exec "$0" "$@"' "$1" --idle-ms $((1500 * mult))

cli() {
    timeout $((10 * mult)) redis-cli -p "$port" --raw "$@" 2>&1
}

python3 - "$port" "$mult" <<'PY' || fail "the python3 client failed"
import socket, sys, time
port, mult = int(sys.argv[1]), int(sys.argv[2])
addr = ("127.0.0.1", port)

def ask(s, req, want):
    s.sendall(req)
    got = b""
    while len(got) < len(want):
        d = s.recv(4096)
        if not d:
            break
        got += d
    assert got == want, (req, got)

# A trickling client is closed after --idle-ms without a whole request,
# while a client that works is served and kept (it sends a request more
# often than the idle limit).
t = socket.create_connection(addr)
w = socket.create_connection(addr)
t0 = time.time()
closed = None
for b in b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n":
    try:
        t.sendall(bytes([b]))
    except OSError:
        closed = time.time() - t0
        break
    ask(w, b"PING\r\n", b"+PONG\r\n")
    t.settimeout(0.5)
    try:
        if t.recv(100) == b"":
            closed = time.time() - t0
            break
    except socket.timeout:
        pass
    except OSError:
        closed = time.time() - t0
        break
assert closed is not None, "the trickling client was never closed"
assert 1.0 <= closed <= 6.0 * mult, closed
print("resp_limits.sh: the trickling client was closed after %.1f s" % closed)
ask(w, b"PING\r\n", b"+PONG\r\n")

# Out of fds: hold 60 connections (the server has 40 fds); the ones it
# accepted answer; after most are closed, new ones are served again.
held = []
for i in range(60):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(addr)
    held.append(s)
time.sleep(1.0 * mult)
ask(w, b"PING\r\n", b"+PONG\r\n")
for s in held:
    s.close()
deadline = time.time() + 10 * mult
while True:
    try:
        s = socket.create_connection(addr, timeout=2)
        ask(s, b"PING\r\n", b"+PONG\r\n")
        s.close()
        break
    except (OSError, AssertionError):
        if time.time() > deadline:
            raise
        time.sleep(0.2)
ask(w, b"PING\r\n", b"+PONG\r\n")
w.close()
PY

[ "$(cli PING)" = PONG ] || fail "PING at the end: $(cli PING)"
# Running out of fds is reported (once per episode); nothing else may be.
grep -v -e 'Too many open files' -e 'EMFILE' "$dir/server.err" >"$dir/other.err" || true
grep -q -e 'Too many open files' -e 'EMFILE' "$dir/server.err" ||
    fail "running out of fds was not reported: $(head -c 300 "$dir/server.err")"
mv "$dir/other.err" "$dir/server.err"
stop_server
finish
