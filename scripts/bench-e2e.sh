#!/usr/bin/env bash
# End to end: signed ERC-20 transfers through JSON-RPC from many senders, committed, on
# `rampart dev` (release build) and on Hardhat's node, with the same client (`rampart bench`) and
# workload, one after the other in one sitting. Prints both reports and the ratio.
#   scripts/bench-e2e.sh            TXS=20000 SENDERS=200 CONCURRENCY=64 by default
#   RATE=2500 scripts/bench-e2e.sh  open loop at a fixed rate (e.g. half the maximum)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
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

run_bench() { # name url txs
  "$BIN" bench --rpc "$2" --txs "$3" --senders "$SENDERS" --concurrency "$CONCURRENCY" --rate "$RATE" \
    --json "$OUT/$1.json" --max-failure-share 1 | tee "$OUT/$1.txt"
}

PORT=$(free_port)
"$BIN" dev --ephemeral --http-addr "127.0.0.1:$PORT" >"$OUT/rampart-node.log" 2>&1 &
PID=$!
wait_rpc "http://127.0.0.1:$PORT"
run_bench rampart "http://127.0.0.1:$PORT" "$TXS"
stop

PORT=$(free_port)
(cd tests/hardhat-bench && exec node ../node_modules/hardhat/internal/cli/cli.js node --hostname 127.0.0.1 --port "$PORT") >"$OUT/hardhat-node.log" 2>&1 &
PID=$!
wait_rpc "http://127.0.0.1:$PORT"
run_bench hardhat "http://127.0.0.1:$PORT" "$HARDHAT_TXS"
stop

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = {n: json.load(open(f"{out}/{n}.json")) for n in ("rampart", "hardhat")}
print()
print(f"reports in {out}")
print(f"{'endpoint':<10} {'committed tx/s':>15} {'p50 ms':>8} {'p99 ms':>8} {'committed':>10} {'rejected':>9} {'timed out':>10}")
for n, d in rows.items():
    lat = d.get("latency_ms") or {}
    c = d["counts"]
    print(f"{n:<10} {d['throughput']['committed_tx_per_s']:>15.0f} {lat.get('p50', float('nan')):>8.0f} {lat.get('p99', float('nan')):>8.0f} {c['committed']:>10} {c['rejected']:>9} {c['timed_out']:>10}")
ratio = rows["rampart"]["throughput"]["committed_tx_per_s"] / rows["hardhat"]["throughput"]["committed_tx_per_s"]
print(f"ratio rampart/hardhat committed tx/s = {ratio:.2f}")
PY
