#!/usr/bin/env bash
# Installs what S3LayerFS needs on Debian 12, with apt, as root.
#   deps.sh run    build dependencies and fuse3 (enough to build, format and mount)
#   deps.sh test   also what the test suite and benchmarks use
# Idempotent and silent when everything is already there.
set -euo pipefail

mode=${1:-run}
case "$mode" in
  run|test) ;;
  *) echo "usage: $0 [run|test]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

pkgs=(cmake make g++ pkg-config libcaf-dev libfuse3-dev fuse3 libsqlite3-dev libspdlog-dev
      libboost-test-dev libssl-dev libcurl4-openssl-dev libpqxx-dev libpq-dev)
if [ "$mode" = test ]; then
  pkgs+=(postgresql time python3)
  # Node may come from elsewhere (e.g. NodeSource, which bundles npm): only
  # install Debian's when there is no node at all.
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${pkgs[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "deps.sh: missing packages (${missing[*]}) and not root: run as root" >&2
      exit 1
    fi
  fi
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists first: a fresh machine has none or stale ones.
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -e /dev/fuse ]; then
  echo "deps.sh: warning: /dev/fuse does not exist; mounting will fail (modprobe fuse?)" >&2
fi

# The S3 test server (scripts/s3rver, pinned by its package-lock.json).
if [ "$mode" = test ] && [ -f "$root/scripts/s3rver/package.json" ]; then
  s3=$root/scripts/s3rver
  stamp=$s3/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ "$s3/package.json" -nt "$stamp" ] ||
     { [ -f "$s3/package-lock.json" ] && [ "$s3/package-lock.json" -nt "$stamp" ]; }; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "deps.sh: node is installed but npm is not; install npm" >&2
      exit 1
    fi
    echo "deps.sh: installing the S3 test server (npm) in scripts/s3rver"
    if [ -f "$s3/package-lock.json" ]; then
      (cd "$s3" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    else
      (cd "$s3" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    fi
  fi
fi
