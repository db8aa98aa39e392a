#!/usr/bin/env bash
# Starts `rampart dev` on a free loopback port with a temporary data dir, runs a command with
# RAMPART_RPC_URL / RAMPART_WS_URL / RAMPART_BIN set, then stops the node.
#   scripts/with-node.sh BIN CMD [ARGS...]
set -euo pipefail
BIN=$1; shift
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rampart-node.XXXXXX")
"$BIN" dev --datadir "$TMP/data" --http-addr "127.0.0.1:$PORT" >"$TMP/node.log" 2>&1 &
PID=$!
cleanup() {
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
export RAMPART_RPC_URL="http://127.0.0.1:$PORT" RAMPART_WS_URL="ws://127.0.0.1:$PORT" RAMPART_BIN="$BIN"
for i in $(seq 1 300); do
  if ! kill -0 "$PID" 2>/dev/null; then echo "rampart exited during start-up:" >&2; cat "$TMP/node.log" >&2; exit 1; fi
  if curl -s -X POST -H 'content-type: application/json' \
      --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$RAMPART_RPC_URL" | grep -q result; then
    break
  fi
  [ "$i" -lt 300 ] || { echo "rampart did not answer within 60 s" >&2; exit 1; }
  sleep 0.2
done
"$@"
