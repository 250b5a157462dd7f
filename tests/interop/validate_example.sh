#!/usr/bin/env bash
# The `validate` example against the real OpenID provider: a token from its
# token endpoint, piped into the command-line validator, must print its
# claims (exit 0); a token for another resource must be refused (exit 1).
set -euo pipefail
cd "$(dirname "$0")"
export READY="$PWD/provider.out"
node provider.mjs --mode default > "$READY" 2> /dev/null &
provider=$!
trap 'kill $provider 2> /dev/null || true; rm -f "$READY"' EXIT
for _ in $(seq 1 100); do [ -s "$READY" ] && break; sleep 0.1; done
issuer=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.env.READY, "utf8").split("\n")[0]).issuer)')
token() {
  node -e '
    const { token_endpoint } = JSON.parse(require("fs").readFileSync(process.env.READY, "utf8").split("\n")[0]);
    const body = new URLSearchParams({ grant_type: "client_credentials", client_id: "orders-service",
      client_secret: "orders-service-secret-orders-service-secret", scope: "orders.read", resource: process.argv[1] });
    fetch(token_endpoint, { method: "POST", body }).then((r) => r.json()).then((j) => console.log(j.access_token));
  ' "$1"
}
cd ../..
out=$(token api://orders | cargo run --locked --quiet --example validate -- \
  --issuer "$issuer" --audience api://orders --scope orders.read --allow-http)
echo "$out"
grep -q '"tenantId": "1741"' <<< "$out"
if err=$(token api://orders/es256 | cargo run --locked --quiet --example validate -- \
  --issuer "$issuer" --audience api://orders --allow-http 2>&1); then
  echo "a token for another audience was accepted" >&2
  exit 1
fi
echo "$err"
grep -q "audience" <<< "$err"

# Keys from the JWKS URL without discovery, with `iss` and `typ` checked.
jwks=$(python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-configuration"))["jwks_uri"])' "$issuer")
token api://orders | cargo run --locked --quiet --example validate -- \
  --jwks-uri "$jwks" --issuer "$issuer" --audience api://other --audience api://orders --typ at+jwt --allow-http > /dev/null
if token api://orders | cargo run --locked --quiet --example validate -- \
  --jwks-uri "$jwks" --audience api://orders --typ logout+jwt --allow-http 2> /dev/null; then
  echo "a token of another typ was accepted" >&2
  exit 1
fi
# Bad arguments and setup mistakes exit 2, before any token is read.
for args in "--bogus" "--audience api://orders" "--issuer $issuer --audience api://orders" "--issuer"; do
  set +e
  cargo run --locked --quiet --example validate -- $args < /dev/null 2> /dev/null
  code=$?
  set -e
  if [ "$code" != 2 ]; then
    echo "validate $args exited $code, not 2" >&2
    exit 1
  fi
done
echo "validate example: ok"
