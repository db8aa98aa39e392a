#!/usr/bin/env bash
# End to end: `rampart bench` against `rampart dev` (release build) and/or Hardhat's node, with the
# same client and workload, one after the other in one sitting. Prints each report and, when
# both ran, the ratio. Reports (JSON, text) and SVG plots go to $OUT.
#   scripts/bench-e2e.sh                          both targets, ERC-20, TXS=20000 SENDERS=200 CONCURRENCY=64
#   scripts/bench-e2e.sh rampart                  only rampart dev (with its Prometheus metrics)
#   scripts/bench-e2e.sh hardhat -- --workload amm --pools 8 --contention 0.1
#                                                 anything after `--` goes to `rampart bench`
#   RATE=2500 scripts/bench-e2e.sh                open loop at a fixed rate (e.g. half the maximum)
#   HARDHAT_TXS=5000 scripts/bench-e2e.sh         fewer transactions for the (slower) Hardhat node
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${1:-both}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
case "$TARGET" in rampart|hardhat|both) ;; *) echo "usage: $0 [rampart|hardhat|both] [-- bench flags]" >&2; exit 2;; esac
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/rampart-target}
TXS=${TXS:-20000}; SENDERS=${SENDERS:-200}; CONCURRENCY=${CONCURRENCY:-64}; RATE=${RATE:-0}
HARDHAT_TXS=${HARDHAT_TXS:-$TXS}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/rampart-bench-e2e.XXXXXX")}
mkdir -p "$OUT"
./scripts/setup.sh all >/dev/null
cargo build --release --workspace --bins --quiet
BIN="$CARGO_TARGET_DIR/release/rampart"

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
stop() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  PID=""
}
trap stop EXIT

run_bench() { # name url txs [more flags]
  local name=$1 url=$2 txs=$3; shift 3
  "$BIN" bench --rpc "$url" --txs "$txs" --senders "$SENDERS" --concurrency "$CONCURRENCY" --rate "$RATE" \
    --json "$OUT/$name.json" --plots "$OUT/$name-plots" --max-failure-share 1 --quiet "$@" "${EXTRA[@]}" | tee "$OUT/$name.txt"
}

if [ "$TARGET" != hardhat ]; then
  PORT=$(free_port); MPORT=$(free_port)
  "$BIN" dev --ephemeral --http-addr "127.0.0.1:$PORT" --metrics-addr "127.0.0.1:$MPORT" >"$OUT/rampart-node.log" 2>&1 &
  PID=$!
  wait_rpc "http://127.0.0.1:$PORT"
  run_bench rampart "http://127.0.0.1:$PORT" "$TXS" --metrics-url "http://127.0.0.1:$MPORT/metrics"
  stop
fi

if [ "$TARGET" != rampart ]; then
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
rows = {n: json.load(open(f"{out}/{n}.json")) for n in ("rampart", "hardhat") if os.path.exists(f"{out}/{n}.json")}
print()
print(f"reports and plots in {out}")
print(f"{'endpoint':<10} {'workload':<8} {'committed tx/s':>15} {'Mgas/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'committed':>10} {'failed':>7}")
for n, d in rows.items():
    lat = d.get("latency_ms") or {}
    c = d["counts"]
    t = d["throughput"]
    print(f"{n:<10} {d['workload']:<8} {t['committed_tx_per_s']:>15.0f} {t['gas_per_s']/1e6:>8.1f} {lat.get('p50', float('nan')):>8.0f} {lat.get('p99', float('nan')):>8.0f} {c['committed']:>10} {c['failed']:>7}")
if len(rows) == 2 and rows["hardhat"]["throughput"]["committed_tx_per_s"] > 0:
    ratio = rows["rampart"]["throughput"]["committed_tx_per_s"] / rows["hardhat"]["throughput"]["committed_tx_per_s"]
    print(f"ratio rampart/hardhat committed tx/s = {ratio:.2f}")
PY
