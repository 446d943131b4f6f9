#!/usr/bin/env bash
# ingest_bad_mimic.sh - `medfm ingest --format mimic-iv` on broken copies of the MIMIC-IV demo
# (a truncated .gz, a missing column, an extra field, a bad date, a missing table, an empty
# folder): exit codes, the error report STORE.errors.ndjson, --strict leaving a previous store
# untouched, and a planted PHI-like value never reaching stderr or the report.  The copies
# live in a scratch folder under $MEDFM_TEST_TMP and are removed at the end.
set -euo pipefail

: "${MEDFM:?set MEDFM to the medfm binary}"
: "${MEDFM_SHARED_DATA:?set MEDFM_SHARED_DATA to the shared data folder}"
PYTHON="${PYTHON:-python3}"
DATA="$MEDFM_SHARED_DATA/mimic-iv-demo-2.2"
PLANT="ZZPLANTED-Jane-Roe-555-0100"

if [ ! -d "$DATA/hosp" ]; then
    echo "ingest_bad_mimic: no MIMIC-IV demo at '$DATA'" >&2
    exit 1
fi

BASE="${MEDFM_TEST_TMP:-/tmp}"
mkdir -p "$BASE"
TMP="$(mktemp -d "$BASE/ingest_bad_mimic.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

fail() {
    echo "ingest_bad_mimic: $*" >&2
    exit 1
}

# copy TABLES of the demo into $TMP/$1 (the tables medfm reads, to keep it small)
copy_demo() {
    local dst="$TMP/$1"
    mkdir -p "$dst/hosp" "$dst/icu"
    for t in patients admissions diagnoses_icd procedures_icd labevents prescriptions omr \
        services transfers; do
        cp "$DATA/hosp/$t.csv.gz" "$dst/hosp/"
    done
    cp "$DATA/icu/icustays.csv.gz" "$dst/icu/"
    echo "$dst"
}

# run medfm ingest; stdout+stderr to $TMP/$name.log, exit code in $rc
run_ingest() {
    local name="$1"
    shift
    set +e
    "$MEDFM" ingest --format mimic-iv --no-deid "$@" >"$TMP/$name.log" 2>&1
    rc=$?
    set -e
}

# assert the report $1 has an issue of kind $2 in a file ending with $3 (and column $4)
has_issue() {
    "$PYTHON" - "$@" <<'EOF' || fail "no $2 issue for $3 in $1"
import json, sys
report, kind, file = sys.argv[1:4]
col = sys.argv[4] if len(sys.argv) > 4 else None
for line in open(report):
    o = json.loads(line)
    for k in ("kind", "file", "line", "offset", "path", "message"):
        assert k in o, "report line lacks " + k
    if o["kind"] == kind and o["file"].endswith(file) and (col is None or o["path"] == col):
        sys.exit(0)
sys.exit(1)
EOF
}

no_plant() {
    for f in "$@"; do
        if [ -e "$f" ] && grep -q "$PLANT" "$f"; then
            fail "the planted value appears in $f"
        fi
    done
}

# 1. the demo as it is: no issues, no report
good="$(copy_demo good)"
run_ingest good --out "$TMP/good.store" "$good"
[ "$rc" -eq 0 ] || { cat "$TMP/good.log" >&2; fail "clean copy: exit $rc"; }
[ ! -e "$TMP/good.store.errors.ndjson" ] || fail "clean copy wrote an error report"

# 2. truncated labevents.csv.gz: rows before the cut are kept, one compression issue
d="$(copy_demo trunc)"
size=$(stat -c %s "$d/hosp/labevents.csv.gz")
head -c $((size / 2)) "$DATA/hosp/labevents.csv.gz" >"$d/hosp/labevents.csv.gz"
run_ingest trunc --out "$TMP/trunc.store" "$d"
[ "$rc" -eq 0 ] || fail "truncated gz: exit $rc"
has_issue "$TMP/trunc.store.errors.ndjson" compression hosp/labevents.csv.gz
labs=$("$MEDFM" inspect "$TMP/trunc.store" --json |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["vocabularies"]["LAB"]["events"])')
[ "$labs" -gt 1000 ] && [ "$labs" -lt 107727 ] || fail "truncated gz: $labs LAB events"

# 3. diagnoses_icd without its icd_version column: the table is skipped
d="$(copy_demo nocol)"
zcat "$DATA/hosp/diagnoses_icd.csv.gz" | cut -d, -f1-4 | gzip >"$d/hosp/diagnoses_icd.csv.gz"
run_ingest nocol --out "$TMP/nocol.store" "$d"
[ "$rc" -eq 0 ] || fail "missing column: exit $rc"
has_issue "$TMP/nocol.store.errors.ndjson" csv-columns hosp/diagnoses_icd.csv.gz icd_version

# 4. an extra field and a bad date, both holding the planted value
d="$(copy_demo badrow)"
{
    zcat "$DATA/hosp/omr.csv.gz"
    echo "10000032,2180-01-01,1,Weight (Lbs),150,$PLANT"
    echo "10000032,$PLANT,1,Weight (Lbs),150"
} | gzip >"$d/hosp/omr.csv.gz"
run_ingest badrow --out "$TMP/badrow.store" "$d"
[ "$rc" -eq 0 ] || fail "bad rows: exit $rc"
has_issue "$TMP/badrow.store.errors.ndjson" csv-columns hosp/omr.csv.gz
has_issue "$TMP/badrow.store.errors.ndjson" bad-date hosp/omr.csv.gz chartdate
no_plant "$TMP/badrow.log" "$TMP/badrow.store.errors.ndjson"

# 5. --strict fails on the first bad row and leaves the previous store as it was
cp -r "$TMP/good.store" "$TMP/keep.store"
before=$(cat "$TMP/keep.store/manifest.json" | sha256sum)
run_ingest strict --strict --out "$TMP/keep.store" "$d"
[ "$rc" -ne 0 ] || fail "--strict with bad rows exited 0"
after=$(cat "$TMP/keep.store/manifest.json" | sha256sum)
[ "$before" = "$after" ] || fail "--strict changed the previous store"
grep -q "omr.csv.gz" "$TMP/strict.log" || fail "--strict message does not name the file"
no_plant "$TMP/strict.log"
"$MEDFM" inspect "$TMP/keep.store" --json >/dev/null || fail "previous store unreadable"

# 6. a missing required table
d="$(copy_demo nopat)"
rm "$d/hosp/patients.csv.gz"
run_ingest nopat --out "$TMP/nopat.store" "$d"
[ "$rc" -ne 0 ] || fail "missing patients table exited 0"
grep -q "patients" "$TMP/nopat.log" || fail "missing table not named"
[ ! -e "$TMP/nopat.store" ] || fail "missing table left a store"

# 7. an empty folder
mkdir -p "$TMP/empty"
run_ingest empty --out "$TMP/empty.store" "$TMP/empty"
[ "$rc" -ne 0 ] || fail "empty folder exited 0"
grep -q "hosp" "$TMP/empty.log" || fail "empty folder: message does not say what is missing"
[ ! -e "$TMP/empty.store" ] || fail "empty folder left a store"

echo "ingest_bad_mimic: ok"
