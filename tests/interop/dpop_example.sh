#!/usr/bin/env bash
# DPoP (RFC 9449) end to end: the OpenID provider issues DPoP-bound tokens to
# a real client library (oauth4webapi), which calls three `axum` example
# servers (DESIGN.md §8) behind one public URL: two share a Redis replay
# store, the third requires DPoP and server nonces. Then the `validate`
# example checks a proof with its token (--dpop-proof --method --url).
# Redis: the one JWT_GATE_REDIS_URL names (.ci/run starts one), else a
# redis-server of our own on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")"
source ./provider.sh
servers=()
redis_pid=""
logs=$(mktemp -d)
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2> /dev/null || true; done
  [ -n "$redis_pid" ] && kill "$redis_pid" 2> /dev/null
  rm -rf "$logs"
}
fail() { echo "dpop interop: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

redis="${JWT_GATE_REDIS_URL:-}"
if [ -z "$redis" ]; then
  command -v redis-server > /dev/null || fail "redis-server is not installed (apt-get install redis-server)"
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no > /dev/null 2>&1 &
  redis_pid=$!
  redis="redis://127.0.0.1:$port/"
  for _ in $(seq 1 50); do (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break; sleep 0.1; done
fi

cd ../..
cargo build --locked --quiet --example axum --example validate
interop=tests/interop
public="http://api.example.test"
# start NAME FLAGS...: runs the axum example, waits for its line, sets $base
# (not in a subshell: the server's pid must reach `cleanup`).
start() {
  local name=$1; shift
  target/debug/examples/axum --issuer "$issuer" --audience api://orders --allow-http \
    --public-url "$public" --listen 127.0.0.1:0 "$@" > "$logs/$name" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 100); do grep -q '^listening on http://' "$logs/$name" && break; sleep 0.1; done
  base=$(sed -n 's/^listening on //p' "$logs/$name" | head -n1)
}
start a --dpop allowed --redis "$redis"; a=$base
start b --dpop allowed --redis "$redis"; b=$base
start n --dpop required --dpop-nonce; n=$base
[ -n "$a" ] && [ -n "$b" ] && [ -n "$n" ] || fail "a server did not start: $(cat "$logs"/*)"
timeout 120 node "$interop/dpop_client.mjs" "$issuer" "$public" "$a" "$b" "$n"

# The validate example: a proof with its token, then the same proof for
# another method, and a flag mistake.
pair=$(timeout 30 node "$interop/dpop_mint.mjs" "$issuer" GET https://api.example.com/orders)
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$pair" "$1"; }
token=$(field token)
proof=$(field proof)
validate=target/debug/examples/validate
echo "$token" | "$validate" --issuer "$issuer" --audience api://orders --allow-http \
  --dpop-proof "$proof" --method GET --url https://api.example.com/orders > "$logs/claims" \
  || fail "validate --dpop-proof refused a good proof"
grep -q '"jkt"' "$logs/claims" || fail "validate printed: $(cat "$logs/claims")"
set +e
echo "$token" | "$validate" --issuer "$issuer" --audience api://orders --allow-http \
  --dpop-proof "$proof" --method POST --url https://api.example.com/orders > /dev/null 2> "$logs/err"
[ $? -eq 1 ] || fail "validate --dpop-proof accepted a proof for another method"
grep -q 'invalid DPoP proof' "$logs/err" || fail "validate said: $(cat "$logs/err")"
echo "$token" | "$validate" --issuer "$issuer" --audience api://orders --allow-http > /dev/null 2>&1
[ $? -eq 1 ] || fail "validate accepted a DPoP-bound token without its proof"
echo "$token" | "$validate" --issuer "$issuer" --audience api://orders --allow-http --dpop-proof "$proof" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--dpop-proof without --url did not exit 2"
target/debug/examples/axum --dpop sometimes > /dev/null 2>&1
[ $? -eq 2 ] || fail "--dpop sometimes did not exit 2"
set -e
echo "dpop example: ok"
