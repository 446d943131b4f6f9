#!/usr/bin/env python3
"""replicate.py SRC_DIR OUT_DIR N - write N patient bundles by cycling through the Synthea
bundles in SRC_DIR and giving each copy new ids: every id of the original patient (Patient.id,
its urn:uuid fullUrl and the references to it) is replaced by a fresh deterministic UUID, so
each copy is a distinct patient to medfm.  The new ids are listed in OUT_DIR/../ids.txt.  Non-patient bundles (hospital, practitioner
information) are skipped."""
import json
import os
import sys
import uuid

src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
bundles = []
for f in sorted(os.listdir(src)):
    if not f.endswith(".json"):
        continue
    with open(os.path.join(src, f), "rb") as fh:
        data = fh.read()
    ids = [e["resource"]["id"] for e in json.loads(data).get("entry", [])
           if e.get("resource", {}).get("resourceType") == "Patient"]
    if len(ids) == 1:
        bundles.append((f, ids[0]))
with open(os.path.join(out, "..", "ids.txt"), "w") as ids_out:
    for i in range(n):
        name, old = bundles[i % len(bundles)]
        with open(os.path.join(src, name), "rb") as fh:
            data = fh.read()
        new = str(uuid.UUID(int=(i * 2654435761 + 12345) % (1 << 128) | (1 << 127)))
        data = data.replace(old.encode(), new.encode())
        with open(os.path.join(out, new + ".json"), "wb") as fh:
            fh.write(data)
        ids_out.write(new + "\n")
