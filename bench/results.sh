#!/usr/bin/env bash
# results.sh - the measured results of docs/results.md: medfm (zero-shot and probe) beside
# logistic regression, XGBoost and, on the synthetic cohort, the true risk, on the shipped
# tasks, internally (held-out patients) and externally (trained on one source, tested on the
# other).
#
#   bench/results.sh [WORK_DIR]        (default build/results; steps already done are kept)
#
# Environment: MEDFM (default build/medfm), PATIENTS (synthetic cohort, default 20000),
# PRESET (default small), STEPS_SYNTH / STEPS_SYNTHEA (default 1200 / 550), LIMIT (samples
# per task, default 600), SAMPLES (futures per prediction, default 20), TRAIN_LIMIT (training
# and tuning samples of the probe and baselines, default 2000), BOOTSTRAP (default 1000),
# RUNS (which evaluations, default "synth synthea synthea-on-synth synth-on-synthea"), TASKS
# (default: death_1y and the five onset tasks).
# Prints the table of docs/results.md at the end (bench/results_table.py).
set -euo pipefail
cd "$(dirname "$0")/.."
MEDFM=${MEDFM:-build/medfm}
W=${1:-build/results}
PATIENTS=${PATIENTS:-20000}
PRESET=${PRESET:-small}
LIMIT=${LIMIT:-600}
SAMPLES=${SAMPLES:-20}
TRAIN_LIMIT=${TRAIN_LIMIT:-2000}
BOOTSTRAP=${BOOTSTRAP:-1000}
RUNS=${RUNS:-synth synthea synthea-on-synth synth-on-synthea}
DATA=${MEDFM_SHARED_DATA:-../shared/data}
tasks=()
for t in ${TASKS:-death_1y t2d_onset_1y ckd_onset_1y hf_onset_1y af_onset_1y stroke_onset_1y}; do
  tasks+=(--task "tasks/$t.yaml")
done
mkdir -p "$W"

# the data: a synthetic cohort with its truth (identified: the truth names its own ids), and
# the Synthea set de-identified
if [ ! -d "$W/store-synth" ]; then
  "$MEDFM" synth --quiet --patients "$PATIENTS" --seed 11 --out "$W/cohort"
  "$MEDFM" ingest --quiet --format ndjson --no-deid --out "$W/store-synth" "$W/cohort"
fi
if [ ! -d "$W/store-synthea" ]; then
  rm -rf "$W/synthea" && mkdir -p "$W/synthea"
  tar -C "$W/synthea" -xJf "$DATA/synthea-r4-dev.tar.xz"
  rm -f "$W"/synthea/hospitalInformation*.json "$W"/synthea/practitionerInformation*.json
  [ -f "$W/key" ] || "$MEDFM" deid keygen --out "$W/key"
  "$MEDFM" ingest --quiet --format fhir --key-file "$W/key" --out "$W/store-synthea" "$W/synthea"
fi

# the models
train() { # STORE OUT STEPS EVAL_EVERY
  [ -f "$2/model.safetensors" ] && return 0
  "$MEDFM" train --store "$1" --out "$2" --preset "$PRESET" --steps "$3" --batch 16 \
    --threads 2 --seed 1 --eval-every "$4" --eval-windows 64 --log-every 50
}
train "$W/store-synth" "$W/model-synth" "${STEPS_SYNTH:-1200}" 100
train "$W/store-synthea" "$W/model-synthea" "${STEPS_SYNTHEA:-550}" 50

common=(--samples "$SAMPLES" --limit "$LIMIT" --train-limit "$TRAIN_LIMIT"
  --bootstrap "$BOOTSTRAP" --threads 2 --seed 1 "${tasks[@]}")
for run in $RUNS; do
  [ -f "$W/report-$run/metrics.json" ] && continue
  case $run in
  synth) # held-out patients of the cohort the model was trained on, at the truth's index dates
    "$MEDFM" eval --model "$W/model-synth" --store "$W/store-synth" --truth "$W/cohort" \
      "${common[@]}" --out "$W/report-$run" ;;
  synthea) # held-out Synthea patients, every trigger (the split holds few patients)
    "$MEDFM" eval --model "$W/model-synthea" --store "$W/store-synthea" --per-patient 0 \
      "${common[@]}" --out "$W/report-$run" ;;
  synthea-on-synth) # external: the Synthea model on the whole synthetic cohort, with the truth
    "$MEDFM" eval --model "$W/model-synthea" --store "$W/store-synth" --split all \
      --train-store "$W/store-synthea" --truth "$W/cohort" --effects 0 \
      "${common[@]}" --out "$W/report-$run" ;;
  synth-on-synthea) # external: the synthetic-cohort model on the whole Synthea set
    "$MEDFM" eval --model "$W/model-synth" --store "$W/store-synthea" --split all \
      --train-store "$W/store-synth" --per-patient 0 \
      "${common[@]}" --out "$W/report-$run" ;;
  *) echo "results.sh: unknown run '$run'" >&2 && exit 2 ;;
  esac
done
for m in synth synthea; do
  reports=()
  for run in $RUNS; do
    case $run in "$m" | "$m"-on-*) reports+=(--report "$W/report-$run") ;; esac
  done
  "$MEDFM" card --model "$W/model-$m" "${reports[@]}" --out "$W/card-$m"
done
/usr/bin/python3 bench/results_table.py "$W"/report-*/metrics.json
