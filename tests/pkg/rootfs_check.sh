#!/usr/bin/env bash
# rootfs_check.sh DEB SRC_DIR WORK_DIR - what a CI runner does, in a clean
# root: packaging/build-image unpacks a minimal Debian 12 root (cached
# mmdebstrap tarball, built once), copies in only the .deb and installs it
# with `apt-get install ./cutover_*.deb`, adds the non-root user and makes
# the OCI image. Then, inside that root (chroot shares the network) and as
# that user, `cutover check` runs against the test bed on 127.0.0.1:
#   - pg.connect, redis.connect, http.probe, tcp.reach: all pass, exit 0;
#   - tls.cert: the endpoint whose certificate expires in 5 days fails,
#     the good one passes, exit 1;
# with JUnit and JSON reports written in the root and checked here. It
# also proves the root holds no compiler and nothing of the build tree,
# that its /usr/bin/cutover is the package's, and that the image runs
# `cutover` as user cutover. Prints the time from an empty root to the
# first report and the sizes.
#
# Needs root, mmdebstrap, umoci, the Debian mirror (apt inside the root)
# and the test bed (`eval "$(ci/services env)"`): skips with 77 without
# them, fails instead when CUTOVER_REQUIRE_TESTBED=1 and the bed is
# missing. The first run builds the base root (about 2-3 minutes); later
# runs take about 2 minutes, most of it apt downloading the libraries.
set -uo pipefail

