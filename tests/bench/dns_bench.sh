#!/usr/bin/env bash
# dns_bench.sh - how long dns.resolve takes for 100 names on 2 resolvers,
# measured against one lookup of one name by the same binary. Not run by
# CTest: it needs the test bed (a few seconds).
#
#   tests/bench/dns_bench.sh [--runs N] [--jobs N] [--resolvers A,B] [BINARY]
#
#   BINARY       the cutover binary (default: $CUTOVER_BIN, else
#                build/cutover)
#   --runs N     rounds of measurements, the best of each counts (default 10)
#   --jobs N     settings.jobs of the generated configs (default: cutover's)
#   --resolvers  the two servers to ask (default: the test bed's dnsmasq
#                pair, $CUTOVER_TB_DNS and $CUTOVER_TB_DNS_STALE)
#
# The names are bench-000..bench-099.bench.cutover.test (A 127.0.0.1, TTL
# 60), which ci/services serves on both dnsmasq instances from a marked
# block in dns_records. A test bed started before that block existed
# lacks them: the script says so and stops (ci/services stop && start).
#
# What it prints (the target is from issue 5), wall time of the process
# and, in brackets, the run's own duration_ms from the JSON report (the
# checks only: no process start, no config loading):
#   floor          `cutover check --only dns.resolve`, 1 name on 1 resolver
#                  (one A and one AAAA query)
#   100 x 2        the same for 100 names on 2 resolvers (400 queries),
#                  every case must pass
#   ratio          100 x 2 over the floor (target <= 3), wall and run
# Rounds interleave the two so a load drift on the shared machine slows
# both alike; the best of each counts.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=10
JOBS=
SERVERS=
BIN=${CUTOVER_BIN:-$ROOT/build/cutover}
NAMES=100
while [ $# -gt 0 ]; do
    case $1 in
    --runs) RUNS=$2; shift ;;
    --jobs) JOBS=$2; shift ;;
    --resolvers) SERVERS=$2; shift ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) BIN=$1 ;;
    esac
    shift
done
[ -x "$BIN" ] || { echo "dns_bench: no binary at $BIN" >&2; exit 1; }
if [ -z "$SERVERS" ]; then
    eval "$("$ROOT/ci/services" env)"
    : "${CUTOVER_TB_DNS:?test bed not running (ci/services start)}"
    SERVERS=$CUTOVER_TB_DNS,$CUTOVER_TB_DNS_STALE
fi
R1=${SERVERS%%,*}
R2=${SERVERS#*,}

WORK=$(mktemp -d /tmp/cutover-dnsbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

name() { printf 'bench-%03d.bench.cutover.test' "$1"; }

config() { # file count resolvers(yaml list body)
    {
        echo "version: 1"
        echo "settings: {timeout: 10s, resolvers: [$3]${JOBS:+, jobs: $JOBS}}"
        echo "domains:"
        for i in $(seq 0 $(($2 - 1))); do
            echo "  $(name "$i"): {expect_addresses: [127.0.0.1]}"
        done
    } >"$1"
}

# Runs cutover once under measure.py; sets M_WALL, M_RUN (the report's
# duration_ms) and leaves the JSON report in $WORK/out.json.
measure() { # config
    local line kv
    line=$("$HERE/measure.py" "$BIN" check -c "$1" --only dns.resolve \
        --phase post --json "$WORK/out.json" --quiet)
    for kv in $line; do
        case $kv in
        wall_ms=*) M_WALL=${kv#*=} ;;
        esac
    done
    M_RUN=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["duration_ms"])' "$WORK/out.json")
}

# "N cases, P pass" of the last report.
cases() {
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
st = [k["status"] for c in r["checks"] for k in c["cases"]]
print(len(st), "cases,", st.count("pass"), "pass")' "$WORK/out.json"
}

# Did every case pass, and are there at least $1 (one per name and
# resolver, plus "resolvers agree" per name when there are two)?
passes() {
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
st = [k["status"] for c in r["checks"] for k in c["cases"]]
sys.exit(0 if len(st) >= int(sys.argv[2]) and set(st) == {"pass"} else 1)' \
        "$WORK/out.json" "$1"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { # value limit
    awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l ? "ok" : "OVER") }'
}
min() { [ "$1" -lt "$2" ] && echo "$1" || echo "$2"; }

config "$WORK/one.yml" 1 "\"$R1\""
config "$WORK/all.yml" $NAMES "\"$R1\", \"$R2\""

# The records must be there on both servers before anything is timed.
measure "$WORK/all.yml"
if ! passes $((2 * NAMES)); then
    echo "dns_bench: the bench names do not resolve on $R1 and $R2" \
        "($(cases)):" >&2
    echo "  restart the test bed so dnsmasq loads them" \
        "(ci/services stop && ci/services start)" >&2
    exit 1
fi

floor=999999999 all=999999999 floor_run=999999999 all_run=999999999
measure "$WORK/one.yml" # warm the page cache
for _ in $(seq "$RUNS"); do
    measure "$WORK/one.yml"
    passes 1 || { echo "dns_bench: floor run failed: $(cases)" >&2; exit 1; }
    floor=$(min "$floor" "$M_WALL")
    floor_run=$(min "$floor_run" "$((M_RUN > 0 ? M_RUN : 1))")
    measure "$WORK/all.yml"
    passes $((2 * NAMES)) || { echo "dns_bench: run failed: $(cases)" >&2; exit 1; }
    all=$(min "$all" "$M_WALL")
    all_run=$(min "$all_run" "$M_RUN")
done

echo "== dns.resolve, $NAMES names x 2 resolvers ($R1, $R2)," \
    "jobs ${JOBS:-default} (best of $RUNS rounds) =="
printf '  floor (1 name, 1 resolver)  %6d ms  (run %d ms)\n' "$floor" \
    "$floor_run"
printf '  %d names x 2 resolvers     %6d ms  (run %d ms; %s)\n' $NAMES \
    "$all" "$all_run" "$(cases)"
printf '  ratio, wall                 %6s     (<= 3: %s)\n' \
    "$(ratio "$all" "$floor")" "$(verdict "$(ratio "$all" "$floor")" 3)"
printf '  ratio, run                  %6s     (<= 3: %s)\n' \
    "$(ratio "$all_run" "$floor_run")" \
    "$(verdict "$(ratio "$all_run" "$floor_run")" 3)"
