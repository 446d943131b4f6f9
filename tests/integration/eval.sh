#!/usr/bin/env bash
# eval.sh - `medfm eval` through the real binary on a small synthetic cohort and a tiny model:
# every predictor (zero-shot, probe, logistic regression, XGBoost, the true-risk oracle) with
# every metric and its bootstrap interval, subgroups and gaps, what-if agreement, the report
# page, determinism for a seed, external validation on another cohort, the model card drawn
# from the report; and bad input failing clearly with nothing left behind.
. "$(dirname "$0")/lib.bash"

expect_exit 0 "$MEDFM" eval --help
grep -q -- "--truth" "$T/out" || fail "eval --help does not list --truth"

"$MEDFM" synth --quiet --patients 400 --seed 4 --out "$T/cohort"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store" "$T/cohort"
"$MEDFM" train --store "$T/store" --preset tiny --steps 40 --batch 8 --threads 2 --seed 5 \
  --lr 0.01 --eval-every 40 --eval-windows 8 --quiet --out "$T/model"

# a task with a common outcome, so that a small held-out split has both classes
cat >"$T/htn_onset_5y.yaml" <<'YAML'
predicates:
  encounter_end:
    code: { regex: "^ENCOUNTER_END/" }
  htn:
    code: SNOMED/59621000
trigger: encounter_end
windows:
  history:
    start: null
    end: trigger
    start_inclusive: true
    end_inclusive: true
    index_timestamp: end
    has:
      htn: (None, 0)
  target:
    start: trigger
    end: start + 1826 days
    start_inclusive: false
    end_inclusive: true
    label: htn
YAML

args=(--model "$T/model" --store "$T/store" --task "$T/htn_onset_5y.yaml" --samples 4
  --bootstrap 50 --effects 5 --max-new 64 --threads 2 --truth "$T/cohort")
"$MEDFM" eval "${args[@]}" --out "$T/report" 2>"$T/log" || { cat "$T/log" >&2; fail "eval"; }
[ -s "$T/report/metrics.json" ] && [ -s "$T/report/report.html" ] || fail "report files missing"
grep -q "<svg" "$T/report/report.html" || fail "report.html has no SVG"
grep -qi "<script" "$T/report/report.html" && fail "report.html holds a script"
"$PYTHON" - "$T/report/metrics.json" <<'PY' || fail "metrics.json"
import json, math, sys
m = json.load(open(sys.argv[1]))
assert m["format"] == "medfm-eval" and m["version"] == 1
assert m["store"]["external"] is False, "the training store is not external"
assert m["split"] == "held_out"
(t,) = m["tasks"]
assert t["task"] == "htn_onset_5y" and t["horizon_days"] == 1826
assert t["cohort"]["source"] == "truth"
ids = [p["id"] for p in t["predictors"]]
assert ids == ["medfm_zero_shot", "medfm_probe", "logreg", "xgboost", "oracle"], ids
n = t["cohort"]["samples"]
assert 0 < t["cohort"]["positives"] < n
for p in t["predictors"]:
    assert p["n"] == n
    for k in ("auroc", "auprc", "brier", "ece", "calibration_slope", "calibration_intercept",
              "mean_risk"):
        e = p["metrics"][k]
        assert set(e) == {"value", "lo", "hi"}, (p["id"], k)
    for k in ("auroc", "auprc", "brier", "ece", "mean_risk"):
        e = p["metrics"][k]
        assert e["lo"] <= e["value"] + 1e-12 and e["value"] <= e["hi"] + 1e-12, (p["id"], k, e)
    assert 0 <= p["metrics"]["auroc"]["value"] <= 1
    assert [x["threshold"] for x in p["thresholds"]] == [0.05, 0.1, 0.2]
    for x in p["thresholds"]:
        for k in ("sensitivity", "specificity", "ppv", "net_benefit"):
            assert k in x
    roc = p["curves"]["roc"]
    assert roc[0] == [0, 0] and roc[-1] == [1, 1], roc[:2]
    assert len(p["curves"]["decision"]) == 99
    attrs = {s["attribute"] for s in p["subgroups"]}
    assert {"sex", "age", "race"} <= attrs, attrs
    sexes = [s for s in p["subgroups"] if s["attribute"] == "sex"]
    assert sum(s["n"] for s in sexes) == n
    assert sorted(s["group"] for s in sexes) == ["female", "male"], sexes
    bands = [s["group"] for s in p["subgroups"] if s["attribute"] == "age"]
    assert len(bands) == len(set(bands)) and set(bands) <= {"18-39", "40-59", "60-74", "75+"}, bands
    for g in p["gaps"]:
        assert g["metric"] in ("auroc", "brier") and isinstance(g["flagged"], bool)
    if p["id"] != "oracle":
        assert "oracle_fraction" in p
# the true risk knows the future: it must rank far better than chance
o = t["predictors"][-1]["metrics"]["auroc"]["value"]
assert o > 0.65, o
e = t["effects"]
assert e is None or e["pairs"] > 0
PY

# the same seed gives the same numbers
"$MEDFM" eval "${args[@]}" --out "$T/report2" 2>/dev/null
"$PYTHON" - "$T/report/metrics.json" "$T/report2/metrics.json" <<'PY' || fail "not deterministic"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
a.pop("created"), b.pop("created")
assert a == b
PY
# an earlier report is replaced
"$MEDFM" eval "${args[@]}" --baselines none --no-probe --out "$T/report2" 2>/dev/null
"$PYTHON" -c "
import json, sys
t = json.load(open(sys.argv[1]))['tasks'][0]
assert [p['id'] for p in t['predictors']] == ['medfm_zero_shot', 'oracle']
" "$T/report2/metrics.json" || fail "the report was not replaced"

