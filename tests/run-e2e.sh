#!/usr/bin/env bash
# Runs the ethers v6 end-to-end suite (tests/js) against a node this script starts and stops.
#
#   tests/run-e2e.sh               Rampart: $RAMPART_BIN (default: target/release/rampart), started as
#                                  `$RAMPART_BIN dev --datadir <tmp> --http-addr 127.0.0.1:<free port>`;
#                                  runs every file, including restart.test.js (RAMPART_BIN is exported).
#   tests/run-e2e.sh --hardhat     reference run against `hardhat node` (tests/hardhat config, interval
#                                  mining); restart, cluster and native tests are excluded (they need the rampart binary).
#
# Any further arguments go to `node --test` (e.g. --test-concurrency=1, --test-name-pattern=Cancun).
# Env: RAMPART_ARGS   extra CLI args for every rampart process (shared node and restart test)
#      KEEP_TMP=1     keep the temp dir (datadir + node.log)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
MODE=rampart
if [ "${1:-}" = "--hardhat" ]; then MODE=hardhat; shift; fi

if [ ! -d "$HERE/node_modules/ethers" ]; then
  echo "tests/node_modules missing: run (cd tests && npm ci)" >&2
  exit 2
fi

PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rampart-e2e.XXXXXX")
LOG="$TMP/node.log"
NODE_PID=""

cleanup() {
  local rc=$?
  if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$NODE_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    echo "---- last lines of $MODE node log ($LOG) ----" >&2
    tail -n 40 "$LOG" >&2 || true
  fi
  if [ -z "${KEEP_TMP:-}" ] && [ "$rc" -eq 0 ]; then rm -rf "$TMP"; else echo "temp dir kept: $TMP" >&2; fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

FILES=()
if [ "$MODE" = rampart ]; then
  BIN=${RAMPART_BIN:-$ROOT/target/release/rampart}
  case "$BIN" in /*) ;; *) BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" ;; esac
  if [ ! -x "$BIN" ]; then echo "rampart binary not found/executable: $BIN (set RAMPART_BIN)" >&2; exit 2; fi
  export RAMPART_BIN="$BIN"
  # shellcheck disable=SC2086
  "$BIN" dev --datadir "$TMP/data" --http-addr "127.0.0.1:$PORT" ${RAMPART_ARGS:-} >"$LOG" 2>&1 &
  NODE_PID=$!
  FILES=("$HERE"/js/*.test.js)
else
  (cd "$HERE/hardhat" && exec node ../node_modules/hardhat/internal/cli/cli.js node --hostname 127.0.0.1 --port "$PORT") >"$LOG" 2>&1 &
  NODE_PID=$!
  for f in "$HERE"/js/*.test.js; do
    case "$(basename "$f")" in restart.test.js|cluster.test.js|native.test.js|native-cluster.test.js) ;; *) FILES+=("$f") ;; esac
  done
fi

export RAMPART_RPC_URL="http://127.0.0.1:$PORT"
export RAMPART_WS_URL="ws://127.0.0.1:$PORT"

# wait until eth_chainId answers (60 s)
for i in $(seq 1 300); do
  if ! kill -0 "$NODE_PID" 2>/dev/null; then echo "$MODE node exited during startup" >&2; exit 1; fi
  if node -e '
    fetch(process.env.RAMPART_RPC_URL, {method: "POST", headers: {"content-type": "application/json"},
      body: JSON.stringify({jsonrpc: "2.0", id: 1, method: "eth_chainId", params: []})})
      .then((r) => r.json()).then((j) => process.exit(j.result ? 0 : 1)).catch(() => process.exit(1));'; then
    break
  fi
  if [ "$i" -eq 300 ]; then echo "$MODE node did not answer eth_chainId within 60 s" >&2; exit 1; fi
  sleep 0.2
done

echo "running ${#FILES[@]} test files against $MODE at $RAMPART_RPC_URL"
node --test "$@" "${FILES[@]}"
