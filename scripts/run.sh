#!/usr/bin/env bash
# README command 1: install what is missing, build, format a volume on the
# embedded default (SQLite metadata + a local object directory, all under
# ./data) if that is not done yet, and mount it at ./data/mnt in the
# background. Running it again is harmless.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/deps.sh run
bash scripts/build.sh s3layerfs-daemon

bin=$root/build/cmd/s3layerfs-daemon
data=$root/data
mnt=$data/mnt
meta="sqlite3://$data/meta.db"

is_mounted() { grep -qF " $mnt " /proc/self/mountinfo; }

if is_mounted; then
  # A mount whose daemon is gone answers ENOTCONN: clear it and mount again.
  if timeout 10 stat "$mnt" >/dev/null 2>&1; then
    echo "S3LayerFS is already mounted at $mnt"
    echo "unmount with: fusermount3 -u $mnt"
    exit 0
  fi
  echo "run.sh: $mnt is a dead mount (its daemon is gone); removing it"
  fusermount3 -uz "$mnt"
fi
mkdir -p "$data/objects" "$mnt"

if [ ! -e "$data/meta.db" ]; then
  "$bin" format "$meta" s3l --storage "file://$data/objects"
fi

# Without --foreground the daemon returns only once the filesystem is mounted.
"$bin" mount "$meta" "$mnt" --cache-dir "$data/cache"

echo "S3LayerFS volume 's3l' is mounted at $mnt"
echo "  metadata: $data/meta.db   objects: $data/objects"
echo "unmount with: fusermount3 -u $mnt"
