# zsh -f zsh_complete.zsh WORDS [DIR] - types WORDS and a TAB into an
# interactive zsh in a pseudo-terminal (compinit over the system's fpath,
# so the installed _cutover; DIR first in fpath if given) and prints what
# completion wrote back, terminal escapes included.
zmodload zsh/zpty zsh/datetime
zpty z 'zsh -f -i'
zpty -w z "fpath=(${2:-} \$fpath)" '; PS1="> "; autoload -U compinit; compinit -u -d ${TMPDIR:-/tmp}/.zcd-cutover-$$;' \
  'zstyle ":completion:*" menu no; setopt nobeep; LISTMAX=1000; print READY'
zpty -r z line '*READY*'
zpty -r z line '*READY*'
zpty -w -n z "$1"$'\t'
out= t0=$EPOCHREALTIME
while (( EPOCHREALTIME - t0 < 5 )); do
  if zpty -rt z chunk; then out+=$chunk; else sleep 0.2; fi
  [[ $out == *[[:alnum:]]* ]] && (( EPOCHREALTIME - t0 > 1 )) && break
done
print -r -- "${out//$'\r'/}"
zpty -d z
