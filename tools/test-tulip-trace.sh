#!/bin/sh
# SPDX-License-Identifier: MIT
# The typist example traced with TULIP_TRACE, turned into a page by
# tulip-trace, the page's DOM checked for one row per task, and (when
# Debian's chromium is installed) a headless screenshot checked for not
# being blank and for coloured slices in the task rows. Also: a JSON trace
# cut short still renders; a program killed while tracing leaves a binary
# trace that still renders and converts to JSON; an unwritable TULIP_TRACE
# leaves the program running with a message.
# usage: test-tulip-trace.sh TULIP_TRACE_TOOL TYPIST PNGCHECK_PY
set -eu
tool=$1 typist=$2 pngcheck=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. trace the typist (real clock, so that the waits take time) and render
TULIP_TRACE=$dir/typist.json "$typist" --real >"$dir/out" 2>/dev/null ||
    fail "typist failed under tracing"
[ "$(cat "$dir/out")" = "Hello, world!" ] || fail "typist output changed"
# the JSON that TULIP_TRACE left at exit: an array of events, slices
# balanced per row, every flow's f after its s (the unit test validates
# the format in full; this checks the environment-and-exit path)
if command -v python3 >/dev/null 2>&1; then
    python3 - "$dir/typist.json" <<'PY' || fail "TULIP_TRACE's JSON is not a valid trace"
import json, sys
ev = json.load(open(sys.argv[1]))
assert isinstance(ev, list) and ev, "not a non-empty array"
depth, flows, last = {}, set(), {}
for e in ev:
    ph, tid = e["ph"], e["tid"]
    if ph == "M":
        continue
    assert e["ts"] >= last.get(tid, 0), "ts goes back"
    last[tid] = e["ts"]
    if ph == "B":
        depth[tid] = depth.get(tid, 0) + 1
    elif ph == "E":
        depth[tid] -= 1
        assert depth[tid] >= 0, "E without B"
    elif ph == "s":
        flows.add(e["id"])
    elif ph == "f":
        assert e["id"] in flows, "f without s"
        flows.discard(e["id"])
assert all(d == 0 for d in depth.values()), "slices left open"
assert sum(1 for e in ev if e["ph"] == "B") >= 10, "too few slices"
PY
fi
"$tool" "$dir/typist.json" -o "$dir/typist.html" || fail "tulip-trace failed"
grep -q '<svg id="tl"' "$dir/typist.html" || fail "no SVG timeline"
if grep -q 'src="http\|href="http' "$dir/typist.html"; then
    fail "the page loads external resources"
fi

# 2. a trace cut by a crash: half the file, no closing bracket
n=$(wc -c <"$dir/typist.json")
head -c $((n / 2)) "$dir/typist.json" >"$dir/cut.json"
"$tool" "$dir/cut.json" -o "$dir/cut.html" 2>"$dir/cut.err" ||
    fail "truncated trace not rendered"
grep -q truncated "$dir/cut.err" || fail "no note about the truncation"

# 2b. a program killed while tracing: the binary trace is left, cut
TULIP_TRACE=$dir/killed.json "$typist" --real >/dev/null 2>&1 &
pid=$!
sleep 0.6
kill -KILL $pid 2>/dev/null || fail "typist ended before it was killed"
wait $pid 2>/dev/null || true
[ "$(head -c 8 "$dir/killed.json")" = TULIPTR1 ] ||
    fail "a killed program did not leave the binary trace"
"$tool" "$dir/killed.json" -o "$dir/killed.html" 2>"$dir/killed.err" ||
    fail "binary trace of a killed program not rendered"
grep -q truncated "$dir/killed.err" || fail "no note about the cut trace"
grep -q '<g class="row"' "$dir/killed.html" || fail "no rows for the cut trace"
"$tool" --json "$dir/killed.json" -o "$dir/killed-fixed.json" 2>/dev/null ||
    fail "tulip-trace --json failed"
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
assert any(e["ph"] == "B" for e in d)' "$dir/killed-fixed.json" ||
        fail "the converted trace is not JSON with slices"
fi

# 3. bad input: missing file, unwritable TULIP_TRACE
if "$tool" "$dir/missing.json" -o "$dir/x.html" 2>/dev/null; then
    fail "a missing trace succeeded"
fi
TULIP_TRACE=/nonexistent-dir/t.json "$typist" >"$dir/out2" 2>"$dir/err2" ||
    fail "typist stopped by an unwritable trace path"
grep -q "not tracing" "$dir/err2" || fail "no message for the bad path"
[ "$(cat "$dir/out2")" = "Hello, world!" ] || fail "typist output changed"

# 4. the page in headless Chromium: the DOM, then a screenshot
command -v chromium >/dev/null 2>&1 || {
    echo "chromium not installed: DOM checked in the file only"
    rows=$(grep -c '<g class="row"' "$dir/typist.html")
    [ "$rows" -ge 2 ] || fail "expected a row per task, got $rows"
    exit 0
}
flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
 --disable-background-networking --disable-component-update --disable-sync"
# shellcheck disable=SC2086
timeout 60 chromium $flags --user-data-dir="$dir/prof1" \
    --dump-dom "file://$dir/typist.html" >"$dir/dom.html" 2>/dev/null ||
    fail "chromium --dump-dom failed"
tasks=$(grep -o '"thread_name","args":{"name":"[^"]*"' "$dir/typist.json" |
    sort -u | wc -l)
rows=$(grep -o '<g class="row" data-task="[^"]*"' "$dir/dom.html" |
    sort -u | wc -l)
[ "$rows" -eq "$tasks" ] || fail "DOM has $rows rows for $tasks named rows"
# shellcheck disable=SC2086
timeout 60 chromium $flags --user-data-dir="$dir/prof2" \
    --window-size=1600,400 --hide-scrollbars \
    --screenshot="$dir/shot.png" "file://$dir/typist.html" \
    >/dev/null 2>&1 || fail "chromium --screenshot failed"
python3 "$pngcheck" "$dir/shot.png" || fail "screenshot check"
[ -z "${TULIP_TRACE_SHOT:-}" ] || cp "$dir/shot.png" "$TULIP_TRACE_SHOT"
echo "ok: $rows rows in the DOM, screenshot checked"
