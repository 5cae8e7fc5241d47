#!/usr/bin/env bash
# Metadata engine benchmark: SQLite vs PostgreSQL through the Meta interface
# (bench/meta_engine_bench.cpp), single client and two clients, 10,000 files in
# one directory and spread over 100 directories. Prints numbers, never fails on
# them. Run as root from the checkout after a build (build dir: $BUILD or ./build).
#
#   bash bench/meta_engine.sh [--files N] [--durable-only]
#
# PostgreSQL: a throwaway cluster (initdb in a temp dir as user postgres, a
# loopback port, server defaults: fsync on, synchronous_commit on), stopped and
# removed at exit. SQLite: a file in the same temp dir, sync=full and normal.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
files=10000
durable_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    --durable-only) durable_only=1; shift ;;
    *) echo "usage: $0 [--files N] [--durable-only]" >&2; exit 2 ;;
  esac
done
for lib in "$build/meta/libs3l_meta.a" "$build/util/libs3l_util.a"; do
  [ -f "$lib" ] || { echo "meta_engine.sh: $lib missing: build first (cmake --build $build --target s3l_meta s3l_util)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/s3l-meta-bench-XXXXXX)
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdata=$work/pg
cleanup() {
  if [ -f "$pgdata/postmaster.pid" ]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building the benchmark ..."
g++ -std=c++17 -O2 -I"$root" "$root/bench/meta_engine_bench.cpp" -o "$work/meta_engine_bench" \
  "$build/meta/libs3l_meta.a" "$build/util/libs3l_util.a" \
  $(pkg-config --cflags --libs spdlog libpqxx sqlite3) -lpq

chown postgres "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -A trust -U postgres -E UTF8 --locale=C >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -l "$work/pg.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -c 'CREATE DATABASE bench' >/dev/null
pg_url="postgres://postgres@127.0.0.1:$port/bench"

run() {   # label url args...
  local label=$1 url=$2
  shift 2
  echo
  echo "== $label $*"
  "$work/meta_engine_bench" "$url" "$@"
}

for dirs in 1 100; do
  for clients in 1 2; do
    run "sqlite sync=full" "sqlite3://$work/meta.db" --files "$files" --dirs "$dirs" --clients "$clients"
    [ "$durable_only" = 1 ] ||
      run "sqlite sync=normal" "sqlite3://$work/meta.db?sync=normal" --files "$files" --dirs "$dirs" --clients "$clients"
    run "postgres" "$pg_url" --files "$files" --dirs "$dirs" --clients "$clients"
  done
done
if [ "$durable_only" = 0 ]; then
  # What the commit fsync costs on this disk: the same run without waiting for it.
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -c 'ALTER SYSTEM SET synchronous_commit = off' -c 'SELECT pg_reload_conf()' >/dev/null
  run "postgres synchronous_commit=off" "$pg_url" --files "$files" --dirs 1 --clients 1
  run "postgres synchronous_commit=off" "$pg_url" --files "$files" --dirs 1 --clients 2
fi
