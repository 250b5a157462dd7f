# Sourced by the example scripts: starts the OpenID provider (provider.mjs)
# on loopback, sets $issuer, and defines `token RESOURCE [SCOPE]`, which
# prints an access token from its token endpoint (client credentials with a
# resource indicator). Stops the provider when the script exits, after
# running the script's own `cleanup` if it defines one. A provider that
# prints no ready line within 10 s is killed and started again (three
# attempts), and every other node command here is under a timeout: a node
# process stuck at startup fails the script, never hangs it.
export READY
READY=$(mktemp)
trap 'declare -F cleanup > /dev/null && cleanup; kill $provider 2> /dev/null || true; rm -f "$READY"' EXIT
for attempt in 1 2 3; do
  node "$(dirname "${BASH_SOURCE[0]}")/provider.mjs" --mode default > "$READY" 2> /dev/null &
  provider=$!
  for _ in $(seq 1 100); do [ -s "$READY" ] && break; sleep 0.1; done
  [ -s "$READY" ] && break
  echo "provider.mjs printed no ready line within 10 s (attempt $attempt of 3)" >&2
  kill $provider 2> /dev/null || true
done
issuer=$(timeout 30 node -e 'console.log(JSON.parse(require("fs").readFileSync(process.env.READY, "utf8").split("\n")[0]).issuer)')
token() {
  timeout 30 node -e '
    const { token_endpoint } = JSON.parse(require("fs").readFileSync(process.env.READY, "utf8").split("\n")[0]);
    const body = new URLSearchParams({ grant_type: "client_credentials", client_id: "orders-service",
      client_secret: "orders-service-secret-orders-service-secret", scope: process.argv[2], resource: process.argv[1] });
    fetch(token_endpoint, { method: "POST", body }).then((r) => r.json()).then((j) => console.log(j.access_token));
  ' "$1" "${2:-orders.read}"
}
# listening LOG: waits (up to 10 s) for an axum example's `listening on URL`
# line in LOG and prints URL (nothing if none came).
listening() {
  for _ in $(seq 1 100); do grep -q '^listening on http://' "$1" && break; sleep 0.1; done
  sed -n 's/^listening on //p' "$1" | head -n1
}
