#!/usr/bin/env bash
# deid_risk.sh - `medfm deid risk` through the real binary: the JSON report of a de-identified
# synthetic cohort against an independent computation from each patient's events (read with
# `inspect --patient ID --json`), the quasi-identifiers of an identified store against the
# source Patient resources, the ZIP3 fact (restricted areas give 000), and the errors.
. "$(dirname "$0")/lib.bash"

SRC=${MEDFM_SOURCE_DIR:-$(dirname "$0")/../..}
RESTRICTED=$SRC/data/deid/zip3-restricted.txt

expect_exit 0 "$MEDFM" deid risk --help
grep -q -- "--sensitive" "$T/out" || fail "help does not list --sensitive"

# --- ZIP3: restricted areas become 000, others keep three digits ------------------------------
mkdir "$T/fhir"
cat >"$T/fhir/p.ndjson" <<'JSON'
{"resourceType":"Patient","id":"zr","birthDate":"1980-02-03","gender":"female","address":[{"use":"home","postalCode":"03601"}]}
{"resourceType":"Patient","id":"zc","birthDate":"1980-02-03","gender":"female","address":[{"use":"old","postalCode":"94110"},{"use":"home","postalCode":"02139-4307"}]}
{"resourceType":"Patient","id":"zn","birthDate":"1980-02-03","gender":"female","address":[{"city":"Nowhere"}]}
JSON
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/zs" "$T/fhir"
zip_of() {
  "$MEDFM" inspect "$T/zs" --patient "$1" --json |
    "$PYTHON" -c 'import json,sys; print(" ".join(e["code"] for e in json.load(sys.stdin)["events"] if e["code"].startswith("ZIP3/") and e["time"] is None) or "-")'
}
grep -qx 036 "$RESTRICTED" || fail "036 is expected on the restricted list"
[ "$(zip_of zr)" = "ZIP3/000" ] || fail "03601 should give ZIP3/000, got $(zip_of zr)"
[ "$(zip_of zc)" = "ZIP3/021" ] || fail "02139 should give ZIP3/021, got $(zip_of zc)"
[ "$(zip_of zn)" = "-" ] || fail "no postalCode should give no ZIP3, got $(zip_of zn)"
# the three share sex and birth year; zip3 splits them
"$MEDFM" deid risk "$T/zs" --json --quasi sex,birth_year,zip3 --k 2 --list >"$T/z.json"
"$PYTHON" - "$T/z.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["patients"] == 3 and r["classes"] == 3 and r["k_achieved"] == 1, r
assert r["deidentified"] is False and r["missing"] == {"sex": 0, "birth_year": 0, "zip3": 1}, r
got = {x["subject"]: x["quasi"] for x in r["below_k"]}
assert got == {"zr": {"sex": "FEMALE", "birth_year": "1980", "zip3": "000"},
               "zc": {"sex": "FEMALE", "birth_year": "1980", "zip3": "021"},
               "zn": {"sex": "FEMALE", "birth_year": "1980", "zip3": "*"}}, got
PY

# --- a de-identified cohort against an independent computation --------------------------------
"$MEDFM" synth --quiet --patients 60 --seed 3 --out "$T/cohort"
"$MEDFM" deid keygen --out "$T/key" 2>/dev/null
"$MEDFM" ingest --quiet --format ndjson --key-file "$T/key" --out "$T/d" "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/id" "$T/cohort"

run_json() { # out-file args...
  local out=$1
  shift
  expect_exit 0 "$MEDFM" deid risk "$@" --json
  cp "$T/out" "$out"
}
run_json "$T/r1.json" "$T/d" --list --sensitive SNOMED/ --l 2
run_json "$T/r2.json" "$T/d" --quasi sex,birth_year --k 3 --list --sensitive LOINC/ --l 3
run_json "$T/r3.json" "$T/d" --quasi zip3,sex --k 2
run_json "$T/r4.json" "$T/id" --quasi sex,birth_year,zip3,race,ethnicity --k 1000 --list

