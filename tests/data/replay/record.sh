#!/usr/bin/env bash
# record.sh - takes the recorded sessions test_replay compares without
# servers: source.json (the Heroku side), target.json (the Aptible side,
# drifted: target.sql) and target-same.json (a target recorded from the
# source's own servers: the matching pair). Run it on the test bed when
# a check asks new questions (a replay then says "holds no answer"):
#
#   ci/services start && tests/data/replay/record.sh [build/cutover]
#
# It makes databases cutover_replay on both clusters and fills Redis db 27
# on both servers, records, then drops and flushes them again.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=$(realpath "${1:-$root/build/cutover}")
eval "$("$root/ci/services" env)"

with_db() { # URL DB: the same URL with another database
  printf '%s/%s?%s' "${1%/*}" "$2" "${1#*\?}"
}
fresh_db() { # ADMIN-URL URL SQL-FILE: made by the admin, filled as cutover
  psql -X -q -v ON_ERROR_STOP=1 "$(with_db "$1" postgres)" \
    -c "DROP DATABASE IF EXISTS cutover_replay WITH (FORCE)" \
    -c "CREATE DATABASE cutover_replay OWNER cutover"
  psql -X -q -v ON_ERROR_STOP=1 "$(with_db "$2" cutover_replay)" -f "$3"
}
drop_db() { # ADMIN-URL
  psql -X -q "$(with_db "$1" postgres)" \
    -c "DROP DATABASE IF EXISTS cutover_replay WITH (FORCE)"
}
rcli() { # PORT-URL words...: redis-cli on db 27 of that server
  local url=$1
  shift
  local port=${url##*:}
  port=${port%%/*}
  REDISCLI_AUTH=$CUTOVER_TB_REDIS_PASSWORD redis-cli -h 127.0.0.1 \
    -p "$port" -n 27 "$@" >/dev/null
}

cleanup() {
  drop_db "$CUTOVER_TB_PG_SOURCE_ADMIN" || true
  drop_db "$CUTOVER_TB_PG_TARGET_ADMIN" || true
  rcli "$CUTOVER_TB_REDIS_SOURCE_URL" FLUSHDB || true
  rcli "$CUTOVER_TB_REDIS_TARGET_URL" FLUSHDB || true
}
trap cleanup EXIT

fresh_db "$CUTOVER_TB_PG_SOURCE_ADMIN" "$CUTOVER_TB_PG_SOURCE_URL" \
  "$here/source.sql"
fresh_db "$CUTOVER_TB_PG_TARGET_ADMIN" "$CUTOVER_TB_PG_TARGET_URL" \
  "$here/target.sql"
src=$(with_db "$CUTOVER_TB_PG_SOURCE_URL" cutover_replay)
tgt=$(with_db "$CUTOVER_TB_PG_TARGET_URL" cutover_replay)
rsrc=${CUTOVER_TB_REDIS_SOURCE_URL%/*}/27
rtgt=${CUTOVER_TB_REDIS_TARGET_URL%/*}/27

# Sidekiq: 3 jobs left in queue:default on the source (not drained);
# keys user:1..3 on the source, user:3 missing on the target.
rcli "$rsrc" FLUSHDB
rcli "$rtgt" FLUSHDB
rcli "$rsrc" SADD queues default
rcli "$rsrc" RPUSH queue:default '{"class":"A"}' '{"class":"B"}' '{"class":"C"}'
rcli "$rsrc" MSET user:1 a user:2 b user:3 c
rcli "$rtgt" SADD queues default
rcli "$rtgt" MSET user:1 a user:2 b

# The side not recorded points at the closed port: never contacted.
closed_pg=postgres://cutover@127.0.0.1:$CUTOVER_TB_CLOSED_PORT/none
closed_redis=redis://127.0.0.1:$CUTOVER_TB_CLOSED_PORT/0
record() { # SIDE OUT PG-URL REDIS-URL
  local side=$1 out=$2
  if [ "$side" = source ]; then
    REPLAY_PG_SOURCE=$3 REPLAY_REDIS_SOURCE=$4 REPLAY_PG_TARGET=$closed_pg \
      REPLAY_REDIS_TARGET=$closed_redis \
      "$bin" snapshot -c "$here/cutover.yml" --side source -o "$out"
  else
    REPLAY_PG_TARGET=$3 REPLAY_REDIS_TARGET=$4 REPLAY_PG_SOURCE=$closed_pg \
      REPLAY_REDIS_SOURCE=$closed_redis \
      "$bin" snapshot -c "$here/cutover.yml" --side target -o "$out"
  fi
}
record source "$here/source.json" "$src" "$rsrc"
record target "$here/target.json" "$tgt" "$rtgt"
record target "$here/target-same.json" "$src" "$rsrc"
