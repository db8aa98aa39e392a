#!/usr/bin/env bash
# Rampart's Block-STM side by side with pevm (risechain/pevm) on the same blocks: the same
# pre-state and the same transactions, 2 threads each, in one sitting.
#   scripts/bench-pevm.sh        PEVM_DIR=/var/tmp/pevm ROUNDS=7 SITTINGS=3 THREADS=2
#
# pevm is never part of this repository: clone it outside (PEVM_DIR, default /var/tmp/pevm), e.g.
#   git clone https://github.com/risechain/pevm /var/tmp/pevm
# Steps: build the Rampart bench (`cargo bench -p rampart-evm --bench parallel`), export its
# workloads to $WORKLOADS (`-- 1 export DIR`), build bench/pevm-compare against $PEVM_DIR
# (CARGO_TARGET_DIR=$PEVM_TARGET_DIR, never inside the repository), then SITTINGS times, in
# alternating order, the Rampart bench on all workloads and the pevm harness on the exported ones
# (each: median of ROUNDS interleaved sequential/parallel rounds, half as many at 10k). The table
# shows the median over sittings of those medians. Raw outputs stay in $OUT.
#   SKIP_EXPORT=1     reuse $WORKLOADS
#   BENCH_BIN=path    an already built Rampart bench binary (no cargo build of the workspace)
#   PEVM_PROFILE=pevm-shipped   build pevm with its own release settings (fat LTO, 1 codegen unit)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PEVM_DIR=$(cd "${PEVM_DIR:-/var/tmp/pevm}" && pwd)
WORKLOADS=${WORKLOADS:-/var/tmp/pevm-workloads}
ROUNDS=${ROUNDS:-7}; SITTINGS=${SITTINGS:-3}; THREADS=${THREADS:-2}
PEVM_PROFILE=${PEVM_PROFILE:-release}
RAMPART_TARGET=${CARGO_TARGET_DIR:-/var/tmp/rampart-target}
PEVM_TARGET=${PEVM_TARGET_DIR:-/var/tmp/pevm-target}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/rampart-bench-pevm.XXXXXX")}
mkdir -p "$OUT"
[ "$THREADS" = 2 ] || echo "note: the Rampart bench always runs 2 threads; THREADS=$THREADS applies to pevm only" >&2

# Rampart's bench binary (built once; its path from cargo's own report), or BENCH_BIN.
BIN=${BENCH_BIN:-$(CARGO_TARGET_DIR=$RAMPART_TARGET cargo bench -p rampart-evm --bench parallel --no-run 2>&1 |
  sed -nE 's/.*Executable benches\/parallel\.rs \((.*)\)$/\1/p' | tail -1)}
[ -x "$BIN" ] || { echo "no bench binary" >&2; exit 1; }
if [ -z "${SKIP_EXPORT:-}" ]; then
  "$BIN" 1 export "$WORKLOADS" 2>"$OUT/export.log"
fi

# The harness, with pevm from $PEVM_DIR: its manifest names /var/tmp/pevm; another checkout
# builds from a copy of the harness pointing there.
MANIFEST=bench/pevm-compare/Cargo.toml
if [ "$PEVM_DIR" != /var/tmp/pevm ]; then
  mkdir -p "$OUT/pevm-compare"
  cp -r bench/pevm-compare/src bench/pevm-compare/Cargo.lock "$OUT/pevm-compare/"
  sed "s#/var/tmp/pevm/crates/pevm#$PEVM_DIR/crates/pevm#" bench/pevm-compare/Cargo.toml >"$OUT/pevm-compare/Cargo.toml"
  MANIFEST=$OUT/pevm-compare/Cargo.toml
fi
CARGO_TARGET_DIR=$PEVM_TARGET cargo build --quiet --profile "$PEVM_PROFILE" --manifest-path "$MANIFEST"
HARNESS=$PEVM_TARGET/$PEVM_PROFILE/pevm-compare
PEVM_COMMIT=$(git -C "$PEVM_DIR" rev-parse HEAD 2>/dev/null || echo unknown)

# results: side \t sitting \t workload \t size \t seq tx/s \t par tx/s
: >"$OUT/results.tsv"
ours() {
  "$BIN" "$ROUNDS" workloads >"$OUT/ours-$1.txt" 2>>"$OUT/ours.log"
  sed -nE 's/^(.*[^ ]) +([0-9]+) txs  seq +([0-9]+) tx\/s.*  par[0-9]+ +([0-9]+) tx\/s.*/ours\t'"$1"'\t\1\t\2\t\3\t\4/p' \
    "$OUT/ours-$1.txt" >>"$OUT/results.tsv"
}
pevm() {
  "$HARNESS" "$WORKLOADS" "$ROUNDS" "" "$THREADS" >"$OUT/pevm-$1.txt" 2>>"$OUT/pevm.log"
  awk -F'\t' -v s="$1" '$1 == "RESULT" { print "pevm\t" s "\t" $2 "\t" $3 "\t" $4 "\t" $5 }' \
    "$OUT/pevm-$1.txt" >>"$OUT/results.tsv"
}
for s in $(seq 1 "$SITTINGS"); do
  echo "sitting $s/$SITTINGS (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  if [ $((s % 2)) = 1 ]; then ours "$s"; pevm "$s"; else pevm "$s"; ours "$s"; fi
done

# Median over sittings of each (side, workload, size, column).
median() { # side column -> workload \t size \t median
  awk -F'\t' -v side="$1" -v c="$2" '$1 == side { print $3 "\t" $4 "\t" $c }' "$OUT/results.tsv" |
    sort -t"$(printf '\t')" -k1,1 -k2,2n -k3,3n |
    awk -F'\t' '{ k = $1 "\t" $2; n[k]++; v[k, n[k]] = $3; if (!(k in seen)) { seen[k] = 1; keys[++m] = k } }
      END { for (i = 1; i <= m; i++) { k = keys[i]; print k "\t" v[k, int((n[k] + 1) / 2)] } }'
}
median ours 5 >"$OUT/ours-seq.tsv"; median ours 6 >"$OUT/ours-par.tsv"
median pevm 5 >"$OUT/pevm-seq.tsv"; median pevm 6 >"$OUT/pevm-par.tsv"
lookup() { awk -F'\t' -v w="$2" -v n="$3" '$1 == w && $2 == n { print $3 }' "$OUT/$1.tsv"; }

echo
echo "pevm $PEVM_COMMIT ($PEVM_PROFILE profile), $(date -u +%Y-%m-%d), $(nproc) cores, $THREADS threads, median of $SITTINGS sittings × $ROUNDS rounds (10k: $(( (ROUNDS + 1) / 2 > 3 ? (ROUNDS + 1) / 2 : 3 ))), load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| workload | txs | Rampart Block-STM tx/s | pevm parallel tx/s | Rampart / pevm | Rampart sequential tx/s | pevm sequential tx/s |"
echo "|---|---|---|---|---|---|---|"
# Rows in the Rampart bench's order (its first sitting's output).
awk -F'\t' '$1 == "ours" && $2 == 1 { print $3 "\t" $4 }' "$OUT/results.tsv" | while IFS=$'\t' read -r w n; do
  op=$(lookup ours-par "$w" "$n"); pp=$(lookup pevm-par "$w" "$n")
  os=$(lookup ours-seq "$w" "$n"); ps=$(lookup pevm-seq "$w" "$n")
  ratio=$(awk -v a="$op" -v b="$pp" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf '| %s | %s | %s | %s | **%s** | %s | %s |\n' "$w" "$n" "$op" "${pp:--}" "$ratio" "$os" "${ps:--}"
done
echo
echo "raw outputs: $OUT"
