#!/usr/bin/env bash
# deid.sh - de-identified ingest through the real binary: keygen and key checks, no source id
# or identifying note text in the store, intervals within a patient exact, same key same
# bytes, another key unlinkable output.
. "$(dirname "$0")/lib.bash"

expect_exit 0 "$MEDFM" deid --help
expect_exit 0 "$MEDFM" deid keygen --help
expect_exit 2 "$MEDFM" deid keygen
expect_exit 2 "$MEDFM" deid frob
expect_exit 0 "$MEDFM" deid keygen --out "$T/k1"
[ "$(stat -c %a "$T/k1")" = 600 ] || fail "key file mode"
grep -qi "$(head -c 16 "$T/k1")" "$T/err" "$T/out" && fail "the key was printed"
expect_exit 1 "$MEDFM" deid keygen --out "$T/k1"
"$MEDFM" deid keygen --out "$T/k2" 2>/dev/null

"$MEDFM" synth --quiet --patients 60 --seed 11 --out "$T/cohort"
# refused: no key and no --no-deid, a world-readable key, a missing key, both options
expect_exit 1 "$MEDFM" ingest --format ndjson --out "$T/s" "$T/cohort"
cp "$T/k2" "$T/open" && chmod 644 "$T/open"
expect_exit 1 "$MEDFM" ingest --format ndjson --key-file "$T/open" --out "$T/s" "$T/cohort"
grep -q "chmod 600" "$T/err" || fail "world-readable key message"
expect_exit 1 "$MEDFM" ingest --format ndjson --key-file "$T/none" --out "$T/s" "$T/cohort"
expect_exit 2 "$MEDFM" ingest --format ndjson --key-file "$T/k1" --no-deid --out "$T/s" "$T/cohort"
[ ! -e "$T/s" ] || fail "a store was written by a refused run"

"$MEDFM" ingest --quiet --format ndjson --key-file "$T/k1" --out "$T/d1" "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --key-file "$T/k1" --out "$T/d1b" "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --key-file "$T/k2" --out "$T/d2" "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/id" "$T/cohort"
diff -r "$T/d1" "$T/d1b" >/dev/null || fail "same key, different bytes"
! cmp -s "$T/d1/shard-00000/subjects.bin" "$T/d2/shard-00000/subjects.bin" ||
  fail "another key gave the same pseudonyms"
"$MEDFM" inspect "$T/d1" >"$T/summary"
grep -q "de-identified    yes" "$T/summary" || fail "manifest does not say de-identified"

# no source patient id, and no PHI value from the notes, anywhere in the store
cut -d'"' -f8 "$T/cohort/Patient.ndjson" | head -60 >"$T/ids"
[ "$(wc -l <"$T/ids")" -eq 60 ] || fail "could not list the source ids"
while read -r id; do
  grep -rqF "$id" "$T/d1" && fail "a source id is in the de-identified store"
done <"$T/ids"
# Notes reach the store de-identified (surrogates): no identifying value of a patient's notes
# is left in that patient's own note text.  Dates, single names, cities and hospitals are
# searched elsewhere (deid_fhir.sh in redact mode, the text tests), because a surrogate can be
# a real name or date of someone else.
"$PYTHON" - "$MEDFM" "$T" <<'PY'
import collections, hashlib, hmac, json, subprocess, sys
medfm, t = sys.argv[1], sys.argv[2]
key = bytes.fromhex(open(t + "/k1").read().strip())
def pseudo(s):
    return hmac.new(key, b"subject\0" + s.encode(), hashlib.sha256).digest()[:16].hex()
def notes(store, pid):
    out = subprocess.run([medfm, "inspect", store, "--patient", pid, "--json"], check=True,
                         capture_output=True, text=True).stdout
    return "\n".join(e["text"] for e in json.loads(out)["events"]
                     if e["text"] and e["code"].startswith("NOTE/"))
SEARCHED = {"PHONE", "FAX", "EMAIL", "SSN", "MRN", "ID", "ADDRESS", "URL", "IP", "ZIP"}
phi = collections.defaultdict(set)
for line in open(t + "/cohort/truth/phi.ndjson"):
    r = json.loads(line)
    v, c = r["value"], r["category"]
    if len(v) >= 5 and (c in SEARCHED or (c == "NAME" and " " in v)):
        phi[r["resource_id"].rsplit("-d", 1)[0]].add(v)
checked = left = blind = 0
for pid, vals in sorted(phi.items()):
    mine, orig = notes(t + "/d1", pseudo(pid)), notes(t + "/id", pid)
    assert len(mine) > 100, "a patient's notes are missing from the de-identified store"
    for v in vals:
        checked += 1
        blind += v not in orig
        if v in mine:
            left += 1
assert checked > 100 and blind == 0, (checked, blind)
assert left == 0, "%d of %d identifying values of the notes are in the store" % (left, checked)
PY

# intervals within a patient are exact: same events, times moved by one shift per patient
"$PYTHON" - "$MEDFM" "$T" <<'PY'
import json, subprocess, sys
medfm, t = sys.argv[1], sys.argv[2]
def timeline(store, pid):
    out = subprocess.run([medfm, "inspect", store, "--patient", pid, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["events"]
import datetime
def us(s):
    return None if s is None else datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
# the de-identified store's patients, matched to the identified ones by their event codes
ids = [l.strip() for l in open(t + "/ids")][:5]
summ = json.loads(subprocess.run([medfm, "inspect", t + "/d1", "--json"], check=True,
                  capture_output=True, text=True).stdout)
assert summ["patients"] == 60 and summ["deid"]["applied"] is True, summ["deid"]
pseudos = []
import glob
for f in sorted(glob.glob(t + "/d1/shard-*/subjects.bin")):
    data = open(f).read()
    pseudos += [data[i:i + 32] for i in range(0, len(data), 32)]
matched = 0
for pid in ids:
    a = timeline(t + "/id", pid)
    sig = sorted((e["code"], e["value"]) for e in a if e["time"] is not None)
    for p in pseudos:
        b = timeline(t + "/d1", p)
        if sorted((e["code"], e["value"]) for e in b if e["time"] is not None) != sig:
            continue
        ta = sorted(us(e["time"]) for e in a if e["time"])
        tb = sorted(us(e["time"]) for e in b if e["time"])
        shifts = {round(y - x, 3) for x, y in zip(ta, tb)}
        assert len(shifts) == 1, ("intervals changed", pid)
        shift = shifts.pop()
        assert shift != 0 and shift % 86400 == 0 and abs(shift) <= 365 * 86400, shift
        assert all(e["text"] is None or "/" in e["text"] or e["code"].startswith("NOTE/")
                   for e in b), "free text other than notes survived"
        matched += 1
        break
assert matched == len(ids), matched
PY
echo "deid: ok"