"$PYTHON" - "$MEDFM" "$T" "$RESTRICTED" <<'PY'
import collections, datetime, glob, json, os, struct, subprocess, sys
medfm, t, restricted_path = sys.argv[1:4]
restricted = {l.strip() for l in open(restricted_path) if l.strip() and not l.startswith("#")}

def subjects(store):
    """Every subject id, read from the shards' string tables (uint64 offsets, bytes)."""
    out = []
    for d in sorted(glob.glob(store + "/shard-*")):
        off = open(d + "/subjects.off", "rb").read()
        offs = struct.unpack("<%dQ" % (len(off) // 8), off)
        data = open(d + "/subjects.bin", "rb").read()
        out += [data[offs[i]:offs[i + 1]].decode() for i in range(len(offs) - 1)]
    return out

def events(store, pid):
    out = subprocess.run([medfm, "inspect", store, "--patient", pid, "--json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["events"]

PREFIX = {"sex": "GENDER/", "zip3": "ZIP3/", "race": "RACE/", "ethnicity": "ETHNICITY/"}

def facts(evs):
    """quasi-identifier name -> value, per the documented rules."""
    q = {}
    for name, pre in PREFIX.items():
        vals = sorted({e["code"][len(pre):] for e in evs
                       if e["time"] is None and e["code"].startswith(pre)})
        q[name] = "+".join(vals) if vals else "*"
    births = [e["time"] for e in evs if e["code"] == "MEDS_BIRTH" and e["time"]]
    q["birth_year"] = min(births)[:4] if births else "*"
    return q

def sensitive(evs, prefix):
    return next((e["code"] for e in evs if e["code"].startswith(prefix)), "*")

def expect(store, quasi, k, prefix=None, l=None):
    pats = subjects(store)
    assert len(pats) == len(set(pats)) == 60, len(pats)
    tl = {p: events(store, p) for p in pats}
    tup = {p: tuple(facts(tl[p])[n] for n in quasi) for p in pats}
    cls = collections.defaultdict(list)
    for p in pats:
        cls[tup[p]].append(p)
    sizes = [len(v) for v in cls.values()]
    below = [c for c in cls if len(cls[c]) < k]
    r = {"quasi": list(quasi), "k": k, "patients": len(pats), "classes": len(cls),
         "k_achieved": min(sizes), "classes_below_k": len(below),
         "patients_below_k": sum(len(cls[c]) for c in below),
         "share_below_k": sum(len(cls[c]) for c in below) / len(pats),
         "prosecutor_risk_max": 1 / min(sizes), "average_risk": len(cls) / len(pats),
         "missing": {n: sum(tup[p][i] == "*" for p in pats) for i, n in enumerate(quasi)}}
    lo = [1, 2, 3, 4, 5, 10, 20, 50, 100, 1000]
    hist = []
    for i, a in enumerate(lo):
        b = lo[i + 1] - 1 if i + 1 < len(lo) else None
        inb = [s for s in sizes if s >= a and (b is None or s <= b)]
        hist.append({"min": a, "max": b, "classes": len(inb), "patients": sum(inb)})
    r["class_sizes"] = hist
    if prefix:
        sv = {p: sensitive(tl[p], prefix) for p in pats}
        ls = {c: len({sv[p] for p in cls[c]}) for c in cls}
        bl = [c for c in cls if ls[c] < l]
        r["l_diversity"] = {"sensitive": prefix, "l": l, "l_achieved": min(ls.values()),
                            "classes_below_l": len(bl),
                            "patients_below_l": sum(len(cls[c]) for c in bl),
                            "values": len(set(sv.values())),
                            "patients_without": sum(v == "*" for v in sv.values())}
    else:
        r["l_diversity"] = None
    listed = sorted((p, dict(zip(quasi, tup[p]))) for c in below for p in cls[c])
    return r, listed, tup

def check(store, path, quasi, k, prefix=None, l=None, listed_too=False):
    got = json.load(open(path))
    want, listed, tup = expect(store, quasi, k, prefix, l)
    for key, v in want.items():
        if isinstance(v, float):
            assert abs(got[key] - v) < 1e-12, (path, key, got[key], v)
        else:
            assert got[key] == v, (path, key, got[key], v)
    assert len(got["manifest_sha256"]) == 64
    if listed_too:
        gl = sorted((x["subject"], x["quasi"]) for x in got["below_k"])
        assert gl == listed, (path, gl[:3], listed[:3])
        for x in got["below_k"]:
            assert x["class_size"] == sum(1 for p in tup if tup[p] == tup[x["subject"]]), x
        # listed in class order: class size never decreases
        cs = [x["class_size"] for x in got["below_k"]]
        assert cs == sorted(cs), cs
    else:
        assert "below_k" not in got, path
    return got, tup

ALL = ["sex", "birth_year", "zip3", "race", "ethnicity"]
g, _ = check(t + "/d", t + "/r1.json", ALL, 5, "SNOMED/", 2, True)
assert g["deidentified"] is True
assert g["missing"]["zip3"] == 0, "every synthetic patient has a postalCode"
check(t + "/d", t + "/r2.json", ["sex", "birth_year"], 3, "LOINC/", 3, True)
check(t + "/d", t + "/r3.json", ["zip3", "sex"], 2)
g, tup = check(t + "/id", t + "/r4.json", ALL, 1000, None, None, True)
assert g["patients_below_k"] == 60 and len(g["below_k"]) == 60

# the identified store's quasi-identifiers are the source Patients' (birth year exact here)
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETH = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
n = 0
for line in open(t + "/cohort/Patient.ndjson"):
    p = json.loads(line)
    def omb(url):
        v = sorted({s["valueCoding"]["code"] for e in p.get("extension", []) if e["url"] == url
                    for s in e.get("extension", []) if s["url"] == "ombCategory"})
        return "+".join(v) or "*"
    z = p["address"][0]["postalCode"][:3]
    want = (p["gender"].upper(), p["birthDate"][:4], "000" if z in restricted else z,
            omb(RACE), omb(ETH))
    assert tup[p["id"]] == want, (tup[p["id"]], want)
    n += 1
assert n == 60
print("deid_risk: reports match")
PY

# the report names pseudonyms only: no source id appears in a de-identified store's list
"$MEDFM" deid risk "$T/d" --list --k 1000 >"$T/list.txt"
[ "$(grep -c '  size ' "$T/list.txt")" -eq 60 ] || fail "--list should print 60 records"
cut -d'"' -f8 "$T/cohort/Patient.ndjson" >"$T/ids"
[ "$(wc -l <"$T/ids")" -eq 60 ] || fail "could not list the source ids"
! grep -qFf "$T/ids" "$T/list.txt" || fail "a source id is in the report"
grep -q "^k achieved  *1 " "$T/list.txt" || fail "text report: k achieved"
grep -q "shifted" "$T/list.txt" || fail "text report: no birth-year caveat on a de-identified store"

# --- exit codes and errors ----------------------------------------------------------------------
expect_exit 0 "$MEDFM" deid risk "$T/d" --k 1 --fail-below
expect_exit 3 "$MEDFM" deid risk "$T/d" --k 2 --fail-below
expect_exit 0 "$MEDFM" deid risk "$T/d" --k 2
expect_exit 2 "$MEDFM" deid risk "$T/d" --quasi sex,zipcode
grep -q "zipcode" "$T/err" && grep -q "birth_year" "$T/err" || fail "unknown quasi message"
expect_exit 2 "$MEDFM" deid risk "$T/d" --quasi sex,sex
expect_exit 2 "$MEDFM" deid risk "$T/d" --k 0
expect_exit 2 "$MEDFM" deid risk "$T/d" --sensitive ""
expect_exit 2 "$MEDFM" deid risk
expect_exit 1 "$MEDFM" deid risk "$T/nothing-here"
[ -s "$T/err" ] || fail "no message for a missing store"
cp -r "$T/d" "$T/bad"
truncate -s 5 "$T/bad/shard-00000/code.u32"
expect_exit 1 "$MEDFM" deid risk "$T/bad"
[ -s "$T/err" ] || fail "no message for a damaged store"
echo "deid_risk: ok"
