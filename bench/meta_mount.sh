#!/usr/bin/env bash
# Metadata benchmark through the mount (issue 4): create, stat, readdir and
# unlink of N empty files in one directory and spread over D directories, on
# SQLite and on PostgreSQL, with one client and with two clients (two daemons
# mounting the same volume at two mountpoints, each doing half the work at the
# same time; the numbers are the aggregate). Then the directory-size check:
# per-op cost of create and stat with ~1,000 vs ~SCALE entries in one directory.
# Prints numbers, never fails on them; fails (exit 1) if any operation fails.
#
#   bash bench/meta_mount.sh [BUILD_DIR] [--files N] [--dirs D] [--scale N]
#        [--engines sqlite,postgres] [--clients 1,2] [--no-scale | --scale-only]
#        [--fill-segment N] [--pg-setting NAME=VALUE ...] [-- extra mount options]
#
# Run as root from the checkout after a build (BUILD_DIR defaults to ./build).
# Everything lives in a temp dir: the volumes (SQLite file or a PostgreSQL
# database, file:// objects), mountpoints, daemon logs and, for PostgreSQL, a
# throwaway cluster (initdb as user postgres, loopback port, server defaults:
# fsync and synchronous_commit on). At exit, also on failure or Ctrl-C, every
# mount is unmounted, every daemon and the PostgreSQL server are stopped by
# PID, and the temp dir is removed. --pg-setting (repeatable) passes a server
# setting for diagnosis, e.g. synchronous_commit=off to see what the WAL flush
# costs; the header then says the server is not on its defaults.
#
# Phases, each on fresh kernel caches where it matters:
#   create  open(O_CREAT|O_EXCL) + close, after mkdir of the directories
#   stat    after unmount + mount of every client: the kernel has no dentry
#           and no attribute cached, so each stat is one FUSE LOOKUP
#   stat-random  after another remount: the same stats in a shuffled order
#           (stat visits names in order, which lookup windows answer in runs
#           from memory; here every stat is a database round trip)
#   readdir after another remount: full listing of every directory (the
#           kernel asks READDIRPLUS: names with attributes); ops = entries
#   unlink  each file, right after the listing (like rm -r: the kernel sends
#           a LOOKUP first when the entry the listing gave it has expired,
#           entry timeout 1 s); then rmdir of the directories (checks emptiness)
# us/op is the latency one client sees: seconds * clients / ops.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
files=10000
dirs=100
scale=100000
engines=sqlite,postgres
client_counts=1,2
do_scale=1
do_matrix=1
# The directory-size fill remounts after every FILL_SEGMENT creates. Why: at
# commit 954f85a every Bridge call leaves its request-timeout message (2 min
# for metadata calls) in the calling FUSE thread's scoped_actor mailbox, and
# each later call scans them all: a mount gets slower with its age x its call
# rate (2,000 creates: 1.0 s before the 2-minute mark, 29 s after). Without
# the remounts, the PostgreSQL fill measures that leak, not the directory
# size. --fill-segment 0 fills in one mount.
fill_segment=5000
mount_extra=()
pg_settings=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    --dirs) dirs=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --engines) engines=$2; shift 2 ;;
    --clients) client_counts=$2; shift 2 ;;
    --no-scale) do_scale=0; shift ;;
    --scale-only) do_matrix=0; shift ;;
    --fill-segment) fill_segment=$2; shift 2 ;;
    --pg-setting) pg_settings+=("$2"); shift 2 ;;
    --) shift; mount_extra=("$@"); break ;;
    *) echo "usage: $0 [BUILD_DIR] [--files N] [--dirs D] [--scale N] [--engines sqlite,postgres]" \
            "[--clients 1,2] [--no-scale | --scale-only] [--fill-segment N] [--pg-setting NAME=VALUE]" \
            "[-- mount options]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "meta_mount: run as root (mount, PostgreSQL as user postgres)" >&2; exit 2; }
build=$(cd "$build" && pwd)
bin=$build/cmd/s3layerfs-daemon
[ -x "$bin" ] || { echo "meta_mount: $bin missing: build first (cmake --build $build --target s3layerfs-daemon)" >&2; exit 2; }
command -v g++ >/dev/null || { echo "meta_mount: g++ missing" >&2; exit 2; }
command -v fusermount3 >/dev/null || { echo "meta_mount: fusermount3 missing (apt-get install fuse3)" >&2; exit 2; }
[ "$scale" -ge 2000 ] || { echo "meta_mount: --scale must be at least 2000" >&2; exit 2; }
case ",$engines," in *,postgres,*)
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 ||
    { echo "meta_mount: PostgreSQL server binaries missing (apt-get install postgresql)" >&2; exit 2; } ;;
esac

