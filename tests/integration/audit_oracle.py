"""audit_oracle.py - check an audit export (`medfm audit export --format fhir-auditevent`)
without medfm: every line is a FHIR R4 AuditEvent of the expected shape, and the hash chain
recomputed from the events' own fields (docs/serve-state.md) is whole.

    python3 audit_oracle.py EXPORT.ndjson [EXPECTED_ROWS]

Prints "ok ROWS LAST_HASH"; exits 1 naming the first bad line otherwise.
"""
import base64
import hashlib
import json
import re
import sys

FIELDS = ["seq", "time_us", "request_id", "key_id", "route", "patient", "input_sha256", "model",
          "status", "outcome", "latency_us"]
BASE = "https://medfm.invalid/fhir/"


def esc(b):
    return (b.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r"))


def value(x):
    """A detail's value as bytes: valueString (UTF-8), or valueBase64Binary for other bytes."""
    if "valueString" in x:
        if x["valueString"] == "":
            raise ValueError("an empty FHIR string")
        return x["valueString"].encode("utf-8")
    return base64.b64decode(x["valueBase64Binary"], validate=True)


def fail(line, why):
    print(f"line {line}: {why}", file=sys.stderr)
    sys.exit(1)


def entity(ev, system):
    for e in ev.get("entity", []):
        if e.get("what", {}).get("identifier", {}).get("system") == BASE + system:
            return e
    return None


def main():
    path = sys.argv[1]
    want = int(sys.argv[2]) if len(sys.argv) > 2 else None
    prev = "0" * 64
    n = 0
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.endswith("\n"):
                fail(i, "no newline at the end of the line")
            ev = json.loads(line)
            if ev.get("resourceType") != "AuditEvent":
                fail(i, "not an AuditEvent")
            t = ev.get("type", {})
            if (t.get("system"), t.get("code")) != (
                    "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest"):
                fail(i, "type is not rest")
            if ev.get("action") not in ("C", "R", "U", "D", "E"):
                fail(i, "bad action")
            if ev.get("outcome") not in ("0", "4", "8", "12"):
                fail(i, "bad outcome")
            if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", ev.get("recorded", "")):
                fail(i, "recorded is not an instant")
            agents = ev.get("agent", [])
            if len(agents) != 1 or agents[0].get("requestor") is not True or "who" not in agents[0]:
                fail(i, "agent")
            if ev.get("source", {}).get("observer", {}).get("display") != "medfm":
                fail(i, "source.observer")
            log = entity(ev, "audit-log")
            if log is None:
                fail(i, "no audit-log entity")
            try:
                db = {x["type"]: value(x) for x in log.get("detail", [])}
            except ValueError as e:
                fail(i, str(e))
            d = {k: v.decode("utf-8", "replace") for k, v in db.items()}
            row = {k: d.get(k, "") for k in FIELDS}
            # the other elements agree with the chain's fields
            if ev.get("id") != "medfm-audit-" + row["seq"]:
                fail(i, "id")
            if row["route"] and ev["subtype"][0]["code"] != row["route"]:
                fail(i, "subtype")
            pat = entity(ev, "patient-pseudonym")
            if (pat["what"]["identifier"]["value"] if pat else "") != row["patient"]:
                fail(i, "patient entity")
            if pat and "reference" in pat["what"]:
                fail(i, "a patient reference")
            status = int(row["status"])
            want_outcome = "8" if status >= 500 or status <= 0 else "4" if status >= 400 else "0"
            if ev["outcome"] != want_outcome:
                fail(i, "outcome does not follow the status")
            if row["key_id"] not in ("", "-"):
                if agents[0]["who"]["identifier"]["value"] != row["key_id"]:
                    fail(i, "agent identifier")
            # the chain
            if int(row["seq"]) != i:
                fail(i, f"seq {row['seq']}")
            if d.get("prev_hash") != prev:
                fail(i, "prev_hash does not link")
            text = prev.encode() + b"\n" + b"\t".join(esc(db.get(k, b"")) for k in FIELDS)
            h = hashlib.sha256(text).hexdigest()
            if d.get("hash") != h:
                fail(i, "hash does not match the event")
            prev = h
            n += 1
    if want is not None and n != want:
        print(f"{n} events, expected {want}", file=sys.stderr)
        sys.exit(1)
    print(f"ok {n} {prev if n else '-'}")


if __name__ == "__main__":
    main()
