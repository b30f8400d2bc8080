#!/usr/bin/env bash
# ci/testbed/demo-seed-redis.sh - the demo's Redis side of the half-done
# migration, in db 0 of the test-bed servers (the test suites use 2..8):
#   * jobs (source plain -> target TLS), Sidekiq-shaped:
#       queue:default still holds 3 jobs on the source (not drained),
#       retry has 2 jobs on the source but 1 on the target (one lost),
#       dead and schedule moved intact;
#   * cache (source -> target plain): cache:* has 5 keys on the source and
#     4 on the target (one never copied).
# Needs the variables of `ci/services env`.
set -euo pipefail

export REDISCLI_AUTH=$CUTOVER_TB_REDIS_PASSWORD
src=(redis-cli -h 127.0.0.1 -p 45379 -n 0)
tgt=(redis-cli -h 127.0.0.1 -p 45380 -n 0)
tls=(redis-cli -h 127.0.0.1 -p 45381 -n 0 --tls --cacert "$CUTOVER_TB_CA")

for r in src tgt tls; do
  declare -n cli=$r
  "${cli[@]}" FLUSHDB >/dev/null
done

job() { printf '{"class":"%s","args":[%s],"jid":"%s","queue":"default"}' "$@"; }

"${src[@]}" SADD queues default mailers >/dev/null
for i in 1 2 3; do
  "${src[@]}" LPUSH queue:default "$(job InvoiceJob "$i" "jid$i")" >/dev/null
done
for side in src tls; do
  declare -n cli=$side
  "${cli[@]}" SADD queues default mailers >/dev/null
  "${cli[@]}" ZADD schedule 1900000000 "$(job ReminderJob 7 sched1)" >/dev/null
  "${cli[@]}" ZADD dead 1700000000 "$(job BrokenJob 9 dead1)" >/dev/null
  "${cli[@]}" ZADD retry 1800000000 "$(job RetryJob 1 retry1)" >/dev/null
done
"${src[@]}" ZADD retry 1800000001 "$(job RetryJob 2 retry2)" >/dev/null

for i in 1 2 3 4 5; do
  "${src[@]}" SET "cache:page:$i" "rendered page $i" >/dev/null
  [ "$i" -eq 5 ] || "${tgt[@]}" SET "cache:page:$i" "rendered page $i" >/dev/null
done
echo "demo Redis data loaded (db 0)"
