#!/usr/bin/env bash
# mimic_oracle.sh - ingests the MIMIC-IV demo (100 patients) with the real medfm binary and
# checks every patient's timeline against the source CSVs read by Python's csv module
# (mimic_oracle.py): patients, birth/death/sex, diagnoses (codes, dots, times), procedures,
# and every numeric lab value.  Needs $MEDFM, $MEDFM_SHARED_DATA (the data folder) and
# $PYTHON; fails when the demo is not there.
set -euo pipefail

: "${MEDFM:?set MEDFM to the medfm binary}"
: "${MEDFM_SHARED_DATA:?set MEDFM_SHARED_DATA to the shared data folder}"
PYTHON="${PYTHON:-python3}"
DATA="$MEDFM_SHARED_DATA/mimic-iv-demo-2.2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ ! -d "$DATA/hosp" ]; then
    echo "mimic_oracle: no MIMIC-IV demo at '$DATA'" >&2
    exit 1
fi

BASE="${MEDFM_TEST_TMP:-/tmp}"
mkdir -p "$BASE"
TMP="$(mktemp -d "$BASE/mimic_oracle.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

"$MEDFM" ingest --format mimic-iv --no-deid --quiet --out "$TMP/store" "$DATA"
if [ -e "$TMP/store.errors.ndjson" ]; then
    echo "mimic_oracle: the demo gave issues:" >&2
    head -5 "$TMP/store.errors.ndjson" >&2
    exit 1
fi
"$PYTHON" "$HERE/mimic_oracle.py" --medfm "$MEDFM" --store "$TMP/store" --data "$DATA"

# the same store from one thread and from many
"$MEDFM" ingest --format mimic-iv --no-deid --quiet --threads 1 --out "$TMP/store1" "$DATA"
a="$("$MEDFM" inspect "$TMP/store" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["manifest_sha256"])')"
b="$("$MEDFM" inspect "$TMP/store1" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["manifest_sha256"])')"
if [ "$a" != "$b" ]; then
    echo "mimic_oracle: 1 thread and all threads give different stores" >&2
    exit 1
fi
echo "mimic_oracle: ok"
