#!/usr/bin/env bash
# ndjson_ingest.sh - a FHIR Bulk Data export (one NDJSON file per resource type, some gzipped)
# made from the Synthea bundles gives exactly the same timelines as the bundles themselves.
. "$(dirname "$0")/lib.bash"
unpack_synthea
mkdir -p "$T/bundles" "$T/bulk"
files=("$T"/synthea/*.json)
mv "${files[@]:0:40}" "$T/bundles/"
"$PYTHON" - "$T/bundles" "$T/bulk" <<'PY'
import collections, gzip, json, os, sys
src, out = sys.argv[1], sys.argv[2]
by_type = collections.defaultdict(list)
for name in sorted(os.listdir(src)):
    bundle = json.load(open(os.path.join(src, name)))
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for e in bundle["entry"]:
        r = e["resource"]
        # Bulk Data exports reference resources by type and id, not by urn:uuid
        def fix(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "reference" and isinstance(v, str) and v in urls:
                        t = urls[v]
                        node[k] = t["resourceType"] + "/" + t["id"]
                    else:
                        fix(v)
            elif isinstance(node, list):
                for v in node:
                    fix(v)
        fix(r)
        by_type[r["resourceType"]].append(r)
for t, rs in by_type.items():
    data = "".join(json.dumps(r) + "\n" for r in rs).encode()
    if t == "Observation":
        with gzip.open(os.path.join(out, t + ".ndjson.gz"), "wb") as f:
            f.write(data)
    else:
        with open(os.path.join(out, t + ".ndjson"), "wb") as f:
            f.write(data)
ids = [r["id"] for r in by_type["Patient"]]
open(os.path.join(out, "..", "ids.txt"), "w").write("\n".join(ids) + "\n")
PY
"$MEDFM" ingest --quiet --format fhir --no-deid --out "$T/from-bundles" "$T/bundles"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/from-bulk" "$T/bulk"
n=0
while read -r id; do
  "$MEDFM" inspect "$T/from-bundles" --patient "$id" --json >"$T/a.json"
  "$MEDFM" inspect "$T/from-bulk" --patient "$id" --json >"$T/b.json"
  cmp -s "$T/a.json" "$T/b.json" || fail "patient $n differs between bundle and bulk ingest"
  n=$((n + 1))
done <"$T/ids.txt"
[ "$n" -eq 40 ] || fail "expected 40 patients, compared $n"
# and the whole stores hold the same events
"$MEDFM" inspect "$T/from-bundles" --json | grep -E '"(patients|events|codes)"' >"$T/sa"
"$MEDFM" inspect "$T/from-bulk" --json | grep -E '"(patients|events|codes)"' >"$T/sb"
cmp -s "$T/sa" "$T/sb" || fail "store summaries differ"
echo "ndjson: ok ($n patients identical)"
