#!/usr/bin/env bash
# Runs every Rampart test suite on this machine, installing what they need first:
#   1. Rust unit and integration tests (cargo nextest)
#   2. ethers v6 end-to-end suite against the real `rampart` binary (tests/run-e2e.sh)
#   3. web3.py end-to-end suite against the real `rampart` binary
# Ends with one line "rampart-tests: N passed, M failed" and exits non-zero if anything failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/rampart-target}
export CARGO_TERM_COLOR=never

./scripts/setup.sh all || { echo "setup failed"; exit 1; }

echo "== build"
cargo build --workspace --all-targets --locked || { echo "build failed"; echo "rampart-tests: 0 passed, 1 failed"; exit 1; }
BIN="$CARGO_TARGET_DIR/debug/rampart"

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/rampart-tests.XXXXXX")
passed=0; failed=0

echo "== rust tests (nextest)"
cargo nextest run --workspace --locked --no-fail-fast 2>&1 | tee "$LOGS/nextest.log"
line=$(grep -E "^\s+Summary" "$LOGS/nextest.log" | tail -n 1)
p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
[ -n "$line" ] || f=1
passed=$((passed + p)); failed=$((failed + f))

echo "== native contract artefacts (static host, SDK examples) for the ethers suite"
./scripts/build-native.sh || { echo "native build failed"; failed=$((failed + 1)); }

echo "== ethers v6 suite"
RAMPART_BIN="$BIN" ./tests/run-e2e.sh 2>&1 | tee "$LOGS/js.log"
p=$(grep -E '^# pass ' "$LOGS/js.log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
f=$(grep -E '^# fail ' "$LOGS/js.log" | tail -n 1 | grep -oE '[0-9]+' || echo 1)
passed=$((passed + p)); failed=$((failed + f))

echo "== web3.py suite"
./scripts/with-node.sh "$BIN" tests/.venv/bin/pytest -q -p no:cacheprovider tests/py 2>&1 | tee "$LOGS/py.log"
p=$(tail -n 5 "$LOGS/py.log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
f=$(tail -n 5 "$LOGS/py.log" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')
[ "$p" -gt 0 ] || f=$((f + 1))
passed=$((passed + p)); failed=$((failed + ${f:-0}))

echo
echo "logs: $LOGS"
echo "rampart-tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
