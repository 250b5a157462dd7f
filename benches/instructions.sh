#!/usr/bin/env bash
# Instructions per request of the layer benchmark's contenders, and of the
# cold RS256 validation with and without the Entra ID preset, counted by
# callgrind: deterministic, unlike wall time on a shared VM. Each contender
# runs 1 000 and 2 000 times; the difference / 1 000 is the per-call cost
# without setup. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench layer --no-run 2>/dev/null
bin=$(ls -t target/release/deps/layer-* | grep -v '\.d$' | head -n 1)
count() {
  LAYER_BENCH_ONLY=$1 LAYER_BENCH_N=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | awk '/refs:/ { gsub(",", "", $NF); print $NF }'
}
declare -A per
for c in bare_router router_with_noop_layer router_with_layer validator_validate router_with_layer_cache_hit; do
  a=$(count "$c" 1000); b=$(count "$c" 2000)
  per[$c]=$(( (b - a) / 1000 ))
  echo "$c: ${per[$c]} instructions per call"
done
echo "layer overhead (layered - bare - validate): $(( per[router_with_layer] - per[bare_router] - per[validator_validate] ))"
echo "own overhead (layered - no-op layered - validate): $(( per[router_with_layer] - per[router_with_noop_layer] - per[validator_validate] ))"
echo "cache hit through the layer, over the bare router: $(( per[router_with_layer_cache_hit] - per[bare_router] ))"

# The claim rules of a provider preset, cold (benches/validate.rs).
cargo bench --bench validate --no-run 2>/dev/null
bin=$(ls -t target/release/deps/validate-* | grep -v '\.d$' | head -n 1)
count_validate() {
  VALIDATE_BENCH_ONLY=$1 VALIDATE_BENCH_N=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | awk '/refs:/ { gsub(",", "", $NF); print $NF }'
}
for c in RS256/preset_plain RS256/preset; do
  a=$(count_validate "$c" 200); b=$(count_validate "$c" 400)
  per[$c]=$(( (b - a) / 200 ))
  echo "$c: ${per[$c]} instructions per call"
done
python3 -c "import sys; print(f'preset / plain rules, same token: {int(sys.argv[2]) / int(sys.argv[1]):.4f}')" "${per[RS256/preset_plain]}" "${per[RS256/preset]}"

# A DPoP request against its floors (benches/dpop.rs), the replay store left
# out (JWT_GATE_REDIS_URL pointing nowhere keeps the Redis row out too).
cargo bench --bench dpop --no-run 2>/dev/null
bin=$(ls -t target/release/deps/dpop-* | grep -v '\.d$' | head -n 1)
count_dpop() {
  JWT_GATE_REDIS_URL=redis://127.0.0.1:1/ DPOP_BENCH_ONLY=$1 DPOP_BENCH_N=$2 \
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | awk '/refs:/ { gsub(",", "", $NF); print $NF }'
}
for c in floor_cold floor_cold_ours dpop_cold floor_hit dpop_hit; do
  a=$(count_dpop "$c" 100); b=$(count_dpop "$c" 300)
  per[$c]=$(( (b - a) / 200 ))
  echo "dpop/$c: ${per[$c]} instructions per call"
done
python3 -c "import sys; a = [int(x) for x in sys.argv[1:]]; print(f'DPoP cold / floor {a[2] / a[0]:.4f}, / floor with our bearer validation {a[2] / a[1]:.4f}; hit / floor {a[4] / a[3]:.4f}')" \
  "${per[floor_cold]}" "${per[floor_cold_ours]}" "${per[dpop_cold]}" "${per[floor_hit]}" "${per[dpop_hit]}"
