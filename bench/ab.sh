#!/usr/bin/env bash
# Two server builds side by side on the same seeded database: A, B, A, B, … each started
# fresh, 3 s of warm-up, then wrk -t2 -c32 -d10s on a random tenant per request. For
# "before and after" figures of a change to the request path (docs/benchmarks.md).
#
#   bench/ab.sh DATABASE_URL TOKENS BIN_A BIN_B [ROUNDS] [PATH]
#
#   # e.g. a private cluster with 1,000 tenants seeded like the suite's:
#   URL=$(bench/pg.sh start)/zab; psql "${URL%/zab}/postgres" -c 'create database zab'
#   zumodra-bench seed --url "$URL" --tenants 1000 --jobs 20 --candidates 400 --out /tmp/ab-tokens.txt
#   bench/ab.sh "$URL" /tmp/ab-tokens.txt /tmp/zumodra-before target/release/zumodra 2
#
# Extra environment for one side: AB_ENV_A / AB_ENV_B ("NAME=value …"). Loopback only,
# bounded in time; the server started here is stopped at exit.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,14p' "$0"; exit 2; }
URL=$1 TOKENS=$2 A=$3 B=$4 ROUNDS=${5:-2}
export BENCH_PATH=${6:-/api/v1/jobs?limit=50} BENCH_TOKENS=$TOKENS
PORT=${AB_PORT:-18491}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; true' EXIT

one() { # LABEL BIN ENV
  local out
  out=$(mktemp)
  # shellcheck disable=SC2086
  env $3 ZUMODRA_DATABASE_URL="$URL" ZUMODRA_BIND=127.0.0.1:$PORT RUST_LOG=warn \
    ZUMODRA_WARM_POOL_SIZE=0 "$2" serve >"$out.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.1; done
  wrk -t2 -c32 -d3s -s "$ROOT/bench/wrk/random_tenant.lua" "http://127.0.0.1:$PORT/" >/dev/null 2>&1
  wrk -t2 -c32 -d10s --latency --timeout 5s -s "$ROOT/bench/wrk/random_tenant.lua" \
    "http://127.0.0.1:$PORT/" >"$out" 2>&1
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  grep '^BENCH_JSON ' "$out" | sed 's/^BENCH_JSON //' | python3 -c '
import json, sys
d = json.load(sys.stdin)
e = sum(d["errors"].values())
print("%s  %6.0f req/s  p50 %5.2f ms  p99 %6.2f ms  errors %d" % (sys.argv[1], d["rps"], d["p50_ms"], d["p99_ms"], e))
' "$1"
  rm -f "$out" "$out.log"
}

for r in $(seq 1 "$ROUNDS"); do
  one "A$r" "$A" "${AB_ENV_A:-}"
  one "B$r" "$B" "${AB_ENV_B:-}"
done
