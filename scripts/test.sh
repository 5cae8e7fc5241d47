#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the whole test
# suite with CTest: unit tests first, then the integration tests (real FUSE
# mounts). Exits non-zero if anything fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/deps.sh test
bash scripts/build.sh

cd build
status=0
echo "=== unit tests ==="
ctest --output-on-failure -L unit || status=1
echo "=== integration tests ==="
# Two at a time: most of their time is waiting (servers, timeouts, fsync),
# every test has its own temp dir, servers and free ports.
ctest --output-on-failure -LE unit -j2 || status=1
if [ "$status" -ne 0 ]; then
  echo "test.sh: FAILED (see the output above)" >&2
fi
exit "$status"
