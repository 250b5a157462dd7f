#!/usr/bin/env bash
# Where a variant's server spends its CPU under load: runs the server
# (pinned to core 0) and the load generator (core 1) as run.sh does, records
# the server with `perf record` for a few seconds once it is warm, and
# prints the server's CPU time per request and its samples grouped by what
# they are (signature arithmetic, kernel network stack, HTTP stack, jwt-gate,
# the token cache, JSON, allocation), then the top symbols. Needs `perf`
# (Debian: linux-perf) and the release build and tokens of run.sh.
#
#   bash benches/load/profile.sh jwt-gate rs256-1000
#   bash benches/load/profile.sh jwt-gate rs256-fresh --once
#   bash benches/load/profile.sh jwt-gate-dpop dpop-1000 --once
#   bash benches/load/profile.sh grpc-jwt-gate rs256-1000 --grpc --path /load.Orders/Get
set -euo pipefail
cd "$(dirname "$0")"
[ $# -ge 2 ] || { echo "usage: profile.sh VARIANT TOKEN_LIST [load flags]" >&2; exit 2; }
variant=$1 list=$2
shift 2
command -v perf > /dev/null || { echo "profile.sh needs perf" >&2; exit 1; }
bin=${CARGO_TARGET_DIR:-target}/release
tokens=target/tokens
[ -x "$bin/server" ] && [ -f "$tokens/$list" ] || { echo "run benches/load/run.sh first (build and tokens)" >&2; exit 1; }
out=$(mktemp -d)
trap 'kill "${server:-}" 2> /dev/null; rm -rf "$out"' EXIT

taskset -c 0 "$bin/server" --variant "$variant" --keys "$tokens" > "$out/server.out" 2>&1 &
server=$!
ready='^listening on '
[[ $variant == grpc-* ]] && ready='^stats on '
for _ in $(seq 1 100); do grep -q "$ready" "$out/server.out" && break; sleep 0.05; done
addr=$(sed -n 's/^listening on //p' "$out/server.out")
stats=$(sed -n 's/^stats on //p' "$out/server.out")
taskset -c 1 "$bin/load" --addr "$addr" --stats "${stats:-$addr}" --tokens "$tokens/$list" \
  --duration 8 --warmup 1 "$@" > "$out/load.json" &
load=$!
sleep "${WARM:-3}"
perf record -F 2000 -g -p "$server" -o "$out/perf.data" -- sleep "${SECONDS_RECORDED:-4}" > /dev/null 2>&1
wait "$load"
perf report -i "$out/perf.data" --no-children --sort symbol --stdio -g none 2> /dev/null \
  | grep '%' | sed 's/ \+-.*//' > "$out/symbols.txt"
python3 - "$out/load.json" "$out/symbols.txt" <<'EOF'
import json, re, sys
r = json.load(open(sys.argv[1]))
print(f"requests/s {r['rps']:,.0f}, server CPU {r['server_cpu_us_per_request']:.1f} µs a request, "
      f"server busy {r['server_busy'] * 100:.0f} %, generator busy {r['load_busy'] * 100:.0f} %")
groups = [
    ("signature arithmetic (aws-lc)", r"aws_lc|bn_|ecp_nistz|RSA_|rsa|mont|beeu|sha256_block"),
    ("kernel (network stack, syscalls)", r"\[k\]"),
    ("the token cache", r"token_table|token_cache|admission|Doorkeeper"),
    ("moka (key store, replay, other caches)", r"moka|crossbeam"),
    ("jwt-gate, the rest", r"jwt_gate"),
    ("JSON (serde)", r"serde|json"),
    ("allocation and copies", r"malloc|free|memmove|memcpy|memcmp|_int_|unlink_chunk"),
    ("HTTP stack and runtime (hyper, h2, tonic, axum, tokio)", r"hyper|httparse|h2::|tonic|axum|tokio|mio|http::"),
]
shares = {name: 0.0 for name, _ in groups}
other = 0.0
lines = [l for l in open(sys.argv[2]) if l.strip()]
for line in lines:
    share = float(line.split('%')[0])
    for name, pattern in groups:
        if re.search(pattern, line):
            shares[name] += share
            break
    else:
        other += share
cpu = r["server_cpu_us_per_request"]
print("\n| samples in | share | µs a request |\n|---|---:|---:|")
for name, share in list(shares.items()) + [("other", other)]:
    print(f"| {name} | {share:.1f} % | {share / 100 * cpu:.1f} |")
print("\ntop symbols:")
for line in lines[:15]:
    print("  " + line.strip())
EOF
