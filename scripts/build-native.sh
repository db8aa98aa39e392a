#!/usr/bin/env bash
# Builds the static native-contract artefacts into $CARGO_TARGET_DIR/native-static (or $1):
#   x86_64-unknown-linux-gnu/release/rampart-contract-host   the contract host (gVisor needs it static)
#   x86_64-unknown-linux-gnu/release/examples/{counter,token,native_box}   Rust SDK examples
#   c/{counter,token,hostile}, c/librampart.a                 C SDK, its examples, the hostile test contract
# Used by the native-contract tests (executor/native/tests/common), tests/js/native.test.js and `make dev`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-${CARGO_TARGET_DIR:-/var/tmp/rampart-target}/native-static}
mkdir -p "$OUT"
# crt-static for the gnu target; `--target` keeps RUSTFLAGS away from build scripts and proc macros.
env -u CARGO_ENCODED_RUSTFLAGS RUSTFLAGS="-C target-feature=+crt-static" \
  "${CARGO:-cargo}" build --quiet --release --target x86_64-unknown-linux-gnu --target-dir "$OUT" \
  --manifest-path "$ROOT/Cargo.toml" -p rampart-contract-host -p rampart-sdk --bins --examples
make -s -C "$ROOT/sdk/c" OUT="$OUT/c"
gcc -static -O2 -D_DEFAULT_SOURCE -I "$ROOT/sdk/c" "$ROOT/executor/native/tests/contracts/hostile.c" \
  "$OUT/c/librampart.a" -o "$OUT/c/hostile"
