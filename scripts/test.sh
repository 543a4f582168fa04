#!/usr/bin/env bash
# Runs every test of the project. Works on a fresh Debian machine with only the Rust toolchain:
# installs what the tests need when it is missing (redis-server, etcd, PostgreSQL, ZooKeeper, Chromium, Z3,
# Java for TLC, openssl for the TLS test's certificates, protoc for the etcd client's build), then runs the Rust tests (which start their own servers on loopback ports and stop
# them) and the TLA+ checks.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v etcd >/dev/null || missing+=(etcd-server)
# etcd-client compiles etcd's protobuf definitions when it builds.
command -v protoc >/dev/null || missing+=(protobuf-compiler)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
# ZooKeeper's server runs on the JRE below.
[ -e /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
command -v chromium >/dev/null || missing+=(chromium)
dpkg -s libz3-dev >/dev/null 2>&1 || missing+=(libz3-dev)
command -v java >/dev/null || missing+=(default-jre-headless)
# javac compiles tla/LoopbackRMI.java, which keeps TLC's distributed mode on loopback.
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v openssl >/dev/null || missing+=(openssl)
# TLC comes from PyPI into a virtualenv under target/ (tla/check.sh).
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

# One formatting for the workspace (rustfmt.toml); skipped only where rustfmt is not installed.
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all --check; fi
cargo test --workspace
# The crate's end-to-end example: a fenced counter that refuses a paused worker's late write
# (it starts its own redis-server and fails if an increment is lost or a stale write applied).
cargo run -q -p redlock-client --example fenced_counter
tla/check.sh
# TLC's distributed mode (a server and two workers on loopback) reaches the same state count.
tla/distributed.sh MCPauseUnfencedSync
