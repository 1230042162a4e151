#!/usr/bin/env bash
# Instructions per request of `zumodra serve` on GET /api/v1/jobs?limit=50, a random
# tenant per request, counted by valgrind's callgrind (repeatable on a noisy machine,
# unlike wall time):
#
#   bench/callgrind.sh LABEL BINARY DATABASE_URL TOKENS
#
# DATABASE_URL is a database seeded by `zumodra-bench seed` (TOKENS is its --out file).
# The server runs under callgrind; wrk (1 thread, 4 connections) warms every tenant up
# for $WARM, the counters are zeroed, wrk runs for $DUR, the counters are dumped. Prints
# the instructions (Ir) of the whole process and of the HTTP connection tasks alone
# (axum's handle_connection: the request path without background work), each divided
# by the requests wrk completed. Output: /tmp/zumodra-callgrind/cg-LABEL.out*.
set -euo pipefail
LABEL=$1 BIN=$2 URL=$3 TOKENS=$4
W=${BENCH_WORK:-/tmp/zumodra-callgrind}
PORT=${BENCH_PORT:-18497}
mkdir -p "$W"
cd "$(dirname "$0")/.."
ZUMODRA_DATABASE_URL=$URL ZUMODRA_BIND=127.0.0.1:$PORT ZUMODRA_LOG_FORMAT=json RUST_LOG=warn \
  valgrind --tool=callgrind --callgrind-out-file="$W/cg-$LABEL.out" \
  "$BIN" serve >"$W/server-$LABEL.log" 2>&1 &
VPID=$!
trap 'kill -TERM $VPID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.5; done
export BENCH_TOKENS=$TOKENS BENCH_PATH="/api/v1/jobs?limit=50"
wrk -t1 -c4 -d"${WARM:-30s}" --timeout 10s -s bench/wrk/random_tenant.lua "http://127.0.0.1:$PORT/" >"$W/warm-$LABEL.txt" 2>&1
callgrind_control -z $VPID >/dev/null
wrk -t1 -c4 -d"${DUR:-40s}" --timeout 10s -s bench/wrk/random_tenant.lua "http://127.0.0.1:$PORT/" >"$W/wrk-$LABEL.txt" 2>&1
callgrind_control -d $VPID >/dev/null
kill -TERM $VPID; wait $VPID 2>/dev/null || true
trap - EXIT
grep -q '"status": 0' "$W/wrk-$LABEL.txt" || { echo "some answers were not 2xx" >&2; exit 1; }
REQ=$(grep -o '"requests": [0-9]*' "$W/wrk-$LABEL.txt" | grep -o '[0-9]*$')
F=$(ls -t "$W/cg-$LABEL.out".* | head -1)
callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$F" >"$W/incl-$LABEL.txt" 2>/dev/null
TOTAL=$(grep -m1 "PROGRAM TOTALS" "$W/incl-$LABEL.txt" | awk '{gsub(",","",$1); print $1}')
CONN=$(grep -m1 "axum::serve::handle_connection::{{closure}}::{{closure}} \[" "$W/incl-$LABEL.txt" | awk '{gsub(",","",$1); print $1}')
echo "$LABEL: requests=$REQ Ir/request: process $((TOTAL / REQ)), request path $((CONN / REQ)) ($F)"
