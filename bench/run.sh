#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/run.sh BUILD_DIR: the benchmark suite next to its peers.
#
# Runs every BUILD_DIR/bench/bench_* program and every peer in bench/peers/
# (<topic>_<peer>.py|.c|.go|.sh, doing the same work as bench_<topic> and
# printing the same metric names) BENCH_REPS times, topic by topic, in
# rounds within each topic (each round runs every implementation once, so
# slow drifts of the machine hit all of them alike), then prints and writes bench/results/latest.md: one table per topic
# with the median of each metric for tulip and for each peer, the min-max
# spread, the number of runs, and the ratio peer/tulip (every unit is
# lower-is-better, so a ratio above 1 means tulip is faster).
#
# Environment:
#   BENCH_REPS=N      runs of each program (default 5; 1 with BENCH_SMOKE)
#   BENCH_SMOKE=1     pass --smoke to everything: tiny sizes, a quick check
#   BENCH_CPU=N       pin with `taskset -c N` (default 0; empty: no pinning)
#   BENCH_TIMEOUT=S   seconds before one run is killed (default 600)
#   BENCH_BUDGET=S    start no run after S seconds (default 0: no budget);
#                     the rows then show how many runs they got
#   BENCH_FILTER=RE   only topics matching the extended regex RE
#   BENCH_ORDER=LIST  the order of the topics (default: echo http switch gen
#                     sync rss loop task, then any other)
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
budget=${BENCH_BUDGET:-0}
filter=${BENCH_FILTER:-}
out=${BENCH_OUT:-$here/results/latest.md}
py=/usr/bin/python3 # not python3 from PATH: a pyenv build may lack uvloop
export BENCH_PYTHON=$py # for the drivers of server peers (netbench.h)

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
    # A server peer (marked "bench-server") is driven by bench_<topic>
    # (bench_echo, bench_http), which is then the program run for it.
    driver=
    if grep -q 'bench-server' "$src"; then
        driver=$build/bench/bench_$topic
        if [ ! -x "$driver" ]; then
            na "$topic" "$peer" "no driver bench_$topic"
            continue
        fi
    fi
    target=
    case $ext in
    py)
        if [ ! -x "$py" ]; then
            na "$topic" "$peer" "$py not installed"
            continue
        fi
        target=$src
        [ -n "$driver" ] || target="$py $src"
        ;;
    sh) target=$src
        [ -n "$driver" ] || target="sh $src"
        ;;
    c)
        if ! command -v cc >/dev/null 2>&1; then
            na "$topic" "$peer" "no C compiler"
            continue
        fi
        libs="-lm -lpthread"
        grep -q '<uv\.h>' "$src" && libs="-luv $libs"
        # shellcheck disable=SC2086 # libs is a word list
        if cc -O2 "$src" -o "$work/bin/$name" $libs \
            2>"$work/bin/$name.err"; then
            target=$work/bin/$name
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
            target=$work/bin/$name
        else
            na "$topic" "$peer" "build failed: $(head -n1 \
                "$work/bin/$name.err" | sed "s|$here/peers/||g" |
                cut -c1-120)"
        fi
        ;;
    *) ;;
    esac
    [ -n "$target" ] || continue
    if [ -n "$driver" ]; then
        echo "$topic $peer $driver --server $target" >>"$work/progs"
    else
        echo "$topic $peer $target" >>"$work/progs"
    fi
done

# ---- the runs -------------------------------------------------------------
echo "running $(wc -l <"$work/progs") programs x $reps${smoke:+ (smoke)}" \
    "${pin:+pinned: $pin}" >&2
started=$(date +%s)
cut=
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
# Topic by topic, in rounds within the topic (each round runs every
# implementation once, so that a drift of the machine hits all of them
# alike); the network topics first, the long ones last, so that a budget
# that runs out cuts the end of the list.
order=${BENCH_ORDER:-echo http switch gen sync rss loop task}
for t in $(awk '{ print $1 }' "$work/progs" | sort -u); do
    case " $order " in *" $t "*) ;; *) order="$order $t" ;; esac
