#!/usr/bin/env bash
# Builds RocksDB's static library once per librocksdb-sys version and keeps it outside the clone,
# at the path .cargo/config.toml points ROCKSDB_LIB_DIR to. Every later build (debug, release,
# any feature set) links it instead of compiling RocksDB's C++ again (16-23 minutes on 2 cores).
# Idempotent: returns at once when the library is there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=$(grep -A1 '^name = "librocksdb-sys"$' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p')
DIR=$(sed -n 's/^ROCKSDB_LIB_DIR = "\(.*\)"$/\1/p' "$ROOT/.cargo/config.toml")
case "$DIR" in *"$VERSION"*) ;; *) echo "rocksdb.sh: .cargo/config.toml ROCKSDB_LIB_DIR ($DIR) does not name librocksdb-sys $VERSION from Cargo.lock" >&2; exit 1 ;; esac
[ -f "$DIR/librocksdb.a" ] && exit 0

echo "rocksdb.sh: building librocksdb.a for librocksdb-sys $VERSION (once; 15-25 minutes)"
BUILD=$(mktemp -d "${TMPDIR:-/tmp}/rampart-rocksdb-build.XXXXXX")
mkdir -p "$BUILD/src"
cat > "$BUILD/Cargo.toml" <<TOML
[package]
name = "rampart-rocksdb-build"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
librocksdb-sys = { version = "=$VERSION", default-features = false, features = ["lz4", "bindgen-runtime"] }
[profile.release]
opt-level = 2
TOML
: > "$BUILD/src/lib.rs"
# This build must compile RocksDB itself, so the cache variables must not reach it.
(cd "$BUILD" && env -u ROCKSDB_LIB_DIR -u ROCKSDB_STATIC CARGO_TARGET_DIR="$BUILD/target" cargo build --release --quiet)
LIB=$(find "$BUILD/target/release/build" -name librocksdb.a | head -n 1)
[ -n "$LIB" ] || { echo "rocksdb.sh: librocksdb.a not produced" >&2; exit 1; }
mkdir -p "$DIR"
cp "$LIB" "$DIR/librocksdb.a.tmp" && mv "$DIR/librocksdb.a.tmp" "$DIR/librocksdb.a"
rm -rf "$BUILD"
echo "rocksdb.sh: $DIR/librocksdb.a ready"
