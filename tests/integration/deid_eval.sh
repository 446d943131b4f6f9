#!/usr/bin/env bash
# deid_eval.sh - `medfm deid eval` through the real binary: usage errors, then the PHI tagger's
# entity-level recall and precision (any overlap, category-agnostic) on a fresh synthetic cohort
# and on the Presidio synthetic PII sentences, asserted from the --json report.
#
# Targets: recall >= 0.99 and precision >= 0.90 on both corpora.  The Presidio corpus does not
# reach the recall target (see docs/deid-text.md, "Measured"); its assertion is the honest
# floor measured there, not the target, so a regression still fails.
. "$(dirname "$0")/lib.bash"

expect_exit 0 "$MEDFM" deid eval --help
expect_exit 2 "$MEDFM" deid eval
expect_exit 2 "$MEDFM" deid eval --corpus synth:x --half third
expect_exit 1 "$MEDFM" deid eval --corpus nothing:x
expect_exit 1 "$MEDFM" deid eval --corpus "synth:$T/missing"

# check JSON MIN_RECALL MIN_PRECISION LABEL
check() {
  "$PYTHON" - "$1" "$2" "$3" "$4" <<'PY'
import json, sys
path, min_r, min_p, label = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
for k in ("recall", "precision", "entity_typed", "token", "strict", "per_category", "mb_per_s"):
    assert k in r, f"{label}: no {k} in the report"
assert r["gold_spans"] > 0 and r["documents"] > 0, f"{label}: empty corpus"
print(f"{label}: recall {r['recall']:.4f} precision {r['precision']:.4f} "
      f"({r['documents']} documents, {r['gold_spans']} spans, {r['mb_per_s']:.1f} MB/s)")
if r["recall"] < min_r or r["precision"] < min_p:
    sys.exit(f"FAIL: {label} recall {r['recall']:.4f} (min {min_r}) "
             f"precision {r['precision']:.4f} (min {min_p})")
PY
}

"$MEDFM" synth --quiet --patients 150 --seed 23 --out "$T/cohort"
"$MEDFM" deid eval --json --corpus "synth:$T/cohort" >"$T/synth.json"
check "$T/synth.json" 0.99 0.90 synth

P="$MEDFM_SHARED_DATA/presidio-synth-pii-v2.json"
if [ -f "$P" ]; then
  "$MEDFM" deid eval --json --corpus "presidio:$P" >"$T/presidio.json"
  check "$T/presidio.json" 0.980 0.90 presidio
  # the text report names the primary figure
  "$MEDFM" deid eval --corpus "presidio:$P" --half odd >"$T/report.txt"
  grep -q "any overlap (primary)" "$T/report.txt" || fail "text report"
else
  echo "presidio corpus not found at $P: skipped" >&2
fi
