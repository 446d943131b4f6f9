"""label_oracle.py - checks `medfm label` on the MIMIC-IV demo against the source CSVs.

Reads hosp/admissions.csv.gz and hosp/patients.csv.gz with Python's gzip and csv modules (an
independent reading of the source) and the LABELS.csv that medfm wrote, for one of three
shipped tasks (--task):

  mimic_inhospital_death  kept: admissions that last more than 24 hours (dischtime >
      admittime + 24 h) with no death of the subject and no other admission of the subject in
      their first 24 hours (after admittime, up to 24 h later), the death dated as medfm's
      ingest dates MEDS_DEATH (the latest in-hospital deathtime, else patients.dod at 00:00);
      label: admissions.hospital_expire_flag; prediction time admittime + 24 h.
  mimic_long_stay         kept: the same admissions; label: dischtime > admittime + 7 days.
  readmission_30d         kept: admissions with hospital_expire_flag 0 and no death up to
      their discharge; label: another admission of the subject within 30 days after the
      discharge (after dischtime, up to 30 days later); prediction time dischtime.

Exits 1 with the first differences; prints the counts otherwise.  Standard library only.
"""
import argparse
import csv
import datetime as dt
import gzip
import os
import sys


def read_table(data, name):
    path = os.path.join(data, "hosp", name + ".csv.gz")
    if os.path.exists(path):
        fh = gzip.open(path, "rt", newline="", encoding="utf-8")
    else:
        fh = open(os.path.join(data, "hosp", name + ".csv"), newline="", encoding="utf-8")
    with fh:
        return list(csv.DictReader(fh))


def when(s):
    if not s:
        return None
    if len(s) == 10:
        s += " 00:00:00"
    return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S")


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--task", required=True,
                    choices=["mimic_inhospital_death", "mimic_long_stay", "readmission_30d"])
    a = ap.parse_args()

    adm = read_table(a.data, "admissions")
    pat = {r["subject_id"]: r for r in read_table(a.data, "patients")}
    death = {}
    for r in adm:
        if r["hospital_expire_flag"] == "1" and r["deathtime"]:
            t = when(r["deathtime"])
            s = r["subject_id"]
            death[s] = max(death.get(s, t), t)
    for s, p in pat.items():
        if s not in death and p.get("dod"):
            death[s] = when(p["dod"])
    starts = {}
    for r in adm:
        starts.setdefault(r["subject_id"], []).append(when(r["admittime"]))

    day = dt.timedelta(hours=24)
    want = {}
    excluded = {"short": 0, "death": 0, "admission": 0}
    for r in adm:
        s, at, de = r["subject_id"], when(r["admittime"]), when(r["dischtime"])
        d = death.get(s)
        if a.task == "readmission_30d":
            if r["hospital_expire_flag"] == "1" or (d is not None and at < d <= de):
                excluded["death"] += 1
                continue
            key = (s, iso(de))
            soon = any(de < o <= de + dt.timedelta(days=30) for o in starts[s])
            label = "true" if soon else "false"
        else:
            if not de > at + day:
                excluded["short"] += 1
                continue
            if d is not None and at < d <= at + day:
                excluded["death"] += 1
                continue
            if any(at < o <= at + day for o in starts[s]):
                excluded["admission"] += 1
                continue
            key = (s, iso(at + day))
            if a.task == "mimic_inhospital_death":
                label = "true" if r["hospital_expire_flag"] == "1" else "false"
            else:
                label = "true" if de > at + dt.timedelta(days=7) else "false"
        if key in want:
            print("label_oracle: two samples of one subject at one time", file=sys.stderr)
            return 1
        want[key] = label

    got = {}
    with open(a.labels, newline="", encoding="utf-8") as fh:
        rd = csv.reader(fh)
        if next(rd) != ["subject_id", "prediction_time", "boolean_value"]:
            print("label_oracle: bad header", file=sys.stderr)
            return 1
        for row in rd:
            got[(row[0], row[1])] = row[2]

    bad = []
    for k in sorted(set(want) | set(got)):
        if want.get(k) != got.get(k):
            bad.append("subject %s at %s: expected %s, medfm %s" % (k[0], k[1], want.get(k),
                                                                    got.get(k)))
    if bad:
        print("label_oracle: %d differences, first ones:" % len(bad), file=sys.stderr)
        for b in bad[:10]:
            print("  " + b, file=sys.stderr)
        return 1
    pos = sum(v == "true" for v in want.values())
    print("label_oracle: %s: %d admissions, %d labeled, all as expected (%d positive); "
          "excluded: %d of 24 h or less, %d with a death, %d with another admission in the "
          "first 24 h" % (a.task, len(adm), len(want), pos, excluded["short"], excluded["death"],
                          excluded["admission"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
