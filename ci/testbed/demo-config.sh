#!/usr/bin/env bash
# ci/testbed/demo-config.sh DIR - writes the demo app's config vars, as the
# two platforms' CLIs print them, into DIR (mode 600: they hold the test
# bed's passwords, as real ones hold real secrets):
#   heroku-config.json   `heroku config --app acme-health --json`
#   aptible-config.env   `aptible config --app acme-health` (KEY=value,
#                        values shell-escaped as the CLI prints them)
# Planted on the Aptible side:
#   * SENDGRID_API_KEY forgotten                        env.diff
#   * SECRET_KEY_BASE pasted with a different value     env.diff
# and done right: DATABASE_URL and REDIS_URL point at the Aptible
# database and Redis; Heroku's own variables (HEROKU_*, the add-on alias
# HEROKU_POSTGRESQL_CRIMSON_URL) are not carried over.
# Needs CUTOVER_DEMO_PG_{SOURCE,TARGET}_URL and `ci/services env`.
set -euo pipefail

dir=${1:?usage: demo-config.sh DIR}
umask 077
mkdir -p "$dir"

# Made-up secrets, fixed so every run reports the same; ci/demo checks
# that none of them appears in any report.
skb_heroku=demo-sentinel-skb-3f9c1e7a5b2d4f6e8a0c1e3f5a7b9d1f
skb_aptible=demo-sentinel-skb-3f9c1e7a5b2d4f6e8a0c1e3f5a7b9d2f
sendgrid=SG.demo-sentinel-sendgrid-7e1d4c2b9a8f
stripe=sk_test_demo-sentinel-stripe-51Hc2aK8

# JSON string escaping: enough for these values (no control characters).
jstr() {
  local v=${1//\\/\\\\}
  printf '"%s"' "${v//\"/\\\"}"
}
heroku=(
  APP_DISPLAY_NAME "Acme Health"
  DATABASE_URL "$CUTOVER_DEMO_PG_SOURCE_URL"
  HEROKU_APP_NAME acme-health
  HEROKU_POSTGRESQL_CRIMSON_URL "$CUTOVER_DEMO_PG_SOURCE_URL"
  HEROKU_SLUG_COMMIT 4b825dc642cb6eb9a060e54bf8d69288fbee4904
  LANG en_US.UTF-8
  RACK_ENV production
  RAILS_ENV production
  RAILS_LOG_TO_STDOUT enabled
  RAILS_SERVE_STATIC_FILES enabled
  REDIS_URL "$CUTOVER_TB_REDIS_SOURCE_URL"
  SECRET_KEY_BASE "$skb_heroku"
  SENDGRID_API_KEY "$sendgrid"
  STRIPE_SECRET_KEY "$stripe"
  WEB_CONCURRENCY 2
)
{
  sep='{'
  for ((i = 0; i < ${#heroku[@]}; i += 2)); do
    printf '%s\n  ' "$sep"
    jstr "${heroku[i]}"
    printf ': '
    jstr "${heroku[i + 1]}"
    sep=,
  done
  printf '\n}\n'
} >"$dir/heroku-config.json"

# KEY=value lines, each value escaped as Ruby's Shellwords.escape does (the
# Aptible CLI applies it): a backslash before every character but
# A-Za-z0-9_.,:+/@- . Keys need none; the first "\=" is the separator.
{
  echo "APP_DISPLAY_NAME=Acme Health"
  # Aptible spells the scheme postgresql://.
  echo "DATABASE_URL=postgresql:${CUTOVER_DEMO_PG_TARGET_URL#postgres:}"
  echo "LANG=en_US.UTF-8"
  echo "RACK_ENV=production"
  echo "RAILS_ENV=production"
  echo "RAILS_LOG_TO_STDOUT=enabled"
  echo "RAILS_SERVE_STATIC_FILES=enabled"
  echo "REDIS_URL=$CUTOVER_TB_REDIS_TLS_URL"
  echo "SECRET_KEY_BASE=$skb_aptible"
  echo "STRIPE_SECRET_KEY=$stripe"
  echo "WEB_CONCURRENCY=2"
} | sed 's|[^A-Za-z0-9_.,:+/@-]|\\&|g; s|\\=|=|' >"$dir/aptible-config.env"

# The secret values, one a line, for ci/demo's leak check.
printf '%s\n' "$skb_heroku" "$skb_aptible" "$sendgrid" "$stripe" \
  >"$dir/.secrets"
