#!/usr/bin/env bash
# Builds the fuzz targets with cargo fuzz (libFuzzer, nightly,
# AddressSanitizer), seeds their corpora from tests/data (seed.py), and
# runs each for SECONDS, stopping at the first crash (exit 1; the input is
# in fuzz/artifacts/TARGET/). Corpora grow in fuzz/corpus/TARGET/.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]     (default: 30 s, every target)
#
# FUZZ_BUILD_FLAGS adds cargo fuzz build flags (CI: `--dev`, a debug build
# that compiles in half the time).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(token signed_claims jwks discovery introspection request dpop_proof)
command -v cargo-fuzz > /dev/null || cargo install --locked cargo-fuzz
python3 seed.py
# shellcheck disable=SC2086
cargo +nightly fuzz build ${FUZZ_BUILD_FLAGS:-}
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log=$(mktemp)
  # shellcheck disable=SC2086
  if ! cargo +nightly fuzz run ${FUZZ_BUILD_FLAGS:-} "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 > "$log" 2>&1; then
    cat "$log"
    echo "fuzz target $target failed: see fuzz/artifacts/$target/" >&2
    rm -f "$log"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)
  echo "fuzz $target: ${runs:-?} runs in ${secs}s, $cov"
  rm -f "$log"
done
