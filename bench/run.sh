#!/usr/bin/env bash
# The HTTP benchmark suite of issue #7, one command:
#
#   bench/run.sh                 # N = 1, 100, 1000 tenants
#   BENCH_FULL=1 bench/run.sh    # and 10,000
#   BENCH_TENANTS="1 100" bench/run.sh
#   BENCH_REUSE_DB=1             # keep an already seeded $BENCH_DB instead of starting empty
#   BENCH_PEER_MAX_TENANTS=1000  # run the peer only up to this N (provisioning 10,000
#                                # django-tenants schemas takes ~20 min); default: every N
#
# At 10,000 tenants, run it on a private cluster (bench/pg.sh: the peer's settings), keep
# the database and remove the whole cluster afterwards — dropping a database of 10,000
# schemas takes many minutes and holds up every other CREATE/DROP DATABASE of its cluster:
#
#   BENCH_PG=$(bench/pg.sh start) BENCH_KEEP_DB=1 BENCH_FULL=1 BENCH_PEER=1 \
#     BENCH_PEER_MAX_TENANTS=1000 bench/run.sh; bench/pg.sh remove
#
# For each N: seed tenants t00001..tN (zumodra-bench seed, growing one database), start
# `zumodra serve` (release) on 127.0.0.1, run wrk (-t2 -c32 -d10s --latency, a random
# tenant per request) on GET /api/v1/jobs?limit=50, GET /api/v1/public/jobs and a write
# mix (10% writes), read the server's RSS and the PostgreSQL backends' PSS, stop the
# server, then run pgbench on the same SQL transaction the handler runs (the ceiling) and,
# when the django-tenants peer is installed (/tmp/peer-venv, or BENCH_PEER=1 to set it
# up), the same wrk command against it. bench/report.py writes bench/results.json, the
# section of docs/benchmarks.md between the http-bench markers and docs/bench-throughput.svg.
#
# Loopback only; every load is bounded in time; every process started here is stopped on
# exit (trap), and the database zumodra_bench and its roles are dropped.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-bench}
TENANTS=${BENCH_TENANTS:-"1 100 1000"}
[ "${BENCH_FULL:-0}" = 1 ] && TENANTS="$TENANTS 10000"
DURATION=${BENCH_DURATION:-10s}
# Warm-up before each measurement: 3 s, and 60 s from 5,000 tenants — long enough for
# each PostgreSQL backend to meet the tenants it serves, so the figures are the steady
# state, not a cold start (at 10,000 tenants the first 10 s after a start run at a
# fifth of it; docs/benchmarks.md). BENCH_WARMUP=Ns sets it for every N.
warmup_for() { if [ -n "${BENCH_WARMUP:-}" ]; then echo "$BENCH_WARMUP"; elif [ "$1" -ge 5000 ]; then echo 60s; else echo 3s; fi; }
PORT=${BENCH_PORT:-18480}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-zumodra_bench}
WORK=${BENCH_WORK:-/tmp/zumodra-bench}
PEER=${BENCH_PEER_DIR:-$ROOT/../shared/peer/django_tenants}
PEER_MAX=${BENCH_PEER_MAX_TENANTS:-}
CANDIDATES=${BENCH_CANDIDATES:-400}
WRK=(wrk -t2 -c32 -d"$DURATION" --latency --timeout 5s)

SERVER_PID=""
PEER_PG_STARTED=""
PEER_SERVING=""

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -At "$PG/$1" "${@:2}"; }

drop_bench_db() {
  local prefix=""
  if psql_db postgres -c "select 1 from pg_database where datname = '$DB'" | grep -q 1; then
    prefix=$(psql_db "$DB" -c "select role_prefix from public.zumodra_installation" 2>/dev/null || true)
    psql_db postgres -c "drop database $DB with (force)" >/dev/null
  fi
  if [ -n "$prefix" ]; then
    # Role names are z<alnum>_..., checked before use.
    [[ "$prefix" =~ ^z[a-z0-9]{4,16}_$ ]] || { log "odd role prefix '$prefix', roles kept"; return; }
    psql_db postgres -c "select format('drop role %I;', rolname) from pg_roles
      where starts_with(rolname, '$prefix') order by rolname <> '${prefix}app' desc, rolname desc" \
      | psql_db postgres >/dev/null
    log "dropped database $DB and the roles $prefix*"
  fi
}

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

