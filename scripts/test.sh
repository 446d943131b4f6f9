#!/usr/bin/env bash
# test.sh - README command 2: set up, build, and run every test: the release build's full
# suite, then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
# MEDFM_TEST_SKIP_ASAN=1 skips the sanitizer pass (for quick local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)

scripts/build.sh default
ctest --preset default -j "$jobs"

if [ "${MEDFM_TEST_SKIP_ASAN:-0}" != 1 ]; then
  scripts/build.sh asan
  ctest --preset asan -j "$jobs" -LE slow
fi
