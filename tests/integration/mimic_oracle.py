"""mimic_oracle.py - checks a store built from the MIMIC-IV demo against the source CSVs.

Reads the demo tables with Python's own gzip and csv modules (an independent CSV parser) and
asks `medfm inspect` for every patient.  Per subject it checks:
  - one MEDS_BIRTH, one GENDER/*, and one MEDS_DEATH exactly when the subject died (dod or an
    in-hospital death), at the in-hospital death time when there is one;
  - ICD9CM/ICD10CM events: as many as diagnoses_icd rows, and the same (time, code) multiset,
    with dots put in by the rule of docs/ingest-mimic.md and times from admissions.dischtime;
  - ICD9PCS/ICD10PCS events: as many as procedures_icd rows;
  - LAB/* events with a numeric value: the same (time, code, value, unit) multiset as the
    labevents rows with a valuenum; and as many LAB/* events in all as labevents rows.
Prints the first differences and exits 1 when anything differs.  Standard library only.
"""
import argparse
import collections
import csv
import gzip
import json
import os
import subprocess
import sys


def read_table(data, sub, name):
    """Rows of DATA/SUB/NAME.csv.gz (or .csv) as dicts."""
    path = os.path.join(data, sub, name + ".csv.gz")
    if os.path.exists(path):
        fh = gzip.open(path, "rt", newline="", encoding="utf-8")
    else:
        fh = open(os.path.join(data, sub, name + ".csv"), newline="", encoding="utf-8")
    with fh:
        return list(csv.DictReader(fh))


def iso(t):
    """MIMIC "YYYY-MM-DD[ hh:mm:ss]" as medfm prints times."""
    if len(t) == 10:
        t += " 00:00:00"
    return t.replace(" ", "T") + "Z"


def dotted(code, version):
    """ICD-CM code with its dot, as docs/ingest-mimic.md says."""
    if version == "10":
        return "ICD10CM/" + (code[:3] + "." + code[3:] if len(code) > 3 else code)
    at = 4 if code.startswith("E") else 3
    return "ICD9CM/" + (code[:at] + "." + code[at:] if len(code) > at else code)


def inspect(medfm, store, *args):
    out = subprocess.run([medfm, "inspect", store, "--json", *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--medfm", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--data", required=True)
    a = ap.parse_args()

    patients = read_table(a.data, "hosp", "patients")
    admissions = read_table(a.data, "hosp", "admissions")
    diagnoses = read_table(a.data, "hosp", "diagnoses_icd")
    procedures = read_table(a.data, "hosp", "procedures_icd")
    labs = read_table(a.data, "hosp", "labevents")

    disch = {r["hadm_id"]: r["dischtime"] for r in admissions}
    hosp_death = {}
    for r in admissions:
        if r["hospital_expire_flag"] == "1" and r["deathtime"]:
            prev = hosp_death.get(r["subject_id"])
            hosp_death[r["subject_id"]] = max(prev, r["deathtime"]) if prev else r["deathtime"]

    want_dx = collections.defaultdict(collections.Counter)
    for r in diagnoses:
        want_dx[r["subject_id"]][(iso(disch[r["hadm_id"]]),
                                  dotted(r["icd_code"], r["icd_version"]))] += 1
    want_px = collections.Counter(r["subject_id"] for r in procedures)
    want_lab = collections.defaultdict(collections.Counter)
    want_lab_rows = collections.Counter()
    for r in labs:
        want_lab_rows[r["subject_id"]] += 1
        if r["valuenum"] != "":
            want_lab[r["subject_id"]][(iso(r["charttime"]), "LAB/" + r["itemid"],
                                       float(r["valuenum"]), r["valueuom"] or None)] += 1

    summary = inspect(a.medfm, a.store)
    failures = []
    if summary["patients"] != len(patients):
        failures.append("store has %d patients, patients table %d rows"
                        % (summary["patients"], len(patients)))

    n_lab = n_dx = 0
    for p in patients:
        sid = p["subject_id"]
        events = inspect(a.medfm, a.store, "--patient", sid)["events"]
        codes = collections.Counter(e["code"] for e in events)
        births = codes["MEDS_BIRTH"]
        deaths = [e for e in events if e["code"] == "MEDS_DEATH"]
        genders = sum(v for k, v in codes.items() if k.startswith("GENDER/"))
        if births != 1 or genders != 1:
            failures.append("%s: %d MEDS_BIRTH, %d GENDER events" % (sid, births, genders))
        want_death = None
        if sid in hosp_death:
            want_death = iso(hosp_death[sid])
        elif p["dod"]:
            want_death = iso(p["dod"])
        got_death = [e["time"] for e in deaths]
        if got_death != ([want_death] if want_death else []):
            failures.append("%s: MEDS_DEATH at %s, want %s" % (sid, got_death, want_death))

        got_dx = collections.Counter((e["time"], e["code"]) for e in events
                                     if e["code"].startswith(("ICD9CM/", "ICD10CM/")))
        if got_dx != want_dx[sid]:
            failures.append("%s: diagnoses differ: extra %s, missing %s"
                            % (sid, list((got_dx - want_dx[sid]).items())[:3],
                               list((want_dx[sid] - got_dx).items())[:3]))
        n_dx += sum(got_dx.values())
        got_px = sum(v for k, v in codes.items() if k.startswith(("ICD9PCS/", "ICD10PCS/")))
        if got_px != want_px[sid]:
            failures.append("%s: %d procedure events, want %d" % (sid, got_px, want_px[sid]))

        got_lab = collections.Counter((e["time"], e["code"], e["value"], e["unit"])
                                      for e in events
                                      if e["code"].startswith("LAB/") and e["value"] is not None)
        if got_lab != want_lab[sid]:
            failures.append("%s: numeric labs differ: extra %s, missing %s"
                            % (sid, list((got_lab - want_lab[sid]).items())[:3],
                               list((want_lab[sid] - got_lab).items())[:3]))
        n_lab += sum(got_lab.values())
        all_lab = sum(v for k, v in codes.items() if k.startswith("LAB/"))
        if all_lab != want_lab_rows[sid]:
            failures.append("%s: %d LAB events, want %d (one per row)"
                            % (sid, all_lab, want_lab_rows[sid]))

    for f in failures[:20]:
        print("mimic_oracle: " + f, file=sys.stderr)
    if failures:
        print("mimic_oracle: %d differences" % len(failures), file=sys.stderr)
        return 1
    print("mimic_oracle: %d patients, %d diagnoses, %d numeric labs match the source"
          % (len(patients), n_dx, n_lab))
    return 0


if __name__ == "__main__":
    sys.exit(main())
