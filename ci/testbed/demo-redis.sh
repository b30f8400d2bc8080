#!/usr/bin/env bash
# ci/testbed/demo-redis.sh - the demo's Sidekiq Redis, in db 0 of the test
# bed's servers (the test suites use dbs 2..8). Source: the Heroku Redis
# (plain :45379); target: the Aptible Redis (TLS-only :45381).
#
#   demo-redis.sh before   Heroku's workers are busy: queue:default holds 3
#                          jobs, queue:mailers 2, schedule/retry/dead hold
#                          their sets, 2 worker processes are registered;
#                          the Aptible Redis is empty.
#   demo-redis.sh after    the cutover window: the worker dynos were scaled
#                          to 0 once queue:mailers had drained, but with 3
#                          jobs still in queue:default (a queue not drained:
#                          redis.queues, and redis.keyspace counts one key
#                          more on the source); schedule, retry and dead
#                          were copied to the Aptible Redis intact.
# Needs the variables of `ci/services env`.
set -euo pipefail

export REDISCLI_AUTH=$CUTOVER_TB_REDIS_PASSWORD
port_of() { local u=${1##*@}; u=${u%%/*}; printf '%s' "${u##*:}"; }
# Both used through pipe's nameref.
# shellcheck disable=SC2034
src=(redis-cli -h 127.0.0.1 -p "$(port_of "$CUTOVER_TB_REDIS_SOURCE_URL")" -n 0)
# shellcheck disable=SC2034
tgt=(redis-cli -h 127.0.0.1 -p "$(port_of "$CUTOVER_TB_REDIS_TLS_URL")" -n 0
  --tls --cacert "$CUTOVER_TB_CA")

# A Sidekiq job payload (what Sidekiq::Client pushes), deterministic.
job() { # CLASS ARG JID QUEUE
  printf '{"retry":true,"queue":"%s","class":"%s","args":[%s],"jid":"%s",' \
    "$4" "$1" "$2" "$3"
  printf '"created_at":1717286400.0,"enqueued_at":1717286400.5}'
}

# One command in the Redis protocol, for `redis-cli --pipe`: one
# round trip per side instead of one process per command.
export LC_ALL=C # ${#a} counts bytes
cmd() {
  local a
  printf '*%d\r\n' $#
  for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done
}
pipe() { # CLI-ARRAY-NAME: sends stdin, fails on any error reply
  local -n cli=$1
  local res
  res=$("${cli[@]}" --pipe 2>&1)
  case $res in
    *"errors: 0,"*) ;;
    *) echo "demo-redis.sh: $res" >&2 && return 1 ;;
  esac
}

# The sets that must move with the data.
moved_sets() {
  cmd ZADD schedule 1893456000 \
    "$(job AppointmentReminderJob 7 5c1f0a3b2d4e6f70 default)"
  cmd ZADD retry 1717290000 "$(job FaxDeliveryJob 31 9a8b7c6d5e4f3a2b default)"
  cmd ZADD retry 1717293600 \
    "$(job InsuranceClaimSyncJob 12 1b2c3d4e5f6a7b8c default)"
  cmd ZADD dead 1717000000 "$(job LegacyImportJob 3 0f1e2d3c4b5a6978 default)"
  cmd SADD queues default mailers
  cmd SET stat:processed 184467
  cmd SET stat:failed 2211
}

case ${1:-} in
  before)
    cmd FLUSHDB | pipe tgt
    {
      cmd FLUSHDB
      moved_sets
      for i in 1 2 3; do
        cmd LPUSH queue:default \
          "$(job InvoiceJob "$((4100 + i))" "d0d0d0d0d0d0d00$i" default)"
      done
      for i in 1 2; do
        cmd LPUSH queue:mailers "$(job ActionMailer::MailDeliveryJob "$i" \
          "e0e0e0e0e0e0e00$i" mailers)"
      done
      cmd SADD processes worker.1:4:1a2b3c worker.2:4:4d5e6f
    } | pipe src
    echo "Heroku Redis: Sidekiq busy (5 jobs queued); Aptible Redis empty"
    ;;
  after)
    cmd DEL queue:mailers processes | pipe src
    { cmd FLUSHDB && moved_sets; } | pipe tgt
    echo "Heroku workers stopped with queue:default not drained;" \
      "schedule, retry, dead copied to the Aptible Redis"
    ;;
  *)
    echo "usage: demo-redis.sh before|after" >&2
    exit 64
    ;;
esac
