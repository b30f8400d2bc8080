#!/usr/bin/env bash
# deb_install.sh DEB - installs the Debian package on this machine with
# dpkg -i, uses what it installed (cutover --version, cutover list,
# man -w cutover, the bash and zsh completions), removes it with dpkg -r
# and proves that every file it had installed is gone.
#
# It runs /usr/bin/cutover and the files under /usr by their full paths,
# so a `cmake --install` copy in /usr/local neither hides a broken
# package nor breaks the test. Needs root (skips with 77 otherwise). A
# `cutover` package already installed (not by this test) is a failure:
# the test would remove someone's install.
set -uo pipefail

deb=${1:?usage: deb_install.sh DEB}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fails=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }
check() { # check WHAT CMD...: passes when CMD succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
quiet() { "$@" >/dev/null 2>&1; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP deb_install: needs root for dpkg -i" >&2
  exit 77
fi
[ -f "$deb" ] || { echo "FAIL no package at $deb" >&2; exit 1; }
state=$(dpkg-query -W -f='${db:Status-Status}' cutover 2>/dev/null || true)
if [ -n "$state" ] && [ "$state" != not-installed ]; then
  echo "FAIL a cutover package is already $state here; remove it first" \
       "(dpkg -r cutover): this test installs and removes its own" >&2
  exit 1
fi

# Other sessions may hold the dpkg lock for a while (apt-get install).
dpkg_locked() {
  local i out
  for i in $(seq 1 60); do
    if out=$("$@" 2>&1); then printf '%s\n' "$out"; return 0; fi
    case $out in *"dpkg frontend lock"* | *"dpkg status database is locked"*)
      sleep 5 ;;
    *) printf '%s\n' "$out" >&2; return 1 ;;
    esac
  done
  printf '%s\n' "$out" >&2
  return 1
}

removed=0
cleanup() { [ $removed -eq 1 ] || dpkg_locked dpkg -r cutover >/dev/null 2>&1; }
trap cleanup EXIT

echo "== dpkg -i $(basename "$deb")"
dpkg_locked dpkg -i "$deb" || { echo "FAIL dpkg -i" >&2; exit 1; }
mapfile -t files < <(dpkg -L cutover)
echo "   ${#files[@]} paths installed"

v=$(/usr/bin/cutover --version)
want=$(dpkg-deb -f "$deb" Version)
check "cutover --version says $want ($v)" test "$v" = "cutover $want"
out=$(/usr/bin/cutover list)
check "cutover list names pg.connect" grep -q '^pg\.connect ' <<<"$out"
check "cutover list names env.diff" grep -q '^env\.diff ' <<<"$out"
check "cutover list has one line per check ($(wc -l <<<"$out") lines)" \
  test "$(wc -l <<<"$out")" -ge 10
check "man -aw cutover finds /usr/share/man/man1/cutover.1" \
  grep -qx '/usr/share/man/man1/cutover.1' < <(man -aw cutover)
check "man renders cutover(1) from the package" \
  bash -c 'MANWIDTH=80 man -l /usr/share/man/man1/cutover.1 2>/dev/null | grep -q "pg\.rowcount"'
for f in /usr/share/doc/cutover/README.md /usr/share/doc/cutover/copyright \
         /usr/share/doc/cutover/examples/cutover.yml; do
  check "installed $f" test -s "$f"
done
check "cutover config loads the installed examples/drift.yml" \
  quiet env -C /tmp HEROKU_DATABASE_URL=postgres://u:p@db.example/d \
  APTIBLE_DATABASE_URL=postgres://u:p@db.example/d \
  /usr/bin/cutover config -c /usr/share/doc/cutover/examples/drift.yml

