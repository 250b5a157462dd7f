#!/usr/bin/env bash
# Builds the fuzz targets with cargo fuzz (libFuzzer, nightly,
# AddressSanitizer), seeds their corpora from tests/data (seed.py), and
# runs each for SECONDS, failing (exit 1) when any target crashes (the
# input is in fuzz/artifacts/TARGET/). Corpora grow in fuzz/corpus/TARGET/.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]     (default: 30 s, every target)
#
# FUZZ_BUILD_FLAGS adds cargo fuzz build flags (CI: `--dev`, a debug build
# that compiles in half the time); FUZZ_JOBS runs that many targets at a
# time (default: one per core).
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
# One target: its corpus grows, its figures are printed, a crash is shown.
run() {
  local target=$1 log
  mkdir -p "corpus/$target"
  log=$(mktemp)
  # shellcheck disable=SC2086
  if ! cargo +nightly fuzz run ${FUZZ_BUILD_FLAGS:-} "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 > "$log" 2>&1; then
    cat "$log"
    echo "fuzz target $target failed: see fuzz/artifacts/$target/" >&2
    rm -f "$log"
    return 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)
  echo "fuzz $target: ${runs:-?} runs in ${secs}s, $cov"
  rm -f "$log"
}
# FUZZ_JOBS targets at a time (default: one per core).
jobs=${FUZZ_JOBS:-$(nproc)}
pids=()
failed=0
for target in "${targets[@]}"; do
  run "$target" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
