#!/usr/bin/env bash
# card.sh - `medfm card` through the real binary: a tiny model and hand-written metrics.json
# reports (internal and external, hostile strings, nulls, a flagged gap) give a card with every
# required field in both files, "not available" for what is unknown, the demographic inputs the
# vocabulary says, and each report's figures on its own side; bad input (no --model, a missing
# model, a corrupt or mistyped metrics.json, a report of other weights, an --out folder that is
# not a card) fails clearly, names the file and field, and leaves no partial output.
. "$(dirname "$0")/lib.bash"
: "${MEDFM_SOURCE_DIR:?MEDFM_SOURCE_DIR must point at the source tree}"

expect_exit 0 "$MEDFM" card --help
grep -q -- "--report" "$T/out" || fail "card --help does not list --report"

"$MEDFM" synth --quiet --patients 60 --seed 3 --out "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/cohort"
"$MEDFM" train --store "$T/store" --preset tiny --steps 4 --batch 4 --threads 2 --seed 5 \
  --eval-every 4 --eval-windows 2 --quiet --out "$T/model"

# write_report DIR EXTERNAL SHA: a metrics.json of the schema in src/eval/report.h
write_report() {
  mkdir -p "$1"
  "$PYTHON" - "$1/metrics.json" "$2" "$3" <<'PY'
import json, sys
path, external, sha = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
H = "<script>alert(1)</script> & \"q\" 'x' | # * _"
def est(v, lo=None, hi=None):
    return {"value": v, "lo": lo, "hi": hi}
def predictor(pid, name, auc):
    return {
        "id": pid, "name": name, "description": H, "n": 40, "positives": 8,
        "metrics": {"auroc": est(auc, auc - 0.1, auc + 0.1), "auprc": est(0.4, 0.3, 0.5),
                    "brier": est(0.12, 0.1, 0.14), "ece": est(None), "calibration_slope":
                    est(0.9, 0.5, 1.4), "calibration_intercept": est(-0.1, -0.6, 0.4),
                    "mean_risk": est(0.2, 0.18, 0.22)},
        "thresholds": [{"threshold": 0.1, "sensitivity": est(0.9, 0.7, 1.0),
                        "specificity": est(0.3, 0.2, 0.4), "ppv": est(0.25, 0.2, 0.3),
                        "net_benefit": est(0.12, 0.05, 0.2)}],
        "curves": {"roc": [[0, 0], [0.2, 0.6], [1, 1]], "pr": [[0, 1], [1, 0.2]],
                   "calibration": [[0.1, 0.12, 20], [0.3, 0.28, 20]],
                   "decision": [[t / 100, 0.2 - t / 200] for t in range(1, 100)]},
        "subgroups": [{"attribute": "sex", "group": "female", "n": 22, "positives": 5,
                       "auroc": est(0.8, 0.7, 0.9), "brier": est(0.1, 0.08, 0.12),
                       "ece": est(0.05, 0.02, 0.08)},
                      {"attribute": "race", "group": "2106-3", "n": 18, "positives": 3,
                       "auroc": est(None), "brier": est(0.14, 0.1, 0.2), "ece": est(None)},
                      {"attribute": "race", "group": H, "n": 4, "positives": 0,
                       "auroc": est(None), "brier": est(0.1), "ece": est(0.1)}],
        "gaps": [{"attribute": "sex", "metric": "auroc", "best": "female", "worst": "male",
                  "gap": est(0.2, 0.05, 0.35), "flagged": True},
                 {"attribute": "race", "metric": "brier", "best": "2106-3", "worst": H,
                  "gap": est(0.04, -0.02, 0.1), "flagged": False}],
    }
tasks = []
for task, horizon in (("death_1y", 365), (H, None)):
    tasks.append({
        "task": task, "horizon_days": horizon,
        "cohort": {"samples": 40, "patients": 40, "positives": 8, "prevalence": 0.2,
                   "source": "task"},
        "predictors": [predictor("medfm_zero_shot", "medfm zero-shot", 0.71),
                       predictor("medfm_probe", H, 0.74),
                       predictor("xgboost", "XGBoost", 0.69)],
        "decision_reference": {"treat_all": [[t / 100, 0.2 - 0.8 * t / (100 - t)]
                                             for t in range(1, 100)]},
        "effects": None,
    })
json.dump({
    "format": "medfm-eval", "version": 1, "created": "2026-12-03T17:00:00Z",
    "model": {"dir": "model", "sha256": sha, "store_manifest_sha256": None, "vocab_size": 100},
    "store": {"sha256": "ab" * 32, "patients": 60, "sources": ["ndjson", H],
              "external": external, "vocabulary_overlap": 0.93},
    "split": "all" if external else "held_out",
    "settings": {"samples": 20, "bootstrap": 100, "seed": 1, "per_patient": 1,
                 "thresholds": [0.1], "ece_bins": 10, "truth": False},
    "tasks": tasks, "notes": [H],
}, open(path, "w"))
PY
}

