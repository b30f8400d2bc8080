#!/usr/bin/env bash
# redis_bench.sh - how fast and how frugal redis.keyspace is over many keys,
# against the cheapest possible listing of them. Not run by CTest.
#
#   tests/bench/redis_bench.sh [--keys N] [--runs N] [BINARY]
#
#   BINARY   the cutover binary (default: $CUTOVER_BIN, else build/cutover)
#   --keys N keys per server (default 1000000)
#   --runs N timed runs per measurement, the best one counts (default 3)
#
# Starts two private redis-servers on 127.0.0.1:46379/46380 (not the test
# bed: a million keys there would get in everyone's way), fills both with
# the same N keys (DEBUG POPULATE, allowed on these servers only), and
# prints (the targets are from issue 4):
#   keyspace/scan   redis.keyspace with patterns ["key:*"] over both
#                   servers / `redis-cli --scan --count 1000 | wc -l` over
#                   one of them (target <= 1.2). redis-cli before 7.2 has
#                   no --count; then tests/bench/scan_floor.c, the same
#                   hiredis SCAN COUNT 1000 loop redis-cli runs, built
#                   here, is the floor.
#   peak RSS        of cutover at N keys and at N/10 keys: memory flat
#   KEYS calls      from INFO commandstats after the runs: must be 0
#   drift found     the same run with 3 keys deleted on the target: the
#                   pattern case fails and names them
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KEYS=1000000
RUNS=3
BIN=${CUTOVER_BIN:-$ROOT/build/cutover}
while [ $# -gt 0 ]; do
    case $1 in
    --keys) KEYS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) BIN=$1 ;;
    esac
    shift
done
[ -x "$BIN" ] || { echo "redis_bench: no binary at $BIN" >&2; exit 1; }

SRC=46379
TGT=46380
WORK=$(mktemp -d /tmp/cutover-redis-bench.XXXXXX)
stop() {
    for p in $SRC $TGT; do
        [ -f "$WORK/$p.pid" ] && kill "$(cat "$WORK/$p.pid")" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap stop EXIT

for p in $SRC $TGT; do
    redis-server --port $p --bind 127.0.0.1 --daemonize yes --save '' \
        --appendonly no --dir "$WORK" --dbfilename "$p.rdb" \
        --pidfile "$WORK/$p.pid" --logfile "$WORK/$p.log" \
        --enable-debug-command local
done
for p in $SRC $TGT; do
    for _ in $(seq 50); do
        redis-cli -p $p ping >/dev/null 2>&1 && break
        sleep 0.1
    done
done

populate() { # N
    for p in $SRC $TGT; do
        redis-cli -p $p flushall >/dev/null
        redis-cli -p $p debug populate "$1" key 10 >/dev/null
    done
}

cat >"$WORK/cutover.yml" <<EOF
version: 1
settings: {timeout: 10m}
redis:
  big:
    source: redis://127.0.0.1:$SRC/0
    target: redis://127.0.0.1:$TGT/0
    patterns: ["key:*"]
EOF

best() { # CMD... -> best wall_ms and its maxrss_kb of RUNS runs
    local b=0 rss=0
    for _ in $(seq "$RUNS"); do
        local line ms kb
        line=$("$HERE/measure.py" "$@")
        ms=$(sed 's/.*wall_ms=\([0-9]*\).*/\1/' <<<"$line")
        kb=$(sed 's/.*maxrss_kb=\([0-9]*\).*/\1/' <<<"$line")
        if [ "$b" = 0 ] || [ "$ms" -lt "$b" ]; then b=$ms; rss=$kb; fi
    done
    echo "$b $rss"
}

run_cutover() {
    "$BIN" check -c "$WORK/cutover.yml" --only redis.keyspace \
        --phase post --timeout 10m --json "$WORK/report.json" --quiet
}

if redis-cli --help 2>&1 | grep -q -- '--count'; then
    FLOOR=(sh -c "redis-cli -p $SRC --scan --count 1000 | wc -l")
else
    cc -O2 -o "$WORK/scan_floor" "$HERE/scan_floor.c" -lhiredis
    FLOOR=(sh -c "'$WORK/scan_floor' $SRC 'key:*' | wc -l")
fi

populate $((KEYS / 10))
read -r _ rss_small < <(best "$BIN" check -c "$WORK/cutover.yml" \
    --only redis.keyspace --phase post --timeout 10m --quiet)
populate "$KEYS"
read -r floor _ < <(best "${FLOOR[@]}")
read -r ks rss_big < <(best "$BIN" check -c "$WORK/cutover.yml" \
    --only redis.keyspace --phase post --timeout 10m --quiet)
keys_calls=$(redis-cli -p $SRC info commandstats |
    sed -n 's/^cmdstat_keys:calls=\([0-9]*\).*/\1/p')

redis-cli -p $TGT del key:1 key:2 key:3 >/dev/null
run_cutover || true
drift=$(python3 -c "
import json, sys
r = json.load(open('$WORK/report.json'))
for c in r['checks']:
    for k in c['cases']:
        if k['name'] == 'pattern key:*':
            print(k['status'], '|', k['message'])")

echo "keys per server   $KEYS"
echo "floor (SCAN)      ${floor} ms  (${FLOOR[*]})"
ratio=$(awk -v a="$ks" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
echo "redis.keyspace    ${ks} ms  (keyspace/scan $ratio, target <= 1.2)"
echo "peak RSS          ${rss_big} KiB at $KEYS keys," \
    "${rss_small} KiB at $((KEYS / 10))"
echo "KEYS calls        ${keys_calls:-0}"
echo "drift found       $drift"
