#!/usr/bin/env bash
# Installs what building and testing Rampart needs on a fresh Debian bookworm machine.
# Idempotent: quick when everything is already there.
#   scripts/setup.sh build   system packages (libclang + clang for RocksDB's bindings; gcc, libc6-dev, make,
#                            runsc for native contracts; procps)
#                            and RocksDB's static library, built once (scripts/rocksdb.sh)
#   scripts/setup.sh all     + Node packages (solc, ethers, OpenZeppelin, Hardhat) + Python venv (web3.py)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHAT=${1:-all}

need_apt=()
dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
dpkg -s clang >/dev/null 2>&1 || need_apt+=(clang)
# Native contracts (issue 5): gcc + libc6-dev (static libc) + make build the C SDK, the example
# and test contracts and link the static contract host; runsc (gVisor) runs the sandbox tests,
# which fail without it unless RAMPART_SKIP_GVISOR=1.
dpkg -s gcc >/dev/null 2>&1 || need_apt+=(gcc)
dpkg -s libc6-dev >/dev/null 2>&1 || need_apt+=(libc6-dev)
dpkg -s make >/dev/null 2>&1 || need_apt+=(make)
dpkg -s runsc >/dev/null 2>&1 || need_apt+=(runsc)
# The cluster suite (tests/js/cluster.test.js) finds node processes with pgrep and ps.
dpkg -s procps >/dev/null 2>&1 || need_apt+=(procps)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
"$ROOT/scripts/rocksdb.sh"

[ "$WHAT" = build ] && exit 0

if [ ! -d "$ROOT/tests/node_modules/ethers" ] || [ "$ROOT/tests/package-lock.json" -nt "$ROOT/tests/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci (tests/)"
  (cd "$ROOT/tests" && npm ci --no-audit --no-fund --loglevel=error)
fi

VENV="$ROOT/tests/.venv"
if [ ! -x "$VENV/bin/pytest" ] || [ "$ROOT/tests/py/requirements.txt" -nt "$VENV/.installed" ]; then
  echo "setup: python venv (tests/.venv)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/tests/py/requirements.txt"
  touch "$VENV/.installed"
fi
