#!/usr/bin/env bash
# Benchmark (not a test): S3LayerFS on the embedded default (SQLite + local
# object directory) next to a plain local directory, in the same run.
#   1. sequential write of SIZE MiB with dd bs=1M, fsync included
#   2. unmount + remount, drop the page cache and the daemon's disk cache,
#      then a cold sequential read with dd bs=1M
#   3. create, stat and unlink of N empty files (three timed phases)
#   4. peak RSS of the daemon while writing (/usr/bin/time -v on the
#      foreground daemon)
# Usage (as root, from the checkout, after scripts/build.sh):
#   bash bench/seq_and_meta.sh [--size-mib 1024] [--files 10000] [--dir DIR] [-- extra mount options]
# S3L_DAEMON=path selects another binary.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size_mib=1024
files=10000
work=$root/data/bench
mount_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mib) size_mib=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --) shift; mount_extra=("$@"); break ;;
    *) echo "usage: $0 [--size-mib N] [--files N] [--dir DIR] [-- mount options]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (mount, drop_caches)" >&2; exit 2; }
bin=${S3L_DAEMON:-$root/build/cmd/s3layerfs-daemon}
[ -x "$bin" ] || bash "$root/scripts/build.sh"
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 missing" >&2; exit 2; }

mkdir -p "$work"
work=$(cd "$work" && pwd)
run_dir=$(mktemp -d "$work/run.XXXXXX")
vol=$run_dir/vol
mnt=$run_dir/mnt
local_dir=$run_dir/local
mkdir -p "$vol" "$mnt" "$local_dir"
meta="sqlite3://$vol/meta.db"
daemon_pid=""

cleanup() {
  if grep -qF " $mnt " /proc/self/mountinfo; then fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" || true; fi
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM -- "-$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$run_dir"
}
trap cleanup EXIT

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$1" "$2"; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# Starts the foreground daemon under /usr/bin/time -v in its own process group
# (setsid) and waits until the mount is there.
mount_fs() {
  local tag=$1
  setsid -w /usr/bin/time -v -o "$run_dir/time.$tag" \
    "$bin" mount "$meta" "$mnt" --foreground --cache-dir "$vol/cache" "${mount_extra[@]}" \
    >"$run_dir/daemon.$tag.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 200); do
    grep -qF " $mnt " /proc/self/mountinfo && return 0
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: mount failed; daemon output:" >&2
  cat "$run_dir/daemon.$tag.log" >&2
  exit 3
}

unmount_fs() {
  fusermount3 -u "$mnt"
  wait "$daemon_pid" || { echo "bench: daemon exited with $?; see below" >&2; cat "$run_dir/daemon.$1.log" >&2; exit 3; }
  daemon_pid=""
}

peak_rss_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$run_dir/time.$1"; }

# A source file with random content, read from the page cache during the
# write test so that dd measures the filesystem, not /dev/urandom.
src=$work/source-${size_mib}M.bin
if [ ! -f "$src" ] || [ "$(stat -c %s "$src")" -ne $((size_mib * 1048576)) ]; then
  echo "bench: creating $src (random content, kept for later runs)"
  head -c $((size_mib * 1048576)) /dev/urandom > "$src.tmp" && mv "$src.tmp" "$src"
fi
cat "$src" > /dev/null

seq_write() {  # dir -> seconds
  local t0 t1
  t0=$(now)
  dd if="$src" of="$1/big.bin" bs=1M conv=fsync status=none
  t1=$(now)
  elapsed "$t0" "$t1"
}

seq_read() {  # dir -> seconds
  local t0 t1
  t0=$(now)
  dd if="$1/big.bin" of=/dev/null bs=1M status=none
  t1=$(now)
  elapsed "$t0" "$t1"
}

# create / stat / unlink of N empty files: prints three durations in seconds.
meta_ops() {
  python3 - "$1" "$files" <<'PY'
import os, sys, time
d, n = os.path.join(sys.argv[1], "many"), int(sys.argv[2])
os.mkdir(d)
names = [os.path.join(d, f"f{i:06d}") for i in range(n)]
t0 = time.perf_counter()
for p in names:
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
t1 = time.perf_counter()
for p in names:
    os.stat(p)
t2 = time.perf_counter()
for p in names:
    os.unlink(p)
t3 = time.perf_counter()
os.rmdir(d)
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
PY
}

echo "bench: $size_mib MiB sequential, $files files; work dir $run_dir"
"$bin" format "$meta" bench --storage "file://$vol/objects" >/dev/null

# ---- S3LayerFS -------------------------------------------------------------
mount_fs write
s3l_w=$(seq_write "$mnt")
unmount_fs write
rss_write=$(peak_rss_mib write)
rm -rf "$vol/cache"
drop_caches
mount_fs read
s3l_r=$(seq_read "$mnt")
read -r s3l_c s3l_s s3l_u < <(meta_ops "$mnt")
unmount_fs read
rss_read=$(peak_rss_mib read)

# ---- plain local directory -------------------------------------------------
loc_w=$(seq_write "$local_dir")
drop_caches
loc_r=$(seq_read "$local_dir")
read -r loc_c loc_s loc_u < <(meta_ops "$local_dir")

fs_type=$(stat -f -c %T "$local_dir")
printf '\n%-32s %14s %14s %10s\n' "" "S3LayerFS" "local ($fs_type)" "target"
printf '%-32s %14s %14s %10s\n' "seq write MiB/s (fsync)" "$(rate "$size_mib" "$s3l_w")" "$(rate "$size_mib" "$loc_w")" ">= 200"
printf '%-32s %14s %14s %10s\n' "cold seq read MiB/s" "$(rate "$size_mib" "$s3l_r")" "$(rate "$size_mib" "$loc_r")" ">= 200"
printf '%-32s %14s %14s %10s\n' "create ops/s" "$(rate "$files" "$s3l_c")" "$(rate "$files" "$loc_c")" ">= 1500"
printf '%-32s %14s %14s %10s\n' "stat ops/s" "$(rate "$files" "$s3l_s")" "$(rate "$files" "$loc_s")" ""
printf '%-32s %14s %14s %10s\n' "unlink ops/s" "$(rate "$files" "$s3l_u")" "$(rate "$files" "$loc_u")" ""
printf '%-32s %14s %14s %10s\n' "daemon peak RSS MiB (write)" "$rss_write" "-" "<= 512"
printf '%-32s %14s %14s %10s\n' "daemon peak RSS MiB (read+meta)" "$rss_read" "-" ""
printf '\nseconds: write %s / %s, read %s / %s (S3LayerFS / local)\n' "$s3l_w" "$loc_w" "$s3l_r" "$loc_r"
