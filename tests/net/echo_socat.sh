#!/bin/sh
# SPDX-License-Identifier: MIT
# Drive examples/echo_server with clients nobody here wrote: CLIENTS
# concurrent socat clients with LINES lines each, plus one nc
# (netcat-openbsd) client, every byte compared. socat half-closes when its
# input ends and exits when the server closes, so this also checks that
# the server answers a half-closed peer and then closes.
#   echo_socat.sh ECHO_SERVER [CLIENTS] [LINES]
set -eu
server=$1
clients=${2:-50}
lines=${3:-100}
for tool in socat nc; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "echo_socat.sh: $tool is missing (scripts/deps.sh test)" >&2
        exit 77 # skipped
    fi
done
dir=$(mktemp -d)
trap 'kill $spid 2>/dev/null || true; rm -rf "$dir"' EXIT
: >"$dir/server.out" # before the job opens it: the first sed must find it
"$server" --port 0 --conns $((clients + 1)) >"$dir/server.out" &
spid=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$dir/server.out")
    [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    echo "echo_socat.sh: the server did not start; its output:" >&2
    cat "$dir/server.out" >&2
    exit 1
fi

# Each client's input: LINES lines of varying length, unique to the client.
i=0
while [ $i -lt "$clients" ]; do
    awk -v c=$i -v n="$lines" 'BEGIN {
        for (l = 0; l < n; l++) {
            s = sprintf("client %d line %d ", c, l)
            for (k = 0; k < (c * 7 + l * 13) % 300; k++)
                s = s sprintf("%c", 97 + (c + l + k) % 26)
            print s
        }
    }' >"$dir/in.$i"
    i=$((i + 1))
done

pids=""
i=0
while [ $i -lt "$clients" ]; do
    socat -t 30 -T 30 - "TCP:127.0.0.1:$port" <"$dir/in.$i" >"$dir/out.$i" &
    pids="$pids $!"
    i=$((i + 1))
done
head -c 200000 /dev/urandom >"$dir/in.nc"
nc -N 127.0.0.1 "$port" <"$dir/in.nc" >"$dir/out.nc" &
pids="$pids $!"
fail=0
for p in $pids; do
    wait "$p" || { echo "echo_socat.sh: a client failed" >&2; fail=1; }
done
i=0
while [ $i -lt "$clients" ]; do
    if ! cmp -s "$dir/in.$i" "$dir/out.$i"; then
        echo "echo_socat.sh: client $i got $(wc -c <"$dir/out.$i") bytes of $(wc -c <"$dir/in.$i")" >&2
        fail=1
    fi
    i=$((i + 1))
done
cmp -s "$dir/in.nc" "$dir/out.nc" || { echo "echo_socat.sh: nc mismatch" >&2; fail=1; }
# The server exits by itself once every connection has finished.
wait "$spid" || { echo "echo_socat.sh: server exit status $?" >&2; fail=1; }
[ $fail -eq 0 ] && echo "echo_socat.sh: $clients socat clients x $lines lines and nc: every byte echoed"
exit $fail
