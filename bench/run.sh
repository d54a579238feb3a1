#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/run.sh BUILD_DIR: the benchmark suite next to its peers.
#
# Runs every BUILD_DIR/bench/bench_* program and every peer in bench/peers/
# (<topic>_<peer>.py|.c|.go, doing the same work as bench_<topic> and
# printing the same metric names) BENCH_REPS times, in rounds (each round
# runs every program once, so slow drifts of the machine hit all of them
# alike), then prints and writes bench/results/latest.md: one table per topic
# with the median of each metric for tulip and for each peer, the min-max
# spread, the number of runs, and the ratio peer/tulip (every unit is
# lower-is-better, so a ratio above 1 means tulip is faster).
#
# Environment:
#   BENCH_REPS=N      runs of each program (default 5; 1 with BENCH_SMOKE)
#   BENCH_SMOKE=1     pass --smoke to everything: tiny sizes, a quick check
#   BENCH_CPU=N       pin with `taskset -c N` (default 0; empty: no pinning)
#   BENCH_TIMEOUT=S   seconds before one run is killed (default 600)
#   BENCH_FILTER=RE   only topics matching the extended regex RE
#   BENCH_OUT=FILE    where the report goes (default bench/results/latest.md)
#
# A peer that cannot run (its package is missing, it does not build, it
# fails or prints nothing) is reported as n/a with the reason; that is never
# a failure of this script. Only a missing BUILD_DIR is.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-}
if [ -z "$build" ] || [ ! -d "$build/bench" ]; then
    echo "usage: bench/run.sh BUILD_DIR (configured with -DTULIP_BUILD_BENCH=ON)" >&2
    exit 2
fi
build=$(cd "$build" && pwd)
smoke=${BENCH_SMOKE:-0}
[ "$smoke" = 0 ] && smoke=
if [ -n "$smoke" ]; then reps=${BENCH_REPS:-1}; else reps=${BENCH_REPS:-5}; fi
cpu=${BENCH_CPU-0}
limit=${BENCH_TIMEOUT:-600}
filter=${BENCH_FILTER:-}
out=${BENCH_OUT:-$here/results/latest.md}
py=/usr/bin/python3 # not python3 from PATH: a pyenv build may lack uvloop

work=$(mktemp -d "${TMPDIR:-/tmp}/tulip-bench.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/bin"
: >"$work/data"    # topic impl rep name value unit, one line per metric
: >"$work/na"      # topic impl reason
: >"$work/progs"   # topic impl command...

pin=
if [ -n "$cpu" ] && command -v taskset >/dev/null 2>&1 &&
    taskset -c "$cpu" true 2>/dev/null; then
    pin="taskset -c $cpu"
fi
tmo=
command -v timeout >/dev/null 2>&1 && tmo="timeout $limit"

wanted() { # topic
    [ -z "$filter" ] || echo "$1" | grep -Eq -- "$filter"
}

na() { # topic impl reason...
    t=$1 i=$2
    shift 2
    echo "$t $i $*" >>"$work/na"
    echo "  $t/$i: n/a ($*)" >&2
}

# ---- the programs ---------------------------------------------------------
for prog in "$build"/bench/bench_*; do
    [ -f "$prog" ] && [ -x "$prog" ] || continue
    topic=${prog##*/bench_}
    wanted "$topic" || continue
    echo "$topic tulip $prog" >>"$work/progs"
done

# Peers are built once, before any measurement.
echo "building peers ..." >&2
for src in "$here"/peers/*_*.*; do
    [ -f "$src" ] || continue
    base=${src##*/}
    name=${base%.*}
    ext=${base##*.}
    topic=${name%%_*}
    peer=${name#*_}
    wanted "$topic" || continue
    case $ext in
    py)
        if [ ! -x "$py" ]; then
            na "$topic" "$peer" "$py not installed"
            continue
        fi
        echo "$topic $peer $py $src" >>"$work/progs"
        ;;
    c)
        if ! command -v cc >/dev/null 2>&1; then
            na "$topic" "$peer" "no C compiler"
            continue
        fi
        if cc -O2 "$src" -o "$work/bin/$name" -luv -lm -lpthread \
            2>"$work/bin/$name.err"; then
            echo "$topic $peer $work/bin/$name" >>"$work/progs"
        else
            na "$topic" "$peer" "build failed: $(grep -m1 -i error \
                "$work/bin/$name.err" | sed "s|$here/peers/||g" |
                cut -c1-120)"
        fi
        ;;
    go)
        if ! command -v go >/dev/null 2>&1; then
            na "$topic" "$peer" "go not installed"
            continue
        fi
        # A build cache of our own when HOME has none to offer.
        gocache=${GOCACHE:-}
        [ -n "$gocache" ] || [ -n "${HOME:-}" ] || gocache=$work/gocache
        if (cd "$work" && GOCACHE=${gocache:-$(go env GOCACHE)} GO111MODULE=off \
            go build -o "$work/bin/$name" "$src") 2>"$work/bin/$name.err"; then
            echo "$topic $peer $work/bin/$name" >>"$work/progs"
        else
            na "$topic" "$peer" "build failed: $(head -n1 \
                "$work/bin/$name.err" | sed "s|$here/peers/||g" |
                cut -c1-120)"
        fi
        ;;
    *) ;;
    esac
done

# ---- the runs -------------------------------------------------------------
echo "running $(wc -l <"$work/progs") programs x $reps${smoke:+ (smoke)}" \
    "${pin:+pinned: $pin}" >&2
