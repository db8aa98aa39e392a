#!/usr/bin/env bash
# End to end: `rampart bench` against `rampart dev` (release build), a local 3-node cluster
# (`rampart up`) and/or Hardhat's node, with the same client and workload, one after the other in
# one sitting. Prints each report and the ratios. Reports (JSON, text) and SVG plots go to $OUT.
#   scripts/bench-e2e.sh                          rampart dev and Hardhat, ERC-20, TXS=20000 SENDERS=200 CONCURRENCY=64
#   scripts/bench-e2e.sh rampart                  only rampart dev (with its Prometheus metrics)
#   scripts/bench-e2e.sh cluster                  only a 3-node cluster (NODES=3), round-robin over its nodes
#   scripts/bench-e2e.sh all                      rampart dev, the cluster, then Hardhat
#   scripts/bench-e2e.sh hardhat -- --workload amm --pools 8 --contention 0.1
#                                                 anything after `--` goes to `rampart bench`
#   scripts/bench-e2e.sh all -- --workload native Rampart targets run native contracts (NATIVE_BACKEND,
#                                                 default gvisor; scripts/build-native.sh builds the
#                                                 static host and the C token); Hardhat is skipped
#   RATE=2500 scripts/bench-e2e.sh                open loop at a fixed rate (e.g. half the maximum)
#   HARDHAT_TXS=5000 scripts/bench-e2e.sh         fewer transactions for the (slower) Hardhat node
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${1:-both}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
case "$TARGET" in rampart|cluster|hardhat|both|all) ;; *) echo "usage: $0 [rampart|cluster|hardhat|both|all] [-- bench flags]" >&2; exit 2;; esac
want() { # target name → whether this run includes it
  case "$TARGET:$1" in "$1:$1"|both:rampart|both:hardhat|all:*) return 0;; *) return 1;; esac
}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/rampart-target}
TXS=${TXS:-20000}; SENDERS=${SENDERS:-200}; CONCURRENCY=${CONCURRENCY:-64}; RATE=${RATE:-0}
HARDHAT_TXS=${HARDHAT_TXS:-$TXS}; NODES=${NODES:-3}
NATIVE=""; prev=""
for a in "${EXTRA[@]}"; do
  case "$prev:$a" in --workload:native|*:--workload=native) NATIVE=1;; esac
  prev=$a
done
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/rampart-bench-e2e.XXXXXX")}
mkdir -p "$OUT"
./scripts/setup.sh all >/dev/null
cargo build --release --workspace --bins --quiet
BIN="$CARGO_TARGET_DIR/release/rampart"
NODE_ARGS=()
if [ -n "$NATIVE" ]; then
  ./scripts/build-native.sh >/dev/null
  NODE_ARGS=(--native-backend "${NATIVE_BACKEND:-gvisor}"
    --native-host "$CARGO_TARGET_DIR/native-static/x86_64-unknown-linux-gnu/release/rampart-contract-host")
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_rpc() {
  for _ in $(seq 1 300); do
    curl -s -X POST -H 'content-type: application/json' \
      --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$1" | grep -q result && return 0
    sleep 0.2
  done
  echo "no answer from $1" >&2; return 1
}
PID=""
stop() { # rampart up stops its nodes on SIGINT, the others on SIGTERM
  if [ -n "$PID" ]; then kill -"${STOP_SIGNAL:-TERM}" "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  PID=""; STOP_SIGNAL=TERM
}
trap stop EXIT

run_bench() { # name url txs [more flags]
  local name=$1 url=$2 txs=$3; shift 3
  "$BIN" bench --rpc "$url" --txs "$txs" --senders "$SENDERS" --concurrency "$CONCURRENCY" --rate "$RATE" \
    --json "$OUT/$name.json" --plots "$OUT/$name-plots" --max-failure-share 1 --quiet "$@" "${EXTRA[@]}" | tee "$OUT/$name.txt"
}

if want rampart; then
  PORT=$(free_port); MPORT=$(free_port)
  "$BIN" dev --ephemeral --http-addr "127.0.0.1:$PORT" --metrics-addr "127.0.0.1:$MPORT" "${NODE_ARGS[@]}" >"$OUT/rampart-node.log" 2>&1 &
  PID=$!
  wait_rpc "http://127.0.0.1:$PORT"
  run_bench rampart "http://127.0.0.1:$PORT" "$TXS" --metrics-url "http://127.0.0.1:$MPORT/metrics"
  stop
fi

if want cluster; then
  RPC_PORT=$((20000 + RANDOM % 20000)); PEER_PORT=$((RPC_PORT + 100))
  URLS=$(for i in $(seq 0 $((NODES - 1))); do printf "http://127.0.0.1:%d," $((RPC_PORT + i)); done); URLS=${URLS%,}
  rm -rf "$OUT/cluster"
  "$BIN" up --nodes "$NODES" --dir "$OUT/cluster" --rpc-port "$RPC_PORT" --peer-port "$PEER_PORT" "${NODE_ARGS[@]}" >"$OUT/cluster-up.log" 2>&1 &
  PID=$!; STOP_SIGNAL=INT
  for _ in $(seq 1 300); do
    "$BIN" status --rpc "$URLS" 2>/dev/null | grep -q Leader && break
    sleep 0.2
  done
  "$BIN" status --rpc "$URLS"
  run_bench cluster "$URLS" "$TXS"
  stop
fi

if want hardhat && [ -n "$NATIVE" ]; then
  echo "Hardhat runs no native contracts: its native row is skipped"
elif want hardhat; then
  PORT=$(free_port)
  (cd tests/hardhat-bench && exec node ../node_modules/hardhat/internal/cli/cli.js node --hostname 127.0.0.1 --port "$PORT") >"$OUT/hardhat-node.log" 2>&1 &
  PID=$!
  wait_rpc "http://127.0.0.1:$PORT"
  run_bench hardhat "http://127.0.0.1:$PORT" "$HARDHAT_TXS"
  stop
fi

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
rows = {n: json.load(open(f"{out}/{n}.json")) for n in ("rampart", "cluster", "hardhat") if os.path.exists(f"{out}/{n}.json")}
print()
print(f"reports and plots in {out}")
print(f"{'endpoint':<10} {'workload':<8} {'committed tx/s':>15} {'Mgas/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'committed':>10} {'failed':>7}")
for n, d in rows.items():
    lat = d.get("latency_ms") or {}
    c = d["counts"]
    t = d["throughput"]
    print(f"{n:<10} {d['workload']:<8} {t['committed_tx_per_s']:>15.0f} {t['gas_per_s']/1e6:>8.1f} {lat.get('p50', float('nan')):>8.0f} {lat.get('p99', float('nan')):>8.0f} {c['committed']:>10} {c['failed']:>7}")
hh = rows.get("hardhat", {}).get("throughput", {}).get("committed_tx_per_s", 0)
for n in ("rampart", "cluster"):
    if n in rows and hh > 0:
        print(f"ratio {n}/hardhat committed tx/s = {rows[n]['throughput']['committed_tx_per_s'] / hh:.2f}")
PY