sha=$("$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
  "$T/model/model.safetensors")
write_report "$T/report" 0 "$sha"
write_report "$T/ext" 1 "$sha"

"$MEDFM" card --model "$T/model" --report "$T/report" --report "$T/ext" --out "$T/card/" \
  2>"$T/log" || { cat "$T/log" >&2; fail "card"; }
[ -s "$T/card/model_card.json" ] && [ -s "$T/card/model_card.md" ] || fail "card files missing"
[ -e "$T/card.partial" ] && fail "a partial folder was left"
"$PYTHON" - "$T/card/model_card.json" "$T/card/model_card.md" "$MEDFM_SOURCE_DIR/src/eval/card.c" \
  "$sha" <<'PY' || fail "model card content"
import json, re, sys
card = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read()
fields = re.findall(r'^    "([a-z0-9_.]+)",$', open(sys.argv[3]).read(), re.M)
assert len(fields) > 80, len(fields)
for f in fields:
    x = card
    for k in f.split("."):
        x = x[k]
    assert (isinstance(x, str) and x) or (isinstance(x, list) and x and all(x)), f
    title = f.split(".")[-1].replace("_", " ")
    assert title[0].upper() + title[1:] in md, title
sha = sys.argv[4]
assert card["model"]["weights_sha256"] == sha
assert card["model"]["version"].startswith("weights " + sha[:12]), card["model"]["version"]
h = card["hti1"]
# from training.json: the training data's make-up; from vocab.json: what the model sees
demo = h["development"]["training_data_demographics"]
assert "training patients" in demo and "Sex:" in demo and "Race:" in demo, demo
inputs = h["development"]["demographic_inputs"]
assert len(inputs) == 9, inputs
assert inputs[0].startswith("race: not an input"), inputs[0]
assert inputs[5].startswith("sex: input"), inputs[5]
assert "5-year bands" in inputs[6], inputs[6]
# what medfm cannot know
for f in (card["chai"]["transparency"]["funding_source"], h["details"]["funding_source"],
          card["chai"]["warnings"]["clinical_risk_level"]):
    assert f.startswith("not available"), f
# internal and external figures each on their side, with intervals and roles
iv, ev = h["performance"]["internal_validity"], h["performance"]["external_validity"]
assert len(iv) == 6 and len(ev) == 6, (len(iv), len(ev))
assert all("internal validation" in l for l in iv) and all("external validation" in l for l in ev)
assert any("death_1y, medfm zero-shot [this model]" in l and "AUROC 0.710 (95% CI 0.610 to 0.810)"
           in l for l in iv), iv
