#!/usr/bin/env bash
# Checks ONE model of tla/manifest.json with TLC's distributed mode on this machine: a TLC
# server (tlc2.tool.distributed.TLCServer) and two TLC workers (tlc2.tool.distributed.TLCWorker,
# one thread each), all on 127.0.0.1, and compares the server's result with the manifest entry,
# whose numbers are those of single-process TLC (tla/check.sh): the same verdict and the same
# number of distinct states. Fails on any difference.
#
#   tla/distributed.sh [MODEL]      MODEL as in the manifest, e.g. MCPauseUnfencedSync (default)
#
# As in tla/check.sh, for a model expected to fail the count of distinct states comes from a
# second distributed run of the same model with only TypeOK as invariant.
#
# Ports: the server's RMI registry listens on the port of the Java system property
# tlc2.tool.distributed.TLCServer.port (TLC's default 10997), and the workers look the server up
# on that same port, so server and workers get the same -D. This script takes a free port (or
# DISTRIBUTED_PORT). The remote objects themselves (server, workers, fingerprint set) are
# exported on ephemeral ports. TLC has no option for the address these sockets listen on (Java
# RMI's default is every interface), so every java process runs through tla/LoopbackRMI.java, a
# small wrapper that installs an RMI socket factory binding to 127.0.0.1 before TLC starts;
# java.rmi.server.hostname=127.0.0.1 makes the stubs point there. Compiling it needs javac.
#
# TLC runs in a temporary directory (its states/ and its java.io.tmpdir there too), which is
# removed, with every java process this script started, on success, failure, Ctrl-C and
# TERM. DISTRIBUTED_TIMEOUT (seconds, default 300) bounds the whole check (both runs);
# DISTRIBUTED_LOGS=<dir> keeps the server's and workers' output there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/tla"
me="tla/distributed.sh"

# Sets $jar (installing TLC on first use), checks java, defines verdict, distinct, typeok_cfg.
. "$root/tla/tlc-lib.sh"

model="${1:-MCPauseUnfencedSync}"
model="${model%.tla}"
timeout_s="${DISTRIBUTED_TIMEOUT:-300}"
workers=2

entry="$(python3 - "$model" <<'EOF'
import json, sys
entries = json.load(open("manifest.json"))
for e in entries:
    if e["spec"] == sys.argv[1] + ".tla":
        print(e["cfg"], e["distinct_states"], e["expect"])
        break
else:
    sys.exit("tla/distributed.sh: no model %s in tla/manifest.json; models: %s"
             % (sys.argv[1], " ".join(e["spec"][:-4] for e in entries)))
EOF
)"
read -r cfg states expect <<< "$entry"

# javac of the same JDK as java, to compile the loopback wrapper for that java.
javac_bin="$(dirname "$(readlink -f "$(command -v java)")")/javac"
[ -x "$javac_bin" ] || javac_bin="$(command -v javac || true)"
if [ -z "$javac_bin" ]; then
  echo "$me: javac not found (apt-get install default-jdk-headless); it compiles" \
    "tla/LoopbackRMI.java, which keeps TLC's RMI sockets on 127.0.0.1" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tlc-distributed.XXXXXX")"
pids=()

# Waits up to $1 tenths of a second for the processes in $pids to exit; fails if some still run.
await_pids() {
  local i pid alive
  for ((i = 0; i < $1; i++)); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# Stops the processes in $pids: TERM, then KILL those still running after 5 s.
stop_pids() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  if ! await_pids 50; then
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}