done
for topic_now in $order; do
grep "^$topic_now " "$work/progs" >"$work/progs.topic" || continue
rep=1
while [ "$rep" -le "$reps" ]; do
    while read -r topic impl cmd; do
        # An implementation that failed once is not run again.
        grep -q "^$topic $impl " "$work/na" && continue
        # Past the time budget, no run starts: rows show their run count.
        if [ -z "$cut" ] && [ "$budget" -gt 0 ] &&
            [ $(($(date +%s) - started)) -ge "$budget" ]; then
            cut="the time budget of ${budget} s ran out in round $rep of $topic"
            echo "  $cut: no more runs" >&2
        fi
        [ -z "$cut" ] || continue
        printf '  [%s/%s] %s/%s' "$rep" "$reps" "$topic" "$impl" >&2
        t0=$(date +%s)
        # shellcheck disable=SC2086 # cmd is a word list on purpose
        $tmo $pin $cmd ${smoke:+--smoke} </dev/null >"$work/out" \
            2>"$work/err"
        rc=$?
        echo " ($(($(date +%s) - t0)) s)" >&2
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
    done <"$work/progs.topic"
    rep=$((rep + 1))
done
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
        "${pin:-not pinned}; the network drivers put the load and the" \
        "server on CPUs ${BENCH_NET_CPUS-0,1} (BENCH_NET_CPUS)"
    [ -z "$cut" ] || echo "- cut short: $cut (see the runs column)"
    echo "- sitting: $((($(date +%s) - started + 30) / 60)) min; load average" \
        "(1, 5, 15 min) $load_start at the start," \
        "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) at the end"
    echo
    echo "Every unit is lower-is-better except rates (a unit ending in /s)." \
        "*median* is the median over the runs, *spread* the lowest and" \
        "highest run; *vs tulip* is peer / tulip, and tulip / peer for rates," \
        "so that above 1 always means tulip is better. See bench/README.md."
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
                    r = "-"
                    if (base != "" && base + 0 != 0 && v + 0 != 0)
                        r = u ~ /\/s$/ ? fmt(base / v) : fmt(v / base)
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

