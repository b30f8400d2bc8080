#!/usr/bin/env bash
# schema_bench.sh - the wall time of pg.schema on a schema of 1,000
# tables (issue 12: <= 2 s on loopback). Not run by CTest: it needs the
# test bed and builds a large schema.
#
#   tests/bench/schema_bench.sh [--tables N] [--runs N] [--keep] [BINARY]
#
#   BINARY     the cutover binary (default: $CUTOVER_BIN, else build/cutover)
#   --tables N how many tables (default 1000)
#   --runs N   runs; the best and the median are printed (default 5)
#   --keep     keep the databases for the next run (default: drop them)
#
# Uses the running test bed (ci/services start). Builds, on the source,
# database `sch12_bench` with N Rails-like tables (bigserial primary key,
# six columns of common types with defaults and NOT NULL, a check
# constraint, a foreign key to the previous table, two indexes, a
# comment), one view per 10 tables and one trigger per 50, and copies it
# to the target the way a migration does (pg_dump -Fc | pg_restore
# --no-owner --no-acl). Then runs `cutover check --only pg.schema` and
# prints the wall time of the process (connect, every catalog query on
# both sides, the diff and the report), which must pass with no fail.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TABLES=1000
RUNS=5
KEEP=0
BIN=${CUTOVER_BIN:-$ROOT/build/cutover}
while [ $# -gt 0 ]; do
    case $1 in
    --tables) TABLES=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) BIN=$1 ;;
    esac
    shift
done
[ -x "$BIN" ] || { echo "schema_bench: no binary at $BIN" >&2; exit 1; }
services=$ROOT/ci/services
[ -x "$services" ] || services=/work/main/ci/services
eval "$("$services" env)"
: "${CUTOVER_TB_PG_SOURCE_ADMIN:?test bed not running (ci/services start)}"

DB=sch12_bench
WORK=$(mktemp -d /tmp/cutover-schema-bench.XXXXXX)
with_db() { # URL DB
    printf '%s/%s?%s' "${1%/*}" "$2" "${1#*\?}"
}
SRC_ADMIN=$(with_db "$CUTOVER_TB_PG_SOURCE_ADMIN" "$DB")
TGT_ADMIN=$(with_db "$CUTOVER_TB_PG_TARGET_ADMIN" "$DB")
cleanup() {
    if [ "$KEEP" = 0 ]; then
        for u in "$CUTOVER_TB_PG_SOURCE_ADMIN" "$CUTOVER_TB_PG_TARGET_ADMIN"; do
            psql -X -q "$(with_db "$u" postgres)" \
                -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
        done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

have=$(psql -X -At "$(with_db "$CUTOVER_TB_PG_TARGET_ADMIN" postgres)" \
    -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" || true)
count=0
if [ "$have" = 1 ]; then
    count=$(psql -X -At "$TGT_ADMIN" -c "SELECT count(*) FROM pg_tables
        WHERE schemaname = 'public'" || echo 0)
fi
if [ "$count" != "$TABLES" ]; then
    echo "building $TABLES tables in $DB ..." >&2
    for u in "$CUTOVER_TB_PG_SOURCE_ADMIN" "$CUTOVER_TB_PG_TARGET_ADMIN"; do
        psql -X -q -v ON_ERROR_STOP=1 "$(with_db "$u" postgres)" \
            -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
            -c "CREATE DATABASE $DB" \
            -c "GRANT pg_read_all_data, pg_monitor TO cutover"
    done
    psql -X -q -v ON_ERROR_STOP=1 "$SRC_ADMIN" <<SQL
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN NEW.updated_at := now(); RETURN NEW; END \$\$;
DO \$\$
BEGIN
  FOR i IN 1..$TABLES LOOP
    EXECUTE format('CREATE TABLE t%s (
      id bigserial PRIMARY KEY,
      parent_id bigint%s,
      name varchar(255) NOT NULL DEFAULT %L,
      amount numeric(12,2) CHECK (amount >= 0),
      flags integer NOT NULL DEFAULT 0,
      payload jsonb,
      created_at timestamp(6) NOT NULL DEFAULT now(),
      updated_at timestamp(6) NOT NULL DEFAULT now())', i,
      CASE WHEN i > 1 THEN format(' REFERENCES t%s (id)', i - 1) ELSE '' END,
      'n' || i);
    EXECUTE format('CREATE INDEX t%s_parent ON t%s (parent_id)', i, i);
    EXECUTE format('CREATE UNIQUE INDEX t%s_name ON t%s (lower(name))
      WHERE flags = 0', i, i);
    EXECUTE format('COMMENT ON TABLE t%s IS %L', i, 'table ' || i);
    IF i % 10 = 0 THEN
      EXECUTE format('CREATE VIEW v%s AS SELECT id, name FROM t%s
        WHERE flags > 0', i, i);
    END IF;
    IF i % 50 = 0 THEN
      EXECUTE format('CREATE TRIGGER t%s_touch BEFORE UPDATE ON t%s
        FOR EACH ROW EXECUTE FUNCTION touch()', i, i);
    END IF;
  END LOOP;
END \$\$;
SQL
    pg_dump -Fc -f "$WORK/bench.dump" "$SRC_ADMIN"
    pg_restore --no-owner --no-acl --exit-on-error -d "$TGT_ADMIN" \
        "$WORK/bench.dump"
fi

cat >"$WORK/cutover.yml" <<YML
version: 1
settings: {timeout: 120s}
postgres:
  main:
    source: "$(with_db "$CUTOVER_TB_PG_SOURCE_URL" "$DB")"
    target: "$(with_db "$CUTOVER_TB_PG_TARGET_URL" "$DB")"
YML

times=()
for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    rc=0
    "$BIN" check -c "$WORK/cutover.yml" --only pg.schema --quiet \
        --json "$WORK/report.json" || rc=$?
    t1=$(date +%s%N)
    [ "$rc" = 0 ] || {
        echo "schema_bench: cutover exited $rc on a faithful copy" >&2
        python3 -m json.tool "$WORK/report.json" | grep -B2 -A4 '"fail\|"error' >&2
        exit 1
    }
    times+=($(((t1 - t0) / 1000000)))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
best=$(echo "$sorted" | head -1)
median=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
printf 'pg.schema on %s tables (%s runs): best %d.%03d s, median %d.%03d s (goal <= 2 s)\n' \
    "$TABLES" "$RUNS" $((best / 1000)) $((best % 1000)) \
    $((median / 1000)) $((median % 1000))