# bash: complete words the way readline would, through the installed file.
bashcomp=/usr/share/bash-completion/completions/cutover
complete_words() { # complete_words WORD... (the last one is being typed)
  bash --norc --noprofile -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _cutover; printf "%s\n" "${COMPREPLY[@]}"' _ "$bashcomp" "$@" | sort | xargs
}
expect() { # expect "WANT" WORD...
  local want=$1 got; shift
  got=$(complete_words "$@")
  if [ "$got" = "$want" ]; then ok "bash: $* -> $got"
  else bad "bash: $* -> \"$got\", want \"$want\""; fi
}
expect_has() { # expect_has "WANT..." "NOT..." WORD...: holds WANT, not NOT
  local want=$1 unwanted=$2 got w miss=; shift 2
  got=" $(complete_words "$@") "
  for w in $want; do [[ $got == *" $w "* ]] || miss+=" $w"; done
  for w in $unwanted; do [[ $got == *" $w "* ]] && miss+=" !$w"; done
  if [ -z "$miss" ]; then ok "bash: $* -> holds $want"
  else bad "bash: $* ->$got: wrong:$miss"; fi
}
expect_has "check config" "" cutover c
expect "--phase" cutover check --ph
expect "drift" cutover check --phase dr
expect "drift" cutover check --phase = dr
expect "pg.connect" cutover check --only pg.con
expect "tls.cert,pg.rowcount" cutover check --only tls.cert,pg.ro
expect "always auto" cutover check --color a
expect "source target" cutover snapshot --side ""
# one getopt table serves check and snapshot; each gets its own options
expect_has "--side --skip" "--strict" cutover snapshot --s
expect_has "--skip --strict" "--side" cutover check --s
expect_has "--heroku --aptible --force" "--phase" cutover init --
# every check id of `cutover list` is offered after --only
ids=$(/usr/bin/cutover list | awk 'NR > 1 {print $1}' | sort | xargs)
expect "$ids" cutover check --only ""
check "bash-completion's loader finds the file" bash --norc --noprofile -c '
  source /usr/share/bash-completion/bash_completion
  __load_completion cutover && complete -p cutover | grep -q "_cutover"'

# zsh: the file parses and compinit binds it to cutover.
zshcomp=/usr/share/zsh/vendor-completions/_cutover
if command -v zsh >/dev/null; then
  check "zsh parses _cutover" zsh -n "$zshcomp"
  check "zsh's default fpath holds $(dirname "$zshcomp")" \
    bash -c 'zsh -fc "print -l \$fpath" | grep -qx "$1"' _ "$(dirname "$zshcomp")"
  check "zsh compinit binds cutover to _cutover" zsh -fc "
    autoload -U compinit && compinit -u -d \$(mktemp)
    [[ \${_comps[cutover]} == _cutover ]]"
  # Real completion: an interactive zsh in a pseudo-terminal, TAB typed,
  # the package's file first in fpath (a /usr/local copy may exist too).
  zexpect() { # zexpect WANT WORDS: WANT appears in what zsh completes
    local got
    got=$(timeout 30 zsh -f "$here/zsh_complete.zsh" "$2" \
      "$(dirname "$zshcomp")" 2>&1 |
      sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tr -d '\r')
    if grep -qF -- "$1" <<<"$got"; then ok "zsh: $2 -> $1"
    else bad "zsh: $2 did not offer $1: $(tail -c 300 <<<"$got")"; fi
  }
  zexpect "check --phase=drift" "cutover check --phase=d"
  zexpect "tls.cert,pg.rowcount" "cutover check --only tls.cert,pg.ro"
  zexpect "--side" "cutover snapshot --s"
  zexpect "--skip" "cutover snapshot --s"
else
  bad "zsh is not installed (ci/deps installs it)"
fi

echo "== dpkg -r cutover"
dpkg_locked dpkg -r cutover >/dev/null || bad "dpkg -r cutover"
removed=1
left=0
for f in "${files[@]}"; do
  [ "$f" = /. ] && continue
  if [ -d "$f" ]; then
    # A directory may stay only while something else still lives in it.
    if [ -z "$(ls -A "$f")" ]; then echo "   left behind (empty): $f"; left=$((left + 1)); fi
  elif [ -e "$f" ] || [ -L "$f" ]; then
    echo "   left behind: $f"; left=$((left + 1))
  fi
done
check "nothing of the ${#files[@]} paths left behind" test $left -eq 0
state=$(dpkg-query -W -f='${db:Status-Status}' cutover 2>/dev/null || true)
check "dpkg no longer lists cutover (${state:-not-installed})" \
  test "${state:-not-installed}" = not-installed
check "man -aw no longer finds /usr/share/man/man1/cutover.1" \
  bash -c '! man -aw cutover 2>/dev/null | grep -qx /usr/share/man/man1/cutover.1'

if [ $fails -ne 0 ]; then echo "deb_install: $fails failure(s)"; exit 1; fi
echo "deb_install: all passed"
