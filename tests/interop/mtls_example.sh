#!/usr/bin/env bash
# Certificate-bound tokens (RFC 8705) end to end: the OpenID provider binds a
# token to the client certificate of its token request (openssl-made, sent
# as RFC 9440 `Client-Cert`, as a TLS-terminating proxy would); the
# `validate` example checks it with --client-cert, and the `axum` example
# (DESIGN.md §8) with --client-cert-header: the same certificate passes,
# another, none, or an unbound token where binding is required do not.
set -euo pipefail
cd "$(dirname "$0")"
source ./provider.sh
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2> /dev/null; rm -rf "$work"; }
fail() { echo "mtls interop: $*" >&2; exit 1; }

# Two self-signed client certificates (RFC 8705 self_signed_tls_client_auth).
for name in alice mallory; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=$name" -keyout "$work/$name.key" -out "$work/$name.pem" 2> /dev/null
  printf ':%s:' "$(openssl x509 -in "$work/$name.pem" -outform DER | base64 -w0)" > "$work/$name.header"
done
# The token the provider binds to alice's certificate.
token=$(CLIENT_CERT=$(cat "$work/alice.header") timeout 30 node -e '
  const { token_endpoint } = JSON.parse(require("fs").readFileSync(process.env.READY, "utf8").split("\n")[0]);
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: "orders-mtls",
    client_secret: "orders-mtls-secret-orders-mtls-secret-orders-mtls", scope: "orders.read", resource: "api://orders" });
  fetch(token_endpoint, { method: "POST", body, headers: { "client-cert": process.env.CLIENT_CERT } })
    .then((r) => r.json()).then((j) => { if (!j.access_token) { console.error(j); process.exit(1); } console.log(j.access_token); });
')
# The provider's cnf is openssl's DER hashed: base64url(SHA-256(DER)).
want=$(openssl x509 -in "$work/alice.pem" -outform DER | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '=')
got=$(python3 -c 'import base64, json, sys; p = sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["cnf"]["x5t#S256"])' "$token")
[ "$got" = "$want" ] || fail "the provider's x5t#S256 $got is not openssl's $want"

cd ../..
cargo build --locked --quiet --example axum --example validate
validate=target/debug/examples/validate
args=(--issuer "$issuer" --audience api://orders --allow-http)
out=$(echo "$token" | "$validate" "${args[@]}" --client-cert "$work/alice.pem")
grep -q '"x5t#S256"' <<< "$out" || fail "validate printed no cnf: $out"
# A file with the key after the certificate works too.
cat "$work/alice.pem" "$work/alice.key" > "$work/alice-identity.pem"
echo "$token" | "$validate" "${args[@]}" --client-cert "$work/alice-identity.pem" > /dev/null
if err=$(echo "$token" | "$validate" "${args[@]}" --client-cert "$work/mallory.pem" 2>&1); then
  fail "validate accepted alice's token with mallory's certificate"
fi
grep -q "client certificate" <<< "$err" || fail "unexpected refusal: $err"
if echo "$token" | "$validate" "${args[@]}" 2> /dev/null; then
  fail "validate accepted a certificate-bound token without a certificate"
fi
set +e
echo "$token" | "$validate" "${args[@]}" --client-cert "$work/nope.pem" 2> /dev/null; code=$?
echo "$token" | "$validate" "${args[@]}" --client-cert "$work/alice.key" 2> /dev/null; code2=$?
set -e
[ "$code" = 2 ] && [ "$code2" = 2 ] || fail "a missing or certificate-less --client-cert file exited $code/$code2, not 2"

# The axum example behind a "proxy" that sends Client-Cert.
target/debug/examples/axum "${args[@]}" --client-cert-header Client-Cert --mtls required \
  --listen 127.0.0.1:0 > "$work/axum.log" 2>&1 &
server=$!
base=$(listening "$work/axum.log")
[ -n "$base" ] || fail "the axum example did not start: $(cat "$work/axum.log")"
# status TOKEN [CLIENT-CERT]: the HTTP status of GET /claims.
status() {
  python3 - "$base/claims" "$@" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
if len(sys.argv) > 3:
    req.add_header("Client-Cert", open(sys.argv[3]).read())
try:
    with urllib.request.urlopen(req) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get("WWW-Authenticate"))
PY
}
res=$(status "$token" "$work/alice.header")
[[ "$res" == 200* ]] && grep -q "$want" <<< "$res" || fail "alice's certificate: $res"
res=$(status "$token" "$work/mallory.header")
[[ "$res" == 401*invalid_token* ]] || fail "mallory's certificate: $res"
res=$(status "$token")
[[ "$res" == 401*invalid_token* ]] || fail "no certificate: $res"
res=$(status "$(token api://orders)" "$work/alice.header")
[[ "$res" == 401*"bound to a client certificate"* ]] || fail "an unbound token where binding is required: $res"
echo "mtls example: ok"
