#!/usr/bin/env bash
# Configures and builds S3LayerFS into ./build: optimized (-O2) with debug
# info so that a crash report is readable. BUILD_TYPE=Release etc. overrides.
# Arguments are targets to build (default: everything, tests included).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"$(nproc)" ${1:+--target "$@"}
