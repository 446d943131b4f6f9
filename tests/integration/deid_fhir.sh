#!/usr/bin/env bash
# deid_fhir.sh - `medfm deid fhir` through the real binary, checked by an independent oracle
# (deid_fhir_oracle.py): no identifier of the input in the output, codes and values intact,
# every date of a patient moved by its keyed shift (across files), references resolving, ZIP3;
# same key same bytes, another key other bytes; ages over 89; bad input and atomicity.
. "$(dirname "$0")/lib.bash"
ORACLE="$(dirname "$0")/deid_fhir_oracle.py"

expect_exit 0 "$MEDFM" deid fhir --help
expect_exit 2 "$MEDFM" deid fhir --out "$T/x"
"$MEDFM" deid keygen --out "$T/k1" 2>/dev/null
"$MEDFM" deid keygen --out "$T/k2" 2>/dev/null

# --- Synthea Bundles (30 patients) ---------------------------------------------------------
unpack_synthea
mkdir -p "$T/in"
bundles=("$T"/synthea/*.json) # sorted by the glob; no pipe that head could cut short
mv "${bundles[@]:0:30}" "$T/in/"
F="--quiet --reference-date 2026-01-01"
"$MEDFM" deid fhir $F --key-file "$T/k1" --out "$T/o1" "$T/in"
"$MEDFM" deid fhir $F --key-file "$T/k1" --threads 1 --out "$T/o1b" "$T/in"
"$MEDFM" deid fhir $F --key-file "$T/k2" --out "$T/o2" "$T/in"
[ -s "$T/o1/export.json" ] && [ -s "$T/o1/deid.json" ] || fail "manifests missing"
for f in "$T"/o1/*.ndjson; do
  cmp -s "$f" "$T/o1b/$(basename "$f")" || fail "same key, different output ($(basename "$f"))"
done
! cmp -s "$T/o1/Patient.ndjson" "$T/o2/Patient.ndjson" || fail "another key gave the same output"
grep -q '"rules":"safe-harbor"' "$T/o1/deid.json" || fail "deid.json does not name the rules"
grep -qi "$(head -c 16 "$T/k1")" "$T"/o1/* && fail "the key is in the output"
"$PYTHON" "$ORACLE" "$T/k1" "$T/o1" "$T"/in/*.json || fail "oracle (Synthea)"
# the oracle is not blind: the limited data set keeps dates and full ZIP codes on purpose
"$MEDFM" deid fhir $F --key-file "$T/k1" --config limited-data-set --out "$T/lds" "$T/in"
if "$PYTHON" "$ORACLE" "$T/k1" "$T/lds" "$T"/in/*.json 2>"$T/lds.err"; then
  fail "the oracle passed a limited data set"
fi
grep -q "not moved by the patient's shift" "$T/lds.err" || fail "the oracle missed unshifted dates"

# the output is Bulk Data NDJSON that ingest reads as it is, with every patient
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/o1"
n=$("$MEDFM" inspect "$T/store" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["patients"])')
[ "$n" -eq 30 ] || fail "ingest of the de-identified output found $n patients, expected 30"

# --- the synthetic cohort: NDJSON in several files, notes with PHI ---------------------------
"$MEDFM" synth --quiet --patients 40 --seed 5 --out "$T/cohort"
"$MEDFM" deid fhir $F --key-file "$T/k1" --text-mode redact --out "$T/c1" "$T/cohort"
"$PYTHON" "$ORACLE" "$T/k1" "$T/c1" "$T"/cohort/*.ndjson || fail "oracle (synthetic cohort)"
"$PYTHON" -c '
import base64, json, sys
for l in open(sys.argv[1]):
    for c in json.loads(l).get("content", []):
        print(base64.b64decode(c["attachment"]["data"]).decode())' "$T/c1/DocumentReference.ndjson" >"$T/notes"
grep -q '\[NAME\]' "$T/notes" || fail "notes were not redacted"

# --- ages over 89 and restricted ZIPs --------------------------------------------------------
mkdir -p "$T/old"
cat >"$T/old/Patient.ndjson" <<'EOF'
{"resourceType":"Patient","id":"old-1","birthDate":"1921-07-04","address":[{"postalCode":"03601","state":"NH"}]}
{"resourceType":"Patient","id":"old-2","birthDate":"1950-07-04","address":[{"postalCode":"02139-4307"}]}
{"resourceType":"Patient","id":"old-3","birthDate":"1930","deceasedDateTime":"2025-03-01"}
EOF
"$MEDFM" deid fhir $F --key-file "$T/k1" --out "$T/oo" "$T/old"
"$PYTHON" - "$T/k1" "$T/oo/Patient.ndjson" <<'PY'
import datetime, hashlib, hmac, json, sys
key = bytes.fromhex(open(sys.argv[1]).read().strip())
def h(label, s): return hmac.new(key, label.encode() + b"\0" + s.encode(), hashlib.sha256).digest()
def shift(s):
    d = int.from_bytes(h("shift", s)[:8], "big") % 730 - 365
    return d + 1 if d >= 0 else d
out = {}
for l in open(sys.argv[2]):
    r = json.loads(l); out[r["id"]] = r
def get(i): return out[h("subject", i)[:16].hex()]
# old-1 is 104 at the reference date: grouped as 90, born 1936-01-01, then shifted
want = datetime.date(1936, 1, 1) + datetime.timedelta(days=shift("old-1"))
assert get("old-1")["birthDate"] == want.isoformat(), get("old-1")["birthDate"]
assert get("old-1")["address"][0]["postalCode"] == "000"
assert get("old-1")["address"][0]["state"] == "NH"
# old-2 is 75: only shifted
want = datetime.date(1950, 7, 4) + datetime.timedelta(days=shift("old-2"))
assert get("old-2")["birthDate"] == want.isoformat()
assert get("old-2")["address"][0]["postalCode"] == "021"
# old-3 died at 95: a year-only birth date stays year-only, 90 years before death
assert get("old-3")["birthDate"] in ("1935", "1934", "1936"), get("old-3")["birthDate"]
PY
grep -q '"ages_capped":2' "$T/oo/deid.json" || fail "ages over 89 not counted"

# --- bad input ------------------------------------------------------------------------------
mkdir -p "$T/bad"
cp "$T/old/Patient.ndjson" "$T/bad/Patient.ndjson"
printf '{"resourceType":"Patient","id":"p9","birthDate":"not-a-date","name":[{"family":"Zzyzx"}]}\n{"resourceType": \n' >>"$T/bad/Patient.ndjson"
expect_exit 0 "$MEDFM" deid fhir $F --key-file "$T/k1" --out "$T/ob" "$T/bad"
[ -s "$T/ob.errors.ndjson" ] || fail "no error report"
[ "$(wc -l <"$T/ob.errors.ndjson")" -eq 2 ] || fail "expected 2 skipped records"
grep -q '"line":5' "$T/ob.errors.ndjson" || fail "the error report does not name the line"
grep -q "Zzyzx\|not-a-date" "$T/ob.errors.ndjson" "$T/err" && fail "a value was printed"
[ "$(wc -l <"$T/ob/Patient.ndjson")" -eq 3 ] || fail "good records lost"
# --strict: nothing written, the previous output kept
expect_exit 1 "$MEDFM" deid fhir $F --strict --key-file "$T/k1" --out "$T/ob" "$T/bad"
grep -q "line 4" "$T/err" || fail "strict error does not name the line"
[ "$(wc -l <"$T/ob/Patient.ndjson")" -eq 3 ] || fail "a failed run touched the previous output"
# keys: missing, readable by others
expect_exit 1 "$MEDFM" deid fhir --key-file "$T/none" --out "$T/ox" "$T/old"
cp "$T/k1" "$T/open" && chmod 644 "$T/open"
expect_exit 1 "$MEDFM" deid fhir --key-file "$T/open" --out "$T/ox" "$T/old"
grep -q "chmod 600" "$T/err" || fail "world-readable key message"
expect_exit 1 "$MEDFM" deid fhir --key-file "$T/k1" --config nope --out "$T/ox" "$T/old"
[ ! -e "$T/ox" ] || fail "a refused run wrote output"

# a killed run never leaves output that looks complete
"$MEDFM" deid fhir --quiet --threads 1 --key-file "$T/k1" --out "$T/killed" "$T/synthea" &
pid=$!
sleep 0.5
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ ! -e "$T/killed" ] || [ -s "$T/killed/deid.json" ] || fail "a killed run left partial output"
echo ok