assert any("XGBoost [comparison baseline, not this model]" in l for l in ev), ev
assert all("ECE n/a" in l for l in iv), iv[0]
flagged = [l for l in h["performance"]["internal_fairness"] if l.startswith("FLAGGED")]
assert len(flagged) == 6 and "largest AUROC gap by sex" in flagged[0], flagged
assert any("White (2106-3)" in l for l in h["performance"]["internal_fairness"])
assert isinstance(h["external_validation"]["data_sources"], list)
assert card["model"]["tasks_evaluated"][0] == "death_1y (outcome within 365 days)"
# every piece of fixed text that is a default says so
for f in (card["chai"]["uses_and_directions"]["intended_use_and_workflow"],
          h["purpose"]["intended_decision_making_role"], h["update"]["update_process"]):
    assert "medfm default text" in f, f
# the markdown carries the input as text, never as markup
assert "<script>" not in md and "\\<script\\>" in md
assert "| death\\_1y | medfm zero-shot | internal, held\\_out | 40 (8) |" in md
PY

# a card without reports: every field still there, the reason given
"$MEDFM" card --model "$T/model" --out "$T/card0" 2>/dev/null || fail "card without reports"
grep -q "no external validation report given" "$T/card0/model_card.md" ||
  fail "card without reports does not say what is missing"

# --- bad input --------------------------------------------------------------------------------
expect_exit 2 "$MEDFM" card --report "$T/report" --out "$T/x"
grep -q "needs --model and --out" "$T/err" || fail "no usage message for a missing --model"
expect_exit 2 "$MEDFM" card --model "$T/model" --bogus --out "$T/x"
expect_exit 1 "$MEDFM" card --model "$T/nomodel" --out "$T/x"
grep -q "nomodel/config.json" "$T/err" || { cat "$T/err" >&2; fail "missing model message"; }
[ -e "$T/x" ] && fail "a failed card run left output"

# a corrupt metrics.json: the file named, the earlier card kept, nothing partial
cp -r "$T/report" "$T/bad"
head -c 300 "$T/report/metrics.json" >"$T/bad/metrics.json"
before=$(cat "$T/card/model_card.json" | md5sum)
expect_exit 1 "$MEDFM" card --model "$T/model" --report "$T/bad" --out "$T/card"
grep -q "bad/metrics.json" "$T/err" || { cat "$T/err" >&2; fail "corrupt report not named"; }
[ "$(md5sum <"$T/card/model_card.json")" = "$before" ] || fail "a failed run changed the card"
[ -e "$T/card.partial" ] && fail "a failed card run left a partial folder"
# a field of the wrong type: the file and the JSON path named
"$PYTHON" - "$T/report/metrics.json" "$T/bad/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["tasks"][1]["predictors"][2]["metrics"]["brier"] = 0.1
json.dump(m, open(sys.argv[2], "w"))
PY
expect_exit 1 "$MEDFM" card --model "$T/model" --report "$T/report" --report "$T/bad" --out "$T/card"
grep -q "bad/metrics.json: tasks\[1\].predictors\[2\].metrics.brier: expected an object" "$T/err" ||
  { cat "$T/err" >&2; fail "mistyped report error"; }
# a missing report folder
expect_exit 1 "$MEDFM" card --model "$T/model" --report "$T/noreport" --out "$T/card"
grep -q "noreport/metrics.json" "$T/err" || fail "missing report not named"
# a report of other weights
write_report "$T/other" 0 "$(printf '0%.0s' {1..64})"
expect_exit 1 "$MEDFM" card --model "$T/model" --report "$T/other" --out "$T/card"
grep -q "other/metrics.json: model.sha256: a report of other weights" "$T/err" ||
  { cat "$T/err" >&2; fail "a report of other weights was accepted"; }
# an --out folder that is not a card is never replaced
mkdir "$T/keep" && echo data >"$T/keep/file"
expect_exit 1 "$MEDFM" card --model "$T/model" --out "$T/keep"
grep -q "not an earlier model card" "$T/err" || fail "no message for a folder that is not a card"
[ "$(cat "$T/keep/file")" = data ] || fail "a folder that is not a card was touched"
[ "$(md5sum <"$T/card/model_card.json")" = "$before" ] || fail "failed runs changed the card"
exit 0
