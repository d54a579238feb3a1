#!/bin/sh
# SPDX-License-Identifier: MIT
# Drive examples/chat_server with socat clients:
#  1. three clients join, talk and leave: each receives the others' lines
#     and the join/leave notices, never its own lines;
#  2. a client that stops reading (socat with a 2 KiB receive buffer,
#     stopped with SIGSTOP; the server's send buffers are fixed at 16 KiB
#     so that the kernel cannot absorb it all) while a talker sends 3000
#     lines of 200 bytes: a normal listener still receives all of them
#     within a time bound, and the stalled client is disconnected once its
#     queue has stayed full for --stall-ms, as the server's header
#     documents ("* slow was disconnected (too slow)");
#  3. a taken name is refused, /nick renames;
#  4. a line over --max-line is answered "* line too long" and closed;
#  5. SIGTERM: the clients get "* server shutting down", exit status 0.
#   chat_socat.sh CHAT_SERVER
set -eu
. "$(dirname "$0")/common.sh"
need_tools socat
start_server "$1" --queue 16 --max-line 256 --sndbuf 16384 \
    --stall-ms $((1000 * mult))
lines=3000
# Input scripts that keep their client connected until the test ends.
hold="while [ ! -e '$dir/stop' ]; do sleep 0.2; done"

# client NAME SCRIPT: a socat client whose input is SCRIPT's output (run
# by sh), in the background; its output goes to $dir/NAME.out.
client() {
    sh -c "$2" | socat -t $((5 * mult)) - "TCP:127.0.0.1:$port" \
        >"$dir/$1.out" 2>/dev/null &
}

# wait_for FILE PATTERN [SECONDS]: until grep finds it, or fail.
wait_for() {
    i=0
    while ! grep -q -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt $((${3:-10} * 10 * mult)) ]; then
            fail "no [$2] in $(basename "$1") within ${3:-10} s"
            return 0
        fi
        sleep 0.1
    done
}

# 1. Three clients.
client alice 'echo alice; sleep 1; echo "hello from alice"; sleep 2'
wait_for "$dir/server.out" '^join alice$'
client bob 'echo bob; sleep 0.5; echo "hi, bob here"; echo /who; sleep 2'
wait_for "$dir/server.out" '^join bob$'
client carol 'echo carol; sleep 1.5; echo "carol says hi"; sleep 1'
wait_for "$dir/server.out" '^leave alice' 15
wait_for "$dir/server.out" '^leave bob' 15
wait_for "$dir/server.out" '^leave carol' 15
for who in alice bob carol; do
    for other in alice bob carol; do
        [ $who = $other ] && continue
        grep -q "^<$other> " "$dir/$who.out" ||
            fail "$who did not get $other's line"
    done
    grep -q "^<$who> " "$dir/$who.out" && fail "$who got its own line back"
done
grep -q '^\* bob joined$' "$dir/alice.out" || fail "alice: no join notice"
grep -q '^\* carol joined$' "$dir/alice.out" || fail "alice: no join notice"
first=$(sed -n 's/^leave \([a-z]*\) (left)$/\1/p' "$dir/server.out" | head -1)
for who in alice bob carol; do
    [ "$who" = "$first" ] && continue
    grep -q "^\* $first left\$" "$dir/$who.out" || fail "$who: no leave notice"
done
grep -q '^\* 3 online: ' "$dir/bob.out" || fail "bob: no /who answer"

# 2. A stalled client does not stall the others.
client listener "echo listener; $hold"
wait_for "$dir/server.out" '^join listener$'
sh -c "echo slow; $hold" |
    socat - "TCP:127.0.0.1:$port,rcvbuf=2048" >"$dir/slow.out" 2>/dev/null &
slowpid=$!
wait_for "$dir/server.out" '^join slow$'
kill -STOP $slowpid
awk -v n=$lines 'BEGIN {
    print "talker"
    for (i = 0; i < n; i++) {
        s = sprintf("line %d ", i)
        while (length(s) < 200)
            s = s "x"
        print s
    }
}' >"$dir/talk.in"
start=$(date +%s)
socat -t $((5 * mult)) - "TCP:127.0.0.1:$port" <"$dir/talk.in" \
    >"$dir/talker.out" 2>/dev/null &
wait_for "$dir/listener.out" "^<talker> line $((lines - 1)) " 20
took=$(($(date +%s) - start))
got=$(grep -c '^<talker> line ' "$dir/listener.out" || true)
[ "$got" -eq $lines ] || fail "the listener got $got lines of $lines"
wait_for "$dir/server.out" '^kick slow: send queue full$' 5
wait_for "$dir/listener.out" '^\* slow was disconnected (too slow)$' 5
echo "$name: $lines lines reached the listener in ${took} s with a client stalled"
kill -CONT $slowpid 2>/dev/null || true
kill $slowpid 2>/dev/null || true

# 3. Names: a taken one is refused, /nick renames (everyone is told).
client nicky "echo listener; sleep 0.3; echo nicky; sleep 0.3; echo /nick nick2; $hold"
wait_for "$dir/nicky.out" '^\* listener is taken; try another name$' 10
wait_for "$dir/server.out" '^nick nicky nick2$' 10
wait_for "$dir/listener.out" '^\* nicky is now known as nick2$' 10

# 4. A line over the limit.
client long "echo longline; sleep 0.5; printf '%0300d\n' 0; $hold"
wait_for "$dir/long.out" '^\* line too long' 10
wait_for "$dir/server.out" '^leave longline (left (line too long))$' 10
wait_for "$dir/listener.out" '^\* longline left (line too long)$' 10

# 5. Shutdown: the listener is told, the server exits 0.
stop_server
grep -q '^\* server shutting down$' "$dir/listener.out" ||
    fail "the listener was not told of the shutdown"
grep -q '^shutdown (SIGTERM): 1 kicked$' "$dir/server.out" ||
    fail "shutdown line: $(tail -1 "$dir/server.out")"
touch "$dir/stop"
wait
finish
