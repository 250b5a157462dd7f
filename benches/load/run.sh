#!/usr/bin/env bash
# The whole-service load test, end to end: builds the load crate (release),
# mints the tokens once (target/tokens), measures the floor, then runs every
# variant for the same time, interleaved in rounds, the server pinned to
# core 0 and the load generator to core 1, and prints the table
# (report.py). Results: target/load-results.jsonl.
#
#   bash benches/load/run.sh                  # the full comparison, peers included
#   bash benches/load/run.sh --rounds 5 --duration 10
#   bash benches/load/run.sh --smoke          # jwt-gate only, 1 round of 1 s (CI)
#   bash benches/load/run.sh --only 'jwt-gate|none'   # variants matching a regex
set -euo pipefail
cd "$(dirname "$0")"

rounds=3 duration=5 warmup=2 connections=32 smoke=false only=''
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --connections) connections=$2; shift ;;
    --only) only=$2; shift ;;
    --smoke) smoke=true ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

features=() profile=release tokens=target/tokens mint_flags=()
if $smoke; then
  # Cheap enough for CI: no peers, a debug build (what CI has compiled
  # already is reused), small token lists, one short round.
  features=(--no-default-features) profile=debug tokens=target/tokens-small mint_flags=(--small)
  rounds=1 duration=1 warmup=0.5
fi
build=()
[ "$profile" = release ] && build=(--release)
cargo build --locked "${build[@]}" "${features[@]}" --bins
# CI points CARGO_TARGET_DIR at the main crate's target, whose compiled
# dependencies the smoke build reuses (the lockfiles pin the same versions).
bin=${CARGO_TARGET_DIR:-target}/$profile

"$bin/mint" "$tokens" "${mint_flags[@]}"

# Pinning needs two cores; on one, both share it (and the figures say so).
pin_server=() pin_load=()
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0) pin_load=(taskset -c 1)
fi

# label | server variant | token list | load flags [| ceiling variant].
# Each runs against the unprotected service (`none`, or the one named last:
# `grpc-none` for gRPC; same tokens) in alternating slices.
variants=(
  "jwt-gate, 1 client|jwt-gate|rs256-1|"
  "jwt-gate, 1 000 clients|jwt-gate|rs256-1000|"
  "jwt-gate, 100 000 clients|jwt-gate|rs256-100000|--warmup-pass"
  "jwt-gate, 100 000 clients, cache 400 000|jwt-gate-big|rs256-100000|--warmup-pass"
  "jwt-gate, cache off, 1 000 clients|jwt-gate-nocache|rs256-1000|"
  "jwt-gate, cache off, 100 000 clients|jwt-gate-nocache|rs256-100000|"
  "jwt-gate, every token new|jwt-gate|rs256-fresh|--once --warmup 0.2"
  "jwt-gate, ES256, 1 000 clients|jwt-gate|es256-1000|"
  "jwt-gate, DPoP, 1 000 clients|jwt-gate-dpop|dpop-1000|--once --warmup 0.5"
  "gRPC, jwt-gate, 1 client|grpc-jwt-gate|rs256-1|--grpc --path /load.Orders/Get|grpc-none"
  "gRPC, jwt-gate, 1 000 clients|grpc-jwt-gate|rs256-1000|--grpc --path /load.Orders/Get|grpc-none"
)
if ! $smoke; then
  variants+=(
    "jwt-authorizer, 1 client|jwt-authorizer|rs256-1|"
    "jwt-authorizer, 1 000 clients|jwt-authorizer|rs256-1000|"
    "aliri_tower, 1 client|aliri|rs256-1|"
    "aliri_tower, 1 000 clients|aliri|rs256-1000|"
  )
fi

results=target/load-results.jsonl
$smoke && results=target/load-smoke.jsonl
: > "$results"
logs=$(mktemp -d)
server_pids=()
trap '[ ${#server_pids[@]} -gt 0 ] && kill "${server_pids[@]}" 2> /dev/null; rm -rf "$logs"' EXIT

floor=$("${pin_server[@]}" "$bin/floor" "$tokens")
echo "floor: $floor"

start_server() { # start_server VARIANT: sets $addr, and $stats (where it answers /__stats)
  "${pin_server[@]}" "$bin/server" --variant "$1" --keys "$tokens" > "$logs/$1.out" 2> "$logs/$1.err" &
  server_pids+=($!)
  # gRPC servers print a second line: their /__stats listener.
  ready='^listening on '
  [[ $1 == grpc-* ]] && ready='^stats on '
  for _ in $(seq 1 100); do grep -q "$ready" "$logs/$1.out" && break; sleep 0.05; done
  addr=$(sed -n 's/^listening on //p' "$logs/$1.out")
  stats=$(sed -n 's/^stats on //p' "$logs/$1.out")
  stats=${stats:-$addr}
  [ -n "$addr" ] && [ -n "$stats" ] || { echo "the $1 server did not start: $(cat "$logs/$1.err")" >&2; exit 1; }
}

for round in $(seq 1 "$rounds"); do
  for entry in "${variants[@]}"; do
    IFS='|' read -r label variant list flags ceiling_variant <<< "$entry"
    [ -n "$only" ] && ! [[ $label =~ $only ]] && continue
    server_pids=()
    start_server "${ceiling_variant:-none}"; ceiling=$addr ceiling_stats=$stats
    start_server "$variant"
    # shellcheck disable=SC2086 # flags are words
    measured=$("${pin_load[@]}" "$bin/load" --addr "$addr" --stats "$stats" --ceiling "$ceiling" \
      --ceiling-stats "$ceiling_stats" --tokens "$tokens/$list" \
      --connections "$connections" --duration "$duration" --warmup "$warmup" $flags)
    kill -TERM "${server_pids[@]}"
    wait "${server_pids[@]}" || true
    server_pids=()
    # Every answer must be a 200, from the variant and the unprotected
    # service alike: a refused token is a broken setup, not a figure.
    python3 -c 'import json, sys
r = json.loads(sys.argv[1])
bad = r["errors"] + r["ceiling"]["errors"]
sys.exit(f"{sys.argv[2]}: {bad} answers other than 200" if bad else 0)' "$measured" "$label"
    python3 -c 'import json, sys
row = {"round": int(sys.argv[1]), "label": sys.argv[2], "variant": sys.argv[3], "token_list": sys.argv[4]}
row.update(json.loads(sys.argv[5])); row["floor"] = json.loads(sys.argv[6])
print(json.dumps(row))' "$round" "$label" "$variant" "$list" "$measured" "$floor" >> "$results"
    printf 'round %s  %-45s %s\n' "$round" "$label" "$(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print("%9.0f req/s  %.3fx the unprotected  p99 %7.0f us  errors %d" % (r["rps"], r["ratio"], r["p99_us"], r["errors"]))' "$measured")"
  done
done

report=()
$smoke && report=(--smoke)
python3 report.py "$results" "${report[@]}"
