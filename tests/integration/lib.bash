# lib.bash - shared helpers for integration tests (sourced, not run).
# Environment from CTest: MEDFM (the binary), MEDFM_SHARED_DATA, MEDFM_TEST_TMP, PYTHON.
set -euo pipefail
: "${MEDFM:?MEDFM must point at the medfm binary}"
: "${MEDFM_SHARED_DATA:=$(dirname "$0")/../../../shared/data}"
: "${PYTHON:=/usr/bin/python3}"
mkdir -p "${MEDFM_TEST_TMP:-/tmp}"
T=$(mktemp -d "${MEDFM_TEST_TMP:-/tmp}/$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The Synthea set unpacked once per test into $T/synthea (only patient bundles).
unpack_synthea() {
  mkdir -p "$T/synthea"
  tar -C "$T/synthea" -xJf "$MEDFM_SHARED_DATA/synthea-r4-dev.tar.xz"
  rm -f "$T"/synthea/hospitalInformation*.json "$T"/synthea/practitionerInformation*.json
}

# expect_exit CODE CMD... : run CMD, fail unless it exits with CODE.
expect_exit() {
  local want=$1
  shift
  set +e
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  set -e
  [ "$got" -eq "$want" ] || { cat "$T/err" >&2; fail "'$*' exited $got, expected $want"; }
}
