#!/usr/bin/env bash
# build.sh [PRESET] - configure and build one CMake preset (default: "default", into build/).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
