#!/usr/bin/env bash
# synth.sh - `medfm synth` end to end: bad arguments, determinism across thread counts, the
# export read back by `ingest --format ndjson` with zero issues and matching counts, export.json,
# PHI spans that point at exactly their values, and a killed run that looks incomplete.
. "$(dirname "$0")/lib.bash"

# bad arguments: a clear error and no output
expect_exit 2 "$MEDFM" synth --patients 0 --seed 1 --out "$T/x"
expect_exit 2 "$MEDFM" synth --patients -3 --seed 1 --out "$T/x"
expect_exit 2 "$MEDFM" synth --patients 10 --seed 1 --out "$T/x" --bogus
expect_exit 2 "$MEDFM" synth --patients 10 --seed minus --out "$T/x"
expect_exit 1 "$MEDFM" synth --patients 10 --seed 1 --years 3 --out "$T/x"
[ ! -e "$T/x" ] || fail "output written for bad arguments"
mkdir -p "$T/full" && echo keep >"$T/full/mine.txt"
expect_exit 1 "$MEDFM" synth --patients 10 --seed 1 --out "$T/full"
grep -q "not empty" "$T/err" || fail "non-empty folder message"
[ "$(ls "$T/full")" = mine.txt ] || fail "a non-empty folder was written into"
expect_exit 1 "$MEDFM" synth --patients 10 --seed 1 --out /dev/null/cohort

# determinism: same seed, same bytes, whatever the threads; another seed differs
"$MEDFM" synth --quiet --patients 300 --seed 7 --threads 1 --out "$T/a"
"$MEDFM" synth --quiet --patients 300 --seed 7 --threads 2 --out "$T/b"
"$MEDFM" synth --quiet --patients 300 --seed 8 --threads 2 --out "$T/c"
diff -r "$T/a" "$T/b" >/dev/null || fail "1 and 2 threads give different bytes"
! cmp -s "$T/a/Patient.ndjson" "$T/c/Patient.ndjson" || fail "seeds 7 and 8 give the same cohort"
for f in Patient Encounter Condition Observation MedicationRequest Procedure DocumentReference; do
  [ -s "$T/a/$f.ndjson" ] || fail "$f.ndjson is empty"
done
[ "$(wc -l <"$T/a/Patient.ndjson")" -eq 300 ] || fail "expected 300 patients"

# the export reads back with zero issues, and the store's counts equal the files'
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/a"
[ ! -e "$T/store.errors.ndjson" ] || { head -3 "$T/store.errors.ndjson"; fail "ingest reported issues"; }
"$MEDFM" inspect "$T/store" --json >"$T/summary.json"
"$PYTHON" - "$T/a" "$T/summary.json" <<'PY'
import base64, json, os, sys
d, summary = sys.argv[1], json.load(open(sys.argv[2]))
def lines(name):
    with open(os.path.join(d, name)) as f:
        return [json.loads(l) for l in f if l.strip()]
res = {t: lines(t + ".ndjson") for t in ["Patient", "Encounter", "Condition", "Observation",
       "MedicationRequest", "Procedure", "DocumentReference"]}
voc = summary["vocabularies"]
ev = lambda v: voc.get(v, {}).get("events", 0)
assert summary["patients"] == len(res["Patient"]), "patients"
assert ev("MEDS_BIRTH") == len(res["Patient"]), "births"
assert ev("MEDS_DEATH") == sum("deceasedDateTime" in p for p in res["Patient"]), "deaths"
assert ev("LOINC") == len(res["Observation"]), ("observations", ev("LOINC"), len(res["Observation"]))
assert ev("RxNorm") == len(res["MedicationRequest"]), "medications"
assert ev("ENCOUNTER") == len(res["Encounter"]), "encounters"
assert ev("NOTE") == len(res["DocumentReference"]), "notes"
assert ev("SNOMED") == len(res["Condition"]) + len(res["Procedure"]) + len(res["Encounter"]), "snomed"
# export.json: written last, lists every file with its count
m = json.load(open(os.path.join(d, "export.json")))
assert m["requiresAccessToken"] is False and m["error"] == []
for o in m["output"]:
    assert o["count"] == len(res[o["type"]]), o
# PHI spans point at exactly their values, in bytes and in code points
docs = {r["id"]: base64.b64decode(r["content"][0]["attachment"]["data"]) for r in res["DocumentReference"]}
cats = set()
n = 0
with open(os.path.join(d, "truth", "phi.ndjson")) as f:
    for line in f:
        s = json.loads(line)
        text = docs[s["resource_id"]]
        assert text[s["start"]:s["end"]].decode() == s["value"], s
        assert text.decode()[s["start_cp"]:s["end_cp"]] == s["value"], s
        cats.add(s["category"])
        n += 1
assert n > 1000, n
for c in ["NAME", "DATE", "AGE", "PHONE", "MRN", "ADDRESS", "ZIP", "CITY", "HOSPITAL"]:
    assert c in cats, c
# truth files: headers, and rows only for known patients
ids = {p["id"] for p in res["Patient"]}
for name, cols in [("risk.csv", 5), ("effects.csv", 6)]:
    with open(os.path.join(d, "truth", name)) as f:
        head = f.readline().strip().split(",")
        assert len(head) == cols, head
        rows = 0
        for line in f:
            r = line.strip().split(",")
            assert len(r) == cols and r[0] in ids and 0 <= float(r[-1]) <= 1, r
            rows += 1
        assert rows > 0, name
PY

# a run killed mid-way has no export.json
"$MEDFM" synth --quiet --patients 200000 --seed 3 --out "$T/killed" & pid=$!
sleep 1
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ ! -e "$T/killed/export.json" ] || fail "a killed run left export.json"
echo "synth: ok"