rep=1
while [ "$rep" -le "$reps" ]; do
    while read -r topic impl cmd; do
        # An implementation that failed once is not run again.
        grep -q "^$topic $impl " "$work/na" && continue
        echo "  [$rep/$reps] $topic/$impl" >&2
        # shellcheck disable=SC2086 # cmd is a word list on purpose
        $tmo $pin $cmd ${smoke:+--smoke} </dev/null >"$work/out" \
            2>"$work/err"
        rc=$?
        lines=$(awk 'NF == 3 && $2 ~ /^[-+0-9.eE]+$/' "$work/out" | wc -l)
        if [ "$rc" -ne 0 ] || [ "$lines" -eq 0 ]; then
            why="exit $rc"
            [ "$rc" -eq 124 ] && why="timed out after ${limit}s"
            [ "$lines" -eq 0 ] && why="$why, no metrics"
            last=$(grep -v '^[[:space:]]*$' "$work/err" | tail -n1 |
                sed "s|$here/||g; s|$build/||g" | cut -c1-120)
            na "$topic" "$impl" "$why${last:+: $last}"
            continue
        fi
        awk -v t="$topic" -v i="$impl" -v r="$rep" \
            'NF == 3 && $2 ~ /^[-+0-9.eE]+$/ { print t, i, r, $1, $2, $3 }' \
            "$work/out" >>"$work/data"
    done <"$work/progs"
    rep=$((rep + 1))
done

# ---- the report -----------------------------------------------------------
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo \
    2>/dev/null)
[ -n "$cpu_model" ] || cpu_model=$(uname -m)
cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?")
commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$here/.." status --porcelain --untracked-files=no 2>/dev/null |
    head -n1)
[ -n "$dirty" ] && commit="$commit (with uncommitted changes)"

mkdir -p "$(dirname "$out")"
{
    echo "# tulip benchmarks"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $cpu_model, $cores cores, $(uname -sr)"
    echo "- commit: $commit"
    echo "- runs: $reps per program${smoke:+, smoke sizes (not measurements)}," \
        "${pin:-not pinned}"
    echo
    echo "Every unit is lower-is-better. *median* is the median over the runs," \
        "*spread* the lowest and highest run; *vs tulip* is peer / tulip" \
        "(above 1: tulip is faster). See bench/README.md."
    sort -k1,1 -k2,2 -k4,4 -k3,3n "$work/data" | awk -v nafile="$work/na" '
    function median(s,   n, a, i, j, t) {
        n = split(s, a, " ")
        for (i = 2; i <= n; i++) {         # insertion sort: n is small
            t = a[i] + 0
            for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
            a[j + 1] = t
        }
        lo = a[1]; hi = a[n]; cnt = n
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(v) {
        v += 0
        if (v == 0) return "0"
        if (v < 0 ? -v < 10 : v < 10) return sprintf("%.2f", v)
        if (v < 0 ? -v < 1000 : v < 1000) return sprintf("%.1f", v)
        return sprintf("%.0f", v)
    }
    BEGIN {
        while ((getline line < nafile) > 0) {
            split(line, f, " ")
            reason = line
            sub(/^[^ ]+ [^ ]+ /, "", reason)
            na[f[1] SUBSEP f[2]] = reason
            if (!((f[1], f[2]) in seenna)) {
                seenna[f[1], f[2]] = 1
                naimpls[f[1]] = naimpls[f[1]] " " f[2]
            }
            if (!(f[1] in seentopic)) { seentopic[f[1]] = 1; topics[++nt] = f[1] }
        }
    }
    {
        t = $1; i = $2; m = $4
        k = t SUBSEP i SUBSEP m
        vals[k] = vals[k] " " $5
        unit[t, m] = $6
        if (!(t in seentopic)) { seentopic[t] = 1; topics[++nt] = t }
        if (!((t, i) in seenimpl)) {
            seenimpl[t, i] = 1
            if (i != "tulip") impls[t] = impls[t] " " i
        }
        if (!((t, m) in seenmetric)) {
            seenmetric[t, m] = 1
            metrics[t] = metrics[t] " " m
        }
    }
    END {
        for (x = 1; x <= nt; x++) {
            t = topics[x]
            printf "\n## %s\n\n", t
            printf "| metric | implementation | median | unit | spread (min-max) | runs | vs tulip |\n"
            printf "|---|---|---:|---|---|---:|---:|\n"
            nm = split(metrics[t], ms, " ")
            ni = split(impls[t], is, " ")
            for (y = 1; y <= nm; y++) {
                m = ms[y]; u = unit[t, m]; base = ""
                if ((t, "tulip", m) in vals) {
                    base = median(vals[t, "tulip", m])
                    printf "| %s | **tulip** | **%s** | %s | %s-%s | %d | 1 |\n",
                        m, fmt(base), u, fmt(lo), fmt(hi), cnt
                } else if ((t, "tulip") in na) {
                    printf "| %s | tulip | n/a | %s | | | |\n", m, u
                }
                for (z = 1; z <= ni; z++) {
                    p = is[z]
                    if (!((t, p, m) in vals)) continue
                    v = median(vals[t, p, m])
                    r = (base != "" && base + 0 != 0) ? fmt(v / base) : "-"
                    printf "| %s | %s | %s | %s | %s-%s | %d | %s |\n",
                        m, p, fmt(v), u, fmt(lo), fmt(hi), cnt, r
                }
            }
            if (nm == 0) printf "| (no metrics) | | | | | | |\n"
            nn = split(naimpls[t], ns, " ")
            for (z = 1; z <= nn; z++)
                printf "\n- %s: n/a (%s)\n", ns[z], na[t, ns[z]]
        }
    }'
} >"$out"

cat "$out"
echo >&2
echo "written to $out" >&2
exit 0
