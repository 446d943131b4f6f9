#!/usr/bin/python3
"""deid_fhir_oracle.py - an independent check of `medfm deid fhir` output (stdlib only).

Usage: deid_fhir_oracle.py KEYFILE OUT_DIR INPUT...

INPUT are the files given to deid fhir (Bundles .json or NDJSON).  Checks, with pseudonyms and
shifts recomputed here from the key (HMAC-SHA256), not taken from medfm:

  1. no identifier value of the input appears anywhere in the output: resource ids, fullUrls,
     identifier values, telecom values, full postal codes, address lines, full names, and,
     within each patient's own resources, its given and family names and birth date (code
     labels - "display" and CodeableConcept "text" - are terminology and are not searched);
  2. every resource id became its keyed pseudonym, so references still resolve;
  3. every clinical code and every numeric value survives, resource by resource;
  4. every date of a patient moved by that patient's shift, so intervals are exact;
  5. postal codes are cut to three digits, "000" for restricted areas.

Prints a summary and exits 1 with the first problems found.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import sys

RESTRICTED = {"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830",
              "831", "878", "879", "884", "890", "893"}


def keyed(key, label, s):
    return hmac.new(key, label.encode() + b"\0" + s.encode(), hashlib.sha256).digest()


def pseudonym(key, s):
    return keyed(key, "subject", s)[:16].hex()


def shift_days(key, s):
    x = int.from_bytes(keyed(key, "shift", s)[:8], "big")
    d = x % 730 - 365
    return d + 1 if d >= 0 else d


def read_resources(paths):
    """(resource, patient id or None) for every resource of the inputs."""
    out = []
    for p in paths:
        if p.endswith(".ndjson"):
            for line in open(p, encoding="utf-8"):
                if line.strip():
                    out.append(json.loads(line))
        else:
            doc = json.load(open(p, encoding="utf-8"))
            if doc.get("resourceType") == "Bundle":
                urls = {}
                for e in doc.get("entry", []):
                    r = e.get("resource")
                    if r and e.get("fullUrl"):
                        urls[e["fullUrl"]] = "%s/%s" % (r["resourceType"], r.get("id"))
                for e in doc.get("entry", []):
                    r = e.get("resource")
                    if r:
                        fix_refs(r, urls)
                        out.append(r)
            else:
                out.append(doc)
    return out


def fix_refs(node, urls):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str) and v in urls:
                node[k] = urls[v]
            else:
                fix_refs(v, urls)
    elif isinstance(node, list):
        for v in node:
            fix_refs(v, urls)


def subject_of(r):
    if r["resourceType"] == "Patient":
        return r.get("id")
    for k in ("subject", "patient", "beneficiary"):
        ref = (r.get(k) or {}).get("reference", "")
        m = re.search(r"(?:^|/)Patient/([^/]+)$", ref)
        if m:
            return m.group(1)
    return None


def strings(node, out, skip_labels=True, key=None, parent_key=None):
    """Every string of a resource (decoded text attachments too), without code labels."""
    if isinstance(node, dict):
        is_cc = "coding" in node
        for k, v in node.items():
            if skip_labels and (k == "display" or (k == "text" and is_cc)):
                continue
            if k == "data" and node.get("contentType", "").startswith("text/"):
                out.append(base64.b64decode(v).decode("utf-8", "replace"))
                continue
            strings(v, out, skip_labels, k, key)
    elif isinstance(node, list):
        for v in node:
            strings(v, out, skip_labels, key, parent_key)
    elif isinstance(node, str):
        out.append(node)


def identifiers(r):
    """(global values, own-patient values) that must not survive."""
    g, own = set(), set()
    if r.get("id") and len(r["id"]) >= 8:
        g.add(r["id"])
    for i in r.get("identifier", []):
        v = i.get("value", "")
        if len(v) >= 4:
            g.add(v)
    for t in r.get("telecom", []):
        if len(t.get("value", "")) >= 6:
            g.add(t["value"])
    for a in r.get("address", []):
        for line in a.get("line", []):
            if len(line) >= 6:
                g.add(line)
        pc = a.get("postalCode", "")
        if len(pc) >= 5:
            g.add(pc)
    if r["resourceType"] in ("Patient", "Practitioner", "RelatedPerson"):
        for n in r.get("name", []):
            given = n.get("given", [])
            fam = n.get("family", "")
            if given and fam:
                g.add("%s %s" % (given[0], fam))
            for part in given + ([fam] if fam else []):
                if len(part) >= 3:
                    own.add(part)
        if r.get("birthDate") and len(r["birthDate"]) == 10:
            own.add(r["birthDate"])
    return g, own


def dates_of(r):
    """(path, value) of the dates the check follows."""
    out = []
    for path in (("period", "start"), ("period", "end"), ("onsetDateTime",),
                 ("effectiveDateTime",), ("authoredOn",), ("performedPeriod", "start"),
                 ("occurrenceDateTime",), ("recordedDate",), ("issued",), ("birthDate",),
                 ("deceasedDateTime",), ("date",)):
        v = r
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, str):
            out.append((".".join(path), v))
    return out


def parse_date(s):
    if len(s) == 10:
        return datetime.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    if len(s) < 10:
        return None
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def codes_of(r):
    out = []
    for k in ("code", "medicationCodeableConcept", "vaccineCode", "type"):
        v = r.get(k)
        for cc in (v if isinstance(v, list) else [v]):
            if isinstance(cc, dict):
                for c in cc.get("coding", []):
                    out.append((k, c.get("system"), c.get("code")))
    q = r.get("valueQuantity")
    if isinstance(q, dict):
        out.append(("value", q.get("value"), q.get("unit")))
    for comp in r.get("component", []):
        q = comp.get("valueQuantity")
        if isinstance(q, dict):
            out.append(("component", q.get("value"), q.get("unit")))
    return sorted(out, key=repr)


def main():
    keyfile, outdir, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    key = bytes.fromhex(open(keyfile).read().strip())
    src = read_resources(inputs)
    outs = {}
    text_by_subject = {}
    all_text = []
    for name in sorted(os.listdir(outdir)):
        if not name.endswith(".ndjson"):
            continue
        for line in open(os.path.join(outdir, name), encoding="utf-8"):
            r = json.loads(line)
            outs[(r["resourceType"], r.get("id"))] = r
            s = []
            strings(r, s)
            all_text.extend(s)
            sub = subject_of(r)
            text_by_subject.setdefault(sub, []).extend(s)
    blob = "\n".join(all_text)
    # Word-bounded search of thousands of values in a large output: single-word values (and
    # hyphenated ids) through token sets, the rest by substring and then a bounded regex.
    words = set(re.findall(r"\w+", blob)) | set(re.findall(r"[\w-]+", blob))

    def survives(v):
        if re.fullmatch(r"[\w-]+", v):
            return v in words
        if v not in blob:
            return False
        return re.search(r"(?<![\w])" + re.escape(v) + r"(?![\w])", blob) is not None
    problems = []
    checked = {"ids": 0, "global": 0, "own": 0, "codes": 0, "dates": 0, "zips": 0}
    for r in src:
        rid = r.get("id")
        if rid is None:
            continue
        pid = subject_of(r)
        o = outs.get((r["resourceType"], pseudonym(key, rid)))
        checked["ids"] += 1
        if o is None:
            problems.append("%s: no output resource with the keyed pseudonym id" % r["resourceType"])
            continue
        ref_ok = pid is None or subject_of(o) == pseudonym(key, pid)
        if not ref_ok:
            problems.append("%s: its patient reference is not the patient's pseudonym"
                            % r["resourceType"])
        g, own = identifiers(r)
        for v in g:
            checked["global"] += 1
            if survives(v):
                problems.append("%s: an identifier value survived" % r["resourceType"])
        if pid is not None:
            mine = "\n".join(text_by_subject.get(pseudonym(key, pid), []))
            for v in own:
                checked["own"] += 1
                if re.search(r"(?<![\w])" + re.escape(v) + r"(?![\w])", mine):
                    problems.append("%s: a name or birth date of the patient survived in its "
                                    "own resources" % r["resourceType"])
        if codes_of(r) != codes_of(o):
            problems.append("%s: codes or values changed" % r["resourceType"])
        checked["codes"] += 1
        if pid is not None:
            sd = shift_days(key, pid)
            od = dict(dates_of(o))
            for path, v in dates_of(r):
                if path == "birthDate":
                    continue  # may be grouped for ages over 89; checked by the caller
                a, b = parse_date(v), od.get(path) and parse_date(od[path])
                if a is None:
                    continue
                checked["dates"] += 1
                if b is None or (b - a) != datetime.timedelta(days=sd):
                    problems.append("%s.%s: not moved by the patient's shift"
                                    % (r["resourceType"], path))
        for a_in, a_out in zip(r.get("address", []), o.get("address", [])):
            pc = a_in.get("postalCode")
            if pc and re.match(r"^\d{3}", pc):
                checked["zips"] += 1
                want = "000" if pc[:3] in RESTRICTED else pc[:3]
                if a_out.get("postalCode") != want:
                    problems.append("%s.address.postalCode: not cut to ZIP3" % r["resourceType"])
    print("checked", json.dumps(checked))
    if problems:
        for p in sorted(set(problems))[:20]:
            print("PROBLEM:", p, file=sys.stderr)
        print("%d problems" % len(problems), file=sys.stderr)
        sys.exit(1)
    if checked["global"] < 10 or checked["dates"] < 10:
        print("too little was checked: the test is blind", file=sys.stderr)
        sys.exit(1)


main()
