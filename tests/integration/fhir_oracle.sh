#!/usr/bin/env bash
# fhir_oracle.sh - FHIR ingest against an independent reading of the same bundles.
#
# Unpacks the Synthea R4 sample, ingests 5 patients, one deceased patient and one
# Organization/Practitioner bundle with the real medfm binary, and compares every patient's
# events (time, code, value, unit) with fhir_oracle.py's reading of the bundles.
set -euo pipefail

: "${MEDFM:?MEDFM must point at the medfm binary}"
: "${MEDFM_SHARED_DATA:?MEDFM_SHARED_DATA must point at the reference data folder}"
PYTHON=${PYTHON:-python3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
archive="$MEDFM_SHARED_DATA/synthea-r4-dev.tar.xz"
if [[ ! -f $archive ]]; then
    echo "fhir_oracle: missing $archive" >&2
    exit 1
fi

scratch=${MEDFM_TEST_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$scratch"
tmp=$(mktemp -d "$scratch/fhir-oracle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/data"
tar -C "$tmp/data" -xJf "$archive"
mapfile -t files < <("$PYTHON" "$here/fhir_oracle.py" pick "$tmp/data")
if ((${#files[@]} != 7)); then
    echo "fhir_oracle: expected 7 input files, got ${#files[@]}" >&2
    exit 1
fi

"$MEDFM" ingest --format fhir --no-deid --quiet --out "$tmp/store" "${files[@]}"
if [[ -e $tmp/store.errors.ndjson ]]; then
    echo "fhir_oracle: the sample data gave issues:" >&2
    head -5 "$tmp/store.errors.ndjson" >&2
    exit 1
fi
"$PYTHON" "$here/fhir_oracle.py" check "$MEDFM" "$tmp/store" "${files[@]}"
echo "fhir_oracle: ok"
