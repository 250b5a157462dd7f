#!/usr/bin/env bash
# The `axum` example (DESIGN.md §8) as a resource server in front of the real
# OpenID provider, driven over HTTP as a user (or an outside check) would:
# `listening on http://ADDR` once it accepts connections, /claims with any
# valid token, /admin only with --admin-scope, RFC 9728 metadata with
# --resource, anonymous callers with --optional, and unknown flags exit 2.
set -euo pipefail
cd "$(dirname "$0")"
source ./provider.sh
server=""
log=$(mktemp)
out=$(mktemp)
cleanup() {
  [ -n "$server" ] && kill "$server" 2> /dev/null
  rm -f "$log" "$out" "$out.challenge"
}
cd ../..
cargo build --locked --quiet --example axum
bin=target/debug/examples/axum

fail() { echo "axum example: $*" >&2; exit 1; }
# status URL [AUTHORIZATION]: the HTTP status; the body is left in $out,
# the WWW-Authenticate header in $out.challenge (python3: no curl needed).
status() {
  python3 - "$1" "${2:-}" "$out" <<'PY'
import sys, urllib.request, urllib.error
url, auth, out = sys.argv[1:4]
req = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
try:
    res = urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError as e:
    res = e
open(out, "wb").write(res.read())
open(out + ".challenge", "w").write(res.headers.get("WWW-Authenticate") or "")
print(res.status)
PY
}
body() { cat "$out"; }
# start FLAGS...: runs the example, waits for its line, sets $base.
start() {
  "$bin" "$@" > "$log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do grep -q '^listening on http://' "$log" && break; sleep 0.1; done
  base=$(sed -n 's/^listening on //p' "$log" | head -n1)
  [ -n "$base" ] || fail "no 'listening on' line: $(cat "$log")"
}
stop() { kill $server; wait $server 2> /dev/null || true; server=""; }

# Unknown flags and missing values are usage errors.
set +e
"$bin" --no-such-flag > /dev/null 2>&1; [ $? -eq 2 ] || fail "an unknown flag did not exit 2"
"$bin" --listen > /dev/null 2>&1; [ $? -eq 2 ] || fail "a flag without its value did not exit 2"
"$bin" --issuer "$issuer" --audience api://orders > /dev/null 2>&1; [ $? -eq 2 ] || fail "plain http without --allow-http did not exit 2"
set -e

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
resource="http://127.0.0.1:$port"
start --issuer "$issuer" --audience api://orders --allow-http --admin-scope orders.write \
  --listen "127.0.0.1:$port" --resource "$resource"
[ "$base" = "$resource" ] || fail "listening on $base, not $resource"
read_only=$(token api://orders orders.read)
writer=$(token api://orders "orders.read orders.write")

[ "$(status "$base/claims")" = 401 ] || fail "/claims without a token: $(body)"
challenge=$(cat "$out.challenge")
grep -q "resource_metadata=\"$resource/.well-known/oauth-protected-resource\"" <<< "$challenge" || fail "challenge: $challenge"
[ "$(status "$base/claims" "Bearer $read_only")" = 200 ] || fail "/claims with a token: $(body)"
grep -q '"authenticated":"bearer"' "$out" || fail "/claims body: $(body)"
grep -q '"tenantId":"1741"' "$out" || fail "/claims body: $(body)"
[ "$(status "$base/admin" "Bearer $read_only")" = 403 ] || fail "/admin without orders.write: $(body)"
[ "$(status "$base/admin" "Bearer $writer")" = 200 ] || fail "/admin with orders.write: $(body)"
[ "$(status "$base/claims" "Bearer x.y.z")" = 401 ] || fail "a garbage token: $(body)"
[ "$(status "$base/.well-known/oauth-protected-resource")" = 200 ] || fail "RFC 9728 metadata"
grep -q "\"resource\":\"$resource\"" "$out" || fail "metadata: $(body)"
grep -q "\"authorization_servers\":\[\"$issuer\"\]" "$out" || fail "metadata: $(body)"
stop

# --optional: anonymous callers reach /claims, not /admin; bad tokens are still refused.
start --issuer "$issuer" --audience api://orders --allow-http --optional --listen 127.0.0.1:0
[ "$(status "$base/claims")" = 200 ] || fail "--optional /claims without a token: $(body)"
grep -q '"authenticated":"anonymous"' "$out" || fail "--optional body: $(body)"
[ "$(status "$base/admin")" = 401 ] || fail "--optional /admin without a token: $(body)"
[ "$(status "$base/claims" "Bearer x.y.z")" = 401 ] || fail "--optional with a garbage token: $(body)"
stop

# --preset: the preset names its provider's issuer (here Auth0's), so the
# provider's token, of another issuer, is refused; its metadata names the
# preset's issuer as the authorization server.
jwks=$(python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-configuration"))["jwks_uri"])' "$issuer")
start --preset auth0 --domain example.eu.auth0.com --jwks-uri "$jwks" --audience api://orders --allow-http \
  --listen 127.0.0.1:0 --resource http://127.0.0.1:1/orders
[ "$(status "$base/claims" "Bearer $read_only")" = 401 ] || fail "--preset auth0 with another issuer's token: $(body)"
grep -q 'error="invalid_token"' "$out.challenge" || fail "--preset challenge: $(cat "$out.challenge")"
[ "$(status "$base/.well-known/oauth-protected-resource/orders")" = 200 ] || fail "--preset metadata"
grep -q '"authorization_servers":\["https://example.eu.auth0.com/"\]' "$out" || fail "--preset metadata: $(body)"
stop
set +e
"$bin" --preset cognito --region eu-west-1 --user-pool us-east-1_AbC123 --client-id c > /dev/null 2>&1
[ $? -eq 2 ] || fail "a Cognito pool of another region did not exit 2"
set -e
echo "axum example: ok"