work=$(mktemp -d /tmp/s3l-meta-mount-XXXXXX)
chmod 711 "$work"  # the postgres user must reach $work/pg
mnts=()       # mounted mountpoints, in mount order
pids=()       # their daemons (one per mountpoint, same index)
pg_pid=""
pgbin=""
pgdata=$work/pg

# A pid is alive unless gone or a zombie (our exited daemons are zombies until waited for).
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d" " -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }

stop_pid() {  # pid: TERM, wait up to 10 s, then KILL
  local pid=$1
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  local i
  for i in "${!mnts[@]}"; do
    if grep -qF " ${mnts[$i]} " /proc/self/mountinfo; then
      fusermount3 -u "${mnts[$i]}" 2>/dev/null || fusermount3 -uz "${mnts[$i]}"
    fi
  done
  # A daemon commits and exits by itself after the unmount; give it time.
  for i in "${!pids[@]}"; do
    for _ in $(seq 100); do alive "${pids[$i]}" || break; sleep 0.1; done
    stop_pid "${pids[$i]}"
  done
  if [ -n "$pg_pid" ]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m fast -w -t 20 stop >/dev/null 2>&1
    stop_pid "$pg_pid"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# CPU time counters of the whole machine (/proc/stat: user ... steal).
cpu_ticks() { head -1 /proc/stat | cut -d' ' -f3-10; }
# steal% between two cpu_ticks readings: the share of this VM's CPU time the
# host gave to others. Rates measured with high steal are the host's, not ours.
steal_pct() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); t = 0
  for (i = 1; i <= n; i++) t += y[i] - x[i]; printf "%.0f", (t > 0 ? 100 * (y[8] - x[8]) / t : 0) }'; }

log "meta_mount: building the load generator (bench/meta_ops.cpp) ..."
g++ -std=c++17 -O2 -Wall -Wextra -pthread "$root/bench/meta_ops.cpp" -o "$work/meta_ops"

# ---- PostgreSQL: a throwaway cluster with the server defaults ----------------
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    [ -z "$(ss -Htln "sport = :$p")" ] && { echo "$p"; return 0; }
  done
  echo "meta_mount: no free loopback port found" >&2
  return 1
}

