#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for benchmarks at 10,000 tenants.
#
#   bench/pg.sh start    # initdb $BENCH_PG_ROOT/data if missing, start on 127.0.0.1:$BENCH_PG_PORT
#   bench/pg.sh stop     # pg_ctl stop -m fast
#   bench/pg.sh remove   # stop, then delete the whole cluster (seconds, whatever it holds)
#
#   BENCH_PG=postgres://postgres@127.0.0.1:55440 bench/run.sh
#
# Why: dropping a database that holds thousands of tenant schemas takes many minutes and
# holds up every other CREATE/DROP DATABASE of the cluster (ProcSignalBarrier) — on the
# shared cluster that stalls everyone else's tests. A private cluster is removed with rm.
# Settings are the django-tenants peer's (../shared/peer/django_tenants/pg.sh:
# max_connections 200, shared_buffers 256MB, fsync and synchronous_commit on), so the two
# run on equal terms, plus max_locks_per_transaction for 10,000 schemas (docs/operations.md).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
ROOT=${BENCH_PG_ROOT:-/tmp/zumodra-bench-pg}
PORT=${BENCH_PG_PORT:-55440}
DATA=$ROOT/data

# postgres refuses to run as root.
if [ "$(id -u)" = 0 ]; then
  RUNAS=postgres
  as_pg() { su "$RUNAS" -s /bin/bash -c "$*"; }
else
  as_pg() { bash -c "$*"; }
fi

case "${1:-}" in
  start)
    if [ ! -f "$DATA/PG_VERSION" ]; then
      mkdir -p "$ROOT/run"
      [ "$(id -u)" = 0 ] && chown -R "$RUNAS" "$ROOT"
      chmod 700 "$ROOT"
      as_pg "$PGBIN/initdb -D $DATA -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >$ROOT/initdb.log 2>&1"
      as_pg "cat >> $DATA/postgresql.conf" <<CONF

# --- zumodra benchmark settings (bench/pg.sh) ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$ROOT/run'
max_connections = 200
shared_buffers = 256MB
max_locks_per_transaction = 256
CONF
      as_pg "printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > $DATA/pg_hba.conf"
    fi
    as_pg "$PGBIN/pg_ctl -D $DATA status" >/dev/null 2>&1 \
      || as_pg "$PGBIN/pg_ctl -D $DATA -l $ROOT/postgres.log -w -t 60 start" >/dev/null
    echo "postgres://postgres@127.0.0.1:$PORT"
    ;;
  stop)
    [ -f "$DATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl -D $DATA -m fast -w stop" || true
    ;;
  remove)
    "$0" stop
    rm -rf "$ROOT"
    ;;
  *) echo "usage: $0 start|stop|remove" >&2; exit 2 ;;
esac
