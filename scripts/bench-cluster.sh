#!/usr/bin/env bash
# A local 3-node cluster under `rampart bench`: signed ERC-20 transfers through JSON-RPC,
# round-robin over the three nodes. First the maximum (closed loop), then an open loop at half of
# that rate, which is where the latency figures come from.
#   scripts/bench-cluster.sh                    TXS=20000 SENDERS=200 CONCURRENCY=64 NODES=3
#   scripts/bench-cluster.sh -- --workload eth  anything after `--` goes to both `rampart bench` runs
# Reports (JSON, text) and SVG plots go to $OUT.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/rampart-target}
TXS=${TXS:-20000}; SENDERS=${SENDERS:-200}; CONCURRENCY=${CONCURRENCY:-64}; NODES=${NODES:-3}
HALF_SECS=${HALF_SECS:-20}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/rampart-bench-cluster.XXXXXX")}
mkdir -p "$OUT"
[ -n "${SKIP_BUILD:-}" ] || { ./scripts/setup.sh all >/dev/null; cargo build --release --workspace --bins --quiet; }
BIN="$CARGO_TARGET_DIR/release/rampart"

RPC_PORT=$((20000 + RANDOM % 20000)); PEER_PORT=$((RPC_PORT + 100))
URLS=$(for i in $(seq 0 $((NODES - 1))); do printf "http://127.0.0.1:%d," $((RPC_PORT + i)); done); URLS=${URLS%,}
"$BIN" up --nodes "$NODES" --dir "$OUT/cluster" --rpc-port "$RPC_PORT" --peer-port "$PEER_PORT" >"$OUT/up.log" 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null || true; wait $UP 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  "$BIN" status --rpc "$URLS" 2>/dev/null | grep -q Leader && break
  sleep 0.2
done
"$BIN" status --rpc "$URLS"

bench() { # name [flags]
  local name=$1; shift
  "$BIN" bench --rpc "$URLS" --senders "$SENDERS" --concurrency "$CONCURRENCY" \
    --json "$OUT/$name.json" --plots "$OUT/$name-plots" --max-failure-share 1 --quiet "$@" "${EXTRA[@]}" | tee "$OUT/$name.txt"
}
bench max --txs "$TXS"
MAX=$(python3 -c "import json;print(json.load(open('$OUT/max.json'))['throughput']['committed_tx_per_s'])")
HALF=$(python3 -c "print(max(1, int($MAX / 2)))")
echo "== open loop at half the maximum: $HALF tx/s for ${HALF_SECS}s"
bench half --rate "$HALF" --duration-s "$HALF_SECS" --txs $((HALF * HALF_SECS))
python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
m = json.load(open(f"{out}/max.json")); h = json.load(open(f"{out}/half.json"))
lat = h.get("latency_ms") or {}
print(f"cluster: max {m['throughput']['committed_tx_per_s']:.0f} tx/s committed; "
      f"at {h['throughput']['committed_tx_per_s']:.0f} tx/s: p50 {lat.get('p50', float('nan')):.0f} ms, "
      f"p99 {lat.get('p99', float('nan')):.0f} ms")
EOF
echo "reports: $OUT"