# external validation: another cohort, baselines trained on the model's store
"$MEDFM" synth --quiet --patients 150 --seed 9 --out "$T/cohort2"
"$MEDFM" ingest --quiet --format ndjson --no-deid --out "$T/store2" "$T/cohort2"
"$MEDFM" eval --model "$T/model" --store "$T/store2" --split all --train-store "$T/store" \
  --task "$T/htn_onset_5y.yaml" --samples 2 --bootstrap 20 --max-new 64 --threads 2 \
  --per-patient 1 --out "$T/ext" 2>"$T/log" || { cat "$T/log" >&2; fail "external eval"; }
"$PYTHON" - "$T/ext/metrics.json" <<'PY' || fail "external metrics.json"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["store"]["external"] is True and m["split"] == "all"
assert any("external" in n for n in m["notes"])
ids = [p["id"] for p in m["tasks"][0]["predictors"]]
assert ids == ["medfm_zero_shot", "medfm_probe", "logreg", "xgboost"], ids
assert m["tasks"][0]["cohort"]["source"] == "task"
PY

# --- the model card from the reports -----------------------------------------------------------
expect_exit 0 "$MEDFM" card --help
"$MEDFM" card --model "$T/model" --report "$T/report" --report "$T/ext" --out "$T/card" 2>"$T/log" ||
  { cat "$T/log" >&2; fail "card"; }
"$PYTHON" - "$T/card/model_card.json" "$T/card/model_card.md" "$MEDFM_SOURCE_DIR/src/eval/card.c" <<'PY' || fail "model card"
import json, re, sys
card = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read()
fields = re.findall(r'^    "([a-z0-9_.]+)",$', open(sys.argv[3]).read(), re.M)
assert len(fields) > 50, len(fields)
for f in fields:
    x = card
    for k in f.split("."):
        x = x[k]
    assert (isinstance(x, str) and x) or (isinstance(x, list) and x), f
    title = f.split(".")[-1].replace("_", " ")
    assert title[0].upper() + title[1:] in md, title
perf = card["hti1"]["performance"]
assert any("htn_onset_5y, oracle" in line for line in perf["internal_validity"])
assert any("htn_onset_5y, XGBoost" in line for line in perf["external_validity"])
assert "training patients" in card["hti1"]["development"]["training_data_demographics"]
assert card["chai"]["transparency"]["funding_source"] == "not available"
PY
# a card without reports says what is missing rather than leaving it out
"$MEDFM" card --model "$T/model" --out "$T/card0" 2>/dev/null
grep -q "no external validation report given" "$T/card0/model_card.md" || fail "card without reports"
# a damaged report: a clear error naming the file and field, the old card kept
cp -r "$T/report" "$T/badreport"
sed -i 's/"auroc":{"value"/"auroc":{"valeur"/' "$T/badreport/metrics.json"
expect_exit 1 "$MEDFM" card --model "$T/model" --report "$T/badreport" --out "$T/card"
grep -q "badreport/metrics.json: tasks\[0\].predictors\[0\].metrics.auroc" "$T/err" ||
  { cat "$T/err" >&2; fail "bad report error"; }
[ -s "$T/card/model_card.md" ] || fail "a failed card run lost the earlier card"
[ -e "$T/card.partial" ] && fail "a failed card run left a partial folder"
expect_exit 2 "$MEDFM" card --report "$T/report" --out "$T/x"
expect_exit 1 "$MEDFM" card --model "$T/nomodel" --out "$T/x"
[ -e "$T/x" ] && fail "a failed card run left output"

# --- bad input --------------------------------------------------------------------------------
expect_exit 2 "$MEDFM" eval --model "$T/model" --store "$T/store" --out "$T/x"
grep -q "needs --model, --store, --task and --out" "$T/err" || fail "missing --task message"
expect_exit 2 "$MEDFM" eval "${args[@]}" --thresholds 0.1,2 --out "$T/x"
expect_exit 2 "$MEDFM" eval "${args[@]}" --baselines forest --out "$T/x"
expect_exit 1 "$MEDFM" eval --model "$T/model" --store "$T/store" --task "$T/none.yaml" \
  --out "$T/x"
[ -e "$T/x" ] && fail "a failed eval left output"
mkdir "$T/keep" && echo data >"$T/keep/file"
expect_exit 1 "$MEDFM" eval "${args[@]}" --out "$T/keep"
grep -q "not an earlier report" "$T/err" || fail "no clear error for a foreign --out"
[ "$(cat "$T/keep/file")" = data ] || fail "a foreign --out folder was touched"
expect_exit 1 "$MEDFM" eval "${args[@]/$T\/cohort/$T/nowhere}" --out "$T/x"
grep -q "risk.csv" "$T/err" || fail "no clear error for a missing truth folder"
# a truth file with a bad probability names the file and line
cp -r "$T/cohort" "$T/badtruth"
sed -i '3s/,[0-9.e-]*$/,1.5/' "$T/badtruth/truth/risk.csv"
expect_exit 1 "$MEDFM" eval "${args[@]/$T\/cohort/$T/badtruth}" --out "$T/x"
grep -q "risk.csv:3: probability" "$T/err" || { cat "$T/err" >&2; fail "bad truth row"; }
[ -e "$T/x" ] && fail "a failed eval left output"
# a de-identified store has other ids: the truth cannot be matched
"$MEDFM" deid keygen --out "$T/key" >/dev/null 2>&1
"$MEDFM" ingest --quiet --format ndjson --key-file "$T/key" --out "$T/dstore" "$T/cohort" \
  2>/dev/null
expect_exit 1 "$MEDFM" eval "${args[@]/$T\/store/$T/dstore}" --out "$T/x"
grep -q "no-deid" "$T/err" || { cat "$T/err" >&2; fail "no clear error for a de-identified store"; }
echo "eval: ok"
