#!/usr/bin/env python3
"""fhir_oracle.py - an independent reading of FHIR R4 bundles, to check medfm's FHIR ingest.

    fhir_oracle.py pick DIR             print the bundles to test: the first 5 patient bundles
                                        by name, the first deceased patient's, and one
                                        Organization/Practitioner bundle (maps to nothing)
    fhir_oracle.py check MEDFM STORE FILE...
                                        compare every patient's events in STORE (read with
                                        `MEDFM inspect STORE --patient ID --json`) with the
                                        mapping rules of docs/ingest-fhir.md applied here

Events are compared as multisets of (time, code, value, unit).  Exit status 0 when equal.
Written from the mapping table, not from src/ingest/fhir.c, so that a mistake in one is not
copied into the other.
"""
import collections
import datetime
import json
import os
import re
import subprocess
import sys

VOCAB = {
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://hl7.org/fhir/sid/icd-9-cm": "ICD9CM",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://www.ama-assn.org/go/cpt": "CPT",
}
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
RESTRICTED_ZIP3 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                               "deid", "zip3-restricted.txt")


class Skip(Exception):
    """The resource is bad input: medfm skips it and reports an issue."""


def when(s):
    """A FHIR date/dateTime/instant as medfm prints it (UTC, Z, microseconds only if any)."""
    if s is None:
        return None
    if len(s) == 4:
        s += "-01-01"
    elif len(s) == 7:
        s += "-01"
    if len(s) == 10:
        dt = datetime.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    else:
        dt = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.timezone.utc)
        dt = dt.astimezone(datetime.timezone.utc)
    out = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        out += ".%06d" % dt.microsecond
    return out + "Z"


def code_of(cc):
    """The first coding with a known system as VOCAB/CODE; Skip when there is none."""
    for coding in (cc or {}).get("coding", []):
        prefix = VOCAB.get(coding.get("system"))
        if prefix:
            return prefix + "/" + coding["code"]
    raise Skip("no known coding")


def first_time(r, *paths):
    for path in paths:
        v = r
        for key in path.split("."):
            v = v.get(key) if isinstance(v, dict) else None
        if v is not None:
            return when(v)
    raise Skip("no time")


def value_events(t, code, holder):
    """Events of a code with the value[x] of holder (an Observation or a component)."""
    keys = [k for k in holder if k.startswith("value")]
    if not keys:
        return [(t, code, None, None)]
    k = keys[0]
    v = holder[k]
    if k == "valueQuantity":
        return [(t, code, float(v["value"]), v.get("unit") or v.get("code"))]
    if k in ("valueBoolean",):
        return [(t, code, 1.0 if v else 0.0, None)]
    if k == "valueInteger":
        return [(t, code, float(v), None)]
    return [(t, code, None, None)]  # text values are not compared


def patient_index(bundle):
    """fullUrl -> Patient.id for the bundle's Patient entries."""
    return {e["fullUrl"]: e["resource"]["id"] for e in bundle.get("entry", [])
            if e.get("resource", {}).get("resourceType") == "Patient" and "fullUrl" in e}


def subject(r, index, key="subject", alt="patient"):
    ref = (r.get(key) or r.get(alt) or {}).get("reference", "")
    if ref.startswith("urn:"):
        if ref not in index:
            raise Skip("unresolved")
        return index[ref]
    parts = ref.split("/")
    if len(parts) >= 2 and parts[-2] == "Patient":
        return parts[-1]
    raise Skip("unresolved")


def restricted_zip3():
    """The three-digit ZIP areas that Safe Harbor turns into 000."""
    with open(RESTRICTED_ZIP3) as f:
        return {l.strip() for l in f if l.strip() and not l.startswith("#")}


def zip3_event(patient):
    """The static ZIP3 event of a Patient: from the first "home" address whose postalCode
    starts with three digits, else the first such address; none when there is none."""
    zips = [(a.get("use") == "home", a["postalCode"]) for a in patient.get("address", [])
            if re.match(r"[0-9]{3}", a.get("postalCode") if isinstance(a.get("postalCode"), str)
                        else "")]
    if not zips:
        return []
    z = next((z for home, z in zips if home), zips[0][1])[:3]
    if z in restricted_zip3():
        z = "000"
    return [(None, "ZIP3/" + z, None, None)]


