#!/usr/bin/env bash
# main.sh - README command 1: set up, build, and run medfm's main job end to end on the
# built-in default data: simulate a cohort with known ground truth (`medfm synth`), ingest its
# FHIR Bulk Data export into a de-identified event store, print the store's summary and its
# re-identification risk, train the `small` transformer on it, and use it zero-shot: label and
# predict the 1-year risk of death on the held-out patients, simulate one patient's futures
# with a what-if code, evaluate the model beside the baselines, write its model card, and serve
# it over HTTP for one prediction.
# Output goes to build/main/.  MEDFM_MAIN_PATIENTS sets the cohort size (default 2000),
# MEDFM_MAIN_STEPS the training steps (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default

work=build/main
patients=${MEDFM_MAIN_PATIENTS:-2000}
rm -rf "$work/cohort"
mkdir -p "$work"
build/medfm synth --patients "$patients" --seed 1 --out "$work/cohort"
# The store is de-identified: keyed pseudonyms, one keyed date shift per patient, ages over 89
# grouped, ZIP3, notes with their PHI replaced by surrogates.
[ -f "$work/deid.key" ] || build/medfm deid keygen --out "$work/deid.key"
build/medfm ingest --format ndjson --key-file "$work/deid.key" --out "$work/store" "$work/cohort"
build/medfm inspect "$work/store"
build/medfm deid risk "$work/store" --quasi sex,birth_year,zip3 --k 5
build/medfm train --store "$work/store" --out "$work/model" --preset small \
  --steps "${MEDFM_MAIN_STEPS:-300}" --batch 16 --eval-every 50 --log-every 25
build/medfm label --store "$work/store" --task tasks/death_1y.yaml --out "$work/death_1y.labels.csv"
build/medfm predict --model "$work/model" --store "$work/store" --task tasks/death_1y.yaml \
  --samples 20 --split held_out --out "$work/death_1y.pred.csv"
# one held-out patient's futures, with and without a statin started today
patient=$(sed -n 2p "$work/death_1y.pred.csv" | cut -d, -f1)
build/medfm simulate --model "$work/model" --store "$work/store" --patient "$patient" \
  --samples 20 --horizon 1y --task tasks/death_1y.yaml --intervention RxNorm/259255
# the evidence: the model beside logistic regression and XGBoost, with intervals and subgroups
build/medfm eval --model "$work/model" --store "$work/store" --task tasks/death_1y.yaml \
  --task tasks/hf_onset_1y.yaml --samples 20 --bootstrap 200 --out "$work/report"
build/medfm card --model "$work/model" --report "$work/report" --out "$work/card"
# serve it: an API key, the server on a free port, one patient's risks over HTTP as events JSON
# and as FHIR RiskAssessments, then SIGTERM (the server drains) and the audit chain checked
rm -f "$work/state.sqlite" "$work/state.sqlite-wal" "$work/state.sqlite-shm" "$work/port"
key=$(build/medfm keys create --db "$work/state.sqlite" --name main --scopes predict | tail -n 1)
build/medfm serve --model "$work/model" --card "$work/card" --db "$work/state.sqlite" \
  --listen 127.0.0.1:0 --port-file "$work/port" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -s "$work/port" ] && break; sleep 0.2; done
build/medfm inspect "$work/store" --patient "$patient" --json >"$work/patient.json"
/usr/bin/python3 - "$(cat "$work/port")" "$key" "$work/patient.json" <<'PY'
import json, sys, urllib.request
port, key, path = sys.argv[1:4]
p = json.load(open(path))
body = {"patient": {"subject_id": p["patient"], "events": [
    {"time": e["time"], "code": e["code"], "numeric_value": e["value"], "unit": e["unit"]}
    for e in p["events"]]}, "tasks": ["death_1y", "hf_onset_1y"], "samples": 20}
for accept in ("application/json", "application/fhir+json"):
    req = urllib.request.Request("http://127.0.0.1:%s/v1/predict" % port, json.dumps(body).encode(),
                                 {"Authorization": "Bearer " + key, "Accept": accept,
                                  "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        ans = json.load(r)
    if accept == "application/json":
        for risk in ans["patients"][0]["risks"]:
            print("serve: %-12s risk %s, 95%% interval %s-%s from %d futures" % (
                risk["task"], risk["probability"], risk["interval"]["low"],
                risk["interval"]["high"], risk["futures"]), file=sys.stderr)
    else:
        print("serve: FHIR answer: a %s of %d %s" % (ans["resourceType"], len(ans["entry"]),
              ans["entry"][0]["resource"]["resourceType"]), file=sys.stderr)
PY
kill -TERM $server
wait $server
trap - EXIT
build/medfm audit verify --db "$work/state.sqlite"
echo "main: cohort in $work/cohort (truth in $work/cohort/truth), store in $work/store," \
  "model in $work/model, predictions in $work/death_1y.pred.csv, report in" \
  "$work/report/report.html, model card in $work/card/model_card.md" >&2