start_postgres() {
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pg_port=$(free_port)
  local extra="" kv
  for kv in "${pg_settings[@]}"; do
    [[ "$kv" =~ ^[a-z_.]+=[A-Za-z0-9_.]+$ ]] || { echo "meta_mount: --pg-setting wants NAME=VALUE, got '$kv'" >&2; exit 2; }
    extra+=" -c $kv"
  done
  install -d -o postgres -m 700 "$pgdata" "$work/pgrun"
  runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -A trust -U postgres -E UTF8 --locale=C >"$work/initdb.log" 2>&1 ||
    { cat "$work/initdb.log" >&2; exit 1; }
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -l "$work/pgrun/pg.log" -w \
    -o "-p $pg_port -k $work/pgrun -c listen_addresses=127.0.0.1$extra" start >/dev/null ||
    { cat "$work/pgrun/pg.log" >&2; exit 1; }
  pg_pid=$(head -1 "$pgdata/postmaster.pid")
  log "meta_mount: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port (pid $pg_pid)," \
      "fsync=$(pg_sql -Atc 'show fsync'), synchronous_commit=$(pg_sql -Atc 'show synchronous_commit')"
  [ ${#pg_settings[@]} -eq 0 ] || log "meta_mount: NOT the server defaults: ${pg_settings[*]}"
}

pg_sql() { psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres "$@"; }

# ---- volumes and mounts -----------------------------------------------------
# new_volume ENGINE TAG: formats a fresh volume, sets $meta and $vol.
new_volume() {
  local engine=$1 tag=$2
  vol=$work/$tag
  mkdir -p "$vol"
  if [ "$engine" = sqlite ]; then
    meta="sqlite3://$vol/meta.db"
  else
    pg_sql -c "CREATE DATABASE $tag"
    meta="postgres://postgres@127.0.0.1:$pg_port/$tag"
  fi
  "$bin" format "$meta" "$tag" --storage "file://$vol/objects" >"$vol/format.log" 2>&1 ||
    { cat "$vol/format.log" >&2; exit 1; }
}

drop_volume() {  # ENGINE TAG, after unmount_all
  if [ "$1" = postgres ]; then pg_sql -c "DROP DATABASE $2"; fi
  rm -rf "${work:?}/$2"
}

# mount_clients N: N daemons on $meta at $vol/mnt0..N-1 (one cache dir each).
mount_clients() {
  local n=$1 k mnt pid
  for ((k = 0; k < n; k++)); do
    mnt=$vol/mnt$k
    mkdir -p "$mnt"
    setsid "$bin" mount "$meta" "$mnt" --foreground --cache-dir "$vol/cache$k" "${mount_extra[@]}" \
      >>"$vol/daemon$k.log" 2>&1 &
    pid=$!
    mnts+=("$mnt")
    pids+=("$pid")
    for _ in $(seq 300); do
      grep -qF " $mnt " /proc/self/mountinfo && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    grep -qF " $mnt " /proc/self/mountinfo ||
      { log "meta_mount: mounting $mnt failed; daemon output:"; cat "$vol/daemon$k.log" >&2; exit 1; }
  done
}

# Unmounts every mount and checks that each daemon exited cleanly.
unmount_all() {
  local i rc
  for i in "${!mnts[@]}"; do fusermount3 -u "${mnts[$i]}"; done
  for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    if [ "$rc" -ne 0 ]; then
      log "meta_mount: daemon of ${mnts[$i]} exited with $rc; its log:"
      cat "$(dirname "${mnts[$i]}")/daemon${mnts[$i]##*mnt}.log" >&2
      exit 1
    fi
  done
  mnts=()
  pids=()
}

remount() { local n=${#mnts[@]}; unmount_all; mount_clients "$n"; }

roots() { local m; for m in "${mnts[@]}"; do printf '%s\n' "$m"; done; }

# ---- measuring --------------------------------------------------------------
results=$work/results
: >"$results"

# ops ENGINE LAYOUT LABEL PHASE meta_ops-options...: runs one phase on every
# mounted client, appends a row (named LABEL) to the table.
ops() {
  local engine=$1 layout=$2 label=$3 out n secs
  shift 3
  local -a rs
  mapfile -t rs < <(roots)
  local t0 t1 steal
  t0=$(cpu_ticks)
  out=$("$work/meta_ops" "$@" "${rs[@]}") || { log "meta_mount: $engine $layout ${#rs[@]} client(s) $label failed"; exit 1; }
  t1=$(cpu_ticks)
  steal=$(steal_pct "$t0" "$t1")
  read -r _ n secs <<<"$out"
  printf '%s %s %s %s %s %s %s\n' "$engine" "$layout" "${#rs[@]}" "$label" "$n" "$secs" "$steal" >>"$results"
  awk -v e="$engine" -v l="$layout" -v c="${#rs[@]}" -v p="$label" -v n="$n" -v s="$secs" -v st="$steal" \
    'BEGIN { printf "  %-8s %-10s %d  %-16s %7d ops %8.3f s %9.0f ops/s %9.1f us/op  steal %s%%\n", e, l, c, p, n, s, n / s, s * 1e6 * c / n, st }' >&2
}

# One configuration: fresh volume, all four phases.
run_config() {
  local engine=$1 ndirs=$2 clients=$3
  local layout="${ndirs}dir" tag="v_${engine}_${ndirs}_${clients}"
  if [ "$ndirs" -gt 1 ]; then layout="${ndirs}dirs"; fi
  log "-- $engine, $files files in $ndirs dir(s), $clients client(s); load $(loadavg)"
  new_volume "$engine" "$tag"
  mount_clients "$clients"
  "$work/meta_ops" mkdirs --dirs "$ndirs" "${mnts[0]}" >/dev/null
  ops "$engine" "$layout" create create --files "$files" --dirs "$ndirs"
  remount
  ops "$engine" "$layout" stat stat --files "$files" --dirs "$ndirs"
  remount
  ops "$engine" "$layout" stat-random stat-random --files "$files" --dirs "$ndirs"
  remount
  ops "$engine" "$layout" readdir readdir --files "$files" --dirs "$ndirs"
  ops "$engine" "$layout" unlink unlink --files "$files" --dirs "$ndirs"
  "$work/meta_ops" rmdirs --dirs "$ndirs" "${mnts[0]}" >/dev/null
  unmount_all
  drop_volume "$engine" "$tag"
}

# cold_stats ENGINE LABEL N FROM [PHASE]: N stats (PHASE stat or stat-random)
# after a remount, three times; the row is the fastest of the three (1,000
# stats take 40-250 ms, so a single try is at the mercy of whatever else the
# machine does in that moment).
cold_stats() {
  local engine=$1 label=$2 n=$3 from=$4 phase=${5:-stat} best="" t tries=""
  for _ in 1 2 3; do
    remount
    read -r _ _ t < <("$work/meta_ops" "$phase" --files "$n" --from "$from" "${mnts[0]}") ||
      { log "meta_mount: $engine $label failed"; exit 1; }
    tries+=" $t"
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  printf '%s scale 1 %s %s %s\n' "$engine" "$label" "$n" "$best" >>"$results"
  log "  $engine scale $label: $n stats, best of 3 tries (s):$tries"
}

# Directory size: cost of 1,000 creates / stats with ~1,000 entries in the
# directory vs the last 1,000 with ~SCALE entries (stats cold, best of 3).
run_scale() {
  local engine=$1 k=1000 mid
  local tag="v_${engine}_scale"
  mid=$((scale - 2 * k))
  log "-- $engine, directory size: $k vs $scale entries in one directory; load $(loadavg)"
  new_volume "$engine" "$tag"
  mount_clients 1
  "$work/meta_ops" mkdirs --dirs 1 "${mnts[0]}" >/dev/null
  ops "$engine" scale "create@1k" create --files "$k" --from 0
  cold_stats "$engine" "stat@1k" "$k" 0
  cold_stats "$engine" "stat-random@1k" "$k" 0 stat-random
  # The fill, in segments of $fill_segment creates with a remount between
  # (see fill_segment above); one row per segment is not worth printing.
  local at=$k seg n t=0 sum=0
  seg=$fill_segment
  [ "$seg" -gt 0 ] || seg=$mid
  while [ "$at" -lt $((k + mid)) ]; do
    n=$((k + mid - at)); [ "$n" -le "$seg" ] || n=$seg
    read -r _ _ t < <("$work/meta_ops" create --files "$n" --from "$at" "${mnts[0]}") ||
      { log "meta_mount: $engine fill at $at failed"; exit 1; }
    sum=$(awk -v a="$sum" -v b="$t" 'BEGIN { printf "%.6f", a + b }')
    at=$((at + n))
    if [ "$fill_segment" -gt 0 ]; then remount; fi
  done
  if [ "$mid" -gt 0 ]; then
    printf '%s scale 1 create(fill) %s %s\n' "$engine" "$mid" "$sum" >>"$results"
    log "  $engine scale fill: $mid creates in $sum s (timed without the remounts)"
  fi
  ops "$engine" scale "create@${scale}" create --files "$k" --from $((scale - k))
  cold_stats "$engine" "stat@${scale}" "$k" $((scale - k))
  cold_stats "$engine" "stat-random@${scale}" "$k" $((scale - k)) stat-random
  unmount_all
  drop_volume "$engine" "$tag"
}

load_start=$(loadavg)
log "meta_mount: $bin; $files files, 1 and $dirs directories, clients $client_counts, engines $engines; work dir $work"
log "meta_mount: load average at start: $load_start ($(nproc) cores)"
case ",$engines," in *,postgres,*) start_postgres ;; esac
IFS=, read -r -a engine_list <<<"$engines"
IFS=, read -r -a client_list <<<"$client_counts"
for engine in "${engine_list[@]}"; do
  case "$engine" in sqlite|postgres) ;; *) echo "meta_mount: unknown engine $engine" >&2; exit 2 ;; esac
  if [ "$do_matrix" = 1 ]; then
    for ndirs in 1 "$dirs"; do
      for clients in "${client_list[@]}"; do run_config "$engine" "$ndirs" "$clients"; done
    done
  fi
  if [ "$do_scale" = 1 ]; then run_scale "$engine"; fi
done
load_end=$(loadavg)

# ---- report ------------------------------------------------------------------
echo
echo "Metadata through the mount: $(basename "$bin") from $build, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load average at start: $load_start, at end: $load_end ($(nproc) cores)"
[ ${#pg_settings[@]} -eq 0 ] || echo "PostgreSQL NOT on its defaults: ${pg_settings[*]}"
printf '%-8s %-10s %7s %-16s %8s %9s %10s %10s %6s\n' engine layout clients phase ops seconds ops/s us/op steal%
awk '{ printf "%-8s %-10s %7d %-16s %8d %9.3f %10.0f %10.1f %6s\n", $1, $2, $3, $4, $5, $6, $5 / $6, $6 * 1e6 * $3 / $5, (NF > 6 ? $7 : "-") }' "$results"
if [ "$do_scale" = 1 ]; then
  echo
  echo "directory size: us/op of the last 1,000 (dir holds ~$scale entries) / us/op of the first 1,000 (target <= 1.5)"
  awk -v s="$scale" '$2 == "scale" { us[$1 " " $4] = $6 * 1e6 / $5; e[$1] = 1 }
    END { for (x in e) for (p = 1; p <= 3; p++) { op = p == 1 ? "create" : p == 2 ? "stat" : "stat-random"
            a = us[x " " op "@1k"]; b = us[x " " op "@" s]
            if (a > 0) printf "%-8s %-11s %8.1f us -> %8.1f us  ratio %.2f\n", x, op, a, b, b / a } }' "$results"
fi
echo
echo "targets (PostgreSQL, 1 client, one directory): >= 1,000 creates/s, >= 5,000 stats/s"
echo "(stat: the files in name order, where lookup windows answer runs of lookups from memory;"
echo " stat-random: the same files shuffled, every lookup a database round trip)"