cleanup() {
  set +e
  stop_server
  if [ -n "$PEER_SERVING" ]; then (cd "$PEER" && ./serve.sh stop >/dev/null); fi
  if [ -n "$PEER_PG_STARTED" ]; then (cd "$PEER" && ./pg.sh stop >/dev/null); fi
  [ "${BENCH_KEEP_DB:-0}" = 1 ] || drop_bench_db
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v wrk >/dev/null || { log "installing wrk"; apt-get install -y wrk >/dev/null; }
command -v pgbench >/dev/null || { echo "pgbench is missing (postgresql-client)" >&2; exit 1; }

# BENCH_NO_BUILD=1: use the binaries already in $CARGO_TARGET_DIR/release (e.g. while the
# working tree does not compile).
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  log "building the release binaries"
  cargo build --release -q -p zumodra -p zumodra-bench
fi
BIN=$CARGO_TARGET_DIR/release

rm -rf "$WORK"; mkdir -p "$WORK"
# BENCH_REUSE_DB=1: keep a database $DB seeded earlier (e.g. 10,000 tenants seeded while
# the code was still being written); seeding then only refreshes the sessions.
if [ "${BENCH_REUSE_DB:-0}" = 1 ] && psql_db postgres -c "select 1 from pg_database where datname = '$DB'" | grep -q 1; then
  log "reusing the database $DB ($(psql_db "$DB" -c 'select count(*) from public.tenants') tenants)"
else
  drop_bench_db
  psql_db postgres -c "create database $DB" >/dev/null
fi
URL="$PG/$DB"

# The peer: when installed, or asked for.
PEER_ON=""
if [ -d "$PEER" ] && { [ -d /tmp/peer-venv ] || [ "${BENCH_PEER:-0}" = 1 ]; }; then
  if [ ! -d /tmp/peer-venv ]; then log "setting up the peer"; (cd "$PEER" && ./setup.sh); fi
  if ! (cd "$PEER" && ./pg.sh status >/dev/null 2>&1); then
    # Ours: start it and begin from an empty database. (Already running: someone else's,
    # keep its database; provision.py only adds the tenants that are missing.)
    (cd "$PEER" && ./pg.sh start >/dev/null) && PEER_PG_STARTED=1
    (cd "$PEER" && ./pg.sh resetdb >/dev/null)
  fi
  PEER_ON=1
fi

CPUMON=""
[ -f "$PEER/bench/cpumon.py" ] && CPUMON="$PEER/bench/cpumon.py"
PGMASTER=$(head -1 "$(psql_db postgres -c 'show data_directory')/postmaster.pid" 2>/dev/null || true)

# measure LABEL ROOTS CMD...: run CMD with the load average before/after and, when the
# peer's cpumon.py is there, the CPU that other work used meanwhile ("foreign cores").
measure() {
  local label=$1 roots=$2; shift 2
  echo "{\"label\": \"$label\", \"loadavg_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$WORK/load.jsonl"
  if [ -n "$CPUMON" ]; then
    python3 "$CPUMON" run --label "$label" --roots "$roots" --json "$WORK/cpu.jsonl" -- "$@"
  else
    "$@"
  fi
  echo "{\"label\": \"$label\", \"loadavg_after\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$WORK/load.jsonl"
}

# wrk_json LABEL ROOTS SCRIPT [ENV...] : run wrk, keep its output, append its JSON line.
run_wrk() {
  local label=$1 roots=$2 script=$3 url=$4; shift 4
  measure "$label" "$roots" env "$@" "${WRK[@]}" -s "$script" "$url" >"$WORK/$label.txt" 2>&1
  local line
  line=$(grep '^BENCH_JSON ' "$WORK/$label.txt" | sed 's/^BENCH_JSON //')
  [ -n "$line" ] || { cat "$WORK/$label.txt" >&2; echo "wrk gave no result for $label" >&2; exit 1; }
  echo "{\"label\": \"$label\", \"wrk\": $line}" >>"$WORK/wrk.jsonl"
  log "$label: $(echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.0f req/s, p50 %.2f ms, p99 %.2f ms, errors %s, not 2xx %s" % (d["rps"], d["p50_ms"], d["p99_ms"], d["errors"], d.get("answers_not_2xx", "-")))')"
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pss_backends_kb() {
  local total=0 pid kb
  for pid in $(psql_db postgres -c "select pid from pg_stat_activity where datname = '$DB' and backend_type = 'client backend'"); do
    kb=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
backend_count() { psql_db postgres -c "select count(*) from pg_stat_activity where datname = '$DB' and backend_type = 'client backend'"; }

PREFIX=""
RUN=0
BAND=$((CANDIDATES / $(echo $TENANTS | wc -w)))
for N in $TENANTS; do
  log "== $N tenants: seeding"
  TOKENS=$WORK/tokens-$N.txt
  start=$(date +%s.%N)
  "$BIN/zumodra-bench" seed --url "$URL" --tenants "$N" --jobs 20 --candidates "$CANDIDATES" \
    --out "$TOKENS" >"$WORK/seed-$N.txt"
  seed_s=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
  PREFIX=$(sed -n 's/^role_prefix=//p' "$WORK/seed-$N.txt")
  echo "{\"tenants\": $N, \"seed_s\": $seed_s}" >>"$WORK/seed.jsonl"
  # The seeding's writes go to disk now, not during the measurements.
  psql_db "$DB" -c checkpoint >/dev/null
  WARMUP=$(warmup_for "$N")

  log "starting zumodra serve on 127.0.0.1:$PORT"
  ZUMODRA_DATABASE_URL=$URL ZUMODRA_BIND=127.0.0.1:$PORT ZUMODRA_LOG_FORMAT=json \
    RUST_LOG=${BENCH_RUST_LOG:-warn} "$BIN/zumodra" serve >"$WORK/server-$N.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$N.log" >&2; exit 1; }
    sleep 0.1
  done
  # One request of each kind by hand: the answers must be 200.
  read -r host token <"$TOKENS"
  for path in "/api/v1/jobs?limit=50" "/api/v1/public/jobs"; do
    code=$(curl -s -o "$WORK/sample.json" -w '%{http_code}' -H "Host: $host" \
      -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT$path")
    [ "$code" = 200 ] || { log "$path answered $code: $(head -c 300 "$WORK/sample.json")"; exit 1; }
  done
  ROOTS="server=$SERVER_PID${PGMASTER:+,postgres=$PGMASTER}"
  export BENCH_TOKENS=$TOKENS
  "${WRK[@]/-d$DURATION/-d$WARMUP}" -s bench/wrk/random_tenant.lua "http://127.0.0.1:$PORT/" >/dev/null 2>&1
  run_wrk "jobs-$N" "$ROOTS" bench/wrk/random_tenant.lua "http://127.0.0.1:$PORT/" \
    BENCH_PATH="/api/v1/jobs?limit=50"
  echo "{\"tenants\": $N, \"server_rss_kb\": $(rss_kb "$SERVER_PID"), \"pg_backends\": $(backend_count), \"pg_backend_pss_kb\": $(pss_backends_kb)}" >>"$WORK/memory.jsonl"
  run_wrk "public-$N" "$ROOTS" bench/wrk/random_tenant.lua "http://127.0.0.1:$PORT/" \
    BENCH_PATH=/api/v1/public/jobs BENCH_AUTH=0
  # Each run creates applications with its own band of candidates: the tenants of an
  # earlier (smaller) N already hold the pairs of the earlier bands.
  # The write mix warms up on the first half of the band and is measured on the second.
  env BENCH_CANDIDATE_FIRST=$((RUN * BAND + 1)) BENCH_CANDIDATES=$((BAND / 2)) \
    "${WRK[@]/-d$DURATION/-d$WARMUP}" -s bench/wrk/write_mix.lua "http://127.0.0.1:$PORT/" >/dev/null 2>&1
  run_wrk "writes-$N" "$ROOTS" bench/wrk/write_mix.lua "http://127.0.0.1:$PORT/" \
    BENCH_CANDIDATE_FIRST=$((RUN * BAND + BAND / 2 + 1)) BENCH_CANDIDATES=$((BAND / 2))
  stop_server

  # The ceiling: the handler's transaction in pgbench, a random tenant per transaction.
  # Generated here, into /tmp only: pgbench substitutes :t's digits into the names.
  SCRIPT=$WORK/ceiling-$N.sql
  SW="set local"; SP="search""_path"  # spelt in parts, like the Rust sources must
  {
    echo "\\set t random(1, $N)"
    for k in 1 2 3 4 5; do echo "\\set d$k (:t / $((10 ** (5 - k)))) % 10"; done
    echo "begin \\; $SW role ${PREFIX}t_t:d1:d2:d3:d4:d5 \\; $SW $SP = tenant_t:d1:d2:d3:d4:d5;"
    echo "select id, title, description, department, location, employment_type, remote_policy, salary_min, salary_max, salary_currency, positions, deadline, status, created_by, version, published_at, created_at, updated_at from ats_job where (null::text is null or status = null::text) and (null::bigint is null or id < null::bigint) order by id desc limit 51;"
    echo "commit;"
  } >"$SCRIPT"
  # One pgbench process runs warm-up and measurement on the same connections (a new
  # process would start with cold backends); only the transactions that end in the last
  # $DURATION count.
  rm -f "$WORK"/pgbench_log.*
  measure "pgbench-$N" "${PGMASTER:+postgres=$PGMASTER}" \
    pgbench -n -c32 -j2 -T$((${WARMUP%s} + ${DURATION%s})) -f "$SCRIPT" -l --log-prefix="$WORK/pgbench_log" \
    "postgres://${PREFIX}app@${PG#*@}/$DB" >"$WORK/pgbench-$N.txt" 2>&1 \
    || { cat "$WORK/pgbench-$N.txt" >&2; exit 1; }
  python3 - "$N" "$WORK" "${DURATION%s}" >>"$WORK/pgbench.jsonl" <<'PY'
import glob, json, re, sys
n, work, duration = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
text = open(f"{work}/pgbench-{n}.txt").read()
failed = re.search(r"number of failed transactions: (\d+)", text)
# Log lines: client, transaction, latency µs, script, end time (s, µs).
done = []
for f in glob.glob(f"{work}/pgbench_log.*"):
    for line in open(f):
        v = line.split()
        done.append((int(v[4]) + int(v[5]) / 1e6, int(v[2])))
last = max(t for t, _ in done)
lat = sorted(l for t, l in done if t > last - duration)
tps = len(lat) / duration
pct = lambda p: lat[min(len(lat) - 1, int(p * (len(lat) - 1) + 0.5))] / 1000
print(json.dumps({"tenants": n, "tps": tps, "transactions": len(lat),
                  "failed": int(failed.group(1)) if failed else 0,
                  "p50_ms": pct(0.5), "p99_ms": pct(0.99)}))
PY
  log "pgbench-$N: $(tail -1 "$WORK/pgbench.jsonl")"
  rm -f "$WORK"/pgbench_log.*

  # The peer, on the same tenant count.
  if [ -n "$PEER_ON" ] && [ -n "$PEER_MAX" ] && [ "$N" -gt "$PEER_MAX" ]; then
    log "peer: skipped at $N tenants (BENCH_PEER_MAX_TENANTS=$PEER_MAX)"
  elif [ -n "$PEER_ON" ]; then
    log "peer: provisioning $N tenants"
    (cd "$PEER" && /tmp/peer-venv/bin/python provision.py "$N" >"$WORK/peer-provision-$N.txt" 2>&1)
    (cd "$PEER" && ./serve.sh start >/dev/null) && PEER_SERVING=1
    GPID=$(cat /tmp/peer-gunicorn.pid)
    PPG=$(head -1 /tmp/peer-pg/data/postmaster.pid 2>/dev/null || true)
    "${WRK[@]/-d$DURATION/-d$WARMUP}" -s "$PEER/bench/random_host.lua" http://127.0.0.1:58000/ \
      >/dev/null 2>&1 || true
    measure "peer-$N" "gunicorn=$GPID${PPG:+,peerpg=$PPG}" env PEER_TENANTS="$N" PEER_PATH=/api/jobs/ \
      "${WRK[@]}" -s "$PEER/bench/random_host.lua" http://127.0.0.1:58000/ >"$WORK/peer-$N.txt" 2>&1
    (cd "$PEER" && ./serve.sh stop >/dev/null); PEER_SERVING=""
    python3 - "$N" "$WORK/peer-$N.txt" >>"$WORK/peer.jsonl" <<'PY'
import json, re, sys
n, text = int(sys.argv[1]), open(sys.argv[2]).read()
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
lat = dict((p, ms(v, u)) for p, v, u in re.findall(r"^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$", text, re.M))
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
non = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
err = re.search(r"Socket errors: (.*)", text)
print(json.dumps({"tenants": n, "rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
                  "non_2xx": int(non.group(1)) if non else 0, "socket_errors": err.group(1) if err else ""}))
PY
    log "peer-$N: $(tail -1 "$WORK/peer.jsonl")"
  fi
  RUN=$((RUN + 1))
done

python3 bench/report.py "$WORK"
log "done: bench/results.json, docs/benchmarks.md, docs/bench-throughput.svg"