# ---- the chart and the README summary ------------------------------------
# Not for smoke runs, whose values are not measurements.
[ -z "$smoke" ] || exit 0
# topic impl metric unit median lo hi runs, one line per series
sort -k1,1 -k2,2 -k4,4 -k3,3n "$work/data" | awk '
function flush(   n, a, i, j, t, m) {
    if (key == "") return
    n = split(vals, a, " ")
    for (i = 2; i <= n; i++) {
        t = a[i] + 0
        for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    m = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    print key, unit, m, a[1], a[n], n
}
{
    k = $1 " " $2 " " $4
    if (k != key) { flush(); key = k; vals = "" }
    vals = vals " " $5; unit = $6
}
END { flush() }' >"$work/medians"

chart=${out%.md}.png
charted=
# The metrics of the chart and of the README summary, in order.
chart_metrics=${BENCH_CHART:-echo.server_cpu_100 echo.server_cpu_1 \
http.server_cpu_100 echo.rate_100 http.rate_100 task.spawn_await \
sync.chan_msg loop.timers_1m}
if command -v gnuplot >/dev/null 2>&1; then
    # One panel per metric: a bar per implementation (tulip first, in
    # green), whiskers from the lowest to the highest run.
    gp=$work/chart.gp
    n=0
    for m in $chart_metrics; do
        t=${m%%.*}
        awk -v m="$m" -v t="$t" '$1 == t && $3 == m' "$work/medians" |
            awk '{ print ($2 == "tulip" ? 0 : 1), $0 }' | sort -k1,1n -k3,3 |
            awk '{ print $3, $6, $7, $8, ($3 == "tulip" ? 3050327 : 8955306) }' \
                >"$work/chart.$n.dat"
        [ -s "$work/chart.$n.dat" ] || continue
        unit=$(awk -v m="$m" '$3 == m { print $4; exit }' "$work/medians")
        case $unit in */s) better=higher ;; *) better=lower ;; esac
        spread=$(awk 'NR == 1 || $2 < lo { lo = $2 } $2 > hi { hi = $2 }
            END { print (lo > 0 && hi / lo > 30) ? "log" : "lin" }' \
            "$work/chart.$n.dat")
        {
            echo "set title \"$m ($unit, $better is better)\""
            if [ "$spread" = log ]; then
                echo "set logscale y; set yrange [*:*]"
            else
                echo "unset logscale y; set yrange [0:*]"
            fi
            echo "plot '$work/chart.$n.dat' using 0:2:5:xtic(1) with boxes" \
                "lc rgb variable, '' using 0:2:3:4 with yerrorbars" \
                "lc rgb 'black' pt 0"
        } >>"$gp.body"
        n=$((n + 1))
    done
    if [ "$n" -gt 0 ]; then
        cols=4
        [ "$n" -ge "$cols" ] || cols=$n
        rows=$(((n + cols - 1) / cols))
        {
            echo "set terminal pngcairo size $((cols * 380)),$((rows * 330 + 40)) font 'sans,9'"
            echo "set output '$chart'"
            echo "set multiplot layout $rows,$cols title \"tulip benchmarks:" \
                "$(date -u '+%Y-%m-%d'), $cpu_model, $cores cores, commit" \
                "$commit (medians; whiskers: lowest and highest run)\""
            echo "set termoption noenhanced"
            echo "unset key; set style fill solid 0.85 border -1"
            echo "set boxwidth 0.7; set grid ytics; set xtics rotate by -35 nomirror"
            echo "set offsets 0.5, 0.5, 0, 0; set format y '%g'"
            cat "$gp.body"
            echo "unset multiplot"
        } >"$gp"
        if gnuplot "$gp" 2>"$work/gnuplot.err"; then
            charted=1
            echo "chart: $chart" >&2
        else
            echo "gnuplot failed: $(head -n3 "$work/gnuplot.err")" >&2
        fi
    fi
else
    echo "gnuplot not installed: no chart" >&2
fi

# The summary: the chart's metrics, tulip and each peer with its ratio,
# written into README.md between its markers when the report is the
# default one (bench/results/latest.md).
summary=$work/summary.md
{
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $cpu_model," \
        "$cores cores, $(uname -sr), commit $commit, by \`make bench\`" \
        "(medians of $reps runs; ratios are peer / tulip, or tulip / peer" \
        "for rates: above 1 means tulip is better). Every figure, with its" \
        "spread: [\`bench/results/latest.md\`](bench/results/latest.md)."
    echo
    for m in $chart_metrics; do
        t=${m%%.*}
        awk -v m="$m" -v t="$t" '$1 == t && $3 == m' "$work/medians"
    done | awk '
    function fmt(v, u) {
        v += 0
        if (u ~ /\/s$/ && v >= 100000) return sprintf("%.0fk", v / 1000)
        if (u ~ /\/s$/ && v >= 1000) return sprintf("%.1fk", v / 1000)
        if (v < 10) return sprintf("%.2f", v)
        if (v < 1000) return sprintf("%.1f", v)
        return sprintf("%.0f", v)
    }
    {
        m = $3; i = $2
        if (!(m in seen)) { seen[m] = 1; ms[++nm] = m; unit[m] = $4 }
        if (i != "tulip" && !(i in seenp)) { seenp[i] = 1; ps[++np] = i }
        val[m, i] = $5
    }
    END {
        if (nm == 0) exit
        # peers in a fixed, readable order first, then any other
        split("epoll libuv go nginx uvloop_proto uvloop asyncio python", pref, " ")
        for (k = 1; k in pref; k++)
            if (pref[k] in seenp) { order[++no] = pref[k]; used[pref[k]] = 1 }
        for (k = 1; k <= np; k++)
            if (!(ps[k] in used)) order[++no] = ps[k]
        printf "| metric | unit | tulip |"
        for (k = 1; k <= no; k++) printf " %s |", order[k]
        printf "\n|---|---|---:|"
        for (k = 1; k <= no; k++) printf "---:|"
        printf "\n"
        for (x = 1; x <= nm; x++) {
            m = ms[x]; b = val[m, "tulip"]
            printf "| %s | %s | **%s** |", m, unit[m], ((m, "tulip") in val) ? fmt(b, unit[m]) : "n/a"
            for (k = 1; k <= no; k++) {
                p = order[k]
                if (!((m, p) in val)) { printf " |"; continue }
                v = val[m, p]; r = ""
                if (((m, "tulip") in val) && b + 0 != 0 && v + 0 != 0)
                    r = sprintf(" (%.2f)", unit[m] ~ /\/s$/ ? b / v : v / b)
                printf " %s%s |", fmt(v, unit[m]), r
            }
            printf "\n"
        }
    }'
    if [ -n "$charted" ]; then
        echo
        echo "![benchmark chart](bench/results/${chart##*/})"
    fi
} >"$summary"
readme=$here/../README.md
if [ "$out" = "$here/results/latest.md" ] && [ -f "$readme" ] &&
    grep -q '^<!-- bench:begin -->$' "$readme" &&
    grep -q '^<!-- bench:end -->$' "$readme"; then
    awk -v sf="$summary" '
    /^<!-- bench:end -->$/ { skip = 0 }
    !skip { print }
    /^<!-- bench:begin -->$/ {
        while ((getline l < sf) > 0) print l
        skip = 1
    }' "$readme" >"$work/readme" && cat "$work/readme" >"$readme"
    echo "README.md: summary updated" >&2
fi
exit 0