deb=${1:?usage: rootfs_check.sh DEB SRC_DIR WORK_DIR}
src=${2:?}
work=${3:?}
fails=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
skip() {
  echo "SKIP rootfs_check: $*" >&2
  exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (chroot)"
for t in mmdebstrap umoci xmllint python3; do
  command -v $t >/dev/null || skip "$t missing (ci/deps installs it)"
done
if [ -z "${CUTOVER_TB_PG_SOURCE_URL:-}" ]; then
  if [ "${CUTOVER_REQUIRE_TESTBED:-0}" = 1 ]; then
    echo "FAIL the test bed is required: eval \"\$(ci/services env)\"" >&2
    exit 1
  fi
  skip "no test bed (eval \"\$(ci/services env)\")"
fi

now() { date +%s%N; }
secs() { local ms=$((($2 - $1) / 1000000)); printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100)); }
rm -rf "$work"
mkdir -p "$work"
root=$work/rootfs
cleanup() { [ -n "${CUTOVER_KEEP_ROOT:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

t0=$(now)
if ! "$src/packaging/build-image" "$deb" "$work"; then
  echo "FAIL packaging/build-image" >&2
  exit 1
fi
t_image=$(now)

# The inputs a runner has in its checkout: a config and the bed's CA.
install -d -o 10001 -g 10001 "$root/work/reports"
cp "$CUTOVER_TB_CA" "$root/work/ca.pem"
cat >"$root/work/cutover.yml" <<'YML'
# A runner's config: every URL from the environment (the test bed's).
version: 1
settings:
  jobs: 4
  timeout: 10s
  resolvers: ["${CUTOVER_TB_DNS}"]
postgres:
  main:
    source: ${CUTOVER_TB_PG_SOURCE_URL}
    target: ${CUTOVER_TB_PG_TARGET_URL}
    ca_file: ./ca.pem
redis:
  jobs:
    source: ${CUTOVER_TB_REDIS_SOURCE_URL}
    target: ${CUTOVER_TB_REDIS_TLS_URL}
    ca_file: ./ca.pem
endpoints:
  web:
    url: https://app.cutover.test:${CUTOVER_TB_HTTPS_GOOD}/healthz
    ca_file: ./ca.pem
    expect_status: 200
  api:
    url: https://api.cutover.test:${CUTOVER_TB_HTTPS_EXPIRING}/healthz
    connect_to: 127.0.0.1
    ca_file: ./ca.pem
    cert_min_days: 14
    expect_status: 200
YML
# outbound takes host:port; the bed's HTTP variable is a URL.
printf 'outbound:\n  web: open.cutover.test:%s\n' "${CUTOVER_TB_HTTP##*:}" \
  >>"$root/work/cutover.yml"

# in_root CMD...: CMD in the root as user cutover in /work, with only the
# test bed's variables in its environment (what a CI job exports).
in_root() {
  local envs=(HOME=/work PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8)
  local v
  for v in $(compgen -e | grep '^CUTOVER_TB_'); do envs+=("$v=${!v}"); done
  unshare --mount --propagation private bash -c '
    root=$1; shift
    mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" || exit 125
    exec chroot --userspec=cutover:cutover "$root" env -i "$@"' \
    _ "$root" "${envs[@]}" sh -c 'cd /work && exec "$@"' _ "$@"
}

rc=0
in_root cutover check -c cutover.yml --phase post \
  --only pg.connect --only redis.connect --only http.probe --only tcp.reach \
  --junit reports/pass.xml --json reports/pass.json >"$work/pass.txt" 2>&1 || rc=$?
t_report=$(now)
cat "$work/pass.txt"
check "cutover check (connect, probe, reach) exits 0 inside the root ($rc)" test $rc -eq 0
check "JUnit report written and well-formed" xmllint --noout "$root/work/reports/pass.xml"
check "JSON report: pg.connect, redis.connect, http.probe, tcp.reach passed, nothing else" \
  python3 - "$root/work/reports/pass.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
checks = {c["check"] for c in r["checks"]}
want = {"pg.connect", "redis.connect", "http.probe", "tcp.reach"}
ok = (checks == want and s["failed"] == 0 and s["errors"] == 0
      and s["passed"] >= 4)
print("   summary", s, sorted(checks))
sys.exit(0 if ok else 1)
PY
check "reports belong to the runner's user (uid 10001)" \
  test "$(stat -c %u "$root/work/reports/pass.xml")" = 10001

rc=0
in_root cutover check -c cutover.yml --phase pre --only tls.cert \
  --junit reports/tls.xml --json reports/tls.json >"$work/tls.txt" 2>&1 || rc=$?
check "cutover check --only tls.cert exits 1 (a certificate expires in 5 days) ($rc)" test $rc -eq 1
check "JUnit of the failing run well-formed, one <failure>" \
  test "$(xmllint --xpath 'count(//testcase/failure)' "$root/work/reports/tls.xml" 2>/dev/null)" = 1
check "JSON: tls.cert api fails on its expiry, web passes" \
  python3 - "$root/work/reports/tls.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
st = {(c["resource"], k["status"], k["message"]) for c in r["checks"]
      if c["check"] == "tls.cert" for k in c["cases"]}
api = [m for (res, s, m) in st if res == "api" and s == "fail"]
web = [s for (res, s, m) in st if res == "web"]
print("   api:", api, "web:", web)
sys.exit(0 if api and "days" in api[0] and web == ["pass"] else 1)
PY

# What the root holds, and what it must not.
compilers=$(chroot "$root" sh -c 'for c in cc gcc c99 c89 clang tcc g++ c++ ld as cc1; do command -v $c; done' || true)
check "no compiler or assembler in the root (${compilers:-none found})" test -z "$compilers"
check "no C headers in the root (libc6-dev absent)" test ! -e "$root/usr/include/stdio.h"
leaks=$(find "$root" -xdev \( -name CMakeCache.txt -o -name CMakeFiles -o -name '*.o' \
  -o -name 'libcutover_lib.a' -o -name 'test_*' -o -name '*.c' \) -print 2>/dev/null | head -5)
check "no build tree files in the root (${leaks:-none})" test -z "$leaks"
check "nothing in the root mentions the source or build directory" \
  bash -c '! grep -rlsF -e "$1" -e "$2" "$3/usr/bin" "$3/work" "$3/tmp" "$3/etc"' _ "$src" "$(dirname "$deb")" "$root"
mkdir -p "$work/x"
dpkg-deb -x "$deb" "$work/x"
check "the root's /usr/bin/cutover is the package's, byte for byte" \
  cmp -s "$work/x/usr/bin/cutover" "$root/usr/bin/cutover"
check "dpkg in the root lists /usr/bin/cutover as cutover's" \
  bash -c 'chroot "$1" dpkg -S /usr/bin/cutover | grep -q "^cutover:"' _ "$root"
depends=$(dpkg-deb -f "$deb" Depends)

# The image: entrypoint, user, tags; it runs as its user.
check "OCI image: ENTRYPOINT [\"cutover\"], USER cutover, tags latest and the version" \
  python3 - "$work/oci" "$(dpkg-deb -f "$deb" Version)" <<'PY'
import json, os, sys
lay, ver = sys.argv[1], sys.argv[2]
blob = lambda d: json.load(open(os.path.join(lay, "blobs", *d.split(":"))))
idx = json.load(open(os.path.join(lay, "index.json")))
tags = {m["annotations"]["org.opencontainers.image.ref.name"]: m
        for m in idx["manifests"]}
cfg = blob(blob(tags["latest"]["digest"])["config"]["digest"])["config"]
print("   tags", sorted(tags), "config", {k: cfg.get(k) for k in
      ("Entrypoint", "Cmd", "User", "WorkingDir")})
sys.exit(0 if set(tags) == {"latest", ver} and cfg["Entrypoint"] == ["cutover"]
         and cfg["User"] == "cutover" and cfg["WorkingDir"] == "/work" else 1)
PY
v=$(in_root cutover --version 2>&1)
check "cutover --version as user cutover in the root ($v)" \
  test "$v" = "cutover $(dpkg-deb -f "$deb" Version)"

echo "== measured"
echo "   Depends: $depends"
echo "   .deb: $(stat -c %s "$deb") bytes"
echo "   rootfs: $(du -s --apparent-size -BM "$root" | cut -f1)" \
     "($(chroot "$root" dpkg-query -W | wc -l) packages)"
echo "   OCI image: $(du -s -BM "$work/oci" | cut -f1) (layout, gzip layer)," \
     "archive $(stat -c %s "$work/cutover-oci.tar") bytes"
echo "   empty root -> package installed and image made: $(secs "$t0" "$t_image")"
echo "   empty root -> first report: $(secs "$t0" "$t_report")"
if [ $fails -ne 0 ]; then echo "rootfs_check: $fails failure(s)"; exit 1; fi
echo "rootfs_check: all passed"
