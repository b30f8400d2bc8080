# shellcheck shell=bash
# ci/lib/testbed.sh - the one test-bed start-up of the ci/ scripts that
# run against the local servers (ci/test, ci/sanitize, ci/valgrind,
# ci/demo). Sourced, never run; the caller has cd'ed to the repository
# root, set t0=$(date +%s) and defined say().
#
#   testbed_up fresh   start the bed (ci/services start) and stop it again
#                      on every exit path, whatever happened (ci/test: a
#                      lone clone gets a bed of its own)
#   testbed_up reuse   use the bed when it already runs (ci/services
#                      status) and leave it running; otherwise start it
#                      and stop it again on exit (ci/sanitize, ci/valgrind)
#   testbed_up keep    start the bed (or find it running) and leave it
#                      running (ci/demo without --stop)
#
# Then, in every mode: the EXIT trap prints the wall time since t0 and
# keeps the script's exit status (INT/TERM exit 130 through it), the
# test bed's variables are exported (eval "$(ci/services env)") and so is
# CUTOVER_REQUIRE_TESTBED=1 (a missing test-bed variable fails a suite
# instead of skipping it). ci/services start never restarts a running
# bed, so no mode takes it away from someone else's run.

testbed_mode=
testbed_stop=0 # 1: this script stops the bed on exit

testbed_cleanup() {
  local rc=$?
  if [ "$testbed_stop" -eq 1 ]; then
    if [ "$testbed_mode" = fresh ]; then
      say "stopping the test bed"
    else
      say "stopping the test bed (this script started it)"
    fi
    ci/services stop || true
  fi
  # shellcheck disable=SC2154 # t0: set by the sourcing script
  say "wall time $(($(date +%s) - t0))s"
  exit $rc
}

testbed_up() {
  testbed_mode=$1
  case $testbed_mode in
  fresh | reuse | keep) ;;
  *)
    echo "testbed_up: mode fresh, reuse or keep, not '$testbed_mode'" >&2
    exit 2
    ;;
  esac
  trap testbed_cleanup EXIT
  trap 'exit 130' INT TERM

  if [ "$testbed_mode" = reuse ] && ci/services status >/dev/null 2>&1; then
    say "using the running test bed (left running)"
  else
    say "starting the test bed"
    # fresh: down on every exit path, even when starting failed half-way.
    [ "$testbed_mode" = keep ] || testbed_stop=1
    ci/services start
  fi
  eval "$(ci/services env)"
  export CUTOVER_REQUIRE_TESTBED=1
}
