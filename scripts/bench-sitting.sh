#!/usr/bin/env bash
# One sitting of the `rampart bench` results table (docs/benchmarks.md): every workload against
# `rampart dev`, a local 3-node cluster and Hardhat's node, one after the other, each row with the
# one command that reproduces it (scripts/bench-e2e.sh). Prints the table as Markdown at the end;
# reports, logs and plots stay in $OUT (one directory per workload).
#   scripts/bench-sitting.sh                 every workload
#   WORKLOADS="erc20 native" scripts/bench-sitting.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/rampart-target}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/rampart-bench-sitting.XXXXXX")}
WORKLOADS=${WORKLOADS:-"erc20 eth amm uups native"}
mkdir -p "$OUT"
./scripts/setup.sh all >/dev/null
cargo build --release --workspace --bins --quiet

# The command of each workload's row (environment, then scripts/bench-e2e.sh arguments).
row_cmd() {
  case "$1" in
    erc20)  echo "TXS=20000 HARDHAT_TXS=5000|all" ;;
    eth)    echo "TXS=20000 HARDHAT_TXS=5000|all -- --workload eth" ;;
    amm)    echo "TXS=10000 HARDHAT_TXS=5000|all -- --workload amm --contention 0.1" ;;
    uups)   echo "TXS=10000 HARDHAT_TXS=5000|all -- --workload uups --contention 1" ;;
    native) echo "TXS=2000 SENDERS=50|all -- --workload native --warmup-txs 200" ;;
    *) echo "unknown workload $1" >&2; return 1 ;;
  esac
}

for w in $WORKLOADS; do
  spec=$(row_cmd "$w")
  envs=${spec%%|*}; args=${spec#*|}
  echo "== $w: $envs scripts/bench-e2e.sh $args"
  # shellcheck disable=SC2086
  env $envs OUT="$OUT/$w" ./scripts/bench-e2e.sh $args 2>&1 | tee "$OUT/$w.log"
  echo "$envs scripts/bench-e2e.sh $args" >"$OUT/$w/command"
done

python3 - "$OUT" $WORKLOADS <<'PY'
import json, os, sys
out, workloads = sys.argv[1], sys.argv[2:]
names = {"rampart": "rampart dev", "cluster": "3-node cluster", "hardhat": "Hardhat"}
print()
print("| command | endpoint | workload | committed tx/s | Mgas/s | p50 ms | p99 ms | txs/block | failed | generator CPU |")
print("|---|---|---|---|---|---|---|---|---|---|")
for w in workloads:
    cmd = open(f"{out}/{w}/command").read().strip()
    tps = {}
    for n in ("rampart", "cluster", "hardhat"):
        f = f"{out}/{w}/{n}.json"
        if not os.path.exists(f):
            continue
        d = json.load(open(f))
        t, c, lat = d["throughput"], d["counts"], d.get("latency_ms") or {}
        tps[n] = t["committed_tx_per_s"]
        cpu = d["client"].get("cpu_cores_used_sending")
        print(f"| `{cmd}` | {names[n]} | {w}, {c['submitted']} txs | {t['committed_tx_per_s']:,.0f} | "
              f"{t['gas_per_s']/1e6:.1f} | {lat.get('p50', float('nan')):.0f} | {lat.get('p99', float('nan')):.0f} | "
              f"{d['blocks']['txs_per_block_mean']:.0f} | {c['failed']} | {'' if cpu is None else f'{cpu:.2f}'} |")
    if tps.get("hardhat"):
        print(f"|  | ratios | {w} | rampart/Hardhat {tps.get('rampart', 0)/tps['hardhat']:.1f}×, "
              f"cluster/Hardhat {tps.get('cluster', 0)/tps['hardhat']:.1f}× | | | | | | |")
PY
echo "reports: $OUT"
