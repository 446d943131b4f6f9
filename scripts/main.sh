#!/usr/bin/env bash
# main.sh - README command 1: set up, build, and run medfm's main job end to end on the
# built-in default data (the bundled Synthea FHIR set): ingest it into an event store and print
# the store's summary.  Output goes to build/main/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default

data=${MEDFM_SHARED_DATA:-../shared/data}
work=build/main
mkdir -p "$work"
if [ ! -f "$work/synthea/.unpacked" ]; then
  echo "main: unpacking the Synthea FHIR set" >&2
  rm -rf "$work/synthea" && mkdir -p "$work/synthea"
  tar -C "$work/synthea" -xJf "$data/synthea-r4-dev.tar.xz"
  touch "$work/synthea/.unpacked"
fi
# De-identification is not part of this build yet: the store is explicitly an identified one.
build/medfm ingest --format fhir --no-deid --out "$work/store" "$work/synthea"
build/medfm inspect "$work/store"
