#!/usr/bin/env bash
# The `validate` example against the real OpenID provider: a token from its
# token endpoint, piped into the command-line validator, must print its
# claims (exit 0); a token for another resource must be refused (exit 1).
set -euo pipefail
cd "$(dirname "$0")"
source ./provider.sh
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
# Claim rules: the client standing in for the audience, a required claim
# value, a maximum age; each refusal names its rule.
token api://orders | cargo run --locked --quiet --example validate -- \
  --issuer "$issuer" --client-id orders-service --require-claim tenantId=1741 --max-age 300 --allow-http > /dev/null
# Roles from a claim path (here the string claim tenantId, read as one role).
token api://orders | cargo run --locked --quiet --example validate -- \
  --issuer "$issuer" --audience api://orders --roles-claim tenantId --role 1741 --allow-http > /dev/null
for rule in "--client-id someone-else" "--audience api://orders --require-claim tenantId=42" \
  "--audience api://orders --roles-claim roles --role Orders.Admin"; do
  if err=$(token api://orders | cargo run --locked --quiet --example validate -- \
    --issuer "$issuer" $rule --allow-http 2>&1); then
    echo "validate $rule accepted the token" >&2
    exit 1
  fi
  grep -qE "client|claim|role" <<< "$err"
done
# A preset names its provider's issuer: the provider's token (another
# issuer) is refused, and the refusal says so.
if err=$(token api://orders | cargo run --locked --quiet --example validate -- \
  --preset auth0 --domain example.eu.auth0.com --jwks-uri "$jwks" --audience api://orders --allow-http 2>&1); then
  echo "--preset auth0 accepted another issuer's token" >&2
  exit 1
fi
grep -q "issuer" <<< "$err"
# Bad arguments and setup mistakes exit 2, before any token is read; so do
# a preset's: unknown, missing or foreign arguments, a pool of another region.
for args in "--preset nope --audience a" "--preset entra --audience a" "--preset entra --tenant contoso.com --audience a" \
  "--preset google --issuer $issuer --audience a" "--preset google --realm r --audience a" \
  "--preset cognito --region eu-west-1 --user-pool us-east-1_AbC123 --client-id c" \
  "--bogus" "--audience api://orders" "--issuer $issuer --audience api://orders" "--issuer" \
  "--issuer $issuer --audience a --allow-http --require-claim novalue" "--issuer $issuer --audience a --allow-http --max-age soon"; do
  set +e
  cargo run --locked --quiet --example validate -- $args < /dev/null 2> /dev/null
  code=$?
  set -e
  if [ "$code" != 2 ]; then
    echo "validate $args exited $code, not 2" >&2
    exit 1
  fi
done

# Last-known-good keys: a run with --key-snapshot writes the provider's
# keys to the file; with the provider stopped, a token it issued before
# still validates from the file, and without the file it cannot.
snapshot_dir=$(mktemp -d)
cleanup() { rm -rf "$snapshot_dir"; }
saved=$(token api://orders)
cargo run --locked --quiet --example validate -- \
  --issuer "$issuer" --audience api://orders --allow-http --key-snapshot "$snapshot_dir/keys.json" <<< "$saved" > /dev/null
grep -q '"format":"jwt-gate key snapshot 1"' "$snapshot_dir/keys.json"
kill "$provider"
wait "$provider" 2> /dev/null || true
out=$(cargo run --locked --quiet --example validate -- \
  --issuer "$issuer" --audience api://orders --allow-http --key-snapshot "$snapshot_dir/keys.json" <<< "$saved")
grep -q '"tenantId": "1741"' <<< "$out"
if err=$(cargo run --locked --quiet --example validate -- \
  --issuer "$issuer" --audience api://orders --allow-http <<< "$saved" 2>&1); then
  echo "validated with the provider down and no snapshot" >&2
  exit 1
fi
grep -q "unavailable" <<< "$err"
echo "validate example: ok"