# On any exit: stops every java process started here and removes $work.
cleanup() {
  trap - EXIT
  trap '' INT TERM
  stop_pids
  if [ -n "${DISTRIBUTED_LOGS:-}" ]; then
    mkdir -p "$DISTRIBUTED_LOGS" && cp "$work"/*out* "$DISTRIBUTED_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "$me: interrupted, stopping TLC" >&2; exit 130' INT
trap 'echo "$me: terminated, stopping TLC" >&2; exit 143' TERM

mkdir -p "$work/classes" "$work/tmp"
"$javac_bin" -nowarn -d "$work/classes" LoopbackRMI.java
cp Redlock.tla "$model.tla" "$cfg" "$work/"
cd "$work"

# Prints a free TCP port on 127.0.0.1, or checks that port $1 is free.
free_port() {
  python3 - "${1:-0}" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    sys.exit("tla/distributed.sh: port %s on 127.0.0.1 is not free (%s); "
             "set DISTRIBUTED_PORT to a free port" % (sys.argv[1], e.strerror))
print(s.getsockname()[1])
s.close()
EOF
}

# Runs the server on cfg $1 and $workers workers; the server's output goes to $2, worker i's to
# $2.worker<i>. Returns when the server has exited (its exit status does not matter: the
# output is judged), after stopping the workers; fails if the server ran out of time.
run_distributed() {
  local cfg="$1" out="$2" port sp i
  port="$(free_port "${DISTRIBUTED_PORT:-0}")" || exit 1  # (set -e is off in "if run_distributed")
  local java=(java -XX:+UseParallelGC -XX:-UsePerfData -Djava.io.tmpdir="$work/tmp"
    -Djava.rmi.server.hostname=127.0.0.1 -Dtlc2.tool.distributed.TLCServer.port="$port"
    -cp "$work/classes:$jar")
  "${java[@]}" LoopbackRMI tlc2.tool.distributed.TLCServer -deadlock -metadir "$work/states" \
    -config "$cfg" "$model.tla" > "$out" 2>&1 &
  sp=$!
  pids+=("$sp")
  for ((i = 1; i <= workers; i++)); do
    # Exports let TLC read its worker's RMI port for its log (else "VM does not allow ...").
    "${java[@]}" --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED \
      --add-exports java.rmi/sun.rmi.transport=ALL-UNNAMED \
      -Dtlc2.tool.distributed.TLCWorker.threadCount=1 \
      LoopbackRMI tlc2.tool.distributed.TLCWorker 127.0.0.1 > "$out.worker$i" 2>&1 &
    pids+=("$!")
  done
  while kill -0 "$sp" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "$me: $model: TLC still running after ${timeout_s} s (DISTRIBUTED_TIMEOUT);" \
        "stopping it" >&2
      stop_pids
      return 1
    fi
    sleep 0.2
  done
  # The server has told the workers to exit; give them 5 s, then stop whatever is left.
  await_pids 50 || true
  stop_pids
  rm -rf "$work/states" "$work/tmp"/*
}

# The verdict of a distributed run: success, "violated: <Invariant>" or error. TLC 2.15's
# server does not print "Error: Invariant X is violated." (the worker's message is dropped; it
# prints only "Error: The behavior up to this point is:" and the trace), so the invariant is
# read from the trace's last state: each judged invariant X of Redlock.tla is
# ~Violated(judge, "X"), true while judge.violations has no record with property "X"; like
# TLC, the first invariant of the cfg's order broken in that state is named. A trace whose last
# state breaks no judged invariant (TypeOK broken, or an evaluation error on a worker) is an
# error.
dist_verdict() {
  local v
  v="$(verdict "$1")"
  if [ "$v" != error ] || ! grep -q '^Error: The behavior up to this point is:' "$1"; then
    echo "$v"
    return
  fi
  python3 - "$1" "$2" <<'EOF'
import re, sys
out = open(sys.argv[1]).read().splitlines()
starts = [i for i, l in enumerate(out) if re.match(r"State \d+: ", l)]
last = out[starts[-1]:] if starts else []
judge, inside = [], False
for line in last[1:]:
    if line.startswith("/\\ "):
        inside = line.startswith("/\\ judge = ")
    elif not line.strip():
        break
    if inside:
        judge.append(line)
broken = set(re.findall(r'property \|-> "(\w+)"', "\n".join(judge)))
keywords = {"CONSTANT", "CONSTANTS", "INIT", "NEXT", "SPECIFICATION", "PROPERTY", "PROPERTIES",
            "SYMMETRY", "VIEW", "CONSTRAINT", "CONSTRAINTS", "ACTION_CONSTRAINT",
            "ACTION_CONSTRAINTS", "CHECK_DEADLOCK", "POSTCONDITION", "ALIAS"}
invariants, inside = [], False
for line in open(sys.argv[2]):
    for word in line.split("\\*")[0].split():
        if word in ("INVARIANT", "INVARIANTS"):
            inside = True
        elif word in keywords:
            inside = False
        elif inside:
            invariants.append(word)
named = [i for i in invariants if i in broken]
print("violated: " + named[0] if named else "error")
EOF
}

t0="$(date +%s.%N)"
deadline=$((SECONDS + timeout_s))
count=error
if run_distributed "$cfg" "$work/out"; then
  got="$(dist_verdict "$work/out" "$cfg")"
  count_out="$work/out"
  if [ "$got" != success ] && [ "$got" != error ]; then
    typeok_cfg "$cfg" count.cfg
    count_out=""
    run_distributed count.cfg "$work/count.out" && count_out="$work/count.out"
  fi
  if [ -n "$count_out" ] && [ "$(verdict "$count_out")" = success ]; then
    count="$(distinct "$count_out")"
  fi
else
  got=timeout
fi
[ -n "$count" ] || count=error
secs="$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' \
  "$t0" "$(date +%s.%N)")"

status=ok
if [ "$got" != "$expect" ] || [ "$count" != "$states" ]; then status=FAILED; fi
echo "distributed TLC: $model $got $count distinct states (single-process: $states)" \
  "in $secs s with $workers workers: $status"
if [ $status = FAILED ]; then
  echo "  expected: $expect, $states distinct states" >&2
  for f in "$work/out:$cfg" "$work/count.out:count.cfg"; do
    c="${f#*:}" f="${f%%:*}"
    [ -f "$f" ] || continue
    if [ "$(dist_verdict "$f" "$c")" = error ]; then
      echo "  last lines of $(basename "$f") (server) and its workers:" >&2
      tail -n 15 "$f" | sed 's/^/    /' >&2
      grep -hE '^Error|Exception' "$f".worker* 2>/dev/null | head -n 5 | sed 's/^/    /' >&2 || true
    fi
  done
  exit 1
fi
