#!/bin/sh
# SPDX-License-Identifier: MIT
# Bad input against examples/chat_server while two clients keep talking
# (every line of the talker must reach the listener): peers that reset
# mid-line and while the server writes to them, half-closed peers (they
# still get what was queued for them), binary garbage, overlong lines,
# 1,000 connections opened and dropped at once, running out of file
# descriptors (ulimit -n 40); invalid addresses and ports exit 1 cleanly.
#   chat_badinput.sh CHAT_SERVER
set -eu
. "$(dirname "$0")/common.sh"
need_tools python3

for args in "--port 99999" "--port abc" "--host 256.1.1.1" "--queue 0" \
    "--bogus"; do
    st=0
    # shellcheck disable=SC2086
    timeout $((10 * mult)) "$1" $args >"$dir/bad.out" 2>&1 || st=$?
    case $st in
    1 | 2) ;;
    *) fail "chat_server $args: exit status $st: $(head -c 200 "$dir/bad.out")" ;;
    esac
done

start_server sh -c 'ulimit -n 40 && exec "$0" "$@"' "$1" --max-line 512

python3 - "$port" "$mult" <<'PY' || fail "the python3 client failed"
import os, socket, struct, sys, threading, time
port, mult = int(sys.argv[1]), int(sys.argv[2])
addr = ("127.0.0.1", port)

def conn(name):
    s = socket.create_connection(addr, timeout=10 * mult)
    s.sendall(name + b"\n")
    return s

def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

def read_until(s, needle):
    got = b""
    while needle not in got:
        d = s.recv(65536)
        if not d:
            break
        got += d
    return got

listener = conn(b"listener")
read_until(listener, b"* welcome listener")
talker = conn(b"talker")
read_until(listener, b"* talker joined\n")
n = 0

def say():
    global n
    talker.sendall(b"line %d\n" % n)
    n += 1

# Resets mid-line, and while lines are being sent to them.
for i in range(20):
    s = conn(b"r%d" % i)
    s.sendall(b"half a li")
    rst(s)
    say()
for i in range(10):
    s = conn(b"w%d" % i)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    for k in range(20):
        say()
    rst(s)
# Half-closed peers get what is queued for them, then the server closes.
for i in range(10):
    s = conn(b"h%d" % i)
    s.shutdown(socket.SHUT_WR)
    got = read_until(s, b"\x00never")
    assert got.startswith(b"* welcome to tulip chat"), got
    s.close()
    say()
# Garbage: binary bytes, an overlong line; the server copes or closes.
for i in range(10):
    s = conn(b"g%d" % i)
    try:
        s.sendall(os.urandom(4096))
        s.sendall(b"x" * 2000 + b"\n")
        s.shutdown(socket.SHUT_WR)
        read_until(s, b"\x00never")
    except OSError:
        pass
    s.close()
    say()
# 1000 connections at once (the server has 40 fds), dropped at once.
many = []
for i in range(1000):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(addr)
    many.append(s)
time.sleep(0.5 * mult)
for i, s in enumerate(many):
    if i % 2:
        rst(s)
    else:
        s.close()
for k in range(50):
    say()
# Every line of the talker reached the listener, in order.
got = read_until(listener, b"<talker> line %d\n" % (n - 1))
lines = [l for l in got.split(b"\n") if l.startswith(b"<talker> ")]
assert lines == [b"<talker> line %d" % k for k in range(n)], lines[-3:]
# A new client can still join after the fd storm.
deadline = time.time() + 10 * mult
while True:
    try:
        s = conn(b"late")
        if b"* welcome late" in read_until(s, b"* welcome late"):
            break
    except OSError:
        pass
    if time.time() > deadline:
        raise SystemExit("no new client could join after the storm")
    time.sleep(0.3)
s.close()
print("chat_badinput.sh: %d lines reached the listener through it all" % n)
listener.close()
talker.close()
PY

grep -v -e 'Too many open files' -e 'EMFILE' "$dir/server.err" >"$dir/other.err" || true
mv "$dir/other.err" "$dir/server.err"
stop_server
finish
