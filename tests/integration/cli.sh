#!/usr/bin/env bash
# cli.sh - the command line itself: help for every verb, usage errors, the de-identification
# guard, inspect's outputs on a small store.
. "$(dirname "$0")/lib.bash"

expect_exit 0 "$MEDFM" --help
grep -q '^  ingest ' "$T/out" || fail "--help does not list ingest"
grep -q '^  inspect ' "$T/out" || fail "--help does not list inspect"
for verb in deid ingest inspect synth; do
  expect_exit 0 "$MEDFM" "$verb" --help
  grep -q "^usage: medfm $verb" "$T/out" || fail "$verb --help has no usage line"
done
expect_exit 2 "$MEDFM"
expect_exit 2 "$MEDFM" frobnicate
expect_exit 2 "$MEDFM" ingest --format fhir
expect_exit 2 "$MEDFM" ingest --format xml --no-deid --out "$T/s" "$T"
expect_exit 2 "$MEDFM" ingest --bogus
expect_exit 2 "$MEDFM" ingest --threads many --format fhir --no-deid --out "$T/s" "$T"

# two small bundles
mkdir -p "$T/in"
cat >"$T/in/a.json" <<'JSON'
{"resourceType": "Bundle", "type": "transaction", "entry": [
 {"fullUrl": "urn:uuid:p-1", "resource": {"resourceType": "Patient", "id": "p-1",
   "gender": "female", "birthDate": "1970-03-04"}},
 {"fullUrl": "urn:uuid:o-1", "resource": {"resourceType": "Observation", "id": "o-1",
   "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
   "subject": {"reference": "urn:uuid:p-1"}, "effectiveDateTime": "2010-01-02T03:04:05Z",
   "valueQuantity": {"value": 6.25, "unit": "%"}}}]}
JSON
cat >"$T/in/b.json" <<'JSON'
{"resourceType": "Bundle", "type": "transaction", "entry": [
 {"fullUrl": "urn:uuid:p-2", "resource": {"resourceType": "Patient", "id": "p-2",
   "gender": "male", "birthDate": "1950-01-01", "deceasedDateTime": "2012-06-01T00:00:00Z"}}]}
JSON

# without --no-deid nothing is written
expect_exit 1 "$MEDFM" ingest --format fhir --out "$T/s" "$T/in"
grep -q -- '--no-deid' "$T/err" || fail "the de-identification guard does not name --no-deid"
[ ! -e "$T/s" ] || fail "a store was written without --no-deid"

# an empty folder is an error
mkdir -p "$T/empty"
expect_exit 1 "$MEDFM" ingest --format fhir --no-deid --out "$T/s" "$T/empty"
grep -q "no FHIR .json files found" "$T/err" || fail "empty folder message"
[ ! -e "$T/s" ] || fail "a store was written from an empty folder"

expect_exit 0 "$MEDFM" ingest --format fhir --no-deid --out "$T/s" "$T/in"
grep -q "ingested 2 patients, 6 events" "$T/err" || { cat "$T/err"; fail "ingest summary"; }

expect_exit 0 "$MEDFM" inspect "$T/s"
grep -q '^patients  *2$' "$T/out" || fail "inspect: patients"
grep -q '^events  *6$' "$T/out" || fail "inspect: events"
grep -q 'LOINC' "$T/out" || fail "inspect: vocabularies"
grep -q 'NO (identified)' "$T/out" || fail "inspect: de-identification status"

expect_exit 0 "$MEDFM" inspect "$T/s" --json
"$PYTHON" - "$T/out" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["patients"] == 2 and m["events"] == 6 and m["codes"] == 5, m
assert m["time_span"] == {"first": "1950-01-01T00:00:00Z", "last": "2012-06-01T00:00:00Z"}, m["time_span"]
assert m["vocabularies"]["LOINC"] == {"codes": 1, "events": 1}
assert m["events_per_patient"]["min"] == 3 and m["events_per_patient"]["max"] == 3
assert m["sources"][0]["format"] == "fhir" and m["sources"][0]["files"] == 2
assert m["deid"]["applied"] is False
assert len(m["manifest_sha256"]) == 64
PY

expect_exit 0 "$MEDFM" inspect "$T/s" --patient p-1 --json
"$PYTHON" - "$T/out" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
assert t["patient"] == "p-1"
ev = [(e["time"], e["code"], e["value"], e["unit"]) for e in t["events"]]
assert ev == [(None, "GENDER/FEMALE", None, None),
              ("1970-03-04T00:00:00Z", "MEDS_BIRTH", None, None),
              ("2010-01-02T03:04:05Z", "LOINC/4548-4", 6.25, "%")], ev
PY
expect_exit 0 "$MEDFM" inspect "$T/s" --patient p-2
grep -q "MEDS_DEATH" "$T/out" || fail "inspect text: death event"
expect_exit 0 "$MEDFM" inspect "$T/s" --verify
grep -q "verified" "$T/out" || fail "verify"

expect_exit 1 "$MEDFM" inspect "$T/s" --patient nobody
expect_exit 1 "$MEDFM" inspect "$T/in"
expect_exit 2 "$MEDFM" inspect
echo "cli: ok"
