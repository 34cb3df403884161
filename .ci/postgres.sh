#!/usr/bin/env bash
# Starts a throwaway PostgreSQL (Debian's package) on 127.0.0.1 and prints its SQLAlchemy URL on stdout.
#   RECOURSE_TEST_DATABASE_URL="$(bash .ci/postgres.sh)"; export RECOURSE_TEST_DATABASE_URL
# PGPORT (55432) and PGDATA_DIR (/tmp/recourse-pg) may be set. Logs go to stderr.
set -euo pipefail
PORT="${PGPORT:-55432}"
DATA="${PGDATA_DIR:-/tmp/recourse-pg}"
say() { echo "postgres.sh: $*" >&2; }

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing Debian's postgresql"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  else sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2; fi
fi
BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  say "already running in $DATA"
else
  rm -rf "$DATA"; mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
  as_pg "$BIN/initdb" -D "$DATA" -U recourse --auth=trust -E UTF8 >/dev/null
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2
fi
as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U recourse -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='recourse'" \
  | grep -q 1 || as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U recourse recourse
echo "postgresql+psycopg://recourse@127.0.0.1:$PORT/recourse"
