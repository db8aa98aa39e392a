#!/usr/bin/env bash
# Builds the static native-contract artefacts into $CARGO_TARGET_DIR/native-static (or $1):
#   x86_64-unknown-linux-gnu/release/rampart-contract-host   the contract host (gVisor needs it static)
#   x86_64-unknown-linux-gnu/release/examples/{counter,token,native_box}   Rust SDK examples
#   c/{counter,token,hostile}, c/librampart.a                 C SDK, its examples, the hostile test contract
#   c/plain                                                   a test contract without an SDK (oldest frames only)
# Used by the native-contract tests (executor/native/tests/common), tests/js/native.test.js and `make dev`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-${CARGO_TARGET_DIR:-/var/tmp/rampart-target}/native-static}
mkdir -p "$OUT"
# crt-static for the gnu target; `--target` keeps RUSTFLAGS away from build scripts and proc macros.
# Symbols stripped: a contract's binary is transaction data, paid for per byte when deployed.
static() {
  env -u CARGO_ENCODED_RUSTFLAGS RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=symbols "$@"
}
static "${CARGO:-cargo}" build --quiet --release --target x86_64-unknown-linux-gnu --target-dir "$OUT" \
  --manifest-path "$ROOT/Cargo.toml" -p rampart-contract-host --bins
# The SDK examples built for size as well (what a contract author's release profile would say:
# opt-level "s", fat LTO, one codegen unit, abort on panic — a panicking contract's call fails
# either way, as a crash instead of an exit status). 1.47 → 1.15 MB for the Rust examples; most
# of what is left is the statically linked glibc.
CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  CARGO_PROFILE_RELEASE_PANIC=abort static "${CARGO:-cargo}" build --quiet --release \
  --target x86_64-unknown-linux-gnu --target-dir "$OUT" --manifest-path "$ROOT/Cargo.toml" -p rampart-sdk --examples
make -s -C "$ROOT/sdk/c" OUT="$OUT/c"
gcc -static -s -O2 -D_DEFAULT_SOURCE -I "$ROOT/sdk/c" "$ROOT/executor/native/tests/contracts/hostile.c" \
  "$OUT/c/librampart.a" -o "$OUT/c/hostile"
gcc -static -s -O2 "$ROOT/executor/native/tests/contracts/plain.c" -o "$OUT/c/plain"