def map_resource(r, index):
    """(patient id, [events]) of one resource, or None when medfm maps nothing."""
    rt = r["resourceType"]
    if rt == "Patient":
        ev = [(when(r["birthDate"]), "MEDS_BIRTH", None, None)]
        if "deceasedDateTime" in r:
            ev.append((when(r["deceasedDateTime"]), "MEDS_DEATH", None, None))
        if "gender" in r:
            ev.append((None, "GENDER/" + r["gender"].upper(), None, None))
        for ext in r.get("extension", []):
            prefix = {RACE: "RACE/", ETHNICITY: "ETHNICITY/"}.get(ext.get("url"))
            for sub in ext.get("extension", []) if prefix else []:
                if sub.get("url") == "ombCategory":
                    ev.append((None, prefix + sub["valueCoding"]["code"], None, None))
        return r["id"], ev + zip3_event(r)
    if r.get("status") == "entered-in-error":
        return None
    if rt == "Encounter":
        pid = subject(r, index)
        t0 = when(r["period"]["start"])
        ev = [(t0, "ENCOUNTER/" + r["class"]["code"], None, None)]
        try:
            ev.append((t0, code_of(r["type"][0]), None, None))
        except (Skip, KeyError, IndexError):
            pass
        if "end" in r["period"]:
            ev.append((when(r["period"]["end"]), "ENCOUNTER_END/" + r["class"]["code"], None,
                       None))
        return pid, ev
    if rt == "Condition":
        pid = subject(r, index)
        code = code_of(r.get("code"))
        ev = [(first_time(r, "onsetDateTime", "onsetPeriod.start", "recordedDate"), code, None,
               None)]
        if "abatementDateTime" in r:
            ev.append((when(r["abatementDateTime"]), "CONDITION_END/" + code, None, None))
        return pid, ev
    if rt == "Observation":
        pid = subject(r, index)
        code = code_of(r.get("code"))
        t = first_time(r, "effectiveDateTime", "effectiveInstant", "effectivePeriod.start",
                       "issued")
        comps = r.get("component", [])
        has_value = any(k.startswith("value") for k in r)
        ev = value_events(t, code, r) if has_value or not comps else []
        for c in comps:
            ev += value_events(t, code_of(c.get("code")), c)
        return pid, ev
    if rt == "MedicationRequest":
        if "medicationCodeableConcept" not in r:
            return None
        pid = subject(r, index)
        return pid, [(when(r["authoredOn"]), code_of(r["medicationCodeableConcept"]), None,
                      None)]
    if rt == "Procedure":
        if r.get("status") == "not-done":
            return None
        pid = subject(r, index)
        return pid, [(first_time(r, "performedDateTime", "performedPeriod.start"),
                      code_of(r.get("code")), None, None)]
    if rt == "Immunization":
        if r.get("status") == "not-done":
            return None
        pid = subject(r, index, "patient", "subject")
        return pid, [(when(r["occurrenceDateTime"]), code_of(r.get("vaccineCode")), None, None)]
    if rt == "AllergyIntolerance":
        pid = subject(r, index, "patient", "subject")
        return pid, [(first_time(r, "onsetDateTime", "recordedDate"), code_of(r.get("code")),
                      None, None)]
    if rt == "DiagnosticReport":
        pid = subject(r, index)
        code = code_of(r.get("code"))
        t = first_time(r, "effectiveDateTime", "effectivePeriod.start", "issued")
        ev = [(t, code, None, None)]
        for a in r.get("presentedForm", []):
            if "data" in a and a.get("contentType", "text/").startswith("text/"):
                ev.append((t, "NOTE/" + code, None, None))
        return pid, ev
    if rt == "DocumentReference":
        pid = subject(r, index)
        try:
            code = "NOTE/" + code_of(r.get("type"))
        except Skip:
            code = "NOTE/unknown"
        ev = []
        for c in r.get("content", []):
            a = c.get("attachment", {})
            if "data" in a and a.get("contentType", "text/").startswith("text/"):
                ev.append((first_time(r, "date", "context.period.start"), code, None, None))
        return pid, ev
    return None


def expected(files):
    """patient id -> Counter of (time, code, value, unit); and the number of skipped records."""
    out = collections.defaultdict(collections.Counter)
    skipped = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("resourceType") == "Bundle":
            index = patient_index(doc)
            resources = [e["resource"] for e in doc.get("entry", []) if "resource" in e]
        else:
            index, resources = {}, [doc]
        for r in resources:
            try:
                got = map_resource(r, index)
            except Skip:
                skipped += 1
                continue
            if got:
                out[got[0]].update(got[1])
    return out, skipped


def actual(medfm, store, pid):
    p = subprocess.run([medfm, "inspect", store, "--patient", pid, "--json"],
                       capture_output=True, text=True, check=True)
    doc = json.loads(p.stdout)
    assert doc["patient"] == pid, (doc["patient"], pid)
    return collections.Counter((e["time"], e["code"], e["value"], e["unit"])
                               for e in doc["events"])


def pick(folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    patients = [n for n in names if "Information" not in n]
    chosen = patients[:5]
    for n in patients[5:]:
        with open(os.path.join(folder, n), encoding="utf-8") as f:
            b = json.load(f)
        if any(e["resource"]["resourceType"] == "Patient" and "deceasedDateTime" in e["resource"]
               for e in b["entry"]):
            chosen.append(n)
            break
    else:
        sys.exit("fhir_oracle: no deceased patient in the data")
    other = [n for n in names if n.startswith("hospitalInformation")]
    chosen += other[:1]
    for n in chosen:
        print(os.path.join(folder, n))


def check(medfm, store, files):
    want, skipped = expected(files)
    if skipped:
        print(f"fhir_oracle: note: {skipped} resources expected to be skipped")
    if len(want) < 6:
        print(f"fhir_oracle: only {len(want)} patients in the input", file=sys.stderr)
        return 1
    failed = 0
    deaths = 0
    for pid, events in sorted(want.items()):
        got = actual(medfm, store, pid)
        deaths += any(e[1] == "MEDS_DEATH" for e in got)
        if got != events:
            failed += 1
            missing = events - got
            extra = got - events
            print(f"fhir_oracle: patient {pid}: {sum(events.values())} expected, "
                  f"{sum(got.values())} in the store", file=sys.stderr)
            for e in list(missing.elements())[:10]:
                print(f"  missing {e}", file=sys.stderr)
            for e in list(extra.elements())[:10]:
                print(f"  extra   {e}", file=sys.stderr)
        else:
            print(f"fhir_oracle: patient {pid}: {sum(events.values())} events match")
    if deaths == 0:
        print("fhir_oracle: no MEDS_DEATH event in the store", file=sys.stderr)
        failed += 1
    return 1 if failed else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "pick":
        pick(argv[2])
        return 0
    if len(argv) >= 5 and argv[1] == "check":
        return check(argv[2], argv[3], argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
