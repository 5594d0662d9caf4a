#!/usr/bin/env bash
# Start or stop the real services the integration tests use, on loopback only:
#   - a throw-away PostgreSQL cluster with PostGIS (role 'etl', database 'compute')
#   - moto's S3 HTTP server
# 'start' writes .run/services.env (variables the tests read); 'stop' removes everything it
# started. initdb refuses to run as root, so as root the cluster belongs to 'postgres' and
# lives under /tmp, where that user can reach it whatever the checkout's path.
# RUN_DIR (an absolute path; default .run) holds the state of one set of services: another
# RUN_DIR starts and stops a second, independent set (scripts/bench.sh uses that).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR="${RUN_DIR:-$ROOT/.run}"
ENV_FILE="$RUN_DIR/services.env"

free_port() {
  "$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgis() {
  local pg_bin port data password
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  port=$(free_port)
  data=$(mktemp -d /tmp/spatial-etl-pg.XXXXXX)
  password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
  echo "$data" > "$RUN_DIR/pgdata"
  printf '%s\n' "$password" > "$data/.pw" && [ "$(id -u)" -eq 0 ] && chown postgres: "$data/.pw"
  as_pg "$pg_bin/initdb" -D "$data/cluster" -U postgres --pwfile="$data/.pw" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$RUN_DIR/initdb.log"
  as_pg "$pg_bin/pg_ctl" -D "$data/cluster" -l "$data/postgres.log" -w -t 60 start \
    -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    >/dev/null
  as_pg psql -q -h "$data" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE etl LOGIN PASSWORD '$password'" \
    -c "CREATE DATABASE compute OWNER etl"
  as_pg psql -q -h "$data" -p "$port" -U postgres -d compute -v ON_ERROR_STOP=1 \
    -c "CREATE EXTENSION postgis"
  {
    echo "SPATIAL_ETL_POSTGIS_DSN=postgresql://etl:$password@127.0.0.1:$port/compute"
    echo "PGDATA_DIR=$data"
  } >>"$ENV_FILE"
  echo "services: PostGIS on 127.0.0.1:$port ($("$pg_bin/postgres" --version))"
}

start_s3() {
  local port
  port=$(free_port)
  "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$RUN_DIR/moto.log" 2>&1 &
  echo $! >"$RUN_DIR/moto.pid"
  for _ in $(seq 1 100); do
    if "$ROOT/.venv/bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
      {
        echo "SPATIAL_ETL_S3_ENDPOINT_URL=http://127.0.0.1:$port"
        echo "AWS_ACCESS_KEY_ID=testing"
        echo "AWS_SECRET_ACCESS_KEY=testing"
        echo "AWS_DEFAULT_REGION=us-east-1"
      } >>"$ENV_FILE"
      echo "services: S3 (moto) on 127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "services: moto_server did not answer; log:" >&2
  cat "$RUN_DIR/moto.log" >&2
  return 1
}

stop() {
  if [ -f "$RUN_DIR/moto.pid" ]; then
    kill "$(cat "$RUN_DIR/moto.pid")" 2>/dev/null || true
    rm -f "$RUN_DIR/moto.pid"
  fi
  if [ -f "$RUN_DIR/pgdata" ]; then
    local data pg_bin
    data=$(cat "$RUN_DIR/pgdata")
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ -d "$data/cluster" ]; then
      as_pg "$pg_bin/pg_ctl" -D "$data/cluster" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$data" "$RUN_DIR/pgdata"
  fi
  rm -f "$ENV_FILE"
}

case "${1:-}" in
  start)
    mkdir -p "$RUN_DIR"
    stop
    : >"$ENV_FILE"
    start_postgis
    start_s3
    ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
