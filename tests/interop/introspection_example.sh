#!/usr/bin/env bash
# Opaque tokens (RFC 7662) and API keys end to end, through the `validate`
# and `axum` examples (DESIGN.md §8): the OpenID provider issues an opaque
# token, the examples introspect it (discovered endpoint, client_secret_basic
# with the secret from JWT_GATE_INTROSPECT_SECRET; plain JSON and RFC 9701
# signed answers), a revocation at the provider is seen once the cache's
# age has passed, wrong credentials are 503 (never 401), and API keys from a
# file reach the same handler.
set -euo pipefail
cd "$(dirname "$0")"
source ./provider.sh
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2> /dev/null; rm -rf "$work"; }
fail() { echo "introspection interop: $*" >&2; exit 1; }

opaque=$(token api://orders/opaque)
[[ "$opaque" != *.* ]] || fail "not an opaque token: $opaque"
port=$(timeout 30 node -e 'console.log(JSON.parse(require("fs").readFileSync(process.env.READY, "utf8").split("\n")[0]).port)')
revoke() {
  curl -sf --max-time 30 -d "token=$1&client_id=orders-service&client_secret=orders-service-secret-orders-service-secret" \
    "http://127.0.0.1:$port/token/revocation" > /dev/null
}

cd ../..
cargo build --locked --quiet --example axum --example validate
validate=target/debug/examples/validate
export JWT_GATE_INTROSPECT_SECRET=orders-api-secret-orders-api-secret-orders-api
args=(--issuer "$issuer" --audience api://orders/opaque --allow-http --introspect --introspect-client-id orders-api)
out=$(echo "$opaque" | "$validate" "${args[@]}" --scope orders.read)
grep -q '"tenantId": "1741"' <<< "$out" || fail "validate (JSON answer): $out"
out=$(echo "$opaque" | "$validate" "${args[@]}" --introspect-jwt)
grep -q '"tenantId": "1741"' <<< "$out" || fail "validate (signed answer): $out"
if err=$(echo "$opaque" | JWT_GATE_INTROSPECT_SECRET=wrong "$validate" "${args[@]}" 2>&1); then
  fail "validate accepted a token with wrong introspection credentials"
fi
grep -q "HTTP 503" <<< "$err" || fail "wrong credentials were not 503: $err"
set +e
echo "$opaque" | env -u JWT_GATE_INTROSPECT_SECRET "$validate" "${args[@]}" 2> /dev/null; code=$?
set -e
[ "$code" = 2 ] || fail "--introspect without a secret exited $code, not 2"

# API keys: one file, both examples.
key="k3y-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
sha=$(printf %s "$key" | openssl dgst -sha256 -r | cut -d' ' -f1)
printf '[{"name": "billing", "sha256": "%s", "claims": {"sub": "billing-job", "tenantId": "1741", "scope": "orders.read"}}]' "$sha" > "$work/keys.json"
out=$(echo "$key" | "$validate" --issuer "$issuer" --audience api://orders/opaque --allow-http --api-keys "$work/keys.json")
grep -q '"sub": "billing-job"' <<< "$out" || fail "validate --api-keys: $out"
if echo "wrong-key" | "$validate" --issuer "$issuer" --audience api://orders/opaque --allow-http --api-keys "$work/keys.json" 2> /dev/null; then
  fail "validate accepted an unknown API key"
fi

target/debug/examples/axum "${args[@]}" --introspect-max-age 1 --api-keys "$work/keys.json" \
  --listen 127.0.0.1:0 > "$work/axum.log" 2>&1 &
server=$!
base=$(listening "$work/axum.log")
[ -n "$base" ] || fail "the axum example did not start: $(cat "$work/axum.log")"
# get NAME VALUE: the status and body (or challenge) of GET /claims.
get() {
  python3 - "$base/claims" "$@" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers={sys.argv[2]: sys.argv[3]})
try:
    with urllib.request.urlopen(req) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get_all("WWW-Authenticate"))
PY
}
res=$(get Authorization "Bearer $opaque")
[[ "$res" == 200* ]] && grep -q '"origin":"introspection"' <<< "$res" || fail "opaque token: $res"
res=$(get X-API-KEY "$key")
[[ "$res" == 200* ]] && grep -q '"authenticated":"api_key"' <<< "$res" && grep -q '"tenantId":"1741"' <<< "$res" || fail "API key: $res"
res=$(get X-API-KEY "not-$key")
[[ "$res" == 401* ]] && grep -q 'header="X-API-KEY", error="invalid_key"' <<< "$res" || fail "unknown API key: $res"
# Revoked at the provider: refused once the cached answer (1 s) is gone.
revoke "$opaque"
sleep 1.5
res=$(get Authorization "Bearer $opaque")
[[ "$res" == 401* ]] && grep -q 'not active' <<< "$res" || fail "revoked token: $res"
echo "introspection interop: ok"
